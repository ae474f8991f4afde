"""The Singer wire format: messages, their decoding, and catalog helpers."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from sync.errors import SourceError
from sync.schema import StreamSchema


@dataclass(frozen=True)
class SchemaMessage:
    """A SCHEMA message: the stream's schema from here on."""

    stream: str
    schema: StreamSchema
    replication_key: str | None = None
    line: int = 0


@dataclass(frozen=True)
class StateMessage:
    """A STATE message: every record before it has been emitted."""

    value: Mapping[str, Any]
    line: int = 0


@dataclass(frozen=True)
class RecordChunk:
    """Consecutive records of one stream, as Arrow, starting at ``first_line``."""

    stream: str
    table: pa.Table
    first_line: int = 0


@dataclass(frozen=True)
class ControlMessage:
    """ACTIVATE_VERSION or BATCH: passed through in order."""

    type: str
    stream: str
    body: Mapping[str, Any] = field(default_factory=dict)
    line: int = 0


SourceEvent = SchemaMessage | StateMessage | RecordChunk | ControlMessage


def decode_line(line: bytes, *, stream: str | None, line_no: int) -> dict[str, Any]:
    """Decode one line of tap output into a message dict, or raise a clear error."""
    try:
        msg = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError("tap output is not valid UTF-8", stream=stream,
                              line=line_no) from None
        preview = line[:80].decode("utf-8", "replace")
        raise SourceError(f"tap output is not a JSON message ({exc}): {preview!r}",
                          stream=stream, line=line_no) from None
    if not isinstance(msg, dict):
        raise SourceError("tap output is not a JSON object", stream=stream, line=line_no)
    kind = msg.get("type")
    if kind not in ("RECORD", "SCHEMA", "STATE", "ACTIVATE_VERSION", "BATCH"):
        raise SourceError(f"unknown Singer message type {kind!r}", stream=stream, line=line_no)
    if kind != "STATE" and not isinstance(msg.get("stream"), str):
        raise SourceError(f"{kind} message without a 'stream' name", stream=stream,
                          line=line_no)
    return msg


def schema_message(msg: Mapping[str, Any], *, line_no: int) -> SchemaMessage:
    """Build a SchemaMessage from a decoded SCHEMA message dict."""
    name = msg["stream"]
    body = msg.get("schema")
    if not isinstance(body, Mapping):
        raise SourceError("SCHEMA message without a schema object", stream=name, line=line_no)
    keys = msg.get("key_properties") or []
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise SourceError("key_properties must be a list of names", stream=name, line=line_no)
    props = body.get("properties") or {}
    missing = [k for k in keys if k not in props]
    if missing:
        raise SourceError(f"key properties {missing} are not in the schema", stream=name,
                          line=line_no)
    bookmarks = msg.get("bookmark_properties") or []
    rk = bookmarks[0] if isinstance(bookmarks, list) and bookmarks else None
    return SchemaMessage(name, StreamSchema.build(name, body, tuple(keys)), rk, line_no)


def state_message(msg: Mapping[str, Any], *, stream: str | None, line_no: int) -> StateMessage:
    """Build a StateMessage, rejecting a value that is not an object."""
    value = msg.get("value")
    if not isinstance(value, Mapping):
        raise SourceError("STATE message whose value is not an object", stream=stream,
                          line=line_no)
    return StateMessage(value, line_no)


def encode(msg: Mapping[str, Any]) -> bytes:
    """One Singer message as a line of bytes."""
    return orjson.dumps(msg, option=orjson.OPT_APPEND_NEWLINE)


# ---------------------------------------------------------------- catalogs


def catalog_streams(catalog: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The stream entries of a Singer catalog."""
    streams = catalog.get("streams")
    return list(streams) if isinstance(streams, list) else []


def stream_name(entry: Mapping[str, Any]) -> str:
    """The name of a catalog entry (``stream``, else ``tap_stream_id``)."""
    return str(entry.get("stream") or entry.get("tap_stream_id"))


def _root_metadata(entry: dict[str, Any]) -> dict[str, Any]:
    for item in entry.setdefault("metadata", []):
        if not item.get("breadcrumb"):
            md: dict[str, Any] = item.setdefault("metadata", {})
            return md
    md = {}
    entry["metadata"].append({"breadcrumb": [], "metadata": md})
    return md


def entry_key_properties(entry: Mapping[str, Any]) -> list[str]:
    """Key properties of a catalog entry, from the entry or its root metadata."""
    keys = entry.get("key_properties")
    if keys:
        return list(keys)
    for item in entry.get("metadata", []) or []:
        if not item.get("breadcrumb"):
            md = item.get("metadata", {})
            return list(md.get("table-key-properties") or [])
    return []


def entry_replication_key(entry: Mapping[str, Any]) -> str | None:
    """The replication key a catalog entry declares, if any."""
    if entry.get("replication_key"):
        return str(entry["replication_key"])
    for item in entry.get("metadata", []) or []:
        if not item.get("breadcrumb"):
            md = item.get("metadata", {})
            keys = md.get("valid-replication-keys") or []
            if md.get("replication-key"):
                return str(md["replication-key"])
            if keys:
                return str(keys[0])
    return None


def select_entry(entry: Mapping[str, Any], *, selected: bool,
                 replication_method: str | None = None,
                 replication_key: str | None = None,
                 key_properties: list[str] | None = None) -> dict[str, Any]:
    """A copy of a catalog entry with its selection and replication settings applied."""
    out = copy.deepcopy(dict(entry))
    md = _root_metadata(out)
    md["selected"] = selected
    if replication_method:
        md["forced-replication-method"] = replication_method
        out["replication_method"] = replication_method
    if replication_key:
        md["replication-key"] = replication_key
        out["replication_key"] = replication_key
    if key_properties is not None:
        md["table-key-properties"] = list(key_properties)
        out["key_properties"] = list(key_properties)
    if selected:
        # Properties are selected unless the catalog explicitly excludes them.
        for item in out["metadata"]:
            md_item = item.get("metadata", {})
            if item.get("breadcrumb") and md_item.get("inclusion") != "unsupported":
                md_item.setdefault("selected", True)
    return out
