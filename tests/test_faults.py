"""Faults in the parts and at the edges: each a clear error, nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import ROOT, numbers_source, query, run_cli

RECORDER = str(ROOT / "tests" / "callbacks" / "recorder.py")


def test_a_50_mb_line_loads(tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """A record of 50 MB on one line is read and loaded like any other."""
    cfg = pipeline_file(source=numbers_source({"s": {"count": 5, "huge_at": 3}}))
    done = run_cli("run", "--config", str(cfg), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert query(tmp_path / "warehouse.duckdb",
                 "SELECT count(*), max(length(label)) FROM s") == [(5, 50 << 20)]


def test_two_runs_started_together(pipeline_file: Callable[..., Path]) -> None:
    """Of two runs of one pipeline started at once, one runs and the other exits 75."""
    cfg = pipeline_file(source=numbers_source({"s": {"count": 2000}}, pause_every=500,
                                              pause_seconds=0.2))
    argv = [sys.executable, "-m", "sync", "run", "--config", str(cfg), "--quiet"]
    procs = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    codes = sorted(p.wait(timeout=120) for p in procs)
    assert codes == [0, 75]


def test_unwritable_destination_fails_each_stream_with_callbacks(
        tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """A DuckDB file that cannot be opened fails every stream at its first destination
    block run, with the reason, and failure callbacks fire."""
    locked = tmp_path / "locked"
    locked.mkdir()
    calls = tmp_path / "calls.jsonl"
    cfg = pipeline_file(source=numbers_source({"a": {"count": 3}, "b": {"count": 3}}),
                        destination={"config": {"path": "locked/w.duckdb"}},
                        callbacks=[{"file": RECORDER}])
    os.chmod(locked, 0o500)
    try:
        if os.geteuid() == 0:
            # root ignores permissions: make the path a directory DuckDB cannot open
            (locked / "w.duckdb").mkdir()
        done = run_cli("run", "--config", str(cfg), "--log-format", "json",
                       env={"CALLS_FILE": str(calls)})
    finally:
        os.chmod(locked, 0o700)
    assert done.returncode == 1
    assert "cannot open DuckDB file" in done.stderr
    failures = [json.loads(x) for x in calls.read_text().splitlines()
                if '"error_type"' in x and '"keywords"' in x]
    assert sorted((c["stream"], c["parent_block_uuid"], c["index"]) for c in failures) == \
        [("a", "destination", 0), ("b", "destination", 0)]


def test_locked_state_database_is_waited_for(tmp_path: Path,
                                             pipeline_file: Callable[..., Path]) -> None:
    """Another process holding the state database's write lock for a moment makes the
    run wait, not fail: it completes once the lock is released."""
    import sqlite3
    import threading
    import time

    cfg = pipeline_file(source=numbers_source({"s": {"count": 5}}))
    assert run_cli("run", "--config", str(cfg)).returncode == 0  # creates the database
    con = sqlite3.connect(str(tmp_path / ".sync" / "sync.db"), isolation_level=None,
                          check_same_thread=False)
    con.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(2.0, lambda: con.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    done = run_cli("run", "--config", str(cfg))
    release.join()
    con.close()
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started >= 2.0
