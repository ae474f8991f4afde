"""Shared helpers: pipeline files in a temp folder, the CLI as a subprocess."""


from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NUMBERS_TAP = [sys.executable, str(ROOT / "tests" / "taps" / "numbers_tap.py")]


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sync`` as a user would, capturing its output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "sync", *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, env=full_env, timeout=timeout,
                          check=False)


@pytest.fixture
def pipeline_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a pipeline file into the test's folder and return its path."""

    def write(name: str = "pipeline.yaml", **doc: Any) -> Path:
        doc.setdefault("pipeline", "test_pipeline")
        doc.setdefault("destination", {"config": {"path": "warehouse.duckdb"}})
        path = tmp_path / name
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    return write


def numbers_source(streams: dict[str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A source block running the test tap as a real subprocess."""
    return {"tap": NUMBERS_TAP, "config": {"streams": streams, **extra}}


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Run a read-only query against a DuckDB file."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


class EventLog:
    """An observer that keeps every block run event, in order."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.results: list[Any] = []

    def stream_started(self, plan: Any) -> None:
        pass

    def block_run(self, event: Any) -> None:
        self.events.append(event)

    def stream_finished(self, result: Any) -> None:
        self.results.append(result)

    def of(self, stream: str) -> list[tuple[str, int, bool, str]]:
        return [(e.block_uuid, e.index, e.is_last_block_run, e.status)
                for e in self.events if e.stream == stream]


@pytest.fixture(scope="session")
def plugins_cache() -> Path:
    """One folder of plugin environments shared by the tests (installed once)."""
    path = ROOT / ".sync-test-plugins"
    os.environ["SYNC_PLUGINS_DIR"] = str(path)
    return path
