"""Runs with the dlt peer env's python (bench/peers.py starts it; not our venv).

    python dlt_load.py arrow|dicts RECORDS.jsonl DB.duckdb PIPELINES_DIR LIMIT

Loads bare records, one JSON object a line, into table `raw.events` of DB.duckdb with
one dlt pipeline run (write disposition: append, dlt's default). `arrow` reads the whole
file into one Arrow table with pyarrow.json; `dicts` json.loads the first LIMIT lines
into a list of dicts. Reading is part of the measured run in both modes.
"""

from __future__ import annotations

import itertools
import json
import sys
from typing import Any

import dlt


def read(mode: str, src: str, limit: int) -> Any:
    if mode == "arrow":
        import pyarrow.json

        return pyarrow.json.read_json(src)
    if mode == "dicts":
        with open(src, "rb") as fh:
            return [json.loads(line) for line in itertools.islice(fh, limit)]
    raise SystemExit(f"unknown mode {mode!r}: arrow or dicts")


def main() -> None:
    mode, src, db, pipelines_dir, limit = sys.argv[1:6]
    data = read(mode, src, int(limit))
    pipeline = dlt.pipeline(pipeline_name=f"bench_{mode}", pipelines_dir=pipelines_dir,
                            destination=dlt.destinations.duckdb(db), dataset_name="raw")
    info = pipeline.run(data, table_name="events")
    info.raise_on_failed_jobs()


if __name__ == "__main__":
    main()
