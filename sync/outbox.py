"""Block-run events of one stream, released strictly in contract order.

A destination block run succeeds only once its batch is confirmed. The built-in
target confirms at once; an external target may confirm later (when it echoes
the batch's STATE, or when it exits 0 at the end of its input). Until then the
events behind it, including the next batches' source block runs, wait here, so
callbacks always see ``source:S:0 -> destination:S:0 -> source:S:1 -> ...``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sync.batcher import Batch
from sync.runs import BlockType


@dataclass
class Entry:
    """One block run waiting to be reported."""

    kind: BlockType
    batch: Batch
    started: datetime
    ended: datetime | None
    rows: int


Emit = Callable[[Entry, BaseException | None], None]


class Outbox:
    """Holds a stream's block runs until everything before them is confirmed."""

    def __init__(self, emit: Emit, on_confirmed: Callable[[Entry], None]) -> None:
        self._emit = emit
        self._on_confirmed = on_confirmed
        self._queue: deque[Entry] = deque()

    def source(self, batch: Batch) -> None:
        """A batch was read: its source block run is done."""
        self._queue.append(Entry("source", batch, batch.started_at, batch.ended_at, batch.rows))
        self.flush()

    def destination(self, batch: Batch, started: datetime, rows: int) -> None:
        """A batch was handed to the destination: reported once confirmed."""
        self._queue.append(Entry("destination", batch, started, None, rows))

    def confirm_through(self, index: int) -> None:
        """Every batch up to ``index`` is committed at the destination."""
        now = datetime.now(UTC)
        for entry in self._queue:
            if entry.kind == "destination" and entry.ended is None and \
                    entry.batch.index <= index:
                entry.ended = now
        self.flush()

    def flush(self) -> None:
        while self._queue and self._queue[0].ended is not None:
            entry = self._queue.popleft()
            if entry.kind == "destination":
                self._on_confirmed(entry)
            self._emit(entry, None)

    @property
    def unconfirmed(self) -> bool:
        return any(e.kind == "destination" and e.ended is None for e in self._queue)

    def fail(self, error: BaseException) -> Entry | None:
        """The destination failed: its first unconfirmed block run fails with ``error``;
        nothing after it is reported. Returns that block run, if there was one."""
        self.flush()
        failed = next((e for e in self._queue if e.kind == "destination"), None)
        if failed is not None:
            failed.ended = datetime.now(UTC)
            self._emit(failed, error)
        self._queue.clear()
        return failed
