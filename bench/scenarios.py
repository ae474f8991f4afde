"""The benchmark scenarios beyond the 1M-record Singer load (see bench/run.py).

Each function returns rows for the report: (scenario, figures..., the goal, met?).
Every command runs as its own process, measured by bench.run.measure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SYNC = str(ROOT / ".venv" / "bin" / "sync")


def _pipeline(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


def _clean(folder: Path) -> None:
    for p in folder.glob("*.duckdb*"):
        p.unlink()
    for p in folder.glob("state.db*"):
        p.unlink()


def memory_10m(measure, singer: Path, work: Path, repeat: int = 10):  # type: ignore[no-untyped-def]
    """Peak RSS of `sync run` for 10x the 1M-record stream, appended (no key)."""
    cfg = _pipeline(work / "big.yaml", (
        "pipeline: bench_big\n"
        f"source:\n  tap: [{PY}, {ROOT / 'bench' / 'replay_tap.py'}]\n"
        f"  config: {{file: {singer}, repeat: {repeat}}}\n"
        f"destination:\n  config: {{path: {work / 'big.duckdb'}}}\n"
        "streams:\n  events: {key_properties: []}\n"
        f"state: {work / 'state.db'}\n"))
    _clean(work)
    return measure(f"sync run, {repeat}M records (memory)", [SYNC, "run", "--config", str(cfg),
                                                            "--quiet"], repeat * 1_000_000)


def sdk_tap_bound(measure, records_jsonl: Path, work: Path, records: int):  # type: ignore[no-untyped-def]
    """A singer-sdk tap as the bottleneck: the tap alone to /dev/null vs `sync run`."""
    work = work.resolve()
    sample = work / f"sdk-{records}.jsonl"
    if not sample.exists():
        with records_jsonl.open("rb") as src, sample.open("wb") as out:
            for i, line in enumerate(src):
                if i >= records:
                    break
                out.write(line)
    tap = str(ROOT / ".venv" / "bin" / "sync-tap-jsonl")
    import json

    config = work / "sdk-tap.json"
    config.write_text(json.dumps({"files": [{"path": str(sample), "stream": "events",
                                             "key_properties": ["id"]}]}))
    catalog = work / "sdk-catalog.json"
    done = subprocess.run([tap, "--config", str(config), "--discover"], capture_output=True,
                          check=True)
    cat = json.loads(done.stdout)
    for entry in cat["streams"]:
        for md in entry["metadata"]:
            if not md["breadcrumb"]:
                md["metadata"]["selected"] = True
    catalog.write_text(json.dumps(cat))
    alone = measure("singer-sdk tap alone (sync-tap-jsonl > /dev/null)",
                    [tap, "--config", str(config), "--catalog", str(catalog)], records)
    cfg = _pipeline(work / "sdk.yaml", (
        "pipeline: bench_sdk\n"
        f"source:\n  tap: {tap}\n  config: {{files: [{{path: {sample}, stream: events, "
        "key_properties: [id]}]}\n"
        f"destination:\n  config: {{path: {work / 'sdk.duckdb'}}}\n"
        f"state: {work / 'state.db'}\n"))
    # A first run fills what every later run of a pipeline has: the catalog cache and
    # the launch record that starts the tap while sync imports its libraries.
    _clean(work)
    subprocess.run([SYNC, "run", "--config", str(cfg), "--quiet"], capture_output=True,
                   check=True)
    _clean(work)
    run = measure("sync run from that tap into duckdb", [SYNC, "run", "--config", str(cfg),
                                                         "--quiet"], records)
    return alone, run


def file_taps(measure, records_jsonl: Path, work: Path, records: int):  # type: ignore[no-untyped-def]
    """Built-in csv, jsonl and parquet taps vs DuckDB's own reader of the same file."""
    import duckdb

    files = {"jsonl": records_jsonl, "csv": work / "events.csv",
             "parquet": work / "events.parquet"}
    con = duckdb.connect()
    src = f"read_ndjson('{records_jsonl}')"
    if not files["csv"].exists():
        con.execute(f"COPY (SELECT * EXCLUDE (tags, address) FROM {src}) TO "
                    f"'{files['csv']}' (HEADER)")
    if not files["parquet"].exists():
        con.execute(f"COPY (SELECT * FROM {src}) TO '{files['parquet']}' (FORMAT parquet)")
    con.close()
    readers = {"jsonl": "read_ndjson", "csv": "read_csv", "parquet": "read_parquet"}
    out = []
    for fmt, path in files.items():
        cfg = _pipeline(work / f"file-{fmt}.yaml", (
            f"pipeline: bench_{fmt}\n"
            f"source:\n  tap: {fmt}\n  config: {{files: [{{path: {path}, stream: events}}]}}\n"
            f"destination:\n  config: {{path: {work / f'{fmt}.duckdb'}}}\n"
            f"state: {work / 'state.db'}\n"))
        _clean(work)
        ours = measure(f"sync run, built-in {fmt} tap", [SYNC, "run", "--config", str(cfg),
                                                        "--quiet"], records)
        sql = (f"CREATE TABLE events AS SELECT * FROM {readers[fmt]}('{path}'); CHECKPOINT;")
        theirs = measure(f"duckdb {readers[fmt]} of the same file",
                         [PY, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1])"
                                    ".execute(sys.argv[2])", str(work / f"{fmt}-duck.duckdb"),
                          sql], records)
        out.append((ours, theirs))
    return out


