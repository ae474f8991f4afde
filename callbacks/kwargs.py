"""The keyword arguments of a callback call, built from frozen run values (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sync.runs import BlockRunEvent, PipelineRun, RunSummary


def _moment(run: PipelineRun, at: datetime) -> dict[str, Any]:
    return {
        "ds": at.strftime("%Y-%m-%d"),
        "hr": at.strftime("%H"),
        "execution_date": at,
        "execution_partition": f"{run.id}/{at:%Y%m%dT%H%M%S}",
    }


def batch_kwargs(event: BlockRunEvent, block_uuid: str, data: Any) -> dict[str, Any]:
    """Every keyword of the seed page and SPEC section 3 for one block run."""
    kwargs: dict[str, Any] = {
        "block_uuid": block_uuid,
        "parent_block_uuid": event.block_uuid,
        **_moment(event.pipeline_run, event.started_at),
        "event": dict(event.event),
        "pipeline_run": event.pipeline_run,
        "pipeline_uuid": event.pipeline_uuid,
        "__input": {event.block_uuid: data},
        "stream": event.stream,
        "destination_table": event.destination_table,
        "index": event.index,
        "is_last_block_run": event.is_last_block_run,
        "status": event.status,
        "rows": event.rows,
        "block_run_uuid": event.uuid,
        "started_at": event.started_at,
        "ended_at": event.ended_at,
    }
    if event.status == "failure":
        kwargs["error"] = event.error
        kwargs["__error"] = event.error
    return kwargs


def run_kwargs(summary: RunSummary, block_uuid: str, event: dict[str, Any],
               error: BaseException | None) -> dict[str, Any]:
    """The keywords of a run-level callback: the run and every stream's result."""
    run = summary.run
    kwargs: dict[str, Any] = {
        "block_uuid": block_uuid,
        **_moment(run, run.execution_date),
        "event": dict(event),
        "pipeline_run": run,
        "pipeline_uuid": run.pipeline_uuid,
        "__input": {"streams": summary.streams},
        "status": "success" if error is None else "failure",
        "streams": summary.streams,
        "summary": summary,
    }
    if error is not None:
        kwargs["error"] = error
        kwargs["__error"] = error
    return kwargs
