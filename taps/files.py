"""Built-in file taps (csv, jsonl, parquet): DuckDB's readers, Arrow batches out.

A ``files:`` entry names a file or a glob. With ``stream:`` every matching file
feeds that one stream; without it each file is a stream named after its stem.
The schema is given (Singer JSON schema) or inferred by DuckDB's reader.
Incremental streams are read in replication-key order from the bookmark on, and
a STATE follows every chunk, so each batch commits with its own bookmark.
"""

from __future__ import annotations

import glob
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from sync import kernels
from sync.errors import ConfigError, SourceError
from sync.plan import StreamPlan
from sync.schema import StreamSchema, duckdb_type, stream_json_schema
from sync.singer import RecordChunk, SchemaMessage, SourceEvent, StateMessage

Format = Literal["csv", "jsonl", "parquet"]


class FileSpec(BaseModel):
    """One ``files:`` entry of a file tap."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    path: str = Field(description="A file or a glob, relative to the pipeline file.")
    stream: str | None = Field(None, description="Stream name; default: each file's stem.")
    key_properties: tuple[str, ...] = ()
    replication_key: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema",
                                           description="Singer JSON schema; default: inferred.")
    delimiter: str | None = Field(None, description="csv: field delimiter (default: sniffed).")
    header: bool = Field(True, description="csv: the first line names the columns.")


class FileTapConfig(BaseModel):
    """Settings of the built-in file taps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    files: tuple[FileSpec, ...] = Field(min_length=1)


