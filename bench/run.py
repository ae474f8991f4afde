"""Benchmarks: `make bench` (or `python bench/run.py [--records N]`).

Scenario "singer-1m": an external tap replays N Singer RECORD messages of one
12-field stream (bench/gen.py) and `sync run` loads them into the built-in DuckDB
target. DuckDB's own `read_ndjson` over the same records is measured beside it as
the ceiling on this machine. Each command runs as its own process; wall time and
peak RSS come from os.wait4. The table is printed and written to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
PY = sys.executable


@dataclass(frozen=True)
class Result:
    name: str
    records: int
    seconds: float
    peak_mib: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds


def measure(name: str, argv: list[str], records: int, cwd: Path = ROOT) -> Result:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return Result(name, records, seconds, usage.ru_maxrss / 1024)


def singer_file(records: int) -> Path:
    path = DATA / f"events-{records}.singer"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run([PY, str(ROOT / "bench" / "gen.py"), str(records), str(path)],
                       check=True)
    return path


def records_only(singer: Path) -> Path:
    """The RECORD bodies alone, one per line: what DuckDB's reader gets."""
    path = singer.with_suffix(".records.jsonl")
    if not path.exists():
        import orjson

        with singer.open("rb") as src, path.open("wb") as out:
            for line in src:
                msg = orjson.loads(line)
                if msg["type"] == "RECORD":
                    out.write(orjson.dumps(msg["record"]) + b"\n")
    return path


def sync_pipeline(work: Path, singer: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    cfg = work / "pipeline.yaml"
    cfg.write_text(
        "pipeline: bench\n"
        f"source:\n  tap: [{PY}, {ROOT / 'bench' / 'replay_tap.py'}]\n"
        f"  config: {{file: {singer}}}\n"
        f"destination:\n  config: {{path: {work / 'sync.duckdb'}}}\n"
        f"state: {work / 'state.db'}\n")
    return cfg


def clean(*paths: Path) -> None:
    for p in paths:
        for q in (p, Path(str(p) + ".wal")):
            if q.exists():
                q.unlink()


def scenario_singer(records: int) -> list[Result]:
    singer = singer_file(records)
    recs = records_only(singer)
    work = DATA / "work"
    cfg = sync_pipeline(work, singer)
    results = []
    clean(work / "sync.duckdb", work / "state.db")
    results.append(measure("sync run (external tap -> duckdb)",
                           [str(ROOT / ".venv" / "bin" / "sync"), "run", "--config", str(cfg),
                            "--quiet", "--log-format", "json"], records))
    clean(work / "duckdb.duckdb")
    sql = (f"CREATE TABLE events AS SELECT * FROM read_ndjson('{recs}'); CHECKPOINT;")
    results.append(measure("duckdb read_ndjson (ceiling)",
                           [PY, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                                      "c.execute(sys.argv[2])",
                            str(work / "duckdb.duckdb"), sql], records))
    return results


def table(results: list[Result]) -> str:
    ceiling = next((r for r in results if "ceiling" in r.name), None)
    lines = ["| scenario | records | seconds | records/s | peak RSS MiB | vs ceiling |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in results:
        ratio = f"{r.rate / ceiling.rate:.2f}x" if ceiling else "-"
        lines.append(f"| {r.name} | {r.records:,} | {r.seconds:.2f} | {r.rate:,.0f} | "
                     f"{r.peak_mib:,.0f} | {ratio} |")
    return "\n".join(lines)


def write_report(body: str, command: str) -> None:
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python "
               f"{platform.python_version()}, {platform.system()} {platform.release()}")
    section = (f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
               f"Command: `{command}`  \nMachine: {machine}\n\n{body}\n")
    report = ROOT / "BENCHMARKS.md"
    head = "# Benchmarks\n\nNewest first. Every figure comes from the command shown with it.\n\n"
    old = report.read_text() if report.exists() else head
    rest = old[len(head):] if old.startswith(head) else old
    report.write_text(head + section + "\n" + rest)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if shutil.which("python3") is None:
        raise SystemExit("python3 is needed on PATH")
    results = scenario_singer(args.records)
    body = table(results)
    print(body)
    if not args.no_write:
        cmd = "make bench" if args.records == 1_000_000 else \
            f"python bench/run.py --records {args.records}"
        write_report(body, cmd)


if __name__ == "__main__":
    main()
