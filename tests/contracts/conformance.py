"""Checks of recorded traffic against Microsoft's specs: ARM requests and responses, Graph objects, events.

The fixtures in conftest.py record the emulator's journal (with bodies) while the engine runs;
the tests hand every entry to `Checker`, which matches it to its operation by method, path
template and api-version and answers the violations found plus the shape it exercised (shapes
are counted: the suite must cover enough of them to mean something).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from tests.contracts.graph_metadata import GraphMetadata
from tests.contracts.swagger import Operation, Specs

EVENTGRID = "eventgrid-2018-01-01.json"
RESOURCE_EVENTS = "eventgrid-resources-2018-01-01.json"
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_GRAPH_LIST_KEYS = {"value", "@odata.context", "@odata.nextLink", "@odata.deltaLink", "@odata.count"}
_GRAPH_COLLECTIONS = {"users": "user", "groups": "group", "serviceprincipals": "servicePrincipal"}
# Graph routes: method, regex on the lower-cased path after /v1.0, the EntityType returned (None: each item's
# @odata.type says), whether the answer is a collection.
_GRAPH_ROUTES: list[tuple[str, str, str | None, bool]] = [
    ("GET", r"/serviceprincipals/delta(\(\))?", "servicePrincipal", True),
    ("GET", r"/(users|groups|serviceprincipals)", "$collection", True),
    ("GET", r"/(users|groups|serviceprincipals)/[^/]+", "$collection", False),
    ("GET", r"/groups/[^/]+/(members|transitivemembers)", None, True),
    ("GET", r"/(users|groups|serviceprincipals|directoryobjects)/[^/]+/transitivememberof", None, True),
    ("GET", r"/directoryobjects/[^/]+", None, False),
    ("POST", r"/directoryobjects/getbyids", None, True),
    ("GET", r"/directory/deleteditems/microsoft\.graph\.(user|group|serviceprincipal)", "$deleted", True),
    ("GET", r"/directory/deleteditems/[^/]+", None, False),
    ("POST", r"/directory/deleteditems/[^/]+/restore", None, False),
    ("GET", r"/subscriptions", "subscription", True),
    ("POST", r"/subscriptions", "subscription", False),
    ("GET", r"/subscriptions/[^/]+", "subscription", False),
    ("PATCH", r"/subscriptions/[^/]+", "subscription", False),
]


@dataclass
class Result:
    shapes: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    def add(self, shape: str, problems: list[str], where: str) -> None:
        self.shapes.add(shape)
        self.errors.extend(f"{shape} [{where}]: {p}" for p in problems)


class Checker:
    def __init__(self, specs: Specs, graph: GraphMetadata) -> None:
        self.specs = specs
        self.graph = graph
        waiver = next(w for w in specs.waivers["responses"] if w["id"] == "arm-front-door-errors")
        self.front_door = set(waiver["statuses"])
        self.front_door_schema = {"$ref": f"#/definitions/{waiver['schema']['definition']}"}
        self.front_door_file = waiver["schema"]["file"]

    # -- ARM --------------------------------------------------------------------------------------
    def operation_for(self, entry: dict[str, Any]) -> tuple[Operation | None, str]:
        query = dict(parse_qsl(entry.get("query") or "", keep_blank_values=True))
        version = query.get("api-version")
        op = self.specs.match(entry["method"], entry["path"], version)
        if op is not None:
            return op, ""
        other = self.specs.match(entry["method"], entry["path"])
        if other is not None:
            return None, f"api-version {version!r} is not the vendored {other.api_version} of {other.operation_id}"
        return None, f"no vendored operation for {entry['method']} {entry['path']}"

    def arm_response(self, entry: dict[str, Any], result: Result) -> None:
        status = entry["status"]
        if status == "drop":
            return
        where = f"#{entry['seq']} {entry['method']} {entry['path']}"
        op, why = self.operation_for(entry)
        if op is None:
            result.add(f"response {entry['method']} {_template(entry['path'])} {status}", [why], where)
            return
        body = entry.get("responseBody")
        shape = f"response {op.operation_id} {status}"
        if str(status) in op.responses:
            schema, file = op.responses[str(status)], op.file
        elif status in self.front_door:
            schema, file = self.front_door_schema, self.front_door_file
        elif status >= 400 and "default" in op.responses:
            schema, file = op.responses["default"], op.file
        else:
            result.add(shape, [f"status {status} is not a response {op.operation_id} declares"], where)
            return
        if schema is None:
            result.add(shape, [] if body in (None, "") else [f"declares no body, got {str(body)[:80]!r}"], where)
            return
        result.add(shape, self.specs.errors(schema, file, body), where)

    def arm_request(self, entry: dict[str, Any], result: Result) -> None:
        where = f"#{entry['seq']} {entry['method']} {entry['path']}"
        op, why = self.operation_for(entry)
        if op is None:
            result.add(f"request {entry['method']} {_template(entry['path'])}", [why], where)
            return
        problems = []
        query = dict(parse_qsl(entry.get("query") or "", keep_blank_values=True))
        declared = op.query_parameters()
        for name, value in query.items():
            if name in declared:
                problems.extend(_parameter_error(declared[name].schema, name, value))
            elif not (op.pageable and name.lower() == "$skiptoken"):  # nextLink pages carry the service's token
                problems.append(f"query parameter {name!r} is not one {op.operation_id} declares")
        problems.extend(
            f"required query parameter {n!r} missing" for n, p in declared.items() if p.required and n not in query
        )
        body_param = op.body_parameter
        if body_param is None:
            if entry.get("requestBytes"):
                problems.append(f"{op.operation_id} takes no request body; {entry['requestBytes']} bytes were sent")
        elif entry.get("requestBody") is None:
            if body_param.required:
                problems.append("required request body missing")
        else:
            problems.extend(self.specs.errors(body_param.schema, op.file, entry["requestBody"], request=True))
        result.add(f"request {op.operation_id}", problems, where)

    # -- Graph ------------------------------------------------------------------------------------
    def graph_response(self, entry: dict[str, Any], result: Result) -> None:
        status = entry["status"]
        if status == "drop" or not entry["path"].lower().startswith("/v1.0"):
            return
        where = f"#{entry['seq']} {entry['method']} {entry['path']}"
        path = entry["path"][len("/v1.0") :].rstrip("/").lower()
        body = entry.get("responseBody")
        if status >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            ok = (
                isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str)
            )
            result.add(f"graph error {status}", [] if ok else [f"not a Graph error body: {str(body)[:120]}"], where)
            return
        route = next(
            ((t, many) for m, rx, t, many in _GRAPH_ROUTES if m == entry["method"] and re.fullmatch(rx, path)), None
        )
        if route is None or body is None:
            return  # sendMail (202), DELETE, $batch envelopes: no directory objects to check
        kind, many = route
        if kind == "$collection":
            kind = _GRAPH_COLLECTIONS[path.split("/")[1]]
        elif kind == "$deleted":
            kind = {"user": "user", "group": "group", "serviceprincipal": "servicePrincipal"}[path.rsplit(".", 1)[-1]]
        items: list[Any] = [body]
        problems: list[str] = []
        if many:
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                result.add(f"graph list {entry['method']} {_template(path)}", ["no 'value' list"], where)
                return
            problems += [
                f"collection key {k!r} is not an OData collection property" for k in body if k not in _GRAPH_LIST_KEYS
            ]
            items = body["value"]
        for item in items:
            entity = self.graph.type_of(item, kind) if isinstance(item, dict) else kind
            if isinstance(item, dict) and "@removed" in item:
                extra = set(item) - {"id", "@removed", "@odata.type"}
                problems += [f"a removed delta item carries {sorted(extra)}"] if extra else []
                continue
            if entity is None:
                problems.append(f"an item without @odata.type on a route that needs it: {str(item)[:80]}")
                continue
            result.shapes.add(f"graph {entity}")
            problems += self.graph.errors(item, entity)
        result.add(f"graph {entry['method']} {_template(path)}", problems, where)

    def graph_request(self, entry: dict[str, Any], result: Result) -> None:
        if not entry["path"].lower().startswith("/v1.0"):
            return
        where = f"#{entry['seq']} {entry['method']} {entry['path']}"
        path = entry["path"][len("/v1.0") :].rstrip("/")
        parts = path.lower().split("/")
        query = dict(parse_qsl(entry.get("query") or "", keep_blank_values=True))
        problems = []
        select = next((v for k, v in query.items() if k.lower() == "$select"), None)
        if select is not None:
            if parts[1] in _GRAPH_COLLECTIONS and (len(parts) <= 3 or parts[-1] == "delta"):
                candidates = [_GRAPH_COLLECTIONS[parts[1]]]
            else:
                candidates = ["user", "group", "servicePrincipal"]
            known = set().union(*(self.graph.properties(t) for t in candidates))
            problems += [f"$select names {name!r}, not a property of {'/'.join(candidates)}"
                         for name in (s.strip() for s in select.split(",")) if name and name not in known]  # fmt: skip
        if parts[1] == "subscriptions" and entry["method"] in ("POST", "PATCH"):
            body = entry.get("requestBody")
            if not isinstance(body, dict):
                problems.append("a subscription request needs a JSON object body")
            else:
                problems += self.graph.errors(body, "subscription")
                if entry["method"] == "POST":
                    required = ("changeType", "notificationUrl", "resource", "expirationDateTime")
                    problems += [f"subscription.{k} is required when creating" for k in required if k not in body]
        result.add(f"graph request {entry['method']} {_template(path.lower())}", problems, where)

    # -- events -----------------------------------------------------------------------------------
    def event(self, event: Any, result: Result, where: str) -> None:
        cloud = isinstance(event, dict) and "specversion" in event
        envelope = "CloudEventEvent" if cloud else "EventGridEvent"
        kind = str(event.get("type" if cloud else "eventType", "?")) if isinstance(event, dict) else "?"
        problems = self.specs.errors({"$ref": f"#/definitions/{envelope}"}, EVENTGRID, event)
        if kind.startswith("Microsoft.Resources."):
            name = kind.rsplit(".", 1)[-1] + "Data"
            if name in self.specs.documents[RESOURCE_EVENTS]["definitions"]:
                problems += self.specs.errors({"$ref": f"#/definitions/{name}"}, RESOURCE_EVENTS, event.get("data"))
            else:
                problems.append(f"{kind} is not a Microsoft.Resources system event the spec defines")
        result.add(f"event {kind} ({envelope})", problems, where)


def _template(path: str) -> str:
    """A path with its GUIDs and numeric ids replaced, for naming shapes."""
    return re.sub(r"/\d{5,}(?=/|$)", "/{n}", _GUID.sub("{id}", path))


def _parameter_error(schema: dict[str, Any], name: str, value: str) -> list[str]:
    kind = schema.get("type")
    if kind == "boolean" and value not in ("true", "false"):
        return [f"query parameter {name}={value!r} is not a boolean"]
    if kind == "integer" and not value.lstrip("-").isdigit():
        return [f"query parameter {name}={value!r} is not an integer"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"query parameter {name}={value!r} is not one of {schema['enum']}"]
    return []
