"""External Singer targets: batches confirmed by echo or exit, failures that never hang."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, numbers_source, run_cli

TARGET = [sys.executable, str(ROOT / "tests" / "targets" / "jsonl_target.py")]
RECORDER = str(ROOT / "tests" / "callbacks" / "recorder.py")


def target(tmp_path: Path, **config: Any) -> dict[str, Any]:
    return {"target": TARGET, "config": {"path": str(tmp_path / "out"), **config},
            "confirm_wait": 5}


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def bookmark(cfg: Path, stream: str) -> Any:
    state = json.loads(run_cli("state", "show", "--config", str(cfg)).stdout)
    return state.get(stream, {}).get("bookmarks", {}).get(stream, {}).get(
        "replication_key_value")


def test_echoing_target_keeps_one_process(tmp_path: Path,
                                          pipeline_file: Callable[..., Path]) -> None:
    """A target that echoes each STATE confirms batch by batch in one process."""
    cfg = pipeline_file(source=numbers_source({"s": {"count": 25}}), batch_size=10,
                        destination=target(tmp_path, echo="each"),
                        streams={"s": {"destination_table": "dim_s"}})
    done = run_cli("run", "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in lines(tmp_path / "out" / "dim_s.jsonl")] == list(range(1, 26))
    assert (tmp_path / "out" / "starts.log").read_text().count("start") == 1
    assert bookmark(cfg, "s") == 25


def test_target_that_confirms_on_exit(tmp_path: Path,
                                      pipeline_file: Callable[..., Path]) -> None:
    """A target that reports state only on exit keeps one process for the stream; its
    batches are confirmed at the end and their block runs reported then, in order."""
    calls = tmp_path / "calls.jsonl"
    cfg = pipeline_file(source=numbers_source({"s": {"count": 25}}), batch_size=10,
                        destination={**target(tmp_path, echo="exit"), "confirm_wait": 0.2},
                        callbacks=[{"file": RECORDER}])
    assert run_cli("run", "--config", str(cfg), env={"CALLS_FILE": str(calls)}).returncode == 0
    assert len(lines(tmp_path / "out" / "s.jsonl")) == 25
    assert (tmp_path / "out" / "starts.log").read_text().count("start") == 1
    assert bookmark(cfg, "s") == 25
    order = [(c["parent_block_uuid"], c["index"], c["is_last_block_run"])
             for c in lines(calls) if c.get("form") == "keywords"]
    assert order == [("source", 0, False), ("destination", 0, False), ("source", 1, False),
                     ("destination", 1, False), ("source", 2, True), ("destination", 2, True)]


def test_dying_target_fails_the_stream_with_its_stderr(
        tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """Only confirmed state is saved; the error carries the target's stderr."""
    cfg = pipeline_file(source=numbers_source({"s": {"count": 40}, "t": {"count": 3}}),
                        batch_size=10, streams={"s": {}},
                        destination=target(tmp_path, echo="each", fail_after=15))
    done = run_cli("run", "--config", str(cfg), "--log-format", "json")
    assert done.returncode == 1
    assert "exited with code 4" in done.stderr and "simulated failure" in done.stderr
    assert bookmark(cfg, "s") == 10
    # the rerun resumes after the confirmed batch: nothing confirmed is lost
    done = run_cli("run", "--config", str(cfg), "--log-format", "json")
    ids = [r["id"] for r in lines(tmp_path / "out" / "s.jsonl")]
    assert set(ids) >= set(range(1, 16))


def test_hanging_target_is_stopped(tmp_path: Path,
                                   pipeline_file: Callable[..., Path]) -> None:
    """A target that stops reading fails its stream after destination.idle_timeout."""
    cfg = pipeline_file(source=numbers_source({"s": {"count": 200_000}}), batch_size=100_000,
                        destination={**target(tmp_path, hang_after=5), "idle_timeout": 2})
    started = time.monotonic()
    done = run_cli("run", "--config", str(cfg), "--log-format", "json", timeout=120)
    assert done.returncode == 1
    assert "stopped responding" in done.stderr or "read nothing" in done.stderr
    assert time.monotonic() - started < 60
    assert bookmark(cfg, "s") is None


def test_dying_tap_closes_the_target(tmp_path: Path,
                                     pipeline_file: Callable[..., Path]) -> None:
    """When the tap dies, the target gets a clean end of input and no state moves on."""
    cfg = pipeline_file(source=numbers_source({"s": {"count": 30}}, fail_after=15),
                        batch_size=10, destination=target(tmp_path, echo="each"))
    done = run_cli("run", "--config", str(cfg), "--log-format", "json", timeout=60)
    assert done.returncode == 1 and "exited with code 3" in done.stderr
    assert bookmark(cfg, "s") == 10


def test_waiting_batches_are_spilled_and_read_back(
        tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """Fifty batches waiting for a target that confirms only at exit: callbacks still get
    every batch's records (older ones read back from disk), and nothing is left over."""
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("sync-waiting-*"))
    calls = tmp_path / "calls.jsonl"
    cfg = pipeline_file(source=numbers_source({"s": {"count": 500}}), batch_size=10,
                        destination={**target(tmp_path, echo="exit"), "confirm_wait": 0.1},
                        callbacks=[{"file": RECORDER}])
    done = run_cli("run", "--config", str(cfg), env={"CALLS_FILE": str(calls)})
    assert done.returncode == 0, done.stderr
    got = [(c["parent_block_uuid"], c["index"], c["rows"]) for c in lines(calls)
           if c.get("form") == "positional"]
    assert len(got) == 100 and all(rows == 10 for _, _, rows in got)
    assert [i for p, i, _ in got if p == "destination"] == list(range(50))
    assert set(Path(tempfile.gettempdir()).glob("sync-waiting-*")) == before
