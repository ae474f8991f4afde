"""Peer measurements: the benchmark's records loaded into DuckDB by other tools.

Each peer lives in its own virtualenv under bench/.peers/<name>, made once with
`python3 -m venv` and pinned packages. Every run is one process measured like
bench/run.py's `measure` (wall time, peak RSS from os.wait4), into a fresh DuckDB file
under `work`; afterwards the loaded table's row count is read back with the peer env's
own duckdb, and a mismatch is written into the result's name.

    target-duckdb  the Singer file (SCHEMA/RECORD/STATE) on stdin, default settings
    dlt arrow      the bare-records JSONL read into one Arrow table, one pipeline run
    dlt dicts      the same records as Python dicts, first DICTS_LIMIT only (slow)

From bench/run.py: `import peers` then `peers.run_all(singer, recs, records, work)`.
Standalone: `python bench/peers.py SINGER [--records-jsonl P] [--work DIR] [--only NAME]`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from measure import Result, measure

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / ".peers"
SCRIPTS = ROOT / "bench" / "peer_scripts"
MARKER = ".installed"

# target-duckdb 0.8.0 COPYs a headerless CSV per batch; DuckDB >= 1.3 sniffs its first
# row as a header and drops it, so the target needs DuckDB 1.2.
TARGET_DUCKDB = ["target-duckdb==0.8.0", "duckdb==1.2.2"]
# The same duckdb and pyarrow as our own venv.
DLT = ["dlt[duckdb]==1.31.0", "duckdb==2.0.1", "pyarrow==26.0.1"]
DICTS_LIMIT = 100_000
TELEMETRY_OFF = {"RUNTIME__DLTHUB_TELEMETRY": "false", "DLT_TELEMETRY_DISABLED": "1"}


def ensure_peer_env(name: str, packages: list[str]) -> Path:
    """A virtualenv bench/.peers/<name> holding `packages`; returns its bin dir.

    Installs once: a marker file listing the packages is written after pip succeeds,
    and a different list (or no marker) rebuilds the env from scratch.
    """
    env = PEERS / name
    marker = env / MARKER
    wanted = "\n".join(packages) + "\n"
    if marker.exists() and marker.read_text() == wanted:
        return env / "bin"
    PEERS.mkdir(parents=True, exist_ok=True)
    ignore = PEERS / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    python3 = shutil.which("python3")
    if python3 is None:
        raise SystemExit("python3 is needed on PATH to make the peer envs")
    _check([python3, "-m", "venv", "--clear", str(env)], f"venv {name}")
    _check([str(env / "bin" / "python"), "-m", "pip", "install", "--quiet", *packages],
           f"pip install into {name}")
    marker.write_text(wanted)
    return env / "bin"


def _check(argv: list[str], what: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def _versions(bin_dir: Path, *dists: str) -> list[str]:
    code = ("import sys; from importlib.metadata import version; "
            "print(' '.join(version(d) for d in sys.argv[1:]))")
    return _check([str(bin_dir / "python"), "-c", code, *dists], "version lookup").split()


def _count_rows(bin_dir: Path, db: Path, table: str) -> int:
    """Rows in `table` of `db`, read with the peer env's duckdb (our 2.x may not open
    a file an older DuckDB wrote)."""
    code = ("import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print(c.execute('SELECT count(*) FROM ' + sys.argv[2]).fetchone()[0])")
    return int(_check([str(bin_dir / "python"), "-c", code, str(db), table], "row count"))


def _verified(result: Result, loaded: int) -> Result:
    if loaded == result.records:
        return result
    return Result(f"{result.name} [ROWS LOADED {loaded:,} != {result.records:,}]",
                  result.records, result.seconds, result.peak_mib)


def _fresh(work: Path, *names: str) -> None:
    work.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = work / name
        if path.is_dir():
            shutil.rmtree(path)
        for p in (path, Path(f"{path}.wal")):
            p.unlink(missing_ok=True)


def run_target_duckdb(singer_file: Path, records: int, work: Path) -> Result:
    """target-duckdb with its default settings (upserts on the key, batches of 100,000
    rows, no record validation), the Singer file piped to its stdin."""
    bin_dir = ensure_peer_env("target-duckdb", TARGET_DUCKDB)
    version, duck = _versions(bin_dir, "target-duckdb", "duckdb")
    db = work / "target_duckdb.duckdb"
    _fresh(work, db.name, "target_duckdb_tmp")
    (work / "target_duckdb_tmp").mkdir()
    cfg = work / "target_duckdb.json"
    cfg.write_text(json.dumps({"path": str(db), "default_target_schema": "raw",
                               "temp_dir": str(work / "target_duckdb_tmp")}))
    result = measure(f"target-duckdb {version} (Singer stdin -> duckdb {duck})",
                      [str(bin_dir / "target-duckdb"), "--config", str(cfg)], records, work,
                      stdin=singer_file)
    return _verified(result, _count_rows(bin_dir, db, "raw.events"))


def _run_dlt(mode: str, label: str, records_jsonl: Path, records: int, work: Path) -> Result:
    bin_dir = ensure_peer_env("dlt", DLT)
    version, duck = _versions(bin_dir, "dlt", "duckdb")
    db = work / f"dlt_{mode}.duckdb"
    pipelines = work / f"dlt_{mode}_pipelines"
    _fresh(work, db.name, pipelines.name)
    result = measure(f"dlt {version} {label} -> duckdb {duck}",
                      [str(bin_dir / "python"), str(SCRIPTS / "dlt_load.py"), mode,
                       str(records_jsonl), str(db), str(pipelines), str(records)],
                      records, work, env=TELEMETRY_OFF)
    return _verified(result, _count_rows(bin_dir, db, "raw.events"))


def run_dlt_arrow(records_jsonl: Path, records: int, work: Path) -> Result:
    """dlt loading one Arrow table; pyarrow's read of the JSONL file is in the time."""
    return _run_dlt("arrow", "arrow table (pyarrow read incl.)", records_jsonl, records, work)


