"""What one DuckDB transaction per batch costs, by batch size (python bench/duckdb_commits.py).

Parses the benchmark's 1M-record Singer file once with sync's reader, then appends the
records to a fresh DuckDB file in one transaction per batch, for several batch sizes,
with the built-in target's settings (memory_limit 128MB, checkpoint_threshold 64MB).
A transaction that appends fewer rows than a DuckDB row group (122,880) is written to
the write-ahead log uncompressed and compressed again at the next checkpoint; a larger
one is written straight to the file. Prints seconds, CPU seconds and file size.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from sync.reader import SingerReader

ROOT = Path(__file__).resolve().parent.parent


def load(data: pa.Table, batch: int, db: Path) -> tuple[float, float, float]:
    for p in (db, Path(f"{db}.wal")):
        p.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute("SET memory_limit = '128MB'")
    con.execute("SET checkpoint_threshold = '64MB'")
    con.register("empty", data.slice(0, 0))
    con.execute("CREATE TABLE t AS SELECT * FROM empty")
    con.unregister("empty")
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, data.num_rows, batch):
        con.execute("BEGIN")
        con.register("part", data.slice(i, batch))
        con.execute("INSERT INTO t SELECT * FROM part")
        con.unregister("part")
        con.execute("COMMIT")
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - started, time.process_time() - cpu, os.path.getsize(db) / 1e6


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        ROOT / "bench" / "data" / "events-1000000.singer"
    parts = [e.table for e in SingerReader().read(path.open("rb")) if hasattr(e, "table")]
    data = pa.concat_tables(parts).combine_chunks()
    db = Path("/tmp/sync-duckdb-commits.duckdb")
    print(f"{data.num_rows:,} records, one transaction per batch, then CHECKPOINT")
    for batch in (50_000, 100_000, 122_880, 245_760, data.num_rows):
        seconds, cpu, size = load(data, batch, db)
        print(f"  batches of {batch:>9,}: {seconds:.2f} s, {cpu:.2f} CPU s, {size:.0f} MB")


if __name__ == "__main__":
    main()
