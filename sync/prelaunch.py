"""Start a pipeline's external taps while `sync run` itself is still starting up.

A tap written with a Python Singer SDK spends about half a second importing before it
writes its first line, and `sync run` spends about as long importing Arrow and DuckDB.
So, right after reading the pipeline file, `sync run` replays the first launches of
the pipeline's previous run (the same argv, config and catalog, and the bookmark the
state database holds) and both start up side by side on separate cores.

A replayed process is only a guess. When the run reaches the stream, it computes the
launch exactly as it would without one (the stream's committed state comes from the
destination) and adopts the waiting process only if every input is the same, byte for
byte; otherwise the process is killed, reaped, and a fresh one started. Processes not
adopted are killed when the run ends. A tap gets the same inputs either way, so the
guess can cost CPU but never changes what is loaded.

This module is imported before the heavy ones: standard library and orjson only.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sync.process import TempFiles

_SORTED = orjson.OPT_SORT_KEYS


@dataclass(frozen=True)
class Launch:
    """Everything a tap process is started with, as compared for adoption."""

    stream: str
    argv: tuple[str, ...]
    cwd: str
    config: bytes
    catalog_flag: str
    catalog: bytes
    state: bytes | None

    @classmethod
    def of(cls, stream: str, argv: list[str], cwd: Path, config: Any, catalog_flag: str,
           catalog: Any, state: Any) -> Launch:
        return cls(stream, tuple(argv), str(cwd), orjson.dumps(config, option=_SORTED),
                   catalog_flag, orjson.dumps(catalog, option=_SORTED),
                   None if state is None else orjson.dumps(state, option=_SORTED))

    def command(self, files: TempFiles) -> list[str]:
        """The argv with the config, catalog and state written to private files."""
        argv = [*self.argv, "--config", files.write_bytes("config.json", self.config),
                self.catalog_flag, files.write_bytes("catalog.json", self.catalog)]
        if self.state is not None:
            argv += ["--state", files.write_bytes("state.json", self.state)]
        return argv


def start(launch: Launch) -> tuple[subprocess.Popen[bytes], TempFiles]:
    """Start a tap process for ``launch``, the way every tap process is started."""
    files = TempFiles()
    try:
        proc = subprocess.Popen(launch.command(files), cwd=launch.cwd,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
    except BaseException:
        files.close()
        raise
    return proc, files


def stop(proc: subprocess.Popen[bytes], files: TempFiles) -> None:
    """Kill and reap a process that will not be used, and remove its files."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    files.close()


