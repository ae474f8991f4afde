"""Callback blocks through real syncs: the seed page's whole contract, checked call by call."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import ROOT, numbers_source, run_cli

RECORDER = str(ROOT / "tests" / "callbacks" / "recorder.py")
SEED_KEYS = {"block_uuid", "parent_block_uuid", "ds", "hr", "execution_date",
             "execution_partition", "event", "pipeline_run", "pipeline_uuid", "__input",
             "stream", "destination_table", "index", "is_last_block_run"}
FORMS = ("positional", "keywords", "bare", "legacy")


def calls_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() \
        else []


@pytest.fixture
def three_streams(tmp_path: Path, pipeline_file: Callable[..., Path]) -> Any:
    """empty (0 records), mid (2.5 batches) and broken (fails in its second batch)."""
    calls = tmp_path / "calls.jsonl"
    cfg = pipeline_file(
        source={**numbers_source({"empty": {"count": 0}, "mid": {"count": 25},
                                  "broken": {"count": 30, "bad_line_at": 15}}),
                "uuid": "load_api_data"},
        destination={"uuid": "save_data", "config": {"path": "w.duckdb"}},
        streams={"empty": {}, "mid": {"destination_table": "dim_mid_v1"}, "broken": {}},
        batch_size=10, max_parallel_streams=3,
        callbacks=[{"file": RECORDER, "uuid": "fireball_callback"}])
    done = run_cli("run", "--config", str(cfg), "--event", '{"source": "test", "n": 1}',
                   env={"CALLS_FILE": str(calls)})
    return done, calls_of(calls), cfg


def test_exact_sequence_per_stream_in_every_form(three_streams: Any) -> None:
    """Each form sees, per stream, exactly the block runs of the contract, in order."""
    done, calls, _ = three_streams
    assert done.returncode == 1, done.stderr
    expected = {
        "empty": [("load_api_data", 0, True, 0), ("save_data", 0, True, 0)],
        "mid": [("load_api_data", 0, False, 10), ("save_data", 0, False, 10),
                ("load_api_data", 1, False, 10), ("save_data", 1, False, 10),
                ("load_api_data", 2, True, 5), ("save_data", 2, True, 5)],
        "broken": [("load_api_data", 0, False, 10), ("save_data", 0, False, 10),
                   ("load_api_data", 1, False, 0)],
    }
    for form in FORMS:
        for stream, want in expected.items():
            got = [(c["parent_block_uuid"], c["index"], c["is_last_block_run"], c["rows"])
                   for c in calls if c["form"] == form and c["stream"] == stream]
            if form == "bare":  # success only: not the failed block run
                want = [w for w in want if not (stream == "broken" and w[1] == 1)]
            assert got == want, (form, stream)


def test_every_keyword_has_the_spec_value(three_streams: Any) -> None:
    """block_uuid, ds, hr, execution_date, partition, event, pipeline_run and the rest."""
    _, calls, _ = three_streams
    batch_calls = [c for c in calls if c["form"] != "run"]
    assert len({c["run_id"] for c in batch_calls}) == 1
    for c in batch_calls:
        assert set(c["keys"]) >= SEED_KEYS
        assert c["block_uuid"] == "fireball_callback"
        assert c["pipeline_uuid"] == "test_pipeline"
        assert c["event"] == {"source": "test", "n": 1}
        when = datetime.fromisoformat(c["execution_date"])
        assert c["tz"] == "UTC"
        assert c["ds"] == when.strftime("%Y-%m-%d") and c["hr"] == when.strftime("%H")
        assert c["execution_partition"] == f"{c['run_id']}/{when:%Y%m%dT%H%M%S}"
        assert re.fullmatch(rf"PipelineRun\(id={c['run_id']}, pipeline_uuid=test_pipeline, "
                            r"execution_date=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00:00\)",
                            c["pipeline_run"])
        assert c["input_keys"] == [c["parent_block_uuid"]]
        assert c["same_data"] is True
        table = {"mid": "dim_mid_v1"}.get(c["stream"], c["stream"])
        assert c["destination_table"] == table


def test_failure_callbacks_get_the_error_with_traceback(three_streams: Any) -> None:
    """Failure callbacks fire for the failed block run with error and __error."""
    _, calls, _ = three_streams
    failures = [c for c in calls if "error_type" in c]
    assert {c["form"] for c in failures} == {"positional", "keywords", "legacy"}
    for c in failures:
        assert c["stream"] == "broken" and c["index"] == 1
        assert c["error_type"] == "SchemaViolation"
        assert "stream 'broken', line 17" in c["error"]
        assert c["error_is___error"] and c["has_traceback"]
    assert not [c for c in calls if "error_type" in c and c["stream"] != "broken"]


def test_run_level_callback_fires_once_with_every_stream(three_streams: Any) -> None:
    """The run-level callback runs once, as a failure, with each stream's result."""
    _, calls, _ = three_streams
    runs = [c for c in calls if c["form"] == "run"]
    assert len(runs) == 1
    assert runs[0]["status"] == "failure" and runs[0]["run_status"] == "failed"
    assert runs[0]["streams"] == {"empty": ["success", 0, 1], "mid": ["success", 25, 3],
                                  "broken": ["failed", 10, 1]}
    assert "broken" in runs[0]["error"]


