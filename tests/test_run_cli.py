"""`sync run` end to end, as a user runs it: real files, real subprocess taps, DuckDB."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import yaml
from filelock import FileLock

from tests.conftest import ROOT, numbers_source, query, run_cli


def test_demo_lands_every_stream_with_types(tmp_path: Path) -> None:
    """The demo pipeline loads users and orders with exact column types."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "callbacks" / "examples", tmp_path / "callbacks" / "examples")
    cfg = tmp_path / "config" / "demo.yaml"
    done = run_cli("run", "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    assert "dim_users" in done.stdout and "success" in done.stdout
    # the demo's callback block logs every block run
    assert "save_to_duckdb:orders:2 (last) -> fct_orders: 8 rows" in done.stderr
    db = tmp_path / ".sync" / "demo.duckdb"
    assert query(db, "SELECT count(*) FROM raw.dim_users") == [(12,)]
    assert query(db, "SELECT count(*) FROM raw.fct_orders") == [(40,)]
    types = dict(query(db, "SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_name = 'dim_users'"))
    assert types["id"] == "BIGINT"
    assert types["active"] == "BOOLEAN"
    assert types["updated_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["signup_date"] == "DATE"
    assert types["address"].startswith("STRUCT(")
    assert types["tags"] == "VARCHAR[]"
    order_types = dict(query(db, "SELECT column_name, data_type FROM "
                                 "information_schema.columns WHERE table_name = 'fct_orders'"))
    assert order_types["items"] == "STRUCT(sku VARCHAR, qty BIGINT, price DOUBLE)[]"
    assert order_types["total"] == "DOUBLE"


def _write(path: Path, doc: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_second_incremental_run_loads_only_new_rows(tmp_path: Path) -> None:
    """A second run resumes from the committed bookmark: only new records move."""
    doc = {"pipeline": "inc", "source": numbers_source({"plain": {"count": 15, "keys": False},
                                                        "keyed": {"count": 15}}),
           "destination": {"config": {"path": "w.duckdb"}}, "batch_size": 10}
    cfg = _write(tmp_path / "p.yaml", doc)
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    doc["source"] = numbers_source({"plain": {"count": 20, "keys": False},
                                    "keyed": {"count": 20}})
    _write(cfg, doc)
    done = run_cli("run", "--config", str(cfg), "--log-format", "json")
    assert done.returncode == 0, done.stderr
    finished = [json.loads(line) for line in done.stderr.splitlines()
                if '"stream finished"' in line]
    rows = {e["stream"]: e["rows"] for e in finished}
    assert rows["plain"] == 5
    db = tmp_path / "w.duckdb"
    for table in ("plain", "keyed"):
        assert query(db, f"SELECT count(*), count(DISTINCT id), max(id) FROM {table}") == \
            [(20, 20, 20)]


def test_invalid_record_fails_its_stream_alone(tmp_path: Path) -> None:
    """A schema violation names the stream and line; the other streams still land."""
    doc = {"pipeline": "bad", "batch_size": 10,
           "source": numbers_source({"good": {"count": 30}, "broken": {"count": 30,
                                                                       "bad_line_at": 13}}),
           "destination": {"config": {"path": "w.duckdb"}}}
    cfg = _write(tmp_path / "p.yaml", doc)
    done = run_cli("run", "--config", str(cfg), "--log-format", "json")
    assert done.returncode == 1
    errors = [json.loads(line) for line in done.stderr.splitlines() if '"stream failed"' in line]
    assert len(errors) == 1
    assert errors[0]["stream"] == "broken"
    # line 1 is SCHEMA, then 10 records, a STATE at line 12: record 13 is on line 15
    assert "stream 'broken', line 15" in errors[0]["error"]
    assert "id" in errors[0]["error"]
    db = tmp_path / "w.duckdb"
    assert query(db, "SELECT count(*) FROM good") == [(30,)]
    # the first batch of the broken stream was committed with its state, nothing after
    assert query(db, "SELECT count(*) FROM broken") == [(10,)]
    state = query(db, "SELECT state FROM _sync_state WHERE stream = 'broken'")
    assert json.loads(state[0][0])["bookmarks"]["broken"]["replication_key_value"] == 10


def test_tap_exit_code_fails_stream_with_stderr(tmp_path: Path) -> None:
    """A tap that exits non-zero fails the stream with its stderr in the error."""
    doc = {"pipeline": "crash", "batch_size": 10,
           "source": numbers_source({"s": {"count": 30}}, fail_after=15),
           "destination": {"config": {"path": "w.duckdb"}}}
    cfg = _write(tmp_path / "p.yaml", doc)
    done = run_cli("run", "--config", str(cfg), "--log-format", "json")
    assert done.returncode == 1
    assert "exited with code 3" in done.stderr
    assert "simulated crash" in done.stderr


def test_retries_resume_from_committed_state(tmp_path: Path) -> None:
    """Each retry starts from the last committed bookmark: no row lost or duplicated."""
    doc = {"pipeline": "retry", "batch_size": 10, "retries": 2, "retry_backoff": 0,
           "source": numbers_source({"s": {"count": 25, "keys": False}}, fail_after=15),
           "destination": {"config": {"path": "w.duckdb"}}}
    cfg = _write(tmp_path / "p.yaml", doc)
    done = run_cli("run", "--config", str(cfg), "--log-format", "json")
    assert done.returncode == 0, done.stderr
    assert query(tmp_path / "w.duckdb", "SELECT count(*), count(DISTINCT id) FROM s") == \
        [(25, 25)]


def test_bad_config_exits_2_naming_file_line_and_key(tmp_path: Path) -> None:
    """An unknown key is a clear error with file, line and key, and no traceback."""
    cfg = tmp_path / "p.yaml"
    cfg.write_text("pipeline: x\nsource:\n  tap: csv\n  config: {files: [{path: a.csv}]}\n"
                   "batch_sise: 10\n")
    done = run_cli("run", "--config", str(cfg))
    assert done.returncode == 2
    assert f"{cfg}:5: batch_sise: unknown key" in done.stderr
    assert "Traceback" not in done.stderr


def test_lock_held_exits_75(tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """A second run while the pipeline's lock is held exits 75 with a clear message."""
    cfg = pipeline_file(source=numbers_source({"s": {"count": 1}}))
    lock = FileLock(str(tmp_path / ".sync" / "locks" / "test_pipeline.lock"))
    (tmp_path / ".sync" / "locks").mkdir(parents=True)
    with lock:
        done = run_cli("run", "--config", str(cfg))
    assert done.returncode == 75
    assert "another run of pipeline 'test_pipeline'" in done.stderr


def test_stream_option_and_full_refresh(tmp_path: Path,
                                        pipeline_file: Callable[..., Path]) -> None:
    """--stream runs a subset; --full-refresh reloads a stream from scratch."""
    cfg = pipeline_file(source=numbers_source({"a": {"count": 5, "keys": False},
                                               "b": {"count": 7}}))
    assert run_cli("run", "--config", str(cfg), "--stream", "a").returncode == 0
    db = tmp_path / "warehouse.duckdb"
    assert query(db, "SELECT count(*) FROM a") == [(5,)]
    assert query(db, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'b'") \
        == [(0,)]
    assert run_cli("run", "--config", str(cfg), "--full-refresh").returncode == 0
    assert query(db, "SELECT count(*) FROM a") == [(5,)]
    assert query(db, "SELECT count(*) FROM b") == [(7,)]
    unknown = run_cli("run", "--config", str(cfg), "--stream", "nope")
    assert unknown.returncode == 2
    assert "--stream nope" in unknown.stderr


def test_json_logs_are_bound_to_run_and_stream(pipeline_file: Callable[..., Path]) -> None:
    """Off a terminal every log line is JSON with pipeline and run id; stream lines name it."""
    cfg = pipeline_file(source=numbers_source({"s": {"count": 3}}))
    done = run_cli("run", "--config", str(cfg), "--log-level", "debug")
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert lines and all(line["pipeline"] == "test_pipeline" and "run_id" in line
                         for line in lines)
    block = [line for line in lines if line["event"] == "block run succeeded"]
    assert {line["block_run"] for line in block} == {"source:s:0", "destination:s:0"}
    assert all(line["stream"] == "s" for line in block)


def test_run_history_records_block_runs(pipeline_file: Callable[..., Path]) -> None:
    """`sync runs list/show` report the run and every block run."""
    cfg = pipeline_file(source=numbers_source({"s": {"count": 12}}), batch_size=10)
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    listed = run_cli("runs", "list", "--config", str(cfg))
    run_id = listed.stdout.split()[0]
    assert "success" in listed.stdout
    shown = json.loads(run_cli("runs", "show", "--config", str(cfg), run_id).stdout)
    assert [b["uuid"] for b in shown["block_runs"]] == \
        ["source:s:0", "destination:s:0", "source:s:1", "destination:s:1"]
    assert shown["streams"][0]["rows"] == 12
