"""The built-in DuckDB destination: Arrow batches in, one transaction per batch.

Each batch is written together with the stream's new Singer state in a single
DuckDB transaction (the ``_sync_state`` table beside the data), so the data and
the bookmark can never disagree, whatever instant the process dies at.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import orjson
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from sync import kernels
from sync.errors import DestinationError
from sync.schema import duckdb_type

WriteMode = Literal["append", "merge", "replace"]
STATE_TABLE = "_sync_state"


class DuckDBConfig(BaseModel):
    """Settings of the built-in ``duckdb`` target."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field("warehouse.duckdb", description="The DuckDB database file.")
    schema_: str = Field("main", alias="schema", description="Schema the tables land in.")
    threads: int | None = Field(None, ge=1, description="DuckDB worker threads (default: all).")
    memory_limit: str | None = Field(
        "128MB", description="DuckDB's memory limit while loading (it spills beyond it); "
                             "keeps a long sync's memory flat. None: DuckDB's default.")
    checkpoint_threshold: str = Field(
        "64MB", description="WAL size that triggers a checkpoint; larger loads a little "
                            "faster and holds more in memory.")


def quote(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


class DuckDBDestination:
    """Loads Arrow batches into one DuckDB file; safe to share between stream threads."""

    transactional = True

    def __init__(self, config: DuckDBConfig, *, pipeline: str, base_dir: Path) -> None:
        path = Path(config.path)
        self.path = (path if path.is_absolute() else base_dir / path).resolve()
        self.schema = config.schema_
        self.pipeline = pipeline
        self._config = config
        self._con: duckdb.DuckDBPyConnection | None = None
        self._ddl = threading.Lock()
        self._columns: dict[str, dict[str, str]] = {}

    # ------------------------------------------------------------ lifecycle

    def open(self) -> None:
        """Open the database file and make sure the schema and state table exist."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(self.path))
        except duckdb.Error as exc:
            raise DestinationError(f"cannot open DuckDB file {self.path}: {exc}") from None
        if self._config.threads:
            con.execute(f"SET threads = {int(self._config.threads)}")
        if self._config.memory_limit:
            con.execute("SET memory_limit = ?", [self._config.memory_limit])
        con.execute("SET checkpoint_threshold = ?", [self._config.checkpoint_threshold])
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(self.schema)}")
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {self._qualified(STATE_TABLE)} ("
            "pipeline VARCHAR NOT NULL, stream VARCHAR NOT NULL, state JSON, run_id BIGINT, "
            "batch_index BIGINT, committed_at TIMESTAMPTZ)"
        )
        self._con = con

    def describe(self) -> str:
        """Where the data lands, for people."""
        return f"DuckDB file {self.path}, schema {self.schema}"

    def close(self) -> None:
        """Checkpoint (fold the WAL into the file) and close."""
        if self._con is not None:
            # Committed data is safe in the WAL even if this fails; the next open replays it.
            with contextlib.suppress(duckdb.Error):
                self._con.execute("CHECKPOINT")
            self._con.close()
            self._con = None

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise DestinationError("the DuckDB destination is not open")
        return self._con.cursor()

    def _qualified(self, table: str) -> str:
        return f"{quote(self.schema)}.{quote(table)}"

    # ------------------------------------------------------------ state

    def committed_state(self, stream: str) -> dict[str, Any] | None:
        """The state committed with the stream's last loaded batch, if any."""
        cur = self._cursor()
        try:
            row = cur.execute(
                f"SELECT state FROM {self._qualified(STATE_TABLE)} "
                "WHERE pipeline = ? AND stream = ?", [self.pipeline, stream]).fetchone()
        finally:
            cur.close()
        if row is None or row[0] is None:
            return None
        value = orjson.loads(row[0])
        return value if isinstance(value, dict) else None

    def set_state(self, stream: str, state: Mapping[str, Any]) -> None:
        """Replace a stream's committed state (``sync state set``)."""
        cur = self._cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            self._save_state(cur, stream, state, 0, -1)
            cur.execute("COMMIT")
        finally:
            cur.close()

    def clear_state(self, stream: str | None = None) -> None:
        """Forget committed state for one stream or every stream of the pipeline."""
        cur = self._cursor()
        try:
            sql = f"DELETE FROM {self._qualified(STATE_TABLE)} WHERE pipeline = ?"
            params: list[Any] = [self.pipeline]
            if stream is not None:
                sql += " AND stream = ?"
                params.append(stream)
            cur.execute(sql, params)
        finally:
            cur.close()

    # ------------------------------------------------------------ tables

    def _existing(self, cur: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
        try:
            rows = cur.execute(f"DESCRIBE {self._qualified(table)}").fetchall()
        except duckdb.CatalogException:
            return {}
        return {str(r[0]): str(r[1]) for r in rows}

    def ensure_table(self, table: str, schema: pa.Schema, *, stream: str) -> None:
        """Create the table, or add the columns a grown schema brings."""
        key = f"{table}\x00{schema}"
        if key in self._columns:
            return
        with self._ddl:
            cur = self._cursor()
            try:
                wanted = {f.name: duckdb_type(f) for f in schema}
                have = self._existing(cur, table)
                if not have:
                    cols = ", ".join(f"{quote(n)} {t}" for n, t in wanted.items())
                    cur.execute(f"CREATE TABLE IF NOT EXISTS {self._qualified(table)} ({cols})")
                for name, typ in wanted.items():
                    if have and name not in have:
                        cur.execute(f"ALTER TABLE {self._qualified(table)} "
                                    f"ADD COLUMN {quote(name)} {typ}")
            except duckdb.Error as exc:
                raise DestinationError(f"cannot prepare table {self.schema}.{table}: {exc}",
                                       stream=stream) from None
            finally:
                cur.close()
            self._columns[key] = wanted

    # ------------------------------------------------------------ loading

    def end_stream(self, stream: str, *, ok: bool) -> None:
        """Nothing to release: every batch committed on its own."""

    def confirmed(self, stream: str, index: int) -> int:
        """``write`` commits before it returns: the batch is confirmed already."""
        return index

    def write(self, *, stream: str, table_name: str, data: pa.Table, schema: pa.Schema,
              state: Mapping[str, Any] | None, mode: WriteMode, keys: tuple[str, ...],
              truncate: bool, run_id: int, batch_index: int, block_run: str,
              json_schema: Mapping[str, Any] | None = None, is_last: bool = False) -> int:
        """Load one batch and its state in one transaction; returns the rows loaded."""
        self.ensure_table(table_name, schema, stream=stream)
        if mode == "merge" and keys and data.num_rows:
            data = _last_per_key(data, keys)
        attempts = 3
        for attempt in range(attempts):
            cur = self._cursor()
            try:
                cur.execute("BEGIN TRANSACTION")
                self._load(cur, table_name, data, mode, keys, truncate)
                if state is not None:
                    self._save_state(cur, stream, state, run_id, batch_index)
                cur.execute("COMMIT")
                return int(data.num_rows)
            except duckdb.TransactionException as exc:
                _rollback(cur)
                if attempt + 1 == attempts:
                    raise DestinationError(f"DuckDB transaction conflict: {exc}", stream=stream,
                                           block_run=block_run) from None
                time.sleep(0.05 * (attempt + 1))
            except duckdb.Error as exc:
                _rollback(cur)
                raise DestinationError(f"DuckDB could not load the batch into "
                                       f"{self.schema}.{table_name}: {exc}", stream=stream,
                                       block_run=block_run) from None
            finally:
                cur.close()
        raise AssertionError("unreachable")

    def _load(self, cur: duckdb.DuckDBPyConnection, table_name: str, data: pa.Table,
              mode: WriteMode, keys: tuple[str, ...], truncate: bool) -> None:
        target = self._qualified(table_name)
        if truncate:
            cur.execute(f"DELETE FROM {target}")
        if not data.num_rows:
            return
        cur.register("__sync_batch", data)
        try:
            if mode == "merge" and keys and not truncate and \
                    _may_overlap(cur, target, data, keys):
                match = " AND ".join(f"t.{quote(k)} = b.{quote(k)}" for k in keys)
                cur.execute(f"DELETE FROM {target} AS t USING __sync_batch AS b WHERE {match}")
            cur.execute(f"INSERT INTO {target} BY NAME SELECT * FROM __sync_batch")
        finally:
            cur.unregister("__sync_batch")

    def _save_state(self, cur: duckdb.DuckDBPyConnection, stream: str,
                    state: Mapping[str, Any], run_id: int, batch_index: int) -> None:
        table = self._qualified(STATE_TABLE)
        cur.execute(f"DELETE FROM {table} WHERE pipeline = ? AND stream = ?",
                    [self.pipeline, stream])
        cur.execute(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?)",
                    [self.pipeline, stream, orjson.dumps(state).decode(), run_id, batch_index,
                     datetime.now(UTC)])


def _rollback(cur: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        cur.execute("ROLLBACK")


def _may_overlap(cur: duckdb.DuckDBPyConnection, target: str, data: pa.Table,
                 keys: tuple[str, ...]) -> bool:
    """False when no stored row can share a key with the batch, so the upsert's DELETE
    can be skipped: checked on the first key's range, which DuckDB answers from its
    zone maps without reading the table (appending rising ids is the common case)."""
    col = data.column(keys[0])
    if not (pa.types.is_integer(col.type) or pa.types.is_timestamp(col.type)
            or pa.types.is_date(col.type) or pa.types.is_string(col.type)):
        return True
    low, high = kernels.min_max(col)
    if low is None:
        return True
    key = quote(keys[0])
    row = cur.execute(f"SELECT 1 FROM {target} WHERE {key} BETWEEN ? AND ? LIMIT 1",
                      [low, high]).fetchall()
    return bool(row)


def _last_per_key(data: pa.Table, keys: tuple[str, ...]) -> pa.Table:
    """Keep only the last record of each key within a batch (upsert semantics)."""
    if len(keys) == 1 and kernels.count_distinct(data.column(keys[0])) == data.num_rows:
        return data  # every key once: nothing to drop (the usual case)
    idx = pa.array(range(data.num_rows), pa.int64())
    keyed = data.select(list(keys)).append_column("__idx", idx)
    last = keyed.group_by(list(keys), use_threads=False).aggregate([("__idx", "max")])
    if last.num_rows == data.num_rows:
        return data
    import pyarrow.compute as pc  # only batches that repeat a key come here

    positions = last.column("__idx_max")
    return data.take(pc.take(positions, pc.sort_indices(positions)))
