"""Singer JSON Schema <-> Arrow types.

A Singer stream's schema decides the Arrow type of every column. Values that have
no exact columnar type (unions, free-form objects, arrays without ``items``) are
kept as JSON text in a string column marked with ``JSON_METADATA`` so the
destination can declare them as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from sync import kernels

JSON_METADATA = {b"sync.type": b"json"}
TIMESTAMP = pa.timestamp("us", tz="UTC")


def is_json_field(field: pa.Field) -> bool:
    """True when the column holds JSON text rather than a typed value."""
    return bool(field.metadata) and field.metadata.get(b"sync.type") == b"json"


def _types_of(schema: Mapping[str, Any]) -> tuple[list[str], bool]:
    """The non-null JSON types a schema allows, and whether null is allowed."""
    raw = schema.get("type")
    if raw is None:
        options = schema.get("anyOf") or schema.get("oneOf")
        if isinstance(options, list):
            non_null = [o for o in options if isinstance(o, Mapping) and o.get("type") != "null"]
            nullable = len(non_null) != len(options)
            if len(non_null) == 1:
                inner, inner_null = _types_of(non_null[0])
                return inner, nullable or inner_null
            return ["__union__"], nullable
        return [], True
    types = [raw] if isinstance(raw, str) else list(raw)
    nullable = "null" in types
    return [t for t in types if t != "null"], nullable


def _single_schema(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The one non-null alternative of an ``anyOf``/``oneOf``, else the schema itself."""
    options = schema.get("anyOf") or schema.get("oneOf")
    if schema.get("type") is None and isinstance(options, list):
        non_null = [o for o in options if isinstance(o, Mapping) and o.get("type") != "null"]
        if len(non_null) == 1:
            return non_null[0]
    return schema


def arrow_field(name: str, schema: Mapping[str, Any]) -> pa.Field:
    """The Arrow field for one property of a Singer schema."""
    types, _nullable = _types_of(schema)
    schema = _single_schema(schema)
    json_field = pa.field(name, pa.string(), nullable=True, metadata=JSON_METADATA)
    if set(types) == {"integer", "number"}:
        return pa.field(name, pa.float64())
    if len(types) != 1:
        return json_field
    kind = types[0]
    if kind == "integer":
        return pa.field(name, pa.int64())
    if kind == "number":
        return pa.field(name, pa.float64())
    if kind == "boolean":
        return pa.field(name, pa.bool_())
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return pa.field(name, TIMESTAMP)
        if fmt == "date":
            return pa.field(name, pa.date32())
        return pa.field(name, pa.string())
    if kind == "object":
        props = schema.get("properties")
        if isinstance(props, Mapping) and props:
            return pa.field(name, pa.struct([arrow_field(k, v) for k, v in props.items()]))
        return json_field
    if kind == "array":
        items = schema.get("items")
        if isinstance(items, Mapping) and items:
            item = arrow_field("item", items)
            return pa.field(name, pa.list_(item))
        return json_field
    return json_field


def arrow_schema(schema: Mapping[str, Any]) -> pa.Schema:
    """The Arrow schema of a Singer stream schema (its top-level properties)."""
    props = schema.get("properties") or {}
    return pa.schema([arrow_field(k, v) for k, v in props.items()])


def _contains_json(t: pa.DataType) -> bool:
    if pa.types.is_struct(t):
        return any(is_json_field(f) or _contains_json(f.type) for f in t)
    if pa.types.is_list(t):
        return is_json_field(t.value_field) or _contains_json(t.value_type)
    return False


def _read_type(t: pa.DataType) -> pa.DataType:
    """The type Arrow's JSON reader parses a column as (dates go through timestamps)."""
    if pa.types.is_date32(t):
        return TIMESTAMP
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_read_type(f.type)) for f in t])
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_read_type(t.value_type)))
    return t