@dataclass(frozen=True)
class _FileStream:
    name: str
    spec: FileSpec
    paths: tuple[str, ...]


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class FileTap:
    """A csv, jsonl or parquet tap read in-process through DuckDB."""

    def __init__(self, fmt: Format, config: Mapping[str, Any], base_dir: Path) -> None:
        self.fmt = fmt
        self.config = FileTapConfig.model_validate(config)
        self.base_dir = base_dir
        self._schemas: dict[str, StreamSchema] = {}
        self._streams_found: dict[str, _FileStream] | None = None
        self._con: Any = None
        self._lock = threading.Lock()

    def _cursor(self) -> Any:
        """A cursor on the tap's one in-memory DuckDB (a new database costs ~10 ms)."""
        import duckdb

        with self._lock:
            if self._con is None:
                self._con = duckdb.connect()
            return self._con.cursor()

    # ------------------------------------------------------------ streams

    def _streams(self) -> dict[str, _FileStream]:
        if self._streams_found is None:
            self._streams_found = self._find_streams()
        return self._streams_found

    def _find_streams(self) -> dict[str, _FileStream]:
        out: dict[str, _FileStream] = {}
        for i, spec in enumerate(self.config.files):
            pattern = spec.path if Path(spec.path).is_absolute() else str(self.base_dir / spec.path)
            paths = sorted(glob.glob(pattern, recursive=True))
            if not paths:
                raise ConfigError(f"no file matches {spec.path!r} (looked in {self.base_dir})",
                                  key=f"source.config.files.{i}.path")
            groups = [(spec.stream, paths)] if spec.stream else \
                [(Path(p).name.split(".")[0], [p]) for p in paths]
            for name, group in groups:
                assert name is not None
                if name in out:
                    raise ConfigError(f"two files entries make the stream {name!r}",
                                      key=f"source.config.files.{i}")
                out[name] = _FileStream(name, spec, tuple(group))
        return out

    def _relation_sql(self, fs: _FileStream, schema: StreamSchema | None) -> str:
        files = "[" + ", ".join(_lit(p) for p in fs.paths) + "]"
        columns = ""
        if schema is not None and len(schema.arrow):
            columns = ", columns = {" + ", ".join(
                f"{_lit(f.name)}: {_lit(duckdb_type(f))}" for f in schema.arrow) + "}"
        if self.fmt == "csv":
            opts = f", header = {str(fs.spec.header).lower()}, union_by_name = true"
            if fs.spec.delimiter:
                opts += f", delim = {_lit(fs.spec.delimiter)}"
            return f"read_csv({files}{opts}{columns})"
        if self.fmt == "jsonl":
            return f"read_json({files}, format = 'newline_delimited', union_by_name = true" \
                   f"{columns})"
        return f"read_parquet({files}, union_by_name = true)"

    def _schema(self, fs: _FileStream) -> StreamSchema:
        cached = self._schemas.get(fs.name)
        if cached is not None:
            return cached
        keys = tuple(fs.spec.key_properties)
        if fs.spec.schema_ is not None:
            schema = StreamSchema.build(fs.name, fs.spec.schema_, keys)
        else:
            import duckdb

            con = self._cursor()
            try:
                arrow = con.sql(f"SELECT * FROM {self._relation_sql(fs, None)} LIMIT 0") \
                    .to_arrow_table().schema
            except duckdb.Error as exc:
                raise SourceError(f"cannot read {', '.join(fs.paths)}: {exc}",
                                  stream=fs.name) from None
            finally:
                con.close()
            schema = StreamSchema.build(fs.name, stream_json_schema(arrow), keys)
        self._schemas[fs.name] = schema
        return schema

    def discover(self) -> dict[str, Any]:
        """A Singer catalog of the configured files."""
        entries = []
        for fs in self._streams().values():
            schema = self._schema(fs)
            md: dict[str, Any] = {"table-key-properties": list(fs.spec.key_properties),
                                  "inclusion": "available"}
            if fs.spec.replication_key:
                md["valid-replication-keys"] = [fs.spec.replication_key]
                md["forced-replication-method"] = "INCREMENTAL"
            entries.append({
                "tap_stream_id": fs.name, "stream": fs.name,
                "schema": dict(schema.json_schema),
                "key_properties": list(fs.spec.key_properties),
                "replication_key": fs.spec.replication_key,
                "metadata": [{"breadcrumb": [], "metadata": md}],
            })
        return {"streams": entries}

    # ------------------------------------------------------------ reading

    @contextmanager
    def read(self, plan: StreamPlan, state: Mapping[str, Any] | None,
             cancel: threading.Event) -> Iterator[Iterator[SourceEvent]]:
        fs = self._streams()[plan.stream]
        con = self._cursor()
        try:
            yield self._events(con, fs, plan, state, cancel)
        finally:
            con.close()

    def _events(self, con: Any, fs: _FileStream, plan: StreamPlan,
                state: Mapping[str, Any] | None,
                cancel: threading.Event) -> Iterator[SourceEvent]:
        import duckdb

        schema = plan.schema
        yield SchemaMessage(plan.stream, schema, plan.replication_key)
        rk = plan.replication_key
        sql = f"SELECT * FROM {self._relation_sql(fs, schema)}"
        params: list[Any] = []
        bookmark = _bookmark(state, plan.stream)
        if rk is not None:
            if bookmark is not None:
                op = ">=" if plan.key_properties else ">"
                rk_type = duckdb_type(schema.arrow.field(rk))
                sql += f' WHERE "{rk}" {op} CAST(? AS {rk_type})'
                params.append(bookmark)
            sql += f' ORDER BY "{rk}" NULLS FIRST'
        try:
            reader = con.sql(sql, params=params or None).to_arrow_reader(plan.batch_size)
            line = 1
            for rb in reader:
                if cancel.is_set():
                    return
                table = kernels.cast_table(pa.Table.from_batches([rb]), schema.arrow)
                yield RecordChunk(plan.stream, table, line)
                line += table.num_rows
                if rk is not None and table.num_rows:
                    last = table.column(rk)[-1].as_py()
                    if last is not None:
                        bookmark = _json_value(last)
                        yield StateMessage(_state(plan.stream, rk, bookmark))
        except duckdb.Error as exc:
            raise SourceError(f"cannot read {', '.join(fs.paths)}: {exc}",
                              stream=plan.stream) from None
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SourceError(f"{', '.join(fs.paths)} does not fit the stream's schema: {exc}",
                              stream=plan.stream) from None
        if rk is not None and bookmark is not None:
            yield StateMessage(_state(plan.stream, rk, bookmark))


def _state(stream: str, rk: str, value: Any) -> dict[str, Any]:
    return {"bookmarks": {stream: {"replication_key": rk, "replication_key_value": value}}}


def _bookmark(state: Mapping[str, Any] | None, stream: str) -> Any:
    if not state:
        return None
    entry = (state.get("bookmarks") or {}).get(stream) or {}
    return entry.get("replication_key_value")
