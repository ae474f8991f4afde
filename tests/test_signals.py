"""SIGTERM and SIGINT: the run stops promptly, keeps what it committed, and says so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, numbers_source, query, run_cli


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_stops_the_run_cleanly(tmp_path: Path, pipeline_file: Callable[..., Path],
                                      sig: signal.Signals, code: int) -> None:
    """Mid-stream, the signal ends the run within 10 s with its exit code; committed
    batches and their state stay consistent; the run is recorded as cancelled; the
    next run finishes the stream with no row lost or duplicated."""
    cfg = pipeline_file(source=numbers_source({"s": {"count": 3000, "keys": False}},
                                              pause_every=100, pause_seconds=0.05),
                        batch_size=100)
    proc = subprocess.Popen([sys.executable, "-m", "sync", "run", "--config", str(cfg),
                             "--log-format", "json", "--log-level", "debug"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    db = tmp_path / "warehouse.duckdb"
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until the first batch is committed
        if '"block_run": "destination:s:' in line and "succeeded" in line:
            break
    started = time.monotonic()
    proc.send_signal(sig)
    err = proc.stderr.read()
    proc.wait(timeout=30)
    assert time.monotonic() - started < 10
    assert proc.returncode == code, err
    count = query(db, "SELECT count(*), count(DISTINCT id), coalesce(max(id), 0) FROM s")[0]
    assert count[0] == count[1] == count[2]  # a prefix of the stream, nothing twice
    assert 0 < count[0] < 3000
    state = query(db, "SELECT state FROM _sync_state WHERE stream = 's'")
    assert json.loads(state[0][0])["bookmarks"]["s"]["replication_key_value"] == count[2]
    listed = run_cli("runs", "list", "--config", str(cfg)).stdout.split()
    assert listed[1] == "cancelled"
    done = run_cli("run", "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    assert query(db, "SELECT count(*), count(DISTINCT id) FROM s") == [(3000, 3000)]


@pytest.mark.parametrize("delay", [0.05, 0.15, 0.2, 0.25, 0.3, 0.4, 0.6])
def test_sigterm_at_start_up_leaves_no_tap_behind(tmp_path: Path,
                                                  pipeline_file: Callable[..., Path],
                                                  delay: float) -> None:
    """Whenever SIGTERM lands (before, while or after the taps are started early), the
    run exits 143 and no tap process outlives it, even one that would hang for an hour."""
    starts = tmp_path / "starts.jsonl"
    streams = {"a": {"count": 5}, "b": {"count": 5}}
    cfg = pipeline_file(source=numbers_source(streams, starts_file=str(starts)),
                        max_parallel_streams=2)
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    cfg = pipeline_file(source=numbers_source(streams, starts_file=str(starts), hang_after=1),
                        max_parallel_streams=2)
    proc = subprocess.Popen([sys.executable, "-m", "sync", "run", "--config", str(cfg),
                             "--full-refresh"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    deadline = time.monotonic() + 20
    while proc.poll() is None and time.monotonic() < deadline:
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
    # 143 once `sync run` has begun; killed by the signal itself if it came earlier
    assert proc.wait(timeout=10) in (143, -signal.SIGTERM)
    time.sleep(0.5)  # a tap killed while starting has no line; one that wrote it is checked
    for line in starts.read_text().splitlines():
        pid = json.loads(line).get("pid")
        if pid is not None:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
