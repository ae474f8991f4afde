"""The terminal view of a run: a live line per stream and a summary table."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from sync.plan import StreamPlan
from sync.runs import BlockRunEvent, RunSummary, StreamResult


@dataclass
class _Line:
    stream: str
    table: str
    rows: int = 0
    batches: int = 0
    status: str = "waiting"
    started: float | None = None
    ended: float | None = None
    error: str | None = field(default=None, repr=False)

    def rate(self) -> float:
        if self.started is None:
            return 0.0
        elapsed = (self.ended or time.monotonic()) - self.started
        return self.rows / elapsed if elapsed > 0 else 0.0


class LiveProgress:
    """An observer that redraws one line per stream while a run goes on."""

    def __init__(self, console: Console, plans: list[StreamPlan]) -> None:
        self.console = console
        self._lines = {p.stream: _Line(p.stream, p.destination_table) for p in plans}
        self._lock = threading.Lock()
        self._live = Live(self._render(), console=console, refresh_per_second=4,
                          transient=True, get_renderable=self._render)

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._live.__exit__(exc_type, exc, tb)

    def _render(self) -> Table:
        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        for col in ("stream", "records", "records/s", "batches", "status"):
            table.add_column(col, justify="right" if col in ("records", "records/s",
                                                             "batches") else "left")
        with self._lock:
            for line in self._lines.values():
                table.add_row(line.stream, f"{line.rows:,}", f"{line.rate():,.0f}",
                              str(line.batches), line.status)
        return table

    def stream_started(self, plan: StreamPlan) -> None:
        with self._lock:
            line = self._lines[plan.stream]
            line.status, line.started = "running", time.monotonic()

    def block_run(self, event: BlockRunEvent) -> None:
        if event.block_type != "destination" or event.status != "success":
            return
        with self._lock:
            line = self._lines[event.stream]
            line.rows += event.rows
            line.batches += 1

    def stream_finished(self, result: StreamResult) -> None:
        with self._lock:
            line = self._lines[result.stream]
            line.status, line.ended = result.status, time.monotonic()


def summary_table(summary: RunSummary) -> Table:
    """The end-of-run table: one row per stream."""
    run = summary.run
    table = Table(title=f"{run.pipeline_uuid} run {run.id}: {run.status}",
                  title_justify="left")
    table.add_column("stream")
    table.add_column("destination table")
    table.add_column("rows", justify="right")
    table.add_column("batches", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("status")
    for s in summary.streams:
        style = {"success": "green", "failed": "red"}.get(s.status, "yellow")
        table.add_row(s.stream, s.destination_table, f"{s.rows:,}", str(s.batches),
                      f"{s.seconds:.2f}", f"[{style}]{s.status}[/{style}]")
    return table
