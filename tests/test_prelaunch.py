"""Taps started ahead of their streams: adopted only when every input matches."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sync.prelaunch import Launch, Prelaunched, stop
from tests.conftest import ROOT, numbers_source, query, run_cli


def starts(log: Path) -> list[dict[str, Any]]:
    """The tap's data runs (not discoveries), in start order."""
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    return [r for r in rows if "streams" in r]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_next_run_adopts_the_taps_started_ahead(tmp_path: Path,
                                                pipeline_file: Callable[..., Path]) -> None:
    """A second run starts one tap per stream, before its own imports, with the state
    the stream resumes from; the rows are the same as without it."""
    log = tmp_path / "starts.jsonl"
    streams = {"a": {"count": 25}, "b": {"count": 7}}
    cfg = pipeline_file(source=numbers_source(streams, starts_file=str(log)),
                        max_parallel_streams=2)
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    assert [s["state"] for s in starts(log)] == [{}, {}]

    # five more rows in "a": the config changes, the launch record does not hold it
    cfg = pipeline_file(source=numbers_source({"a": {"count": 30}, "b": {"count": 7}},
                                              starts_file=str(log)),
                        max_parallel_streams=2)
    done = run_cli("run", "--config", str(cfg), "--log-level", "debug")
    assert done.returncode == 0, done.stderr
    second = starts(log)[2:]
    assert sorted(s["streams"][0] for s in second) == ["a", "b"]
    assert done.stderr.count("started ahead of the stream adopted") == 2
    by_stream = {s["streams"][0]: s["state"] for s in second}
    assert by_stream["a"]["bookmarks"]["a"]["replication_key_value"] == 25
    assert by_stream["b"]["bookmarks"]["b"]["replication_key_value"] == 7
    assert query(tmp_path / "warehouse.duckdb",
                 "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b)") == [(30, 7)]