def _text_type(t: pa.DataType) -> pa.DataType:
    """The type a column is built as from Python values (dates and times as text)."""
    if pa.types.is_date32(t) or pa.types.is_timestamp(t):
        return pa.string()
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_text_type(f.type)) for f in t])
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_text_type(t.value_type)))
    return t


@dataclass(frozen=True)
class StreamSchema:
    """A stream's Singer schema with everything derived from it once."""

    stream: str
    json_schema: Mapping[str, Any]
    key_properties: tuple[str, ...]
    arrow: pa.Schema
    bulk_parsable: bool
    read_arrow: pa.Schema
    text_arrow: pa.Schema
    required: tuple[str, ...]

    @classmethod
    def build(cls, stream: str, json_schema: Mapping[str, Any],
              key_properties: tuple[str, ...] = ()) -> StreamSchema:
        arrow = arrow_schema(json_schema)
        parsable = not any(is_json_field(f) or _contains_json(f.type) for f in arrow)
        read = pa.schema([f.with_type(_read_type(f.type)) for f in arrow])
        text = pa.schema([f.with_type(_text_type(f.type)) for f in arrow])
        required = tuple(dict.fromkeys([*key_properties, *json_schema.get("required", [])]))
        return cls(stream, json_schema, tuple(key_properties), arrow, parsable, read, text,
                   required)

    def finish(self, table: pa.Table) -> pa.Table:
        """Cast a table read with ``read_arrow`` or ``text_arrow`` to the final types."""
        if table.schema.equals(self.arrow, check_metadata=False):
            return table
        if table.schema.equals(self.text_arrow, check_metadata=False):
            table = _zone_naive_as_utc(table, self.arrow)
        return kernels.cast_table(table, self.arrow)


_ZONED = r"(Z|z|[+-]\d\d(:?\d\d)?)$"


def _zone_naive_as_utc(table: pa.Table, target: pa.Schema) -> pa.Table:
    """Timestamps given as text without a zone are UTC, as Arrow's JSON reader reads them."""
    for i, f in enumerate(target):
        if pa.types.is_timestamp(f.type):
            col = table.column(i)
            zoned = kernels.ends_with_match(col, _ZONED)
            fixed = kernels.if_else(kernels.fill_null(zoned, True), col,
                                    kernels.concat(col, "Z"))
            table = table.set_column(i, table.field(i), fixed)
    return table


def json_schema_of(t: pa.DataType) -> dict[str, Any]:
    """The Singer JSON schema of an Arrow type (nullable), for inferred streams."""
    if pa.types.is_boolean(t):
        base: dict[str, Any] = {"type": ["boolean", "null"]}
    elif pa.types.is_integer(t):
        base = {"type": ["integer", "null"]}
    elif pa.types.is_floating(t) or pa.types.is_decimal(t):
        base = {"type": ["number", "null"]}
    elif pa.types.is_timestamp(t):
        base = {"type": ["string", "null"], "format": "date-time"}
    elif pa.types.is_date(t):
        base = {"type": ["string", "null"], "format": "date"}
    elif pa.types.is_time(t):
        base = {"type": ["string", "null"], "format": "time"}
    elif pa.types.is_struct(t):
        base = {"type": ["object", "null"],
                "properties": {f.name: json_schema_of(f.type) for f in t}}
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        base = {"type": ["array", "null"], "items": json_schema_of(t.value_type)}
    else:
        base = {"type": ["string", "null"]}
    return base


def stream_json_schema(schema: pa.Schema) -> dict[str, Any]:
    """The Singer schema message body for an Arrow schema."""
    return {"type": "object", "properties": {f.name: json_schema_of(f.type) for f in schema}}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duckdb_type(f: pa.Field) -> str:
    """The DuckDB column type of an Arrow field of a stream schema."""
    t = f.type
    if is_json_field(f):
        return "JSON"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        return "BIGINT"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f"{_quote(c.name)} {duckdb_type(c)}" for c in t) + ")"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return duckdb_type(t.value_field) + "[]"
    return "VARCHAR"
