"""Microsoft's Swagger 2.0 documents (vendored under specs/) as JSON Schema and an operation table.

The conformance tests call `Specs.load()` once. Swagger 2.0 schemas are converted to JSON Schema
2020-12, strictly: an object schema that lists its properties accepts no other property
(`unevaluatedProperties: false`, so `allOf` and `$ref` still compose), `null` is accepted only
where Microsoft wrote `x-nullable: true`, and in requests a `readOnly` property may not be sent.
`$ref`s across the vendored files resolve through one registry. Waivers (waivers.json) patch the
Swagger before conversion, each where Microsoft's spec is known to be wrong, with its reason.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema
import referencing
from referencing.jsonschema import DRAFT202012

SPECS = Path(__file__).resolve().parent / "specs"
URN = "urn:palwatch-spec:"
_HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head")
# Swagger-only keywords with no JSON Schema meaning (or none we check).
_DROP = {
    "description", "title", "example", "externalDocs", "x-ms-enum", "x-ms-client-flatten", "x-ms-client-name",
    "x-ms-identifiers", "x-ms-mutability", "x-ms-azure-resource", "x-ms-external", "x-ms-secret", "x-nullable",
    "x-ms-discriminator-value", "discriminator", "default", "readOnly", "format",
}  # fmt: skip

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")

FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value[:19])
    except ValueError:
        return False
    return True


@FORMATS.checks("uuid")
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(_UUID.match(value))


@FORMATS.checks("duration")
def _is_duration(value: object) -> bool:
    return not isinstance(value, str) or bool(_DURATION.match(value))


@FORMATS.checks("int32")
def _is_int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


def _uri(file: str, *, request: bool = False) -> str:
    """The registry URI of a vendored document (request-mode conversions live beside the response ones)."""
    return URN + ("request:" if request else "") + file


def _ref_uri(ref: str, file: str, *, request: bool = False) -> str:
    """A Swagger `$ref` ('#/definitions/X', './other.json#/definitions/X') as a registry URI."""
    target, _, pointer = ref.partition("#")
    name = Path(target).name if target else file
    return f"{_uri(name, request=request)}#{pointer}"


def convert(node: Any, file: str, *, request: bool = False, base: bool = False) -> Any:
    """One Swagger 2.0 schema as strict JSON Schema 2020-12 (see the module docstring).

    `base`: a definition other definitions extend through `allOf`; it stays open, and each heir is
    closed over the base's properties and its own (a closed base would refuse its heirs' properties)."""
    if isinstance(node, list):
        return [convert(item, file, request=request) for item in node]
    if not isinstance(node, dict):
        return node
    if request and node.get("readOnly") is True:
        return False  # the server sets it; a client must not send it
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or key.startswith("x-"):
            continue
        if key == "$ref":
            out["$ref"] = _ref_uri(value, file, request=request)
        elif key == "properties":
            out["properties"] = {name: convert(sub, file, request=request) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = convert(value, file, request=request)
        elif key == "allOf":
            out["allOf"] = [convert(sub, file, request=request) for sub in value]
        else:
            out[key] = copy.deepcopy(value)
    if "format" in node and node["format"] in ("date-time", "uuid", "duration", "int32"):
        out["format"] = node["format"]
    if ("properties" in node or "allOf" in node) and "additionalProperties" not in node and not base:
        out["unevaluatedProperties"] = False
    if ("properties" in node or "allOf" in node) and "type" not in node:
        out["type"] = "object"
    if node.get("x-nullable") is True:
        return {"anyOf": [{"type": "null"}, out]}
    return out


@dataclass
class Parameter:
    name: str
    location: str  # path | query | body | header
    required: bool
    schema: dict[str, Any]  # the parameter's Swagger (type/format/enum) or the body's schema
    skip_url_encoding: bool = False


@dataclass
class Operation:
    """One operation of one vendored document."""

    file: str
    method: str
    template: str
    operation_id: str
    api_version: str
    parameters: list[Parameter]
    responses: dict[str, dict[str, Any] | None]  # status -> Swagger schema (None: no body)
    examples: dict[str, str] = field(default_factory=dict)  # name -> example file
    pageable: bool = False

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """The path template as a regex: ARM paths are case-insensitive; a `{scope}` (skip-url-encoding)
        spans segments and may be empty (tenant level)."""
        skip = {p.name for p in self.parameters if p.location == "path" and p.skip_url_encoding}
        regex, pos = "", 0
        template = self.template.rstrip("/") or "/"
        for match in re.finditer(r"\{([^}]+)\}", template):
            literal = template[pos : match.start()]
            name = match.group(1)
            if name in skip and literal.endswith("/"):
                regex += re.escape(literal[:-1]) + f"(?:/(?P<{_group(name)}>.+?))?"
            else:
                regex += re.escape(literal) + f"(?P<{_group(name)}>[^/]+)"
            pos = match.end()
        regex += re.escape(template[pos:])
        return re.compile("^" + regex + "/?$", re.IGNORECASE)

    @property
    def literal_length(self) -> int:
        return len(re.sub(r"\{[^}]+\}", "", self.template))

    @property
    def body_parameter(self) -> Parameter | None:
        return next((p for p in self.parameters if p.location == "body"), None)

    def query_parameters(self) -> dict[str, Parameter]:
        return {p.name: p for p in self.parameters if p.location == "query"}

    def key(self) -> str:
        return f"{self.operation_id} ({self.file})"


def _allof_bases(doc: dict[str, Any]) -> set[str]:
    """The document's own definitions that another one extends through `allOf` (e.g. a Resource)."""
    return {
        sub["$ref"].rsplit("/", 1)[-1]
        for definition in doc.get("definitions", {}).values()
        for sub in definition.get("allOf", [])
        if isinstance(sub, dict) and str(sub.get("$ref", "")).startswith("#/definitions/")
    }


