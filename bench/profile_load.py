"""Where the 1M-record load spends its time, stage by stage (python bench/profile_load.py).

Parses the benchmark's Singer file with sync's reader (timed), then loads the parsed
batches through the built-in DuckDB target exactly as `sync run` does, batch by batch,
timing every SQL statement. Prints seconds per stage.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from sync.reader import SingerReader
from targets.duckdb import DuckDBConfig, DuckDBDestination

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        ROOT / "bench" / "data" / "events-1000000.singer"
    started, cpu0 = time.perf_counter(), time.process_time()
    parts = []
    reader = SingerReader()
    with path.open("rb") as fh:
        for event in reader.read(fh):
            table = getattr(event, "table", None)
            if table is not None:
                parts.append(table)
    parse, parse_cpu = time.perf_counter() - started, time.process_time() - cpu0
    data = pa.concat_tables(parts)
    schema = reader.schemas["events"]
    db = Path("/tmp/sync-profile-load.duckdb")
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    dest = DuckDBDestination(DuckDBConfig(path=str(db)), pipeline="profile", base_dir=db.parent)
    dest.open()
    stats: dict[str, float] = {}
    cursor = dest._cursor

    class Timed:
        def __init__(self, cur: Any) -> None:
            self.cur = cur

        def execute(self, sql: str, *args: Any) -> Any:
            t = time.perf_counter()
            result = self.cur.execute(sql, *args)
            key = sql.split()[0]
            stats[key] = stats.get(key, 0.0) + time.perf_counter() - t
            return result

        def __getattr__(self, name: str) -> Any:
            return getattr(self.cur, name)

    dest._cursor = lambda: Timed(cursor())  # type: ignore[method-assign]
    batch = 50_000
    started, cpu0 = time.perf_counter(), time.process_time()
    for i in range(0, data.num_rows, batch):
        dest.write(stream="events", table_name="events", data=data.slice(i, batch),
                   schema=schema.arrow, state={"i": i}, mode="merge", keys=("id",),
                   truncate=False, run_id=1, batch_index=i // batch, block_run="profile")
    load, load_cpu = time.perf_counter() - started, time.process_time() - cpu0
    started, cpu0 = time.perf_counter(), time.process_time()
    dest.close()
    close, close_cpu = time.perf_counter() - started, time.process_time() - cpu0
    # CPU seconds count every thread (Arrow's and DuckDB's pools): on 2 cores a run
    # can never take less than the sum of CPU seconds / 2.
    print(f"parse (reader, {data.num_rows:,} records): {parse:.2f} s, {parse_cpu:.2f} CPU s")
    print(f"load ({data.num_rows // batch} transactions): {load:.2f} s, {load_cpu:.2f} CPU s")
    for key, seconds in sorted(stats.items(), key=lambda kv: -kv[1]):
        print(f"  {key}: {seconds:.2f} s")
    print(f"close (final checkpoint): {close:.2f} s, {close_cpu:.2f} CPU s")
    print(f"file: {os.path.getsize(db) / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
