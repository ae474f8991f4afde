"""BATCH messages from a real singer-sdk tap: record files read by DuckDB, not by Python."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, query, run_cli

TAP = str(Path(sys.executable).parent / "sync-tap-jsonl")


@pytest.mark.parametrize("encoding", [{"format": "jsonl", "compression": "gzip"},
                                      {"format": "parquet", "compression": "gzip"}])
def test_sdk_batch_files_land_like_records(tmp_path: Path, pipeline_file: Callable[..., Path],
                                           encoding: dict[str, str]) -> None:
    """The SDK tap writes its records to batch files; every row lands with its types and
    the callbacks see ordinary batches."""
    shutil.copy(ROOT / "config" / "demo" / "users.jsonl", tmp_path / "users.jsonl")
    (tmp_path / "batches").mkdir()
    calls = tmp_path / "calls.jsonl"
    cfg = pipeline_file(
        source={"tap": TAP, "config": {
            "files": [{"path": "users.jsonl", "key_properties": ["id"]}],
            "batch_config": {"encoding": encoding,
                             "storage": {"root": (tmp_path / "batches").as_uri()},
                             "batch_size": 5}}},
        batch_size=4, destination={"config": {"path": "w.duckdb"}},
        callbacks=[{"file": str(ROOT / "tests" / "callbacks" / "recorder.py")}])
    done = run_cli("run", "--config", str(cfg), env={"CALLS_FILE": str(calls)})
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "batches").iterdir()), "the tap wrote no batch files"
    db = tmp_path / "w.duckdb"
    assert query(db, "SELECT count(*), count(DISTINCT id) FROM users") == [(12, 12)]
    types = dict(query(db, "SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_name = 'users'"))
    assert types["updated_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["signup_date"] == "DATE"
    rows = [c["rows"] for c in (json.loads(x) for x in calls.read_text().splitlines())
            if c.get("form") == "keywords" and c["parent_block_uuid"] == "destination"]
    assert rows == [4, 4, 4]