def _group(name: str) -> str:
    return re.sub(r"\W", "_", name)


class Specs:
    """Every vendored document, converted, with its operations."""

    def __init__(self, documents: dict[str, dict[str, Any]], waivers: dict[str, Any]) -> None:
        self.waivers = waivers
        self.raw = documents
        self.documents = {name: _apply_waivers(name, doc, waivers) for name, doc in documents.items()}
        self.operations = [op for name, doc in self.documents.items() for op in self._operations(name, doc)]
        resources = []
        for mode in ("response", "request"):
            for name, doc in self.documents.items():
                bases = _allof_bases(doc)
                converted = {"definitions": {k: convert(v, name, request=mode == "request", base=k in bases)
                                             for k, v in doc.get("definitions", {}).items()}}  # fmt: skip
                resources.append((_uri(name, request=mode == "request"), DRAFT202012.create_resource(converted)))
        self.registry: referencing.Registry = referencing.Registry().with_resources(resources)

    @classmethod
    def load(cls, directory: Path = SPECS) -> Specs:
        index = json.loads((directory / "index.json").read_text())
        documents = {entry["file"]: json.loads((directory / entry["file"]).read_text()) for entry in index["documents"]}
        waivers = json.loads((directory.parent / "waivers.json").read_text())
        return cls(documents, waivers)

    # -- operations ---------------------------------------------------------------------------
    def _operations(self, name: str, doc: dict[str, Any]) -> list[Operation]:
        found = []
        for section in ("paths", "x-ms-paths"):
            for template, item in doc.get(section, {}).items():
                shared = item.get("parameters", [])
                for method in _HTTP_METHODS:
                    if method not in item:
                        continue
                    op = item[method]
                    params = [self._parameter(name, raw) for raw in [*shared, *op.get("parameters", [])]]
                    responses = {status: resp.get("schema") for status, resp in op.get("responses", {}).items()}
                    examples = {k: v["$ref"] for k, v in op.get("x-ms-examples", {}).items()}
                    found.append(
                        Operation(
                            file=name,
                            method=method.upper(),
                            template=template.split("?")[0],
                            operation_id=op.get("operationId", f"{method} {template}"),
                            api_version=doc.get("info", {}).get("version", ""),
                            parameters=params,
                            responses=responses,
                            examples=examples,
                            pageable="x-ms-pageable" in op,
                        )
                    )
        return found

    def _parameter(self, file: str, raw: dict[str, Any]) -> Parameter:
        if "$ref" in raw:
            target, _, pointer = raw["$ref"].partition("#")
            doc = self.documents[Path(target).name if target else file]
            raw = doc["parameters"][pointer.rsplit("/", 1)[-1]]
        schema = (
            raw.get("schema")
            if raw.get("in") == "body"
            else {k: v for k, v in raw.items() if k in ("type", "format", "enum")}
        )
        return Parameter(
            name=raw["name"],
            location=raw["in"],
            required=bool(raw.get("required")),
            schema=schema or {},
            skip_url_encoding=bool(raw.get("x-ms-skip-url-encoding")),
        )

    def match(self, method: str, path: str, api_version: str | None = None) -> Operation | None:
        """The vendored operation for a request: same method, path template and (when given) api-version."""
        candidates = [
            op
            for op in self.operations
            if op.method == method.upper()
            and op.pattern.match(path)
            and (api_version is None or op.api_version == api_version)
        ]
        return max(candidates, key=lambda op: op.literal_length, default=None)

    def operation(self, operation_id: str) -> Operation:
        return next(op for op in self.operations if op.operation_id == operation_id)

    # -- validation -----------------------------------------------------------------------------
    def validator(self, schema: dict[str, Any], file: str, *, request: bool = False) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator(
            convert(schema, file, request=request), registry=self.registry, format_checker=FORMATS
        )

    def errors(self, schema: dict[str, Any], file: str, body: Any, *, request: bool = False) -> list[str]:
        """Every schema violation in `body`, as 'path: message' lines."""
        found = []
        for error in sorted(
            self.validator(schema, file, request=request).iter_errors(body), key=lambda e: list(e.path)
        ):
            where = "/".join(str(p) for p in error.absolute_path) or "(body)"
            found.append(f"{where}: {error.message[:300]}")
        return found

    def definition(self, file: str, name: str) -> dict[str, Any]:
        return {"$ref": f"#/definitions/{name}"} if name in self.documents[file].get("definitions", {}) else {}


def _apply_waivers(name: str, doc: dict[str, Any], waivers: dict[str, Any]) -> dict[str, Any]:
    """The document with every schema waiver for it applied (a copy; the vendored file stays Microsoft's)."""
    doc = copy.deepcopy(doc)
    for waiver in waivers.get("schema", []):
        target_file, _, pointer = waiver["target"].partition("#")
        if target_file != name:
            continue
        node: Any = doc
        for part in pointer.strip("/").split("/"):
            node = node[part]
        change = waiver["change"]
        for prop in change.get("removeRequired", []):
            if prop in node.get("required", []):
                node["required"].remove(prop)
        for prop in change.get("nullable", []):
            node["properties"][prop]["x-nullable"] = True
        for prop, schema in change.get("addProperties", {}).items():
            node.setdefault("properties", {})[prop] = schema
    return doc
