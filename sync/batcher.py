"""Cut one stream's source events into batches of at most ``batch_size`` records.

A batch is held back until the next record (or the end of the stream) shows
whether it was the last one, so ``is_last`` is exact. The STATE attached to a
batch is the newest STATE the tap sent before the first record of the next
batch: it covers that batch and nothing after it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from sync.errors import SourceError
from sync.schema import StreamSchema
from sync.singer import RecordChunk, SchemaMessage, SourceEvent, StateMessage


@dataclass(frozen=True)
class Batch:
    """One batch of one stream: what a source block run produced."""

    stream: str
    index: int
    table: pa.Table
    schema: StreamSchema
    state: Mapping[str, Any] | None
    is_last: bool
    first_line: int | None
    started_at: datetime
    ended_at: datetime

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Open:
    parts: list[pa.Table]
    count: int
    first_line: int | None
    started_at: datetime


def cut_batches(events: Iterator[SourceEvent], *, stream: str, batch_size: int,
                first_index: int = 0, schema: StreamSchema | None = None) -> Iterator[Batch]:
    """Batches of ``stream`` from its tap's events, with exact ``is_last``."""
    index = first_index
    state: Mapping[str, Any] | None = None
    current = _Open([], 0, None, _now())
    pending: tuple[_Open, StreamSchema, datetime] | None = None

    def close(open_: _Open, sch: StreamSchema, ended: datetime, last: bool) -> Batch:
        nonlocal index
        table = pa.concat_tables(open_.parts) if open_.parts else sch.arrow.empty_table()
        batch = Batch(stream, index, table, sch, state, last, open_.first_line,
                      open_.started_at, ended)
        index += 1
        return batch

    for event in events:
        if isinstance(event, StateMessage):
            state = event.value
        elif isinstance(event, SchemaMessage):
            if event.stream != stream:
                continue
            if schema is not None and current.parts and \
                    not event.schema.arrow.equals(schema.arrow, check_metadata=True):
                pending = (current, schema, _now())
                current = _Open([], 0, None, _now())
            schema = event.schema
        elif isinstance(event, RecordChunk):
            if event.stream != stream:
                continue
            if schema is None:
                raise SourceError("RECORD before any SCHEMA", stream=stream,
                                  line=event.first_line)
            table, offset = event.table, 0
            while offset < table.num_rows:
                if pending is not None:
                    yield close(pending[0], pending[1], pending[2], False)
                    pending = None
                    current.started_at = _now()
                take = min(table.num_rows - offset, batch_size - current.count)
                if current.first_line is None:
                    current.first_line = event.first_line + offset
                current.parts.append(table.slice(offset, take))
                current.count += take
                offset += take
                if current.count == batch_size:
                    pending = (current, schema, _now())
                    current = _Open([], 0, None, _now())
    if pending is not None and not current.parts:
        yield close(pending[0], pending[1], pending[2], True)
        return
    if pending is not None:
        yield close(pending[0], pending[1], pending[2], False)
    if schema is None:
        schema = StreamSchema.build(stream, {"type": "object", "properties": {}})
    yield close(current, schema, _now(), True)
