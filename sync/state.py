"""Bookmarks and run history in SQLite (the default store).

One file holds, per pipeline and stream, the last committed Singer state, and
the history of pipeline runs and block runs. Every write is its own short
transaction; the connection is shared by stream threads behind a lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from sync.errors import StateError
from sync.runs import BlockRunEvent, PipelineRun, RunStatus, StreamResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bookmarks (
    pipeline TEXT NOT NULL, stream TEXT NOT NULL, state TEXT NOT NULL,
    run_id INTEGER, updated_at TEXT NOT NULL, PRIMARY KEY (pipeline, stream));
CREATE TABLE IF NOT EXISTS pipeline_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, pipeline TEXT NOT NULL, status TEXT NOT NULL,
    execution_date TEXT NOT NULL, ended_at TEXT, event TEXT, error TEXT, callbacks TEXT);
CREATE TABLE IF NOT EXISTS block_runs (
    run_id INTEGER NOT NULL, uuid TEXT NOT NULL, block_uuid TEXT NOT NULL,
    block_type TEXT NOT NULL, stream TEXT NOT NULL, batch_index INTEGER NOT NULL,
    is_last INTEGER NOT NULL, status TEXT NOT NULL, rows INTEGER NOT NULL,
    started_at TEXT NOT NULL, ended_at TEXT NOT NULL, error TEXT, callbacks TEXT,
    PRIMARY KEY (run_id, uuid));
CREATE TABLE IF NOT EXISTS alerts (
    run_id INTEGER NOT NULL, stream TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL,
    delivered INTEGER NOT NULL, error TEXT, sent_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stream_results (
    run_id INTEGER NOT NULL, stream TEXT NOT NULL, destination_table TEXT NOT NULL,
    status TEXT NOT NULL, rows INTEGER NOT NULL, batches INTEGER NOT NULL,
    seconds REAL NOT NULL, attempts INTEGER NOT NULL, error TEXT,
    PRIMARY KEY (run_id, stream));
"""


_COLUMNS = {"block_runs": {"callbacks": "TEXT"}, "pipeline_runs": {"callbacks": "TEXT"}}


def _add_missing_columns(con: sqlite3.Connection) -> None:
    """Bring a state file written by an older sync up to date."""
    for table, columns in _COLUMNS.items():
        have = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
        for name, typ in columns.items():
            if name not in have:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {typ}")


@dataclass(frozen=True)
class RunRecord:
    """A pipeline run as the history keeps it."""

    id: int
    pipeline: str
    status: str
    execution_date: datetime
    ended_at: datetime | None
    error: str | None


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


