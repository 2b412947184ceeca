"""Microsoft Graph v1.0 EntityTypes (vendored from Graph's CSDL metadata) and the property check.

Graph publishes no Swagger 2.0; its contract is the CSDL metadata. `GraphMetadata.errors(obj, type)`
lists every property of a rendered object that the EntityType (or one of its base types) does not
declare, and every value whose JSON type does not fit the declared EDM type (null only where the
property is nullable). Instance annotations (`@odata.type`, `@removed`, ...) are not properties.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SPECS = Path(__file__).resolve().parent / "specs"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


class GraphMetadata:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.types: dict[str, dict[str, Any]] = document["entityTypes"]

    @classmethod
    def load(cls, path: Path = SPECS / "graph-v1.0-entitytypes.json") -> GraphMetadata:
        return cls(json.loads(path.read_text()))

    def properties(self, type_name: str) -> dict[str, dict[str, Any]]:
        """Declared structural properties of `type_name`, its base types' included."""
        found: dict[str, dict[str, Any]] = {}
        name: str | None = type_name
        while name:
            entity = self.types[name]
            found = {**entity["properties"], **found}
            name = entity.get("baseType")
        return found

    def errors(self, obj: Any, type_name: str) -> list[str]:
        if not isinstance(obj, dict):
            return [f"a {type_name} must be a JSON object, got {type(obj).__name__}"]
        if type_name not in self.types:
            return [f"{type_name}: not an EntityType of the vendored metadata"]
        declared = self.properties(type_name)
        found = []
        for key, value in obj.items():
            if key.startswith("@"):
                continue  # instance annotations: @odata.type, @odata.id, @removed
            if key not in declared:
                found.append(f"{type_name}.{key}: not a property of microsoft.graph.{type_name} (v1.0 metadata)")
                continue
            problem = _type_error(value, declared[key])
            if problem:
                found.append(f"{type_name}.{key}: {problem}")
        return found

    def type_of(self, obj: dict[str, Any], default: str | None) -> str | None:
        """The EntityType of a rendered object: its `@odata.type` when it has one, else what the route returns."""
        odata = obj.get("@odata.type")
        if not odata:
            return default
        name = str(odata).rsplit(".", 1)[-1].lower()
        return next((t for t in self.types if t.lower() == name), f"unknown type {odata}")


def _type_error(value: Any, prop: dict[str, Any]) -> str | None:  # noqa: PLR0911 - one answer per EDM kind
    edm = prop["type"]
    if value is None:
        return None if prop.get("nullable", True) else f"null, but {edm} is not nullable"
    if edm.startswith("Collection("):
        if not isinstance(value, list):
            return f"{type(value).__name__}, but {edm} is a collection"
        inner = {"type": edm[len("Collection(") : -1], "nullable": False}
        for item in value:
            problem = _type_error(item, inner)
            if problem:
                return f"item {item!r}: {problem}"
        return None
    checks = {
        "Edm.String": lambda v: isinstance(v, str),
        "Edm.Boolean": lambda v: isinstance(v, bool),
        "Edm.Int32": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "Edm.Guid": lambda v: isinstance(v, str) and bool(_GUID.match(v)),
        "Edm.DateTimeOffset": lambda v: isinstance(v, str) and bool(_INSTANT.match(v)),
    }
    if edm in checks:
        return None if checks[edm](value) else f"{value!r} is not an {edm}"
    if edm.startswith("graph."):  # complex or enum type: objects and enum members (strings)
        return None if isinstance(value, (dict, str)) else f"{value!r} is not a {edm}"
    return None
