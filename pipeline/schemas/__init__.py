"""Task schemas: Pydantic models are the one source of truth for answers.

The same model validates teacher output, produces each provider's response schema, and
produces the schema text quoted in the teacher prompt. ``model_from_json_schema`` turns a
custom task's JSON Schema file into such a model, so custom tasks get the same treatment.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model

from pipeline.schemas.content import ContentLabel
from pipeline.schemas.metadata import MetadataLabel

__all__ = ["ContentLabel", "MetadataLabel", "json_schema", "wire_schema", "schema_text", "schema_hash",
           "model_from_json_schema"]


def json_schema(model: type[BaseModel]) -> dict:
    return model.model_json_schema()


def wire_schema(schema: Any, descriptions: bool = True) -> Any:
    """A JSON Schema as a provider gets it: without ``title`` keywords and, unless ``descriptions``,
    without ``description`` and ``default`` keywords either (property names stay, whatever they are called).

    Pydantic writes a title for every field and model, repeating its name ("page_number" ->
    "Page Number"): a label for forms, never an instruction, yet ~12% of the schema's tokens, billed
    with every request. Without descriptions what is left is the structure a provider holds the answer
    to (types, enums, required fields): where the prompt quotes the descriptions (``Teacher.quotes_schema``).
    Defaults go with them: validation fills them in, and Gemini's responseJsonSchema takes a ``$ref``
    only without siblings, and no ``default`` at all.

    >>> wire_schema({"title": "Item", "properties": {"title": {"title": "Title", "type": "string",
    ...     "description": "As printed.", "default": None}}}, descriptions=False)
    {'properties': {'title': {'type': 'string'}}}
    """
    if isinstance(schema, list):
        return [wire_schema(item, descriptions) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):   # names, not keywords
            out[key] = {name: wire_schema(sub, descriptions) for name, sub in value.items()}
        elif key in ("title", "description") and isinstance(value, str) and (key == "title" or not descriptions):
            continue
        elif key == "default" and not descriptions:
            continue
        else:
            out[key] = wire_schema(value, descriptions)
    return out


# Both are cached per model class: generating a JSON Schema costs ~8 ms, and every request key
# needs the hash (100k pages x 2 tasks would spend half an hour of CPU on it). Strings are
# immutable, so callers cannot change the cached value; json_schema's dict is built anew each call.
@functools.lru_cache(maxsize=64)
def schema_text(model: type[BaseModel], descriptions: bool = True) -> str:
    """The model's JSON Schema as it is sent (``wire_schema``), as compact JSON: quoted in a prompt, or
    parsed back for a request's response schema."""
    return json.dumps(wire_schema(json_schema(model), descriptions), ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=64)
def schema_hash(model: type[BaseModel]) -> str:
    """Stable 16-hex hash of the schema: a changed schema re-labels its pages.

    >>> schema_hash(ContentLabel) == schema_hash(ContentLabel)
    True
    """
    canonical = json.dumps(json_schema(model), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class SchemaFileError(ValueError):
    """A custom task's JSON Schema uses something we cannot turn into a model."""


_SCALARS: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool, "null": type(None)}


def model_from_json_schema(name: str, schema: dict) -> type[BaseModel]:
    """Build a Pydantic model from an object JSON Schema (types, enum, arrays, nesting, $defs, nullables).

    >>> M = model_from_json_schema("Item", {"type": "object", "properties": {
    ...     "nm": {"type": "string"}, "cnt": {"type": ["integer", "null"]}}, "required": ["nm"]})
    >>> M(nm="tea").model_dump()
    {'nm': 'tea', 'cnt': None}
    """
    defs = schema.get("$defs", schema.get("definitions", {}))
    built: dict[str, type[BaseModel]] = {}

    def resolve(node: dict, hint: str) -> Any:
        if "$ref" in node:
            ref = node["$ref"].rsplit("/", 1)[-1]
            if ref not in defs:
                raise SchemaFileError(f"unresolved $ref {node['$ref']!r}")
            if "properties" not in defs[ref]:       # an enum or scalar definition (Pydantic writes enums so)
                return resolve(defs[ref], ref)
            if ref not in built:
                built[ref] = object_model(ref, defs[ref])
            return built[ref]
        if "enum" in node:
            return Literal[tuple(node["enum"])]
        for key in ("anyOf", "oneOf"):
            if key in node:
                options = [resolve(option, hint) for option in node[key]]
                out = options[0]
                for option in options[1:]:
                    out = out | option
                return out
        kind = node.get("type", "string")
        if isinstance(kind, list):
            types = [resolve({**node, "type": k}, hint) for k in kind]
            out = types[0]
            for t in types[1:]:
                out = out | t
            return out
        if kind == "object":
            return object_model(hint, node) if "properties" in node else dict
        if kind == "array":
            return list[resolve(node.get("items", {}), hint + "Item")]
        if kind not in _SCALARS:
            raise SchemaFileError(f"unsupported JSON Schema type {kind!r} at {hint}")
        return _SCALARS[kind]

    def object_model(model_name: str, node: dict) -> type[BaseModel]:
        required = set(node.get("required", []))
        fields: dict[str, Any] = {}
        for key, prop in node.get("properties", {}).items():
            annotation = resolve(prop, model_name + key.title().replace("_", ""))
            description = prop.get("description")
            if key in required:
                fields[key] = (annotation, Field(..., description=description))
            else:
                fields[key] = (Optional[annotation], Field(None, description=description))
        extra = "allow" if node.get("additionalProperties", False) else "forbid"
        return create_model(model_name, __config__=ConfigDict(extra=extra), **fields)

    if schema.get("type", "object") != "object" or "properties" not in schema:
        raise SchemaFileError("a task schema must be a JSON object schema with 'properties'")
    return object_model(name, schema)
