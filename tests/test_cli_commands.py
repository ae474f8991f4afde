"""The other commands: validate, discover, state, the standalone taps, the terminal view."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import ROOT, numbers_source, query, run_cli


def test_validate_lists_the_plan(pipeline_file: Callable[..., Path]) -> None:
    """`sync validate` checks the file and the selection and prints each stream's plan."""
    cfg = pipeline_file(source=numbers_source({"a": {"count": 1}, "b": {"count": 1}}),
                        streams={"a": {"destination_table": "dim_a"}})
    done = run_cli("validate", "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    assert "a -> dim_a (INCREMENTAL, merge)" in done.stdout
    assert "b ->" not in done.stdout


def test_validate_rejects_unknown_stream(pipeline_file: Callable[..., Path]) -> None:
    """Selecting a stream the tap does not have is a config error (exit 2)."""
    cfg = pipeline_file(source=numbers_source({"a": {"count": 1}}), streams={"zzz": {}})
    done = run_cli("validate", "--config", str(cfg))
    assert done.returncode == 2
    assert "the tap has no stream 'zzz' (it offers: a)" in done.stderr


def test_discover_prints_the_catalog(pipeline_file: Callable[..., Path]) -> None:
    """`sync discover` prints the tap's catalog as JSON."""
    cfg = pipeline_file(source=numbers_source({"a": {"count": 1}}))
    done = run_cli("discover", "--config", str(cfg))
    assert [s["stream"] for s in json.loads(done.stdout)["streams"]] == ["a"]


def test_state_show_and_clear(tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """Bookmarks are visible after a run; clearing them makes the next run start over."""
    cfg = pipeline_file(source=numbers_source({"a": {"count": 4, "keys": False}}))
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    shown = json.loads(run_cli("state", "show", "--config", str(cfg)).stdout)
    assert shown["a"]["bookmarks"]["a"]["replication_key_value"] == 4
    assert run_cli("state", "clear", "--config", str(cfg)).returncode == 0
    assert json.loads(run_cli("state", "show", "--config", str(cfg)).stdout) == {}
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    assert query(tmp_path / "warehouse.duckdb", "SELECT count(*) FROM a") == [(8,)]


def test_builtin_tap_runs_standalone_as_a_singer_tap(tmp_path: Path) -> None:
    """sync-tap-jsonl is a real Singer tap: `sync run` drives it as an external tap."""
    shutil.copytree(ROOT / "config" / "demo", tmp_path / "demo")
    tap = Path(sys.executable).parent / "sync-tap-jsonl"
    (tmp_path / "p.yaml").write_text(
        "pipeline: standalone\n"
        f"source:\n  tap: {tap}\n  config:\n    files:\n"
        "      - path: demo/users.jsonl\n        key_properties: [id]\n"
        "        replication_key: updated_at\n"
        "destination:\n  config: {path: w.duckdb}\n")
    done = run_cli("run", "--config", str(tmp_path / "p.yaml"))
    assert done.returncode == 0, done.stderr
    db = tmp_path / "w.duckdb"
    assert query(db, "SELECT count(*), max(id) FROM users") == [(12, 12)]
    types = dict(query(db, "SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_name = 'users'"))
    assert types["updated_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["address"].startswith("STRUCT(")


def test_terminal_shows_progress_and_summary(pipeline_file: Callable[..., Path]) -> None:
    """On a terminal: readable logs, a live stream table, and the summary at the end."""
    cfg = pipeline_file(source=numbers_source({"a": {"count": 30}}), batch_size=10)
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sync", "run", "--config", str(cfg)],
                            stdin=follower, stdout=follower, stderr=follower, cwd=ROOT,
                            env={**os.environ, "COLUMNS": "120"})
    os.close(follower)
    out = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    assert proc.wait(timeout=30) == 0
    os.close(leader)
    text = out.decode("utf-8", "replace")
    assert "records/s" in text            # the live view's header
    assert "destination table" in text    # the summary table
    assert "run started" in text and not text.lstrip().startswith("{")
    assert "Data landed in DuckDB file" in text


def test_catalog_is_kept_between_runs(tmp_path: Path,
                                      pipeline_file: Callable[..., Path]) -> None:
    """The second run reuses the first run's catalog; a changed config, `sync discover`
    and --refresh-catalog ask the tap again."""
    log = tmp_path / "starts.jsonl"

    def discoveries() -> int:
        return sum(1 for x in log.read_text().splitlines() if '"discover"' in x)

    cfg = pipeline_file(source=numbers_source({"a": {"count": 2}}, starts_file=str(log)))
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    assert discoveries() == 1
    assert run_cli("run", "--config", str(cfg), "--refresh-catalog").returncode == 0
    assert discoveries() == 2
    assert run_cli("discover", "--config", str(cfg)).returncode == 0
    assert discoveries() == 3
    cfg = pipeline_file(source=numbers_source({"a": {"count": 3}}, starts_file=str(log)))
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    assert discoveries() == 4


def test_init_makes_a_project_that_runs(tmp_path: Path) -> None:
    """`sync init` writes a pipeline, sample data and a callback; `sync run` runs them;
    a second `sync init` refuses to overwrite."""
    project = tmp_path / "proj"
    done = run_cli("init", str(project), "--name", "shop")
    assert done.returncode == 0, done.stderr
    run = run_cli("run", "--config", str(project / "pipeline.yaml"))
    assert run.returncode == 0, run.stderr
    assert "source:events:0 2 rows -> events" in run.stdout + run.stderr
    assert query(project / "warehouse.duckdb", "SELECT count(*) FROM raw.events") == [(2,)]
    again = run_cli("init", str(project))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_state_set_moves_the_bookmark(tmp_path: Path,
                                      pipeline_file: Callable[..., Path]) -> None:
    """`sync state set` makes the next run start the tap from the given state."""
    cfg = pipeline_file(source=numbers_source({"a": {"count": 10, "keys": False}}))
    value = '{"bookmarks": {"a": {"replication_key": "id", "replication_key_value": 6}}}'
    done = run_cli("state", "set", "--config", str(cfg), "--stream", "a", "--value", value)
    assert done.returncode == 0, done.stderr
    assert json.loads(run_cli("state", "show", "--config", str(cfg)).stdout)["a"] == \
        json.loads(value)
    assert run_cli("run", "--config", str(cfg)).returncode == 0
    assert query(tmp_path / "warehouse.duckdb", "SELECT min(id), count(*) FROM a") == [(7, 4)]
    bad = run_cli("state", "set", "--config", str(cfg), "--stream", "a", "--value", "[1]")
    assert bad.returncode == 2 and "JSON object" in bad.stderr
