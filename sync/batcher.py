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


class _Cutter:
    """The state of cutting one stream: the open batch and the one held back."""

    def __init__(self, stream: str, batch_size: int, first_index: int,
                 schema: StreamSchema | None) -> None:
        self.stream = stream
        self.batch_size = batch_size
        self.index = first_index
        self.schema = schema
        self.state: Mapping[str, Any] | None = None
        self.current = _Open([], 0, None, _now())
        self.held: tuple[_Open, StreamSchema, datetime] | None = None

    def _close(self, open_: _Open, schema: StreamSchema, ended: datetime,
               last: bool) -> Batch:
        table = pa.concat_tables(open_.parts) if open_.parts else schema.arrow.empty_table()
        batch = Batch(self.stream, self.index, table, schema, self.state, last,
                      open_.first_line, open_.started_at, ended)
        self.index += 1
        return batch

    def _hold(self) -> None:
        assert self.schema is not None
        self.held = (self.current, self.schema, _now())
        self.current = _Open([], 0, None, _now())

    def release(self, last: bool) -> Iterator[Batch]:
        """The held batch, now that we know whether it was the last one."""
        if self.held is not None:
            held, self.held = self.held, None
            yield self._close(*held, last)

    def feed(self, event: SourceEvent) -> Iterator[Batch]:
        if isinstance(event, StateMessage):
            self.state = event.value
        elif isinstance(event, SchemaMessage) and event.stream == self.stream:
            if self.schema is not None and self.current.parts and \
                    not event.schema.arrow.equals(self.schema.arrow, check_metadata=True):
                self._hold()  # a batch has one schema: cut it here
            self.schema = event.schema
        elif isinstance(event, RecordChunk) and event.stream == self.stream:
            if self.schema is None:
                raise SourceError("RECORD before any SCHEMA", stream=self.stream,
                                  line=event.first_line)
            table, offset = event.table, 0
            while offset < table.num_rows:
                if self.held is not None:
                    yield from self.release(False)
                    self.current.started_at = _now()
                take = min(table.num_rows - offset, self.batch_size - self.current.count)
                if self.current.first_line is None:
                    self.current.first_line = event.first_line + offset
                self.current.parts.append(table.slice(offset, take))
                self.current.count += take
                offset += take
                if self.current.count == self.batch_size:
                    self._hold()

    def finish(self) -> Iterator[Batch]:
        if self.held is not None and not self.current.parts:
            yield from self.release(True)
            return
        yield from self.release(False)
        schema = self.schema or StreamSchema.build(self.stream,
                                                   {"type": "object", "properties": {}})
        yield self._close(self.current, schema, _now(), True)


def cut_batches(events: Iterator[SourceEvent], *, stream: str, batch_size: int,
                first_index: int = 0, schema: StreamSchema | None = None) -> Iterator[Batch]:
    """Batches of ``stream`` from its tap's events, with exact ``is_last``.

    If the events fail, a complete batch read before the failure is still
    yielded (it is not the last one) before the error propagates.
    """
    cutter = _Cutter(stream, batch_size, first_index, schema)
    try:
        for event in events:
            yield from cutter.feed(event)
    except GeneratorExit:
        raise
    except BaseException:
        yield from cutter.release(False)
        raise
    yield from cutter.finish()
