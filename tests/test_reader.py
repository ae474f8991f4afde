"""Singer tap output -> Arrow chunks: bulk parsing, the line-by-line path, clear errors."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pytest

from sync.errors import SchemaViolation, SourceError
from sync.reader import SingerReader
from sync.singer import RecordChunk, SchemaMessage, StateMessage

SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer"},
    "price": {"type": ["number", "null"]},
    "ok": {"type": ["boolean", "null"]},
    "at": {"type": ["string", "null"], "format": "date-time"},
    "day": {"type": ["string", "null"], "format": "date"},
    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
    "where": {"type": ["object", "null"], "properties": {"city": {"type": "string"}}},
}}


def lines(*msgs: Any) -> bytes:
    return b"".join((m if isinstance(m, bytes) else json.dumps(m).encode()) + b"\n"
                    for m in msgs)


def schema(name: str = "s", body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "SCHEMA", "stream": name, "schema": body or SCHEMA, "key_properties": ["id"]}


def record(rec: dict[str, Any], name: str = "s") -> dict[str, Any]:
    return {"type": "RECORD", "stream": name, "record": rec}


def read(data: bytes) -> list[Any]:
    return list(SingerReader().read(io.BytesIO(data)))


def rows(events: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for e in events:
        if isinstance(e, RecordChunk):
            out += e.table.to_pylist()
    return out


def test_types_are_parsed_exactly() -> None:
    """Integers, numbers, booleans, zoned timestamps, dates, lists and structs."""
    events = read(lines(schema(), record({
        "id": 1, "price": 2, "ok": True, "at": "2026-01-02T03:04:05+02:00", "day": "2026-01-02",
        "tags": ["a"], "where": {"city": "Oslo"}})))
    assert isinstance(events[0], SchemaMessage)
    assert rows(events) == [{"id": 1, "price": 2.0, "ok": True,
                             "at": datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC),
                             "day": date(2026, 1, 2), "tags": ["a"],
                             "where": {"city": "Oslo"}}]
    chunk = events[1]
    assert chunk.table.schema.field("at").type == pa.timestamp("us", tz="UTC")


def test_state_splits_chunks_and_keeps_line_numbers() -> None:
    """STATE between records keeps its place; chunks know their first line."""
    events = read(lines(schema(), record({"id": 1}), record({"id": 2}),
                        {"type": "STATE", "value": {"n": 2}}, record({"id": 3})))
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["SchemaMessage", "RecordChunk", "StateMessage", "RecordChunk"]
    assert events[1].first_line == 2 and events[1].table.num_rows == 2
    assert isinstance(events[2], StateMessage) and events[2].value == {"n": 2}
    assert events[3].first_line == 5


def test_json_columns_keep_their_json() -> None:
    """Values without one columnar type (here: an untyped object) are kept as JSON text."""
    body = {"type": "object", "properties": {"id": {"type": "integer"}, "extra": {}}}
    events = read(lines(schema(body=body), record({"id": 1, "extra": {"a": [1, 2]}}),
                        record({"id": 2, "extra": "text"})))
    assert [json.loads(r["extra"]) for r in rows(events)] == [{"a": [1, 2]}, "text"]


def test_schema_change_mid_stream() -> None:
    """A new SCHEMA for the stream applies to the records after it."""
    grown = {"type": "object", "properties": {**SCHEMA["properties"],
                                              "note": {"type": ["string", "null"]}}}
    events = read(lines(schema(), record({"id": 1}), schema(body=grown),
                        record({"id": 2, "note": "hi"})))
    assert rows(events)[1]["note"] == "hi"
    assert "note" not in rows(events)[0]


def test_interleaved_streams() -> None:
    """Records of two streams written line by line land in their own chunks."""
    msgs: list[Any] = [schema("a"), schema("b")]
    for i in range(100):
        msgs += [record({"id": i}, "a"), record({"id": i}, "b")]
    events = read(lines(*msgs))
    per = {"a": 0, "b": 0}
    for e in events:
        if isinstance(e, RecordChunk):
            per[e.stream] += e.table.num_rows
    assert per == {"a": 100, "b": 100}


@pytest.mark.parametrize(("bad", "line", "words"), [
    (b"not json at all", 3, "not a JSON message"),
    (b'{"type": "RECORD", "stream": "s", "record": {"id": 1, "x": "\xff\xfe"}}', 3,
     "not valid UTF-8"),
    (json.dumps(record({"id": "seven"})).encode(), 3, "property 'id'"),
    (json.dumps(record({"id": 3, "at": "yesterday"})).encode(), 3, "yesterday"),
    (json.dumps(record({"price": 1.0})).encode(), 3, "required property 'id'"),
    (json.dumps({"type": "TELEGRAM", "stream": "s"}).encode(), 3, "unknown Singer message"),
    (json.dumps({"type": "STATE", "value": [1]}).encode(), 3, "not an object"),
    (json.dumps(record({"id": 1}, "other")).encode(), 3, "RECORD before any SCHEMA"),
])
def test_bad_lines_name_stream_and_line(bad: bytes, line: int, words: str) -> None:
    """Every kind of bad input is an error naming the line and what is wrong."""
    data = lines(schema(), record({"id": 1}), bad, record({"id": 4}))
    with pytest.raises(SourceError) as info:
        read(data)
    assert f"line {line}" in str(info.value)
    assert words in str(info.value)


def test_violation_is_a_schema_violation() -> None:
    """Type errors are SchemaViolation, a SourceError."""
    with pytest.raises(SchemaViolation):
        read(lines(schema(), record({"id": "x"})))


def test_many_records_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks split between lines lose nothing; line numbers run on across blocks."""
    import sync.reader as reader

    monkeypatch.setattr(reader, "BLOCK_BYTES", 4096)
    msgs: list[Any] = [schema()]
    for i in range(2000):
        msgs.append(record({"id": i, "tags": ["x"] * (i % 5)}))
        if i % 250 == 0:
            msgs.append({"type": "STATE", "value": {"i": i}})
    msgs.append(json.dumps(record({"id": "bad"})).encode())
    with pytest.raises(SchemaViolation) as info:
        events = []
        for e in SingerReader().read(io.BytesIO(lines(*msgs))):
            events.append(e)
    assert f"line {len(msgs)}" in str(info.value)
    assert [r["id"] for r in rows(events)] == list(range(2000))
