"""`sync schedule` and `sync cron`: runs at their ticks, never two at once, clean stops."""

from __future__ import annotations

import itertools
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from tests.conftest import ROOT, numbers_source, run_cli


def test_every_second_schedule(tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """With a run slower than its one-second schedule: runs start at whole-second ticks,
    never overlap, missed ticks give one run (not one per tick), and SIGTERM stops the
    scheduler cleanly, letting the run in flight end as cancelled or done."""
    cfg = pipeline_file(source=numbers_source({"s": {"count": 300}}, pause_every=100,
                                              pause_seconds=0.7),
                        streams={"s": {"replication_method": "FULL_TABLE"}},  # slow each time
                        batch_size=100, schedule="* * * * * *")
    proc = subprocess.Popen([sys.executable, "-m", "sync", "schedule", "--config", str(cfg),
                             "--log-format", "json"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(7.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert '"event": "scheduled"' in err and '"next_run"' in err and '"stopped"' in err
    con = sqlite3.connect(str(tmp_path / ".sync" / "sync.db"))
    rows = con.execute("SELECT execution_date, ended_at, status, event FROM pipeline_runs "
                       "ORDER BY id").fetchall()
    con.close()
    # each run takes about 2 s: back to back that is at most 5 runs in 7.5 s, where one
    # run per tick would have been 7
    assert 2 <= len(rows) <= 5, rows
    spans = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b, _, _ in rows]
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end  # no overlap
    for _, _, status, event in rows:
        ev = json.loads(event)
        assert ev["trigger"] == "schedule"
        assert datetime.fromisoformat(ev["scheduled_at"]).microsecond == 0
        assert status in ("success", "cancelled")
    assert "will run once after it" in err


def test_cron_line(pipeline_file: Callable[..., Path]) -> None:
    """`sync cron` prints a crontab line; sub-minute schedules are refused."""
    cfg = pipeline_file(source=numbers_source({"s": {"count": 1}}), schedule="15 3 * * *",
                        timezone="Europe/Lisbon")
    done = run_cli("cron", str(cfg))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("CRON_TZ=Europe/Lisbon\n15 3 * * * cd ")
    assert f"run --config {cfg}" in done.stdout
    fast = pipeline_file("fast.yaml", source=numbers_source({"s": {"count": 1}}),
                         schedule="* * * * * *")
    refused = run_cli("cron", str(fast))
    assert refused.returncode == 2 and "sync schedule" in refused.stderr
