"""The built-in DuckDB target: typed tables, write modes, and state in the same transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from sync.errors import DestinationError
from sync.reader import records_to_table
from sync.schema import StreamSchema
from targets.duckdb import DuckDBConfig, DuckDBDestination, WriteMode
from tests.conftest import query

SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer"}, "name": {"type": ["string", "null"]},
    "at": {"type": ["string", "null"], "format": "date-time"},
    "meta": {"anyOf": [{"type": "object"}, {"type": "array"}]},
}}


@pytest.fixture
def dest(tmp_path: Path) -> Any:
    d = DuckDBDestination(DuckDBConfig(path="w.duckdb", schema="raw"), pipeline="p",
                          base_dir=tmp_path)
    d.open()
    yield d
    d.close()


def write(d: DuckDBDestination, rows: list[dict[str, Any]], *, mode: WriteMode = "append",
          state: dict[str, Any] | None = None, truncate: bool = False,
          schema: dict[str, Any] = SCHEMA, keys: tuple[str, ...] = ("id",)) -> int:
    sch = StreamSchema.build("s", schema, keys)
    return d.write(stream="s", table_name="t", data=records_to_table(rows, sch),
                   schema=sch.arrow, state=state, mode=mode, keys=keys, truncate=truncate,
                   run_id=1, batch_index=0, block_run="destination:s:0")


def test_table_types_follow_the_schema(dest: DuckDBDestination, tmp_path: Path) -> None:
    """Columns are typed from the Singer schema; unions become JSON."""
    write(dest, [{"id": 1, "name": "a", "at": "2026-01-01T00:00:00Z", "meta": {"k": 1}}])
    dest.close()
    types = dict(query(tmp_path / "w.duckdb", "SELECT column_name, data_type FROM "
                                              "information_schema.columns WHERE table_name='t'"))
    assert types == {"id": "BIGINT", "name": "VARCHAR", "at": "TIMESTAMP WITH TIME ZONE",
                     "meta": "JSON"}


def test_merge_keeps_the_last_record_per_key(dest: DuckDBDestination, tmp_path: Path) -> None:
    """Upserts replace earlier rows, and within a batch the last record of a key wins."""
    write(dest, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], mode="merge")
    write(dest, [{"id": 2, "name": "b2"}, {"id": 3, "name": "c"}, {"id": 3, "name": "c2"}],
          mode="merge")
    dest.close()
    assert query(tmp_path / "w.duckdb", "SELECT id, name FROM raw.t ORDER BY id") == \
        [(1, "a"), (2, "b2"), (3, "c2")]


def test_replace_empties_the_table_first(dest: DuckDBDestination, tmp_path: Path) -> None:
    """A truncating write replaces the table's contents in the same transaction."""
    write(dest, [{"id": 1}, {"id": 2}])
    write(dest, [{"id": 9}], mode="replace", truncate=True)
    dest.close()
    assert query(tmp_path / "w.duckdb", "SELECT id FROM raw.t") == [(9,)]


def test_new_property_adds_a_column(dest: DuckDBDestination, tmp_path: Path) -> None:
    """A grown schema adds its new column; older rows read NULL there."""
    write(dest, [{"id": 1}])
    grown = {"type": "object", "properties": {**SCHEMA["properties"],
                                              "score": {"type": ["number", "null"]}}}
    write(dest, [{"id": 2, "score": 0.5}], schema=grown)
    dest.close()
    assert query(tmp_path / "w.duckdb", "SELECT id, score FROM raw.t ORDER BY id") == \
        [(1, None), (2, 0.5)]


def test_state_commits_with_its_batch(dest: DuckDBDestination) -> None:
    """The state written with a batch is what committed_state returns afterwards."""
    assert dest.committed_state("s") is None
    write(dest, [{"id": 1}], state={"bookmarks": {"s": {"replication_key_value": 1}}})
    assert dest.committed_state("s") == {"bookmarks": {"s": {"replication_key_value": 1}}}
    write(dest, [{"id": 2}])  # no new state: the bookmark stays
    assert dest.committed_state("s") == {"bookmarks": {"s": {"replication_key_value": 1}}}


def test_failed_batch_commits_neither_rows_nor_state(dest: DuckDBDestination,
                                                     tmp_path: Path) -> None:
    """When a batch cannot load, its rows and its state both stay out."""
    write(dest, [{"id": 1, "name": "a"}], state={"n": 1})
    bad = pa.table({"id": pa.array(["not-an-int"]), "name": pa.array(["x"])})
    with pytest.raises(DestinationError) as info:
        dest.write(stream="s", table_name="t", data=bad, schema=bad.schema, state={"n": 2},
                   mode="append", keys=(), truncate=True, run_id=1, batch_index=1,
                   block_run="destination:s:1")
    assert info.value.block_run == "destination:s:1"
    assert dest.committed_state("s") == {"n": 1}
    dest.close()
    assert query(tmp_path / "w.duckdb", "SELECT id FROM raw.t") == [(1,)]


def test_merge_with_and_without_overlapping_keys(dest: DuckDBDestination,
                                                 tmp_path: Path) -> None:
    """Batches beyond the stored key range append; ones inside it still replace."""
    write(dest, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], mode="merge")
    write(dest, [{"id": 10, "name": "j"}, {"id": 11, "name": "k"}], mode="merge")
    write(dest, [{"id": 5, "name": "e"}, {"id": 11, "name": "k2"}], mode="merge")
    dest.close()
    assert query(tmp_path / "w.duckdb", "SELECT id, name FROM raw.t ORDER BY id") == \
        [(1, "a"), (2, "b"), (5, "e"), (10, "j"), (11, "k2")]
