"""Real Singer connectors from PyPI, each installed into its own environment via pip_url."""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, numbers_source, query, run_cli

pytestmark = pytest.mark.slow

TAP_JSONL = {"tap": "tap-jsonl", "pip_url": "tap-jsonl==0.3.1"}
TARGET_JSONL = {"target": "target-jsonl", "pip_url": "target-jsonl==0.1.4"}
TARGET_CSV = {"target": "target-csv", "pip_url": "meltanolabs-target-csv==0.5.0"}
RECORDER = str(ROOT / "tests" / "callbacks" / "recorder.py")


def write_jsonl(path: Path, rows: list[dict[str, Any]], mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.utime(path, (mtime, mtime))


def test_tap_jsonl_into_duckdb(tmp_path: Path, plugins_cache: Path,
                               pipeline_file: Callable[..., Path]) -> None:
    """tap-jsonl feeds the built-in DuckDB target with callbacks on every block run; the
    committed state goes back to the tap on the next run.

    tap-jsonl 0.3.1 does not honour its own per-file bookmarks (run it by hand with
    --state and it re-reads every file), so its second run re-sends the old rows too;
    the upsert on its primary key keeps the table exact. The only-new-rows round trip
    through an external tap is test_external_sdk_tap_state_round_trip below."""
    now = time.time()
    write_jsonl(tmp_path / "data" / "a.jsonl",
                [{"id": i, "name": f"n{i}"} for i in range(1, 8)], now - 3600)
    calls = tmp_path / "calls.jsonl"
    cfg = pipeline_file(
        source={**TAP_JSONL, "config": {"path": str(tmp_path / "data" / "*.jsonl"),
                                        "stream_name": "people", "primary_keys": ["id"]}},
        destination={"config": {"path": "w.duckdb"}}, batch_size=5,
        callbacks=[{"file": RECORDER}])
    done = run_cli("run", "--config", str(cfg), env={"CALLS_FILE": str(calls)}, timeout=600)
    assert done.returncode == 0, done.stderr
    db = tmp_path / "w.duckdb"
    assert query(db, "SELECT count(*), max(id) FROM people") == [(7, 7)]
    write_jsonl(tmp_path / "data" / "b.jsonl",
                [{"id": i, "name": f"n{i}"} for i in range(8, 11)], now)
    done = run_cli("run", "--config", str(cfg), "--log-format", "json", "--log-level", "debug",
                   env={"CALLS_FILE": str(calls)}, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "bookmark value: " in done.stderr and "bookmark value: None" not in done.stderr
    assert query(db, "SELECT count(*), count(DISTINCT id) FROM people") == [(10, 10)]
    got = [(c["run_id"], c["parent_block_uuid"], c["index"], c["is_last_block_run"], c["rows"])
           for c in (json.loads(x) for x in calls.read_text().splitlines())
           if c.get("form") == "positional"]
    first_run, second_run = sorted({g[0] for g in got})
    assert [g[1:] for g in got if g[0] == first_run] == [
        ("source", 0, False, 5), ("destination", 0, False, 5),
        ("source", 1, True, 2), ("destination", 1, True, 2)]
    assert [g[1:] for g in got if g[0] == second_run][-2:] == [
        ("source", 1, True, 5), ("destination", 1, True, 5)]


def test_target_jsonl_destination(tmp_path: Path, plugins_cache: Path,
                                  pipeline_file: Callable[..., Path]) -> None:
    """target-jsonl (singer-python) receives every record under its destination table."""
    calls = tmp_path / "calls.jsonl"
    cfg = pipeline_file(
        source=numbers_source({"s": {"count": 25}}), batch_size=10,
        streams={"s": {"destination_table": "dim_numbers"}},
        destination={**TARGET_JSONL, "confirm_wait": 0.5,
                     "config": {"destination_path": "out", "do_timestamp_file": False}},
        callbacks=[{"file": RECORDER, "parents": ["destination"]}])
    done = run_cli("run", "--config", str(cfg), env={"CALLS_FILE": str(calls)}, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(x) for x in (tmp_path / "out" / "dim_numbers.jsonl").read_text()
            .splitlines()]
    assert [r["id"] for r in rows] == list(range(1, 26))
    assert rows[0]["updated_at"] == "2026-01-01T00:01:00+00:00"
    got = [(c["index"], c["is_last_block_run"], c["rows"], c["destination_table"])
           for c in (json.loads(x) for x in calls.read_text().splitlines())
           if c.get("form") == "keywords"]
    assert got == [(0, False, 10, "dim_numbers"), (1, False, 10, "dim_numbers"),
                   (2, True, 5, "dim_numbers")]
    state = json.loads(run_cli("state", "show", "--config", str(cfg)).stdout)
    assert state["s"]["bookmarks"]["s"]["replication_key_value"] == 25


def test_meltanolabs_target_csv_destination(tmp_path: Path, plugins_cache: Path,
                                            pipeline_file: Callable[..., Path]) -> None:
    """meltanolabs-target-csv (singer-sdk) writes the stream's rows to a CSV file."""
    cfg = pipeline_file(
        source=numbers_source({"s": {"count": 12}}), batch_size=5,
        streams={"s": {"destination_table": "numbers"}},
        destination={**TARGET_CSV, "confirm_wait": 0.2,
                     "config": {"output_path": str(tmp_path / "csv"),
                                "file_naming_scheme": "{stream_name}.csv"}})
    done = run_cli("run", "--config", str(cfg), timeout=600)
    assert done.returncode == 0, done.stderr
    files = sorted((tmp_path / "csv").glob("*.csv"))
    assert files, "target-csv wrote no file"
    ids = []
    for f in files:
        with f.open() as fh:
            ids += [int(r["id"]) for r in csv.DictReader(fh)]
    assert sorted(ids) == list(range(1, 13))
    state = json.loads(run_cli("state", "show", "--config", str(cfg)).stdout)
    assert state["s"]["bookmarks"]["s"]["replication_key_value"] == 12


def test_external_sdk_tap_state_round_trip(tmp_path: Path,
                                           pipeline_file: Callable[..., Path]) -> None:
    """An external singer-sdk tap (sync-tap-jsonl, run as a process) gets the committed
    state back: its second run emits only the records after the bookmark."""
    rows = [{"id": i, "at": f"2026-01-01T00:00:{i:02d}+00:00"} for i in range(1, 9)]
    data = tmp_path / "events.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tap = str(Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "sync-tap-jsonl")
    cfg = pipeline_file(source={"tap": tap, "config": {"files": [
        {"path": str(data), "replication_key": "at"}]}},
        destination={"config": {"path": "w.duckdb"}})
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    more = [{"id": i, "at": f"2026-01-01T00:00:{i:02d}+00:00"} for i in range(9, 12)]
    with data.open("a") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in more))
    done = run_cli("run", "--config", str(cfg), "--log-format", "json")
    assert done.returncode == 0, done.stderr
    finished = [json.loads(x) for x in done.stderr.splitlines() if '"stream finished"' in x]
    assert finished[0]["rows"] == 3
    assert query(tmp_path / "w.duckdb", "SELECT count(*), count(DISTINCT id) FROM events") \
        == [(11, 11)]
