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
from sync.resume import SKIP_KEY
from sync.schema import StreamSchema
from sync.singer import RecordChunk, SchemaMessage, SourceEvent, StateMessage


@dataclass(frozen=True)
class Batch:
    """One batch of one stream: what a source block run produced.

    ``state`` is the newest tap STATE that this batch's records are covered by;
    ``skip`` counts this stream's records after that STATE up to the end of the
    batch (committed too, so a resumed tap's first ``skip`` records are known).
    """

    stream: str
    index: int
    table: pa.Table
    schema: StreamSchema
    state: Mapping[str, Any] | None
    is_last: bool
    first_line: int | None
    started_at: datetime
    ended_at: datetime
    skip: int = 0

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)

    def commit_state(self) -> Mapping[str, Any] | None:
        """The state to commit with this batch (the tap's, plus the skip count)."""
        if not self.skip:
            return self.state
        return {**(self.state or {}), SKIP_KEY: self.skip}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Open:
    parts: list[pa.Table]
    count: int
    first_line: int | None
    started_at: datetime
    start_total: int = 0


@dataclass
class _Held:
    open_: _Open
    schema: StreamSchema
    ended: datetime
    end_total: int
    frozen: tuple[Mapping[str, Any] | None, int] | None  # (state, skip) fixed at the cut


class _Cutter:
    """The state of cutting one stream: the open batch and the one held back."""

    def __init__(self, stream: str, batch_size: int, first_index: int,
                 schema: StreamSchema | None, exact: bool, skip: int) -> None:
        self.stream = stream
        self.batch_size = batch_size
        self.index = first_index
        self.schema = schema
        self.exact = exact
        self.to_skip = skip if exact else 0
        self.state: Mapping[str, Any] | None = None
        self.total = 0          # records placed in batches so far
        self.state_total = 0    # ``total`` when the newest STATE arrived
        self.current = _Open([], 0, None, _now())
        self.held: _Held | None = None

    def _close(self, held: _Held, last: bool) -> Batch:
        table = pa.concat_tables(held.open_.parts) if held.open_.parts \
            else held.schema.arrow.empty_table()
        if held.frozen is not None:
            state, skip = held.frozen
        else:
            state, skip = self.state, held.end_total - self.state_total
        batch = Batch(self.stream, self.index, table, held.schema, state, last,
                      held.open_.first_line, held.open_.started_at, held.ended,
                      skip if self.exact else 0)
        self.index += 1
        return batch

    def _hold(self, frozen: tuple[Mapping[str, Any] | None, int] | None = None) -> None:
        assert self.schema is not None
        end = self.current.start_total + self.current.count
        self.held = _Held(self.current, self.schema, _now(), end, frozen)
        self.current = _Open([], 0, None, _now(), end)

    def _full(self) -> None:
        """The open batch reached batch_size: hold it, cut at the newest STATE if exact."""
        cut = self.state_total - self.current.start_total
        if not (self.exact and 0 < cut < self.current.count):
            self._hold()
            return
        # Keyless streams: end the batch where the tap's STATE covers it exactly, so a
        # crash can never leave records that the committed state does not account for.
        whole = pa.concat_tables(self.current.parts)
        head = _Open([whole.slice(0, cut)], cut, self.current.first_line,
                     self.current.started_at, self.current.start_total)
        tail_line = None if self.current.first_line is None else \
            self.current.first_line + cut
        tail = _Open([whole.slice(cut)], self.current.count - cut, tail_line, _now(),
                     self.current.start_total + cut)
        self.current = head
        self._hold(frozen=(self.state, 0))
        self.current = tail

    def release(self, last: bool) -> Iterator[Batch]:
        """The held batch, now that we know whether it was the last one."""
        if self.held is not None:
            held, self.held = self.held, None
            yield self._close(held, last)

    def feed(self, event: SourceEvent) -> Iterator[Batch]:
        if isinstance(event, StateMessage):
            self.state = event.value
            self.state_total = self.total
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
            if self.to_skip:
                # Loaded before a crash or retry, after the state the tap resumed from.
                offset = min(self.to_skip, table.num_rows)
                self.to_skip -= offset
            while offset < table.num_rows:
                if self.held is not None:
                    yield from self.release(False)
                    self.current.started_at = _now()
                take = min(table.num_rows - offset, self.batch_size - self.current.count)
                if self.current.first_line is None:
                    self.current.first_line = event.first_line + offset
                self.current.parts.append(table.slice(offset, take))
                self.current.count += take
                self.total += take
                offset += take
                if self.current.count >= self.batch_size:
                    self._full()

    def finish(self) -> Iterator[Batch]:
        if self.held is not None and not self.current.parts:
            yield from self.release(True)
            return
        yield from self.release(False)
        schema = self.schema or StreamSchema.build(self.stream,
                                                   {"type": "object", "properties": {}})
        end = self.current.start_total + self.current.count
        yield self._close(_Held(self.current, schema, _now(), end, None), True)


def cut_batches(events: Iterator[SourceEvent], *, stream: str, batch_size: int,
                first_index: int = 0, schema: StreamSchema | None = None,
                exact: bool = False, skip: int = 0) -> Iterator[Batch]:
    """Batches of ``stream`` from its tap's events, with exact ``is_last``.

    ``exact`` (streams without keys, where a record loaded twice is a duplicate):
    batches end at the tap's STATE where one falls inside them, each batch carries
    its skip count, and the first ``skip`` records (loaded before a crash or retry)
    are dropped. If the events fail, a complete batch read before the failure is
    still yielded (it is not the last one) before the error propagates.
    """
    cutter = _Cutter(stream, batch_size, first_index, schema, exact, skip)
    try:
        for event in events:
            yield from cutter.feed(event)
    except GeneratorExit:
        raise
    except BaseException:
        yield from cutter.release(False)
        raise
    yield from cutter.finish()
