"""A tap as a subprocess: temporary 0600 files, stderr to the logs, killed on failure."""

from __future__ import annotations

import collections
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson
import structlog

log = structlog.get_logger("sync.process")


def resolve_argv(spec: str | Sequence[str], base_dir: Path) -> list[str]:
    """The argv of a tap or target given as a name on PATH, a path, or a list."""
    argv = shlex.split(spec) if isinstance(spec, str) else list(spec)
    first = argv[0]
    if "/" in first:
        path = Path(first)
        argv[0] = str(path if path.is_absolute() else (base_dir / path).resolve())
    else:
        found = shutil.which(first)
        if found:
            argv[0] = found
    return argv


class TempFiles:
    """Private temporary JSON files (mode 0600), removed on close."""

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="sync-")
        os.chmod(self._dir, 0o700)

    def write(self, name: str, value: Mapping[str, Any]) -> str:
        return self.write_bytes(name, orjson.dumps(value))

    def write_bytes(self, name: str, data: bytes) -> str:
        path = os.path.join(self._dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return path

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)


class StderrTail:
    """Drains a process's stderr into the log, keeping the last lines for errors."""

    def __init__(self, pipe: IO[bytes], *, name: str, keep: int = 20) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=keep)
        self._name = name
        self._thread = threading.Thread(target=self._drain, args=(pipe,), daemon=True)
        self._thread.start()

    def _drain(self, pipe: IO[bytes]) -> None:
        for raw in pipe:
            text = raw.decode("utf-8", "replace").rstrip()
            if text:
                self.lines.append(text)
                log.debug("stderr", process=self._name, line=text[:2000])

    def text(self) -> str:
        self._thread.join(timeout=2)
        return "\n".join(self.lines)


@contextmanager
def spawn(argv: list[str], *, cwd: Path, name: str,
          stdin: int | None = subprocess.DEVNULL) -> Iterator[subprocess.Popen[bytes]]:
    """Run a process with piped stdout/stderr; kill it if the block exits early."""
    with owned(start(argv, cwd=cwd, stdin=stdin)) as proc:
        yield proc


def start(argv: list[str], *, cwd: Path | str,
          stdin: int | None = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    """Start a tap-like process: piped stdout and stderr, in a session of its own (so
    it and whatever it starts are killed together)."""
    return subprocess.Popen(argv, cwd=cwd, stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill a process started in a session of its own, with whatever it started."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()


def end(proc: subprocess.Popen[bytes], *pipes: IO[bytes] | None) -> None:
    """Kill (if still running) and reap a process, then close the given pipes of it."""
    kill_group(proc)
    proc.wait()
    for pipe in pipes:
        if pipe is not None:
            pipe.close()


@contextmanager
def owned(proc: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """Kill and reap a started process if the block exits before it has ended (its
    stderr is left to the thread that drains it)."""
    try:
        yield proc
    finally:
        end(proc, proc.stdout, proc.stdin)
