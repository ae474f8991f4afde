"""An observer that writes block runs and stream results to the run history."""

from __future__ import annotations

import structlog

from sync.plan import StreamPlan
from sync.runs import BlockRunEvent, PipelineRun, StreamResult
from sync.state import SQLiteStore

log = structlog.get_logger("sync.history")


class HistoryRecorder:
    """Records every block run and stream result of one pipeline run."""

    def __init__(self, store: SQLiteStore, run: PipelineRun) -> None:
        self.store = store
        self.run = run

    def stream_started(self, plan: StreamPlan) -> None:
        pass

    def block_run(self, event: BlockRunEvent) -> None:
        self.store.record_block_run(event)

    def stream_finished(self, result: StreamResult) -> None:
        self.store.record_stream(self.run, result)
