"""Batch index and is_last_block_run, through real syncs of a subprocess tap."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sync.config import load_config
from sync.runner import run_pipeline
from tests.conftest import EventLog, numbers_source, query

BATCH = 10


def expected(batches: int) -> list[tuple[str, int, bool, str]]:
    out = []
    for i in range(batches):
        last = i == batches - 1
        out += [("source", i, last, "success"), ("destination", i, last, "success")]
    return out


@pytest.mark.parametrize(("count", "batches"), [(0, 1), (1, 1), (BATCH, 1), (25, 3)])
def test_index_and_is_last(pipeline_file: Callable[..., Path], count: int,
                           batches: int) -> None:
    """Streams of 0, 1, exactly batch_size and 2.5 x batch_size records get the exact
    sequence source:S:0 -> destination:S:0 -> ..., is_last only on the final batch."""
    path = pipeline_file(source=numbers_source({"s": {"count": count}}), batch_size=BATCH)
    log = EventLog()
    summary = run_pipeline(load_config(path), observers=[log])
    assert summary.ok
    assert log.of("s") == expected(batches)
    rows = [e.rows for e in log.events if e.block_type == "destination"]
    assert sum(rows) == count
    assert all(r <= BATCH for r in rows)
    assert query(path.parent / "warehouse.duckdb", "SELECT count(*) FROM s") == [(count,)]


def test_prefix_named_streams_keep_their_own_batches(pipeline_file: Callable[..., Path]) -> None:
    """Streams named 'user' and 'users' never share an index or is_last_block_run."""
    path = pipeline_file(source=numbers_source({"user": {"count": 5}, "users": {"count": 25}}),
                         batch_size=BATCH)
    log = EventLog()
    assert run_pipeline(load_config(path), observers=[log]).ok
    assert log.of("user") == expected(1)
    assert log.of("users") == expected(3)


def test_events_carry_the_run_and_tables(pipeline_file: Callable[..., Path]) -> None:
    """Every event names the run, block uuids, stream, destination table and data."""
    path = pipeline_file(
        source={**numbers_source({"s": {"count": 12}}), "uuid": "load_numbers"},
        destination={"uuid": "save_numbers", "config": {"path": "w.duckdb"}},
        streams={"s": {"destination_table": "dim_s"}}, batch_size=BATCH)
    log = EventLog()
    summary = run_pipeline(load_config(path), observers=[log], event={"trigger": "test"})
    uuids = [e.uuid for e in log.events]
    assert uuids == ["load_numbers:s:0", "save_numbers:s:0", "load_numbers:s:1",
                     "save_numbers:s:1"]
    for e in log.events:
        assert e.pipeline_run.id == summary.run.id
        assert e.pipeline_uuid == "test_pipeline"
        assert e.destination_table == "dim_s"
        assert e.event == {"trigger": "test"}
        assert e.started_at.tzinfo is not None
        assert e.data().num_rows == e.rows
    assert [e.rows for e in log.events] == [10, 10, 2, 2]


def _events(n: int, state_every: int) -> list[Any]:
    import pyarrow as pa

    from sync.schema import StreamSchema
    from sync.singer import RecordChunk, SchemaMessage, StateMessage

    schema = StreamSchema.build("s", {"type": "object",
                                      "properties": {"id": {"type": "integer"}}})
    out: list[Any] = [SchemaMessage("s", schema)]
    for i in range(1, n + 1):
        out.append(RecordChunk("s", pa.table({"id": pa.array([i], pa.int64())}), i + 1))
        if i % state_every == 0:
            out.append(StateMessage({"bookmark": i}))
    return out


def test_keyless_batches_end_where_the_state_covers_them() -> None:
    """Without keys, a batch ends at the tap's last STATE inside it, so every committed
    batch is covered by its state exactly."""
    from sync.batcher import cut_batches

    got = [(b.rows, dict(b.state or {}), b.skip) for b in
           cut_batches(iter(_events(25, 4)), stream="s", batch_size=10, exact=True)]
    assert got == [(8, {"bookmark": 8}, 0), (8, {"bookmark": 16}, 0),
                   (9, {"bookmark": 24}, 1)]


def test_sparse_state_is_counted_and_skipped_on_resume() -> None:
    """With STATE rarer than a batch, each batch commits how many records follow the
    state; resuming from it drops exactly those."""
    from sync.batcher import cut_batches
    from sync.resume import split_skip

    batches = list(cut_batches(iter(_events(25, 12)), stream="s", batch_size=10,
                               exact=True))
    assert [(b.rows, b.skip) for b in batches] == [(10, 10), (2, 0), (10, 10), (3, 1)]
    state, skip = split_skip(batches[0].commit_state())
    assert (state, skip) == (None, 10)
    resumed = list(cut_batches(iter(_events(25, 12)), stream="s", batch_size=10,
                               exact=True, skip=skip))
    ids = [i for b in resumed for i in b.table.column("id").to_pylist()]
    assert ids == list(range(11, 26))