class SQLiteStore:
    """Bookmarks and run history in one SQLite file."""

    def __init__(self, path: Path, redact: Callable[[str], str] | None = None) -> None:
        self.path = path
        self._redact = redact or (lambda text: text)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._con = sqlite3.connect(str(path), timeout=30, check_same_thread=False,
                                        isolation_level=None)
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=NORMAL")
            self._con.executescript(_SCHEMA)
            _add_missing_columns(self._con)
        except (sqlite3.Error, OSError) as exc:
            raise StateError(f"cannot open the state database {path}: {exc}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._con.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._con.execute("BEGIN IMMEDIATE")
                try:
                    yield self._con
                except BaseException:
                    self._con.execute("ROLLBACK")
                    raise
                self._con.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StateError(f"state database {self.path}: {exc}") from None

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._con.execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                raise StateError(f"state database {self.path}: {exc}") from None

    # ------------------------------------------------------------ bookmarks

    def get_bookmark(self, pipeline: str, stream: str) -> dict[str, Any] | None:
        rows = self._query("SELECT state FROM bookmarks WHERE pipeline = ? AND stream = ?",
                           (pipeline, stream))
        return orjson.loads(rows[0][0]) if rows else None

    def bookmarks(self, pipeline: str) -> dict[str, dict[str, Any]]:
        rows = self._query("SELECT stream, state FROM bookmarks WHERE pipeline = ? "
                           "ORDER BY stream", (pipeline,))
        return {r[0]: orjson.loads(r[1]) for r in rows}

    def set_bookmark(self, pipeline: str, stream: str, state: Mapping[str, Any],
                     run_id: int | None) -> None:
        with self._tx() as con:
            con.execute(
                "INSERT INTO bookmarks VALUES (?, ?, ?, ?, ?) ON CONFLICT (pipeline, stream) "
                "DO UPDATE SET state = excluded.state, run_id = excluded.run_id, "
                "updated_at = excluded.updated_at",
                (pipeline, stream, orjson.dumps(state).decode(), run_id,
                 _ts(datetime.now(UTC))))

    def clear_bookmarks(self, pipeline: str, stream: str | None = None) -> None:
        with self._tx() as con:
            if stream is None:
                con.execute("DELETE FROM bookmarks WHERE pipeline = ?", (pipeline,))
            else:
                con.execute("DELETE FROM bookmarks WHERE pipeline = ? AND stream = ?",
                            (pipeline, stream))

    # ------------------------------------------------------------ runs

    def start_run(self, pipeline: str, execution_date: datetime,
                  event: Mapping[str, Any]) -> PipelineRun:
        with self._tx() as con:
            cur = con.execute(
                "INSERT INTO pipeline_runs (pipeline, status, execution_date, event) "
                "VALUES (?, 'running', ?, ?)",
                (pipeline, _ts(execution_date), orjson.dumps(event).decode()))
            run_id = int(cur.lastrowid or 0)
        return PipelineRun(run_id, pipeline, execution_date)

    def finish_run(self, run: PipelineRun, status: RunStatus, error: str | None = None) -> None:
        with self._tx() as con:
            con.execute("UPDATE pipeline_runs SET status = ?, ended_at = ?, error = ? "
                        "WHERE id = ?", (status, _ts(datetime.now(UTC)),
                                         self._redact(error) if error else None, run.id))

    def record_block_run(self, event: BlockRunEvent) -> None:
        with self._tx() as con:
            con.execute(
                "REPLACE INTO block_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (event.pipeline_run.id, event.uuid, event.block_uuid, event.block_type,
                 event.stream, event.index, int(event.is_last_block_run), event.status,
                 event.rows, _ts(event.started_at), _ts(event.ended_at),
                 self._redact(str(event.error)) if event.error else None))

    def record_callbacks(self, event: BlockRunEvent, results: list[dict[str, Any]]) -> None:
        """What the callbacks of one block run did."""
        with self._tx() as con:
            con.execute("UPDATE block_runs SET callbacks = ? WHERE run_id = ? AND uuid = ?",
                        (self._redact(orjson.dumps(results).decode()), event.pipeline_run.id,
                         event.uuid))

    def record_run_callbacks(self, run: PipelineRun, results: list[dict[str, Any]]) -> None:
        """What the run-level callbacks did."""
        with self._tx() as con:
            con.execute("UPDATE pipeline_runs SET callbacks = ? WHERE id = ?",
                        (self._redact(orjson.dumps(results).decode()), run.id))

    def record_stream(self, run: PipelineRun, result: StreamResult) -> None:
        with self._tx() as con:
            con.execute(
                "INSERT OR REPLACE INTO stream_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run.id, result.stream, result.destination_table, result.status, result.rows,
                 result.batches, result.seconds, result.attempts,
                 self._redact(result.error) if result.error else None))

    def previous_statuses(self, pipeline: str, stream: str, before_run: int,
                          limit: int = 50) -> list[str]:
        """The stream's statuses in the pipeline's earlier runs, newest first."""
        rows = self._query(
            "SELECT r.status FROM stream_results r JOIN pipeline_runs p ON p.id = r.run_id "
            "WHERE p.pipeline = ? AND r.stream = ? AND r.run_id < ? "
            "ORDER BY r.run_id DESC LIMIT ?", (pipeline, stream, before_run, limit))
        return [str(r[0]) for r in rows]

    def record_alert(self, run: PipelineRun, stream: str, kind: str, target: str,
                     delivered: bool, error: str | None) -> None:
        with self._tx() as con:
            con.execute("INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (run.id, stream, kind, target, int(delivered),
                         self._redact(error) if error else None, _ts(datetime.now(UTC))))

    def alerts(self, run_id: int) -> list[dict[str, Any]]:
        rows = self._query("SELECT stream, kind, target, delivered, error FROM alerts "
                           "WHERE run_id = ? ORDER BY rowid", (run_id,))
        return [{"stream": r[0], "kind": r[1], "target": r[2], "delivered": bool(r[3]),
                 "error": r[4]} for r in rows]

    def runs(self, pipeline: str, limit: int = 20) -> list[RunRecord]:
        rows = self._query(
            "SELECT id, pipeline, status, execution_date, ended_at, error FROM pipeline_runs "
            "WHERE pipeline = ? ORDER BY id DESC LIMIT ?", (pipeline, limit))
        return [RunRecord(r[0], r[1], r[2], datetime.fromisoformat(r[3]),
                          datetime.fromisoformat(r[4]) if r[4] else None, r[5]) for r in rows]

    def block_runs(self, run_id: int) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT uuid, block_type, stream, batch_index, is_last, status, rows, started_at, "
            "ended_at, error, callbacks FROM block_runs WHERE run_id = ? ORDER BY rowid",
            (run_id,))
        keys = ("uuid", "block_type", "stream", "index", "is_last_block_run", "status", "rows",
                "started_at", "ended_at", "error", "callbacks")
        out = [dict(zip(keys, r, strict=True)) for r in rows]
        for item in out:
            item["is_last_block_run"] = bool(item["is_last_block_run"])
            item["callbacks"] = orjson.loads(item["callbacks"]) if item["callbacks"] else []
        return out

    def run_callbacks(self, run_id: int) -> list[dict[str, Any]]:
        rows = self._query("SELECT callbacks FROM pipeline_runs WHERE id = ?", (run_id,))
        return orjson.loads(rows[0][0]) if rows and rows[0][0] else []

    def stream_results(self, run_id: int) -> list[StreamResult]:
        rows = self._query(
            "SELECT stream, destination_table, status, rows, batches, seconds, attempts, error "
            "FROM stream_results WHERE run_id = ? ORDER BY stream", (run_id,))
        return [StreamResult(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows]