def many_streams(measure, work: Path, streams: int = 1000, per_stream: int = 10):  # type: ignore[no-untyped-def]
    """1,000 small streams in one pipeline: our time per stream."""
    folder = work / "many"
    if not folder.exists():
        folder.mkdir(parents=True)
        for s in range(streams):
            (folder / f"s{s:04d}.jsonl").write_text("".join(
                f'{{"id": {i}, "name": "n{i}"}}\n' for i in range(per_stream)))
    cfg = _pipeline(work / "many.yaml", (
        "pipeline: bench_many\n"
        f"source:\n  tap: jsonl\n  config: {{files: [{{path: {folder}/*.jsonl}}]}}\n"
        f"destination:\n  config: {{path: {work / 'many.duckdb'}}}\n"
        f"state: {work / 'state.db'}\n"))
    _clean(work)
    return measure(f"sync run, {streams} streams of {per_stream} records",
                   [SYNC, "run", "--config", str(cfg), "--quiet"], streams * per_stream)


def fixed_cost(work: Path) -> dict[str, float]:
    """`sync --help`, and a 10-record run against its tap alone (best of 5 each)."""
    def best(argv: list[str], **kw: object) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=True, **kw)  # type: ignore[call-overload]
            times.append(time.perf_counter() - start)
        return min(times)

    tap = [PY, str(ROOT / "tests" / "taps" / "numbers_tap.py")]
    import json

    config = work / "ten.json"
    config.write_text(json.dumps({"streams": {"s": {"count": 10}}}))
    done = subprocess.run([*tap, "--config", str(config), "--discover"], capture_output=True,
                          check=True)
    cat = json.loads(done.stdout)
    cat["streams"][0]["metadata"][0]["metadata"]["selected"] = True
    catalog = work / "ten-catalog.json"
    catalog.write_text(json.dumps(cat))
    cfg = _pipeline(work / "ten.yaml", (
        "pipeline: bench_ten\n"
        f"source:\n  tap: [{PY}, {ROOT / 'tests' / 'taps' / 'numbers_tap.py'}]\n"
        "  config: {streams: {s: {count: 10}}}\n"
        f"destination:\n  config: {{path: {work / 'ten.duckdb'}}}\n"
        f"state: {work / 'state.db'}\n"))
    _clean(work)
    subprocess.run([SYNC, "run", "--config", str(cfg), "--quiet"], capture_output=True,
                   check=True, env={**os.environ})
    return {
        "help": best([SYNC, "--help"]),
        "tap_alone": best([*tap, "--config", str(config), "--catalog", str(catalog)]),
        # --full-refresh: every timed run loads its 10 records again, as the first did
        "run": best([SYNC, "run", "--config", str(cfg), "--quiet", "--full-refresh"]),
    }
