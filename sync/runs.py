"""Pipeline runs, block runs and stream results: frozen values between stages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa

RunStatus = Literal["running", "success", "failed", "cancelled"]
BlockStatus = Literal["success", "failure"]
BlockType = Literal["source", "destination"]
StreamStatus = Literal["success", "failed", "cancelled"]


@dataclass(frozen=True)
class PipelineRun:
    """One execution of a pipeline."""

    id: int
    pipeline_uuid: str
    execution_date: datetime
    status: RunStatus = "running"

    def __repr__(self) -> str:
        return (f"PipelineRun(id={self.id}, pipeline_uuid={self.pipeline_uuid}, "
                f"execution_date={self.execution_date})")


def block_run_uuid(block_uuid: str, stream: str, index: int) -> str:
    """``{block_uuid}:{stream}:{index}``, the name of one block run."""
    return f"{block_uuid}:{stream}:{index}"


@dataclass(frozen=True)
class BlockRunEvent:
    """Emitted after every block run; everything a callback needs, nothing mutable.

    ``data`` returns the batch as an Arrow table (the records read for a source
    block run, the records loaded for a destination block run); it is a function
    so nothing is built unless someone asks.
    """

    pipeline_run: PipelineRun
    pipeline_uuid: str
    block_uuid: str
    block_type: BlockType
    stream: str
    destination_table: str
    index: int
    is_last_block_run: bool
    status: BlockStatus
    started_at: datetime
    ended_at: datetime
    rows: int
    event: Mapping[str, Any]
    error: BaseException | None = None
    data: Callable[[], pa.Table | None] = field(default=lambda: None, repr=False)

    @property
    def uuid(self) -> str:
        return block_run_uuid(self.block_uuid, self.stream, self.index)


@dataclass(frozen=True)
class StreamResult:
    """How one stream of a pipeline run ended."""

    stream: str
    destination_table: str
    status: StreamStatus
    rows: int
    batches: int
    seconds: float
    attempts: int = 1
    error: str | None = None
    failed_block_run: str | None = None


@dataclass(frozen=True)
class RunSummary:
    """The end of a pipeline run: its final record and every stream's result."""

    run: PipelineRun
    streams: tuple[StreamResult, ...]
    ended_at: datetime
    destination: str = ""

    @property
    def ok(self) -> bool:
        return all(s.status == "success" for s in self.streams)
