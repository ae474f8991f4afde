"""per_stream: false: one tap process for every stream, split by stream."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import ROOT, numbers_source, query, run_cli

RECORDER = str(ROOT / "tests" / "callbacks" / "recorder.py")


def test_one_process_feeds_every_stream(tmp_path: Path,
                                        pipeline_file: Callable[..., Path]) -> None:
    """Streams keep their own batches and callbacks; the next run resumes each stream
    from its own committed bookmark, through one tap process again."""
    starts = tmp_path / "starts.jsonl"
    calls = tmp_path / "calls.jsonl"
    streams = {"a": {"count": 25}, "b": {"count": 0}, "c": {"count": 12}}
    source = {**numbers_source(streams, starts_file=str(starts)), "per_stream": False}
    cfg = pipeline_file(source=source, batch_size=10, max_parallel_streams=1,
                        destination={"config": {"path": "w.duckdb"}},
                        callbacks=[{"file": RECORDER}])
    done = run_cli("run", "--config", str(cfg), env={"CALLS_FILE": str(calls)})
    assert done.returncode == 0, done.stderr
    runs = [json.loads(x) for x in starts.read_text().splitlines() if '"streams"' in x]
    assert len(runs) == 1 and sorted(runs[0]["streams"]) == ["a", "b", "c"]
    db = tmp_path / "w.duckdb"
    assert query(db, "SELECT count(*) FROM a") == [(25,)]
    assert query(db, "SELECT count(*) FROM b") == [(0,)]
    assert query(db, "SELECT count(*) FROM c") == [(12,)]
    seq = {s: [(c["parent_block_uuid"], c["index"], c["is_last_block_run"], c["rows"])
               for c in (json.loads(x) for x in calls.read_text().splitlines())
               if c.get("form") == "keywords" and c["stream"] == s] for s in streams}
    assert seq["b"] == [("source", 0, True, 0), ("destination", 0, True, 0)]
    assert seq["c"] == [("source", 0, False, 10), ("destination", 0, False, 10),
                        ("source", 1, True, 2), ("destination", 1, True, 2)]
    assert [x[1:3] for x in seq["a"]][-2:] == [(2, True), (2, True)]

    source["config"]["streams"] = {"a": {"count": 30}, "b": {"count": 2}, "c": {"count": 12}}
    cfg = pipeline_file(source=source, batch_size=10,
                        destination={"config": {"path": "w.duckdb"}})
    done = run_cli("run", "--config", str(cfg), "--log-format", "json")
    assert done.returncode == 0, done.stderr
    second = json.loads(starts.read_text().splitlines()[-1])
    marks = {s: v["replication_key_value"] for s, v in second["state"]["bookmarks"].items()}
    assert marks == {"a": 25, "b": 0, "c": 12}
    rows = {json.loads(x)["stream"]: json.loads(x)["rows"] for x in done.stderr.splitlines()
            if '"stream finished"' in x}
    assert rows == {"a": 5, "b": 2, "c": 0}


def test_tap_failure_fails_every_stream(tmp_path: Path,
                                        pipeline_file: Callable[..., Path]) -> None:
    """When the one tap process dies, each of its streams fails; committed data stays."""
    source = {**numbers_source({"a": {"count": 30}, "b": {"count": 30}}, fail_after=45),
              "per_stream": False}
    cfg = pipeline_file(source=source, batch_size=10)
    done = run_cli("run", "--config", str(cfg), "--log-format", "json", timeout=60)
    assert done.returncode == 1
    failed = {json.loads(x)["stream"] for x in done.stderr.splitlines()
              if '"stream failed"' in x}
    assert failed == {"b"} or failed == {"a", "b"}
    assert query(tmp_path / "warehouse.duckdb", "SELECT count(*) FROM a")[0][0] >= 20
