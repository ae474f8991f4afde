"""kill -9 at 20 points of a multi-stream, multi-batch sync: after a rerun the
destination equals the source exactly, for streams with and without keys."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, numbers_source, query, run_cli

pytestmark = pytest.mark.slow
COUNT = 2000
SLOW_CALLBACK = """\
import time


@callback('success')
def take_a_while(data, **kwargs):
    time.sleep(0.02)  # so that some kills land inside a callback
"""


@pytest.mark.parametrize(("point", "state_every"),
                         [(p, 50) for p in range(0, 20, 2)] + [(p, 1000) for p in range(1, 20, 2)])
def test_kill_and_rerun_loses_and_duplicates_nothing(
        tmp_path: Path, pipeline_file: Callable[..., Path], point: int,
        state_every: int) -> None:
    """Kill the run at a different moment each time (extracting, loading, committing,
    inside a callback), rerun it, and compare the destination with the source. The tap
    sends STATE more often than a batch (batches end at a STATE) or less often (batches
    carry a count of the records after the STATE, skipped when the tap resumes)."""
    (tmp_path / "cb.py").write_text(SLOW_CALLBACK)
    cfg = pipeline_file(
        source=numbers_source({"keyed": {"count": COUNT}, "plain": {"count": COUNT,
                                                                     "keys": False}},
                              pause_every=100, pause_seconds=0.02,
                              state_every=state_every),
        batch_size=70, callbacks=[{"file": "cb.py"}])
    proc = subprocess.Popen([sys.executable, "-m", "sync", "run", "--config", str(cfg),
                             "--quiet"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.6 + point * 0.09)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    done = run_cli("run", "--config", str(cfg), timeout=120)
    assert done.returncode == 0, done.stderr
    db = tmp_path / "warehouse.duckdb"
    for table in ("keyed", "plain"):
        assert query(db, f"SELECT count(*), count(DISTINCT id), min(id), max(id) "
                         f"FROM {table}") == [(COUNT, COUNT, 1, COUNT)], (table, point)


KILLER = """\
import os
import signal


@callback('success')
def die_here(data, **kwargs):
    at = os.environ.get("SYNC_TEST_KILL_AT", "")
    if at == f"{kwargs['parent_block_uuid']}:{kwargs['stream']}:{kwargs['index']}":
        os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("at", ["source:plain:0", "source:plain:3", "destination:plain:0",
                                "destination:plain:4", "source:keyed:2",
                                "destination:keyed:5"])
def test_kill_inside_a_callback(tmp_path: Path, pipeline_file: Callable[..., Path],
                                at: str) -> None:
    """The process dies inside a callback: after a source block run (batch read, not yet
    loaded) or after a destination block run (committed); the rerun completes exactly."""
    (tmp_path / "killer.py").write_text(KILLER)
    cfg = pipeline_file(
        source=numbers_source({"keyed": {"count": 500}, "plain": {"count": 500,
                                                                   "keys": False}},
                              state_every=30),
        batch_size=70, callbacks=[{"file": "killer.py"}])
    killed = run_cli("run", "--config", str(cfg), env={"SYNC_TEST_KILL_AT": at})
    assert killed.returncode == -signal.SIGKILL
    done = run_cli("run", "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    db = tmp_path / "warehouse.duckdb"
    for table in ("keyed", "plain"):
        assert query(db, f"SELECT count(*), count(DISTINCT id), min(id), max(id) "
                         f"FROM {table}") == [(500, 500, 1, 500)], (table, at)
