"""Block-run events of one stream, released strictly in contract order.

A destination block run succeeds only once its batch is confirmed. The built-in
target confirms at once; an external target may confirm later (when it echoes
the batch's STATE, or when it exits 0 at the end of its input). Until then the
events behind it, including the next batches' source block runs, wait here, so
callbacks always see ``source:S:0 -> destination:S:0 -> source:S:1 -> ...``.

While they wait, at most ``IN_MEMORY`` batches are kept in memory; older waiting
batches are written to Arrow files in a private temporary folder and read back only
if a callback asks for their data, so memory stays flat however long a target takes
to confirm.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from sync.batcher import Batch
from sync.runs import BlockType

IN_MEMORY = 4


class _Data:
    """A waiting batch's records: in memory, or spilled to an Arrow file."""

    def __init__(self, table: pa.Table) -> None:
        self.table: pa.Table | None = table
        self.path: Path | None = None

    def load(self) -> pa.Table:
        if self.table is not None:
            return self.table
        assert self.path is not None
        with pa.memory_map(str(self.path)) as source:
            return pa.ipc.open_file(source).read_all()

    def spill(self, folder: Path, name: str) -> None:
        if self.table is None:
            return
        self.path = folder / name
        with pa.OSFile(str(self.path), "wb") as sink, \
                pa.ipc.new_file(sink, self.table.schema) as writer:
            writer.write_table(self.table)
        self.table = None


@dataclass
class Entry:
    """One block run waiting to be reported."""

    kind: BlockType
    batch: Batch
    started: datetime
    ended: datetime | None
    rows: int
    data: _Data = dataclasses.field(default_factory=lambda: _Data(pa.table({})))


Emit = Callable[[Entry, BaseException | None], None]


class Outbox:
    """Holds a stream's block runs until everything before them is confirmed."""

    def __init__(self, emit: Emit, on_confirmed: Callable[[Entry], None]) -> None:
        self._emit = emit
        self._on_confirmed = on_confirmed
        self._queue: deque[Entry] = deque()
        self._data: dict[int, _Data] = {}
        self._folder: Path | None = None

    def source(self, batch: Batch) -> None:
        """A batch was read: its source block run is done."""
        data = self._data.setdefault(batch.index, _Data(batch.table))
        self._queue.append(Entry("source", batch, batch.started_at, batch.ended_at, batch.rows,
                                 data))
        self.flush()

    def destination(self, batch: Batch, started: datetime, rows: int) -> None:
        """A batch was handed to the destination: reported once confirmed."""
        data = self._data.setdefault(batch.index, _Data(batch.table))
        self._queue.append(Entry("destination", batch, started, None, rows, data))
        self._bound()

    def _bound(self) -> None:
        """Spill the oldest waiting batches beyond IN_MEMORY to disk."""
        waiting = [d for d in dict.fromkeys(e.data for e in self._queue)
                   if d.table is not None]
        for data in waiting[:-IN_MEMORY] if len(waiting) > IN_MEMORY else []:
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="sync-waiting-"))
            data.spill(self._folder, f"{id(data)}.arrow")
        if len(waiting) > IN_MEMORY:
            for entry in self._queue:  # the Batch kept for bookkeeping drops its records
                if entry.data.table is None and entry.batch.table.num_rows:
                    entry.batch = dataclasses.replace(
                        entry.batch, table=entry.batch.schema.arrow.empty_table())

    def close(self) -> None:
        """Remove spilled files."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

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
                self._data.pop(entry.batch.index, None)
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
        self._data.clear()
        return failed