def test_a_wrong_guess_is_killed_and_the_stream_resumes_from_the_destination(
        tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """When the state database's bookmark differs from the one committed beside the
    data (a crash between the two), the early tap is killed and a fresh one gets the
    committed state: no row is loaded twice or skipped."""
    log = tmp_path / "starts.jsonl"
    cfg = pipeline_file(source=numbers_source({"a": {"count": 40, "keys": False}},
                                              starts_file=str(log)))
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    assert run_cli("run", "--config", str(cfg)).returncode == 0  # adopted, loads nothing
    con = sqlite3.connect(tmp_path / ".sync" / "sync.db")
    stale = {"bookmarks": {"a": {"replication_key": "id", "replication_key_value": 12}}}
    con.execute("UPDATE bookmarks SET state = ? WHERE stream = 'a'", (json.dumps(stale),))
    con.commit()
    con.close()

    done = run_cli("run", "--config", str(cfg), "--log-level", "debug")
    assert done.returncode == 0, done.stderr
    _, second, guess, fresh = starts(log)
    assert second["state"] == fresh["state"]
    assert guess["state"] == stale
    assert fresh["state"]["bookmarks"]["a"]["replication_key_value"] == 40
    assert not alive(guess["pid"])
    assert "started ahead of the stream adopted" not in done.stderr
    assert query(tmp_path / "warehouse.duckdb", "SELECT count(*), count(DISTINCT id) FROM a") \
        == [(40, 40)]


def test_taps_not_adopted_are_killed_when_the_run_ends(
        tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """A stream the next run does not load (here: --stream picks the other) never keeps
    a waiting tap alive past the run."""
    log = tmp_path / "starts.jsonl"
    streams = {"a": {"count": 3}, "b": {"count": 4}}
    cfg = pipeline_file(source=numbers_source(streams, starts_file=str(log)),
                        max_parallel_streams=2)
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    # the selection shrinks to "a": "b" is started ahead from the last run's record
    cfg = pipeline_file(source=numbers_source(streams, starts_file=str(log)),
                        max_parallel_streams=2, streams={"a": {}})
    done = run_cli("run", "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    later = starts(log)[2:]
    assert [s["streams"][0] for s in later].count("a") >= 1
    for s in later:
        assert not alive(s["pid"])
    # the record now holds "a" only: the next run starts nothing for "b"
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    assert [s["streams"][0] for s in starts(log)[len(later) + 2:]] == ["a"]


def test_builtin_taps_and_shared_taps_leave_no_record(
        tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    log = tmp_path / "starts.jsonl"
    cfg = pipeline_file(source=numbers_source({"a": {"count": 2}}, starts_file=str(log)))
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    record = tmp_path / ".sync" / "launches" / "test_pipeline.json"
    assert record.exists() and oct(record.stat().st_mode & 0o777) == "0o600"
    cfg = pipeline_file(source={**numbers_source({"a": {"count": 2}}, starts_file=str(log)),
                                "per_stream": False})
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    assert not record.exists()


def _sleeper(stream: str, state: Any = None) -> Launch:
    return Launch.of(stream, [sys.executable, "-c", "import time; time.sleep(60)"],
                     Path.cwd(), {"k": 1}, "--catalog", {"streams": []}, state)


def test_waiting_taps_are_matched_exactly_and_expire() -> None:
    """take() adopts only an identical launch, kills a different one for the same
    stream, and processes still waiting a window after the first take are killed."""
    early = Prelaunched(adopt_window=0.3)
    for stream in ("a", "b", "c"):
        early.add(_sleeper(stream, {"n": 1}))
    found = early.take(_sleeper("a", {"n": 1}))
    assert found is not None
    proc, files = found
    assert proc.poll() is None
    assert early.take(_sleeper("b", {"n": 2})) is None  # other state: killed at once
    assert early.streams() == {"c"}
    time.sleep(1.0)
    assert early.streams() == set()
    assert (early.adopted, early.discarded) == (1, 2)
    stop(proc, files)
    early.close()


def test_start_early_false_starts_taps_only_when_their_stream_runs(
        tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    log = tmp_path / "starts.jsonl"
    cfg = pipeline_file(source={**numbers_source({"a": {"count": 2}}, starts_file=str(log)),
                                "start_early": False})
    for _ in range(2):
        done = run_cli("run", "--config", str(cfg), "--log-level", "debug")
        assert done.returncode == 0, done.stderr
        assert "started ahead" not in done.stderr
    assert len(starts(log)) == 2


def test_only_the_first_wave_is_recorded_and_replayed(
        tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """With one stream at a time, the record keeps the first launch only (a pipeline of
    many streams writes no more than it replays), and the next run adopts it."""
    log = tmp_path / "starts.jsonl"
    streams = {"a": {"count": 2}, "b": {"count": 2}, "c": {"count": 2}}
    cfg = pipeline_file(source=numbers_source(streams, starts_file=str(log)),
                        max_parallel_streams=1)
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    record = json.loads((tmp_path / ".sync" / "launches" / "test_pipeline.json").read_text())
    assert [r["stream"] for r in record["launches"]] == [starts(log)[0]["streams"][0]]
    done = run_cli("run", "--config", str(cfg), "--log-level", "debug")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("started ahead of the stream adopted") == 1
    assert len(starts(log)) == 6


def test_a_changed_tap_is_not_replayed(tmp_path: Path,
                                       pipeline_file: Callable[..., Path]) -> None:
    """The record belongs to the tap the pipeline file named: after the file names
    another tap, the old one is not started with the new config."""
    log = tmp_path / "starts.jsonl"
    cfg = pipeline_file(source=numbers_source({"a": {"count": 3}}, starts_file=str(log)))
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    other = tmp_path / "other_tap.py"
    shutil.copy(ROOT / "tests" / "taps" / "numbers_tap.py", other)
    cfg = pipeline_file(source={"tap": [sys.executable, str(other)],
                                "config": {"streams": {"a": {"count": 3}},
                                           "starts_file": str(log)}})
    done = run_cli("run", "--config", str(cfg), "--log-level", "debug")
    assert done.returncode == 0, done.stderr
    assert [s["tap"] for s in starts(log)] == [
        str(ROOT / "tests" / "taps" / "numbers_tap.py"), str(other)]
    done = run_cli("run", "--config", str(cfg), "--log-level", "debug")
    assert done.stderr.count("started ahead of the stream adopted") == 1


def test_an_environment_changed_by_a_callback_file_discards_the_guess(
        tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """Callback files are loaded after the early start; one that sets an environment
    variable gets a fresh tap that sees it, as it would without the early start."""
    log = tmp_path / "starts.jsonl"
    callbacks = tmp_path / "env_callbacks.py"
    callbacks.write_text(
        "import os\n"
        "os.environ['SYNC_TEST_PROBE'] = 'set by a callback file'\n\n"
        "@callback('success')\n"
        "def noted(**kwargs):\n"
        "    pass\n")
    source = numbers_source({"a": {"count": 3}}, starts_file=str(log),
                            env_keys=["SYNC_TEST_PROBE"])
    cfg = pipeline_file(source=source, callbacks=[{"file": str(callbacks)}])
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    done = run_cli("run", "--config", str(cfg), "--log-level", "debug")
    assert done.returncode == 0, done.stderr
    _, guess, fresh = starts(log)
    assert guess["env"] == {"SYNC_TEST_PROBE": None}
    assert fresh["env"] == {"SYNC_TEST_PROBE": "set by a callback file"}
    assert not alive(guess["pid"])
    assert "started ahead of the stream adopted" not in done.stderr


def test_a_tap_and_what_it_started_are_killed_together(
        tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """A tap behind a wrapper script: when its guess is wrong, the wrapper and the tap
    it started both go, and no temporary file of the guess is left behind."""
    log = tmp_path / "starts.jsonl"
    wrapper = tmp_path / "tap.sh"
    wrapper.write_text(f"#!/bin/sh\n{sys.executable} "
                       f"{ROOT / 'tests' / 'taps' / 'numbers_tap.py'} \"$@\"\n")
    wrapper.chmod(0o755)
    source = {"tap": str(wrapper),
              "config": {"streams": {"a": {"count": 40, "keys": False}},
                         "starts_file": str(log)}}
    cfg = pipeline_file(source=source)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp)}
    assert run_cli("run", "--config", str(cfg), env=env).returncode == 0
    assert run_cli("run", "--config", str(cfg), env=env).returncode == 0
    con = sqlite3.connect(tmp_path / ".sync" / "sync.db")
    stale = {"bookmarks": {"a": {"replication_key": "id", "replication_key_value": 12}}}
    con.execute("UPDATE bookmarks SET state = ? WHERE stream = 'a'", (json.dumps(stale),))
    con.commit()
    con.close()
    assert run_cli("run", "--config", str(cfg), env=env).returncode == 0
    guess = starts(log)[2]
    assert guess["state"] == stale
    assert not alive(guess["pid"])
    assert list(tmp.iterdir()) == []
