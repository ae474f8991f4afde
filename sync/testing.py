"""Test your callbacks without running a sync.

    from sync.testing import callback_kwargs, run_callbacks

    kwargs = callback_kwargs(stream="users", index=2, is_last_block_run=True)
    results = run_callbacks("callbacks/alerts.py", status="failure",
                            error=RuntimeError("boom"), stream="users")

``callback_kwargs`` builds exactly the keyword arguments sync passes after a block
run; ``run_callbacks`` loads a callback file the way sync does (so its checks run
too) and calls every function that matches, raising the first error a callback
raised so a test sees it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from callbacks.kwargs import batch_kwargs
from callbacks.loader import load_callback_file
from sync.runs import BlockRunEvent, BlockStatus, BlockType, PipelineRun


def block_run_event(*, stream: str = "stream", destination_table: str | None = None,
                    index: int = 0, is_last_block_run: bool = True,
                    parent_block_uuid: str = "source", block_type: BlockType | None = None,
                    status: BlockStatus = "success", error: BaseException | None = None,
                    data: pa.Table | list[dict[str, Any]] | None = None,
                    pipeline_uuid: str = "pipeline", run_id: int = 1,
                    execution_date: datetime | None = None,
                    event: dict[str, Any] | None = None) -> BlockRunEvent:
    """A block-run event as the coordinator would emit it."""
    when = execution_date or datetime.now(UTC)
    table = pa.Table.from_pylist(data) if isinstance(data, list) else \
        (data if data is not None else pa.table({}))
    run = PipelineRun(run_id, pipeline_uuid, when)
    kind: BlockType = block_type or ("destination" if parent_block_uuid == "destination"
                                     else "source")
    return BlockRunEvent(
        pipeline_run=run, pipeline_uuid=pipeline_uuid, block_uuid=parent_block_uuid,
        block_type=kind, stream=stream, destination_table=destination_table or stream,
        index=index, is_last_block_run=is_last_block_run, status=status, started_at=when,
        ended_at=when, rows=table.num_rows, event=event or {},
        error=error if status == "failure" else None, data=lambda: table)


def callback_kwargs(*, block_uuid: str = "callback", **options: Any) -> dict[str, Any]:
    """The keyword arguments sync passes to a callback; options as for block_run_event."""
    if options.get("error") is not None:
        options.setdefault("status", "failure")
    event = block_run_event(**options)
    return batch_kwargs(event, block_uuid, event.data())


def run_callbacks(path: str | Path, *, block_uuid: str | None = None,
                  **options: Any) -> list[tuple[str, Any]]:
    """Load a callback file and call its matching batch callbacks as sync would.

    Returns (function name, return value) pairs in file order.
    """
    path = Path(path)
    uuid = block_uuid or path.stem
    if options.get("error") is not None:
        options.setdefault("status", "failure")
    event = block_run_event(**options)
    data = event.data()
    kwargs = batch_kwargs(event, uuid, data)
    out = []
    for fn in load_callback_file(path, uuid=uuid):
        if fn.scope == "batch" and event.status in fn.statuses:
            out.append((fn.name, fn.call(data, kwargs)))
    return out
