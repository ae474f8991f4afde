"""Singer BATCH messages: record files (jsonl, gzip'd or not, and parquet) read by DuckDB.

singer-sdk taps can hand records over in files instead of RECORD lines. DuckDB reads
those files straight into Arrow with the stream's column types, so no record is
decoded in Python, and the chunks go on exactly like parsed RECORD lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote, urlparse

import pyarrow as pa

from sync import kernels
from sync.errors import SourceError
from sync.reader import checked_chunks
from sync.schema import StreamSchema, duckdb_type
from sync.singer import ControlMessage, RecordChunk


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _local_path(url: str, stream: str, line: int) -> str:
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return unquote(parsed.path) if parsed.scheme else url
    raise SourceError(f"BATCH file {url!r}: only local files (file://) are supported",
                      stream=stream, line=line)


def batch_chunks(msg: ControlMessage, schema: StreamSchema) -> Iterator[RecordChunk]:
    """The records of a BATCH message's files, as checked Arrow chunks."""
    import duckdb

    stream, line = msg.stream, msg.line
    encoding = msg.body.get("encoding") or {}
    fmt = encoding.get("format") if isinstance(encoding, dict) else None
    manifest = msg.body.get("manifest")
    if not isinstance(manifest, list) or not manifest:
        raise SourceError("BATCH message without a manifest of files", stream=stream, line=line)
    files = "[" + ", ".join(_lit(_local_path(str(u), stream, line)) for u in manifest) + "]"
    if fmt == "jsonl":
        compression = "gzip" if encoding.get("compression") == "gzip" else "auto"
        columns = ", ".join(f"{_lit(f.name)}: {_lit(duckdb_type(f))}" for f in schema.arrow)
        sql = (f"SELECT * FROM read_json({files}, format = 'newline_delimited', "
               f"compression = {_lit(compression)}"
               + (f", columns = {{{columns}}}" if columns else "") + ")")
    elif fmt == "parquet":
        sql = f"SELECT * FROM read_parquet({files}, union_by_name = true)"
    else:
        raise SourceError(f"BATCH encoding format {fmt!r} is not supported (jsonl, parquet)",
                          stream=stream, line=line)
    con = duckdb.connect()
    try:
        table = con.sql(sql).to_arrow_table()
        if fmt == "parquet":
            missing = [f for f in schema.arrow if f.name not in table.column_names]
            for f in missing:
                table = table.append_column(f.name, pa.nulls(table.num_rows, f.type))
            table = table.select(schema.arrow.names)
        table = kernels.cast_table(table, schema.arrow)
    except (duckdb.Error, pa.ArrowInvalid, pa.ArrowTypeError,
            pa.ArrowNotImplementedError) as exc:
        raise SourceError(f"BATCH files {', '.join(str(u) for u in manifest)} do not fit the "
                          f"stream's schema: {exc}", stream=stream, line=line) from None
    finally:
        con.close()
    yield from checked_chunks(stream, table, schema, line)