def run_dlt_dicts(records_jsonl: Path, records: int, work: Path) -> Result:
    """dlt loading Python dicts (json.loads per line, included in the time); at most
    DICTS_LIMIT records, the file's first lines, and the Result carries that count."""
    used = min(records, DICTS_LIMIT)
    return _run_dlt("dicts", "python dicts (json.loads incl.)", records_jsonl, used, work)


def run_all(singer_file: Path, records_jsonl: Path, records: int, work: Path,
            only: list[str] | None = None) -> list[Result]:
    """Every peer in turn (or those named in `only`), each into `work`."""
    runs: dict[str, Callable[[], Result]] = {
        "target-duckdb": lambda: run_target_duckdb(singer_file, records, work),
        "dlt-arrow": lambda: run_dlt_arrow(records_jsonl, records, work),
        "dlt-dicts": lambda: run_dlt_dicts(records_jsonl, records, work),
    }
    return [run() for name, run in runs.items() if only is None or name in only]


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))


def main() -> None:
    parser = argparse.ArgumentParser(description="Measure the peers on one Singer file.")
    parser.add_argument("singer", type=Path, help="a Singer file made by bench/gen.py")
    parser.add_argument("--records-jsonl", type=Path,
                        help="its bare records (default: made beside it by run.py's "
                             "records_only)")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "data" / "peers")
    parser.add_argument("--only", action="append",
                        choices=["target-duckdb", "dlt-arrow", "dlt-dicts"])
    args = parser.parse_args()
    recs = args.records_jsonl
    if recs is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from run import records_only

        recs = records_only(args.singer.resolve())
    records = _count_lines(recs)
    for r in run_all(args.singer.resolve(), recs.resolve(), records, args.work.resolve(),
                     args.only):
        print(f"{r.name}: {r.records:,} records, {r.seconds:.2f} s, {r.rate:,.0f} records/s, "
              f"peak RSS {r.peak_mib:,.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
