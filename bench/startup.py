"""Where a small run's fixed cost goes (python bench/startup.py).

Best of 15 wall times of: the interpreter alone; importing the libraries every
`sync run` needs (DuckDB, Arrow, pydantic, typer, structlog, PyYAML, filelock, orjson)
and nothing of sync; `sync --help`; and a 10-record `sync run` (prepared by
`make bench` in bench/data/work) against its tap alone.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SYNC = str(Path(PY).parent / "sync")
LIBRARIES = ("import sys; [sys.modules.setdefault(m, None) for m in "
             "('rich.console', 'rich.traceback', 'rich.pretty')]; "
             "import duckdb, pyarrow, pyarrow.json, pyarrow._compute, pydantic, typer, "
             "typer._adapters, structlog, yaml, filelock, orjson, sqlite3, zoneinfo")


def best(argv: list[str], n: int = 15) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    work = ROOT / "bench" / "data" / "work"
    rows = [("python -c pass", best([PY, "-c", "pass"])),
            ("import the libraries a run needs", best([PY, "-c", LIBRARIES])),
            ("sync --help", best([SYNC, "--help"]))]
    cfg, tap_config, catalog = work / "ten.yaml", work / "ten.json", work / "ten-catalog.json"
    if cfg.exists():
        tap = [PY, str(ROOT / "tests" / "taps" / "numbers_tap.py")]
        rows.append(("10-record tap alone",
                     best([*tap, "--config", str(tap_config), "--catalog", str(catalog)])))
        rows.append(("10-record sync run",
                     best([SYNC, "run", "--config", str(cfg), "--quiet", "--full-refresh"])))
    for name, seconds in rows:
        print(f"{name:36} {seconds:.3f} s")


if __name__ == "__main__":
    main()
