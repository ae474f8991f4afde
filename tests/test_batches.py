"""Batch index and is_last_block_run, through real syncs of a subprocess tap."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
