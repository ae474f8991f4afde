"""One measured command: wall time and peak RSS of its process (os.wait4)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Result:
    """A benchmark figure: what ran, on how many records, how long, how much memory."""

    name: str
    records: int
    seconds: float
    peak_mib: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds


def measure(name: str, argv: list[str], records: int, cwd: Path = ROOT,
            stdin: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """Run ``argv`` as its own process (optionally with a file on stdin) and measure it."""
    with (stdin.open("rb") if stdin else open(os.devnull, "rb")) as src:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdin=src, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return Result(name, records, seconds, usage.ru_maxrss / 1024)