def test_prefix_names_never_mix(tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """Callbacks of 'user' and 'users' see their own index and is_last_block_run."""
    calls = tmp_path / "calls.jsonl"
    cfg = pipeline_file(source=numbers_source({"user": {"count": 5}, "users": {"count": 15}}),
                        batch_size=10, callbacks=[{"file": RECORDER, "streams": ["user"]}])
    done = run_cli("run", "--config", str(cfg), env={"CALLS_FILE": str(calls)})
    assert done.returncode == 0, done.stderr
    got = [(c["parent_block_uuid"], c["index"], c["is_last_block_run"])
           for c in calls_of(calls) if c["form"] == "keywords"]
    assert got == [("source", 0, True), ("destination", 0, True)]
    assert {c["stream"] for c in calls_of(calls) if c["form"] != "run"} == {"user"}


def test_parents_and_stream_globs_select_block_runs(
        tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """A block attached to the destination only, for streams 'or*', sees just those."""
    calls = tmp_path / "calls.jsonl"
    cfg = pipeline_file(source=numbers_source({"orders": {"count": 3}, "users": {"count": 3},
                                               "orgs": {"count": 3}}),
                        callbacks=[{"file": RECORDER, "parents": ["destination"],
                                    "streams": ["or*"]}])
    assert run_cli("run", "--config", str(cfg), env={"CALLS_FILE": str(calls)}).returncode == 0
    seen = {(c["parent_block_uuid"], c["stream"]) for c in calls_of(calls) if c["form"] != "run"}
    assert seen == {("destination", "orders"), ("destination", "orgs")}


BAD_CALLBACKS = """\
import json, os, time


@callback('success')
def first_raises(data, **kwargs):
    raise RuntimeError("callback bug")


@callback('success')
def second_hangs(data, **kwargs):
    if kwargs['index'] == 0 and kwargs['parent_block_uuid'] == 'source':
        time.sleep(30)


@callback('success')
def third_still_runs(data, **kwargs):
    with open(os.environ["CALLS_FILE"], "a") as fh:
        fh.write(json.dumps([kwargs['parent_block_uuid'], kwargs['stream'],
                             kwargs['index']]) + "\\n")
"""


def test_raising_and_hanging_callbacks_change_nothing(
        tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """A raising and a hanging callback are recorded; the others run; streams succeed."""
    (tmp_path / "bad.py").write_text(BAD_CALLBACKS)
    calls = tmp_path / "calls.jsonl"
    cfg = pipeline_file(source=numbers_source({"s": {"count": 15}}), batch_size=10,
                        callback_timeout=1, callbacks=[{"file": "bad.py"}])
    done = run_cli("run", "--config", str(cfg), "--log-format", "json",
                   env={"CALLS_FILE": str(calls)})
    assert done.returncode == 0, done.stderr
    assert [json.loads(x) for x in calls.read_text().splitlines()] == [
        ["source", "s", 0], ["destination", "s", 0], ["source", "s", 1],
        ["destination", "s", 1]]
    assert "callback bug" in done.stderr and "callback timed out" in done.stderr
    run_id = run_cli("runs", "list", "--config", str(cfg)).stdout.split()[0]
    shown = json.loads(run_cli("runs", "show", "--config", str(cfg), run_id).stdout)
    first = shown["block_runs"][0]
    assert first["uuid"] == "source:s:0" and first["status"] == "success"
    outcomes = {c["function"]: c["outcome"] for c in first["callbacks"]}
    assert outcomes == {"first_raises": "error", "second_hangs": "timeout",
                        "third_still_runs": "ok"}
    assert shown["streams"][0]["status"] == "success" and shown["streams"][0]["rows"] == 15


@pytest.mark.parametrize(("source", "line", "words"), [
    ("@callback('sucess')\ndef f(data, **kwargs):\n    pass\n", 1, "unknown callback status"),
    ("@callback('success', scope='stream')\ndef f(**kwargs):\n    pass\n", 1, "scope"),
    ("\n\n@callback\ndef f(data, extra, **kwargs):\n    pass\n", 3, "parameter 'extra'"),
    ("def f(:\n", 1, "syntax error"),
    ("import json\n", None, "no callback functions"),
    ("x = 1 / 0\n", 1, "ZeroDivisionError"),
])
def test_bad_callback_files_are_config_errors(tmp_path: Path,
                                              pipeline_file: Callable[..., Path], source: str,
                                              line: int | None, words: str) -> None:
    """Mistakes in a callback file stop the run before any data moves (exit 2)."""
    (tmp_path / "cb.py").write_text(source)
    cfg = pipeline_file(source=numbers_source({"s": {"count": 3}}),
                        callbacks=[{"file": "cb.py"}])
    for command in ("run", "validate"):
        done = run_cli(command, "--config", str(cfg))
        assert done.returncode == 2, done.stderr
        where = f"{tmp_path / 'cb.py'}:{line}:" if line else f"{tmp_path / 'cb.py'}:"
        assert where in done.stderr and words in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "warehouse.duckdb").exists()


@pytest.mark.parametrize(("entry", "words"), [
    ({"file": "missing.py"}, "callback file not found"),
    ({"file": RECORDER, "parents": ["nowhere"]}, "unknown parent block 'nowhere'"),
    ({"file": RECORDER, "streams": ["userz"]}, "no stream matches 'userz'"),
])
def test_bad_callback_config(tmp_path: Path, pipeline_file: Callable[..., Path],
                             entry: dict[str, Any], words: str) -> None:
    """A missing file, an unknown parent or a stream that does not exist: exit 2."""
    cfg = pipeline_file(source=numbers_source({"users": {"count": 3}}), callbacks=[entry])
    done = run_cli("run", "--config", str(cfg))
    assert done.returncode == 2 and words in done.stderr


def test_from_sync_import_callback(tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """`from sync import callback` works in a callback file, with named keyword params."""
    (tmp_path / "cb.py").write_text(
        "import os\nfrom sync import callback\n\n\n@callback('success')\n"
        "def named(stream, index, is_last_block_run):\n"
        "    with open(os.environ['CALLS_FILE'], 'a') as fh:\n"
        "        fh.write(f'{stream} {index} {is_last_block_run}\\n')\n")
    calls = tmp_path / "calls.txt"
    cfg = pipeline_file(source=numbers_source({"s": {"count": 1}}),
                        callbacks=[{"file": "cb.py", "parents": ["source"]}])
    assert run_cli("run", "--config", str(cfg), env={"CALLS_FILE": str(calls)}).returncode == 0
    assert calls.read_text() == "s 0 True\n"


def test_failure_callbacks_for_each_way_a_block_run_fails(
        tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """Tap exit code, tap silence past idle_timeout, and a destination error each reach the
    failure callbacks with the error that failed the block run."""
    calls = tmp_path / "calls.jsonl"
    crash = pipeline_file("crash.yaml", pipeline="crash", batch_size=10,
                          source=numbers_source({"s": {"count": 30}}, fail_after=15),
                          callbacks=[{"file": RECORDER}])
    hang = pipeline_file("hang.yaml", pipeline="hang", batch_size=10,
                         source={**numbers_source({"s": {"count": 30}}, hang_after=5),
                                 "idle_timeout": 1},
                         callbacks=[{"file": RECORDER}])
    # a table someone else made, whose 'id' column cannot take the stream's integers
    con = duckdb.connect(str(tmp_path / "target.duckdb"))
    con.execute("CREATE TABLE s (id DATE)")
    con.close()
    target = pipeline_file("target.yaml", pipeline="target", batch_size=10,
                           source=numbers_source({"s": {"count": 3}}),
                           destination={"config": {"path": "target.duckdb"}},
                           callbacks=[{"file": RECORDER}])
    for cfg in (crash, hang, target):
        done = run_cli("run", "--config", str(cfg), env={"CALLS_FILE": str(calls)},
                       timeout=60)
        assert done.returncode == 1, done.stderr
    failures = [c for c in calls_of(calls) if c.get("form") == "keywords" and "error" in c]
    by_pipeline = {c["pipeline_uuid"]: c for c in failures}
    assert by_pipeline["crash"]["parent_block_uuid"] == "source"
    assert "exited with code 3" in by_pipeline["crash"]["error"]
    assert by_pipeline["crash"]["index"] == 1
    assert by_pipeline["hang"]["parent_block_uuid"] == "source"
    assert "wrote nothing for 1 s" in by_pipeline["hang"]["error"]
    assert by_pipeline["target"]["parent_block_uuid"] == "destination"
    assert by_pipeline["target"]["error_type"] == "DestinationError"