class LaunchBook:
    """The launches of one pipeline's runs, kept in its work folder for the next run."""

    def __init__(self, folder: Path, pipeline: str, keep: int = 1) -> None:
        self.path = folder / "launches" / f"{pipeline}.json"
        self.keep = keep  # the next run replays this many: only they are written
        self._lock = threading.Lock()
        self._launches: list[dict[str, Any]] = []

    def previous(self) -> list[dict[str, Any]]:
        """The launches of the last run, in the order they were made."""
        try:
            value = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return []
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []

    def forget(self) -> None:
        """Drop the record: the next run starts no tap early."""
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)

    def record(self, launch: Launch, *, uses_state: bool) -> None:
        """Note a launch of this run. The config and the state are not kept: the next
        run reads them afresh. ``uses_state``: the tap is given the stream's bookmark
        whenever there is one."""
        entry = {"stream": launch.stream, "argv": list(launch.argv), "cwd": launch.cwd,
                 "catalog_flag": launch.catalog_flag,
                 "catalog": orjson.loads(launch.catalog), "uses_state": uses_state}
        with self._lock:
            if len(self._launches) >= self.keep or \
                    any(e["stream"] == launch.stream for e in self._launches):
                return  # beyond what is replayed, or a retry of a stream already noted
            self._launches.append(entry)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                tmp = self.path.with_suffix(".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(orjson.dumps(self._launches))
                os.replace(tmp, self.path)
            except OSError:
                pass  # without the record the next run only starts its taps a little later


ADOPT_WINDOW = 10.0


class Prelaunched:
    """Tap processes started ahead of their streams, waiting to be adopted.

    The streams that can adopt one are those the run starts first, all at once; a
    process still waiting ``window`` seconds after the first adoption attempt belongs
    to a stream that now runs later, if at all, and is killed rather than left holding
    its source open."""

    def __init__(self, window: float = ADOPT_WINDOW) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[Launch, subprocess.Popen[bytes], TempFiles]] = {}
        self._window = window
        self._timer: threading.Timer | None = None
        self.adopted = 0
        self.discarded = 0

    def streams(self) -> set[str]:
        with self._lock:
            return set(self._waiting)

    def add(self, launch: Launch) -> None:
        proc, files = start(launch)
        with self._lock:
            self._waiting[launch.stream] = (launch, proc, files)

    def take(self, launch: Launch) -> tuple[subprocess.Popen[bytes], TempFiles] | None:
        """The waiting process for ``launch`` if it got exactly these inputs; a process
        for the same stream with other inputs is killed and reaped first."""
        with self._lock:
            found = self._waiting.pop(launch.stream, None)
            if self._timer is None and self._waiting:
                self._timer = threading.Timer(self._window, self._expire)
                self._timer.daemon = True
                self._timer.start()
        if found is None:
            return None
        guess, proc, files = found
        if guess == launch:
            with self._lock:
                self.adopted += 1
            return proc, files
        with self._lock:
            self.discarded += 1
        stop(proc, files)
        return None

    def close(self) -> None:
        """Kill every process that was not adopted."""
        with self._lock:
            timer = self._timer
        if timer is not None:
            timer.cancel()
        self._expire()

    def _expire(self) -> None:
        with self._lock:
            left = list(self._waiting.values())
            self._waiting.clear()
            self.discarded += len(left)
        for _, proc, files in left:
            stop(proc, files)


def prelaunch(*, pipeline: str, work: Path, state_db: Path, config: Any, slots: int,
              full_refresh: bool, streams: frozenset[str]) -> Prelaunched:
    """Replay the first ``slots`` launches of the pipeline's previous run."""
    waiting = Prelaunched()
    previous = LaunchBook(work, pipeline).previous()[:slots]
    if not previous:
        return waiting
    bookmarks = _bookmarks(state_db, pipeline)
    for entry in previous:
        stream = entry.get("stream")
        if not isinstance(stream, str) or (streams and stream not in streams) or \
                stream in waiting.streams():
            continue
        state = bookmarks.get(stream) or None \
            if entry.get("uses_state") is True and not full_refresh else None
        try:
            launch = Launch.of(stream, list(entry["argv"]), Path(entry["cwd"]), config,
                               str(entry["catalog_flag"]), entry["catalog"], state)
            waiting.add(launch)
        except (KeyError, TypeError, ValueError, OSError):
            continue  # a record this version cannot replay; the run starts the tap itself
    return waiting


def _bookmarks(path: Path, pipeline: str) -> dict[str, Any]:
    """The stream bookmarks the state database holds, read without waiting on locks."""
    if not path.is_file():
        return {}
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.2)
        try:
            rows = con.execute("SELECT stream, state FROM bookmarks WHERE pipeline = ?",
                               (pipeline,)).fetchall()
        finally:
            con.close()
        return {str(s): orjson.loads(v) for s, v in rows}
    except (sqlite3.Error, orjson.JSONDecodeError):
        return {}


def start_early(cfg: Any, *, streams: Sequence[str], full_refresh: bool,
                refresh_catalog: bool) -> Prelaunched:
    """Replay the previous run's first launches for ``cfg`` (a PipelineConfig), unless
    this run will rediscover its catalog."""
    if refresh_catalog or not cfg.source.per_stream or not cfg.source.start_early:
        return Prelaunched()
    return prelaunch(pipeline=cfg.pipeline, work=cfg.state_path.parent,
                     state_db=cfg.state_path, config=cfg.source.config,
                     slots=cfg.max_parallel_streams, full_refresh=full_refresh,
                     streams=frozenset(streams))
