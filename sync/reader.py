"""Read Singer messages from a byte stream into Arrow record chunks.

The fast path hands whole blocks of RECORD lines to Arrow's JSON reader with the
stream's schema made explicit, so records are parsed and type-checked in bulk
without per-record Python work. Lines that are not records of the current
stream (STATE, SCHEMA, other streams) are picked out in bulk and decoded one by
one. Whenever the bulk parser rejects a block, the block is decoded line by line,
which either succeeds or names the exact line and field at fault.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.json as pj

from sync import kernels
from sync.errors import SchemaViolation, SourceError
from sync.schema import StreamSchema, is_json_field
from sync.singer import (
    ControlMessage,
    RecordChunk,
    SchemaMessage,
    SourceEvent,
    decode_line,
    schema_message,
    state_message,
)
from sync.validate import first_violation

BLOCK_BYTES = 8 << 20
PARSE_BLOCK_BYTES = 1 << 20  # Arrow parses blocks of this size in parallel


def iter_blocks(stream: IO[bytes], block_bytes: int | None = None) -> Iterator[bytes]:
    """Blocks of whole lines (each ending in a newline) from a binary file object."""
    size = block_bytes or BLOCK_BYTES
    carry = b""
    while True:
        chunk = stream.read(size)
        if not chunk:
            break
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        yield data[: cut + 1]
        carry = data[cut + 1:]
    if carry.strip():
        yield carry + b"\n"


class SingerReader:
    """Turns Singer tap output into SourceEvents; one instance per tap process."""

    def __init__(self, *, expect_stream: str | None = None,
                 known: dict[str, StreamSchema] | None = None) -> None:
        self.expect_stream = expect_stream
        self.schemas: dict[str, StreamSchema] = dict(known or {})
        self._current: str | None = None
        self._envelopes: dict[str, pa.Schema] = {}
        self.lines_read = 0

    # -------------------------------------------------------------- public

    def read(self, stream: IO[bytes]) -> Iterator[SourceEvent]:
        """Every event of a binary file object, in order."""
        return self.read_blocks(iter_blocks(stream))

    def read_blocks(self, blocks: Iterable[bytes]) -> Iterator[SourceEvent]:
        """Every event of blocks of whole lines, in order."""
        for block in blocks:
            yield from self._block(block, self.lines_read + 1)

    # -------------------------------------------------------------- blocks

    def _block(self, block: bytes, first_line: int) -> Iterator[SourceEvent]:
        lines = block.split(b"\n")
        lines.pop()  # the block ends with a newline
        i = 0
        n = len(lines)
        self.lines_read += n
        if not block.isascii():
            try:
                block.decode("utf-8")
            except UnicodeDecodeError:
                # Arrow skips fields it does not read; go line by line to name the line.
                yield from self._slow(lines, first_line)
                return
        while i < n:
            cur = self._current
            if cur is not None and not self.schemas[cur].bulk_parsable:
                yield from self._slow(lines[i:], first_line + i)
                return
            if cur is None or not lines[i].strip():
                yield from self._slow(lines[i:i + 1], first_line + i)
                i += 1
                continue
            rest = block if i == 0 else b"\n".join(lines[i:]) + b"\n"
            table = self._bulk(rest, cur, n - i)
            if table is None:
                yield from self._slow(lines[i:], first_line + i)
                return
            consumed = yield from self._split(table, cur, lines, i, first_line)
            i += consumed
            if consumed < 64 and i < n:
                # Streams interleave line by line: bulk parsing would repeat itself.
                yield from self._slow(lines[i:], first_line + i)
                return

    def _bulk(self, data: bytes, stream: str, expect_rows: int) -> pa.Table | None:
        if b"\n\n" in data or data.startswith(b"\n"):
            return None
        try:
            table = pj.read_json(
                pa.BufferReader(data),  # zero-copy; a Python file object costs a copy
                read_options=pj.ReadOptions(block_size=PARSE_BLOCK_BYTES),
                parse_options=pj.ParseOptions(explicit_schema=self._envelope(stream),
                                              unexpected_field_behavior="ignore"),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        return table if table.num_rows == expect_rows else None

    def _split(self, table: pa.Table, cur: str, lines: list[bytes], start: int,
               first_line: int) -> Generator[SourceEvent, None, int]:
        """Emit the bulk-parsed rows; returns how many lines were consumed."""
        kinds = table.column("type")
        names = table.column("stream")
        ok = kernels.and_(kernels.fill_null(kernels.equal(kinds, "RECORD"), False),
                          kernels.fill_null(kernels.equal(names, cur), False))
        others: list[int] = kernels.indices_nonzero(kernels.invert(ok)).to_pylist()
        records = table.column("record")
        done = 0
        for j in others:
            if j > done:
                yield from self._chunk(cur, records.slice(done, j - done),
                                       first_line + start + done)
            line_no = first_line + start + j
            yield from self._slow(lines[start + j:start + j + 1], line_no)
            done = j + 1
            if self._current != cur or cur not in self._envelopes:
                return done
        if done < table.num_rows:
            yield from self._chunk(cur, records.slice(done), first_line + start + done)
        return int(table.num_rows)

    def _chunk(self, stream: str, records: pa.ChunkedArray,
               first_line: int) -> Iterator[RecordChunk]:
        schema = self.schemas[stream]
        parts = [pa.Table.from_struct_array(c) for c in records.chunks if len(c)]
        table = pa.concat_tables(parts) if parts else schema.read_arrow.empty_table()
        yield from checked_chunks(stream, schema.finish(table), schema, first_line)

    def _envelope(self, stream: str) -> pa.Schema:
        env = self._envelopes.get(stream)
        if env is None:
            rec = pa.struct(list(self.schemas[stream].read_arrow))
            env = pa.schema([("type", pa.string()), ("stream", pa.string()), ("record", rec)])
            self._envelopes[stream] = env
        return env

    # -------------------------------------------------------------- line by line

    def _slow(self, lines: list[bytes], first_line: int) -> Iterator[SourceEvent]:
        pending: list[dict[str, Any]] = []
        pending_stream: str | None = None
        pending_first = 0
        for offset, line in enumerate(lines):
            line_no = first_line + offset
            if not line.strip():
                continue
            msg = decode_line(line, stream=self.expect_stream or self._current,
                              line_no=line_no)
            kind = msg["type"]
            name = msg.get("stream")
            if kind == "RECORD" and pending_stream is not None and name == pending_stream:
                pending.append(_record_of(msg, name, line_no))
                continue
            if pending_stream is not None:
                yield from self._rows(pending_stream, pending, pending_first)
                pending, pending_stream = [], None
            if kind == "RECORD":
                assert isinstance(name, str)
                if name not in self.schemas:
                    raise SourceError("RECORD before any SCHEMA for its stream", stream=name,
                                      line=line_no)
                self._current = name
                pending_stream, pending_first = name, line_no
                pending.append(_record_of(msg, name, line_no))
            elif kind == "SCHEMA":
                sm = schema_message(msg, line_no=line_no)
                yield from self._on_schema(sm)
            elif kind == "STATE":
                yield state_message(msg, stream=self.expect_stream, line_no=line_no)
            else:
                assert isinstance(name, str)
                yield ControlMessage(kind, name, msg, line_no)
        if pending_stream is not None:
            yield from self._rows(pending_stream, pending, pending_first)

    def _on_schema(self, sm: SchemaMessage) -> Iterator[SourceEvent]:
        old = self.schemas.get(sm.stream)
        if old is None or old.json_schema != sm.schema.json_schema or \
                old.key_properties != sm.schema.key_properties:
            self.schemas[sm.stream] = sm.schema
            self._envelopes.pop(sm.stream, None)
        self._current = sm.stream
        yield sm

    def _rows(self, stream: str, rows: list[dict[str, Any]],
              first_line: int) -> Iterator[RecordChunk]:
        schema = self.schemas[stream]
        try:
            table = records_to_table(rows, schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError,
                OverflowError, TypeError, ValueError) as exc:
            found = first_violation(rows, schema)
            if found is None:
                raise SchemaViolation(f"records do not fit the schema: {exc}", stream=stream,
                                      line=first_line) from None
            index, message = found
            if index:
                # The records before the bad one are good: hand them over first.
                yield from self._rows(stream, rows[:index], first_line)
            raise SchemaViolation(message, stream=stream, line=first_line + index) from None
        yield from checked_chunks(stream, table, schema, first_line)


def _record_of(msg: dict[str, Any], stream: str, line_no: int) -> dict[str, Any]:
    rec = msg.get("record")
    if not isinstance(rec, dict):
        raise SourceError("RECORD message whose record is not an object", stream=stream,
                          line=line_no)
    return rec


def _jsonify(value: Any, t: pa.DataType, json: bool) -> Any:
    if value is None:
        return None
    if json:
        return orjson.dumps(value).decode()
    if pa.types.is_struct(t) and isinstance(value, dict):
        return {f.name: _jsonify(value.get(f.name), f.type, is_json_field(f)) for f in t}
    if pa.types.is_list(t) and isinstance(value, list):
        vf = t.value_field
        return [_jsonify(v, vf.type, is_json_field(vf)) for v in value]
    return value


def records_to_table(rows: list[dict[str, Any]], schema: StreamSchema) -> pa.Table:
    """Python record dicts to an Arrow table of the stream's types."""
    text = schema.text_arrow
    columns = []
    for f in text:
        values = [r.get(f.name) for r in rows]
        if not schema.bulk_parsable:
            values = [_jsonify(v, f.type, is_json_field(f)) for v in values]
        columns.append(pa.array(values, type=f.type))
    table = pa.Table.from_arrays(columns, schema=text)
    return schema.finish(table)


def checked_chunks(stream: str, table: pa.Table, schema: StreamSchema,
             first_line: int) -> Iterator[RecordChunk]:
    """The chunk if every required property is present; else the good prefix, then raise."""
    bad: tuple[int, str] | None = None
    for name in schema.required:
        if name not in table.column_names:
            continue
        col = table.column(name)
        if col.null_count:
            index = kernels.indices_nonzero(kernels.call("is_null", col)).to_pylist()[0]
            if bad is None or index < bad[0]:
                bad = (index, name)
    if bad is None:
        yield RecordChunk(stream, table, first_line)
        return
    index, name = bad
    if index:
        yield RecordChunk(stream, table.slice(0, index), first_line)
    raise SchemaViolation(f"required property '{name}' is missing or null", stream=stream,
                          line=first_line + index)
