"""Start a pipeline's external taps while `sync run` itself is still starting up.

A tap written with a Python Singer SDK spends about half a second importing before it
writes its first line, and `sync run` spends about as long importing Arrow and DuckDB.
So, as soon as it has the pipeline file and its lock, `sync run` replays the first
launches of the pipeline's previous run (same tap, argv and catalog; this run's config
and environment; the bookmark the state database holds) and both start up side by side
on separate cores.

A replayed process is only a guess. When the run reaches the stream, it computes the
launch exactly as it would without one (the stream's committed state comes from the
destination) and adopts the waiting process only if every input is the same, byte for
byte: argv, working folder, environment, config, catalog and state. Otherwise the
process is killed (with its process group), reaped, and a fresh one started. What
loads is therefore the same either way; a wrong guess costs a tap start, and whatever
a tap does at the source when it starts (a pipeline whose taps must not start twice
sets ``source.start_early: false``). Waiting processes are killed when the run ends,
10 seconds after the first stream starts, and 30 seconds after they were started.

This module is imported before the heavy ones: standard library and orjson only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sync.process import TempFiles, end, kill_group, start
from sync.resume import split_skip
from sync.tap_cache import write_private

ADOPT_WINDOW = 10.0  # after the first stream starts
START_WINDOW = 30.0  # after the first early start


def environment_digest() -> str:
    """What a tap started now would inherit from the environment, as a digest."""
    items = sorted(os.environ.items())
    return hashlib.sha256(orjson.dumps(items)).hexdigest()


@dataclass(frozen=True)
class Launch:
    """Everything a tap process is started with, as compared for adoption."""

    stream: str
    argv: tuple[str, ...]
    cwd: str
    environment: str
    config: bytes
    catalog_flag: str
    catalog: bytes
    state: bytes | None

    @classmethod
    def of(cls, stream: str, argv: list[str], cwd: Path, config: Any, catalog_flag: str,
           catalog: Any, state: Any) -> Launch:
        """The launch, with the JSON documents in their own key order (a catalog's
        property order is a column order to the taps that echo it)."""
        return cls(stream, tuple(argv), str(cwd), environment_digest(), orjson.dumps(config),
                   catalog_flag, orjson.dumps(catalog),
                   None if state is None else orjson.dumps(state))

    def command(self, files: TempFiles) -> list[str]:
        """The argv with the config, catalog and state written to private files."""
        argv = [*self.argv, "--config", files.write_bytes("config.json", self.config),
                self.catalog_flag, files.write_bytes("catalog.json", self.catalog)]
        if self.state is not None:
            argv += ["--state", files.write_bytes("state.json", self.state)]
        return argv


_depth = 0  # main-thread sections that start or stop a tap process
_pending: list[int] = []


def defer_signal(signum: int) -> bool:
    """For `sync run`'s start-up signal handler: True when a tap process is being
    started or stopped right now; the signal is then raised again once that is done,
    so an interrupted run never loses track of a process."""
    if _depth:
        _pending.append(signum)
        return True
    return False


@contextlib.contextmanager
def _critical() -> Iterator[None]:
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers run in the main thread only
        return
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if not _depth and _pending:
            signum = _pending[0]
            _pending.clear()
            signal.raise_signal(signum)


def stop(proc: subprocess.Popen[bytes], files: TempFiles) -> None:
    """Kill and reap a process that will not be used, and remove its files."""
    with _critical():
        try:
            end(proc, proc.stdout, proc.stderr)
        finally:
            files.close()


def source_key(cfg: Any) -> str:
    """What the launch record is valid for: the tap as the pipeline file names it."""
    src = cfg.source
    return orjson.dumps([src.tap, src.pip_url, src.catalog, str(cfg.base_dir)]).decode()


class LaunchBook:
    """The launches of one pipeline's runs, kept in its work folder for the next run."""

    def __init__(self, folder: Path, pipeline: str, *, source: str, keep: int = 1) -> None:
        self.path = folder / "launches" / f"{pipeline}.json"
        self.source = source
        self.keep = keep  # the next run replays this many: only they are written
        self._lock = threading.Lock()
        self._launches: list[dict[str, Any]] = []

    def previous(self) -> list[dict[str, Any]]:
        """The launches of the last run of the same tap, in the order they were made."""
        try:
            value = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return []
        if not isinstance(value, dict) or value.get("source") != self.source:
            return []
        launches = value.get("launches")
        return [v for v in launches if isinstance(v, dict)] if isinstance(launches, list) \
            else []

    def forget(self) -> None:
        """Drop the record: the next run starts no tap early."""
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)

    def record(self, launch: Launch, *, uses_state: bool) -> None:
        """Note a launch of this run. The config, environment and state are not kept:
        the next run uses its own. ``uses_state``: the tap is given the stream's
        bookmark whenever there is one."""
        with self._lock:
            if len(self._launches) >= self.keep or \
                    any(e["stream"] == launch.stream for e in self._launches):
                return  # beyond what is replayed, or a retry of a stream already noted
            self._launches.append({
                "stream": launch.stream, "argv": list(launch.argv), "cwd": launch.cwd,
                "catalog_flag": launch.catalog_flag, "catalog": orjson.loads(launch.catalog),
                "uses_state": uses_state})
            # without the record the next run only starts its taps a little later
            with contextlib.suppress(OSError):
                write_private(self.path, orjson.dumps({"source": self.source,
                                                       "launches": self._launches}))


class Prelaunched:
    """Tap processes started ahead of their streams, waiting to be adopted.

    The streams that can adopt one are those the run starts first, all at once; a
    process still waiting ``adopt_window`` seconds after the first adoption attempt
    belongs to a stream that now runs later, if at all, and one still waiting
    ``start_window`` seconds after the first start belongs to a run that never got to
    its streams. Either is killed rather than left holding its source open."""

    def __init__(self, adopt_window: float = ADOPT_WINDOW,
                 start_window: float = START_WINDOW) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[Launch, subprocess.Popen[bytes], TempFiles]] = {}
        self._windows = {"adopt": adopt_window, "start": start_window}
        self._timers: dict[str, threading.Timer] = {}
        self._closed = False
        self.adopted = 0
        self.discarded = 0

    def streams(self) -> set[str]:
        with self._lock:
            return set(self._waiting)

    def _arm(self, which: str) -> None:
        """Start the named expiry timer once (call with the lock held)."""
        if which not in self._timers and not self._closed:
            timer = threading.Timer(self._windows[which], self._expire)
            timer.daemon = True
            self._timers[which] = timer
            timer.start()

    def add(self, launch: Launch) -> None:
        with _critical():
            files = TempFiles()
            try:
                proc = start(launch.command(files), cwd=launch.cwd)
            except BaseException:
                files.close()
                raise
            with self._lock:
                self._waiting[launch.stream] = (launch, proc, files)
                self._arm("start")

    def take(self, launch: Launch) -> tuple[subprocess.Popen[bytes], TempFiles] | None:
        """The waiting process for ``launch`` if it got exactly these inputs; a process
        for the same stream with other inputs is killed and reaped first."""
        with self._lock:
            found = self._waiting.pop(launch.stream, None)
            if self._waiting:
                self._arm("adopt")
            if found is not None and found[0] == launch:
                self.adopted += 1
                return found[1], found[2]
            if found is not None:
                self.discarded += 1
        if found is not None:
            stop(found[1], found[2])
        return None

    def close(self) -> None:
        """Kill every process that was not adopted; stop the expiry timers."""
        with self._lock:
            self._closed = True
            timers = list(self._timers.values())
        for timer in timers:
            timer.cancel()
            if timer is not threading.current_thread():
                timer.join()
        self._expire()

    def _expire(self) -> None:
        with _critical():
            with self._lock:
                left = list(self._waiting.values())
                self._waiting.clear()
                self.discarded += len(left)
            for _, proc, _ in left:
                kill_group(proc)  # all of them first: none waits on the others' reaping
            for _, proc, files in left:
                stop(proc, files)


def prelaunch(early: Prelaunched, *, book: LaunchBook, pipeline: str, state_db: Path,
              config: Any, full_refresh: bool, streams: frozenset[str]) -> None:
    """Replay the first launches of the pipeline's previous run into ``early``."""
    previous = book.previous()[:book.keep]
    if not previous:
        return
    bookmarks = _bookmarks(state_db, pipeline)
    for entry in previous:
        stream = entry.get("stream")
        if not isinstance(stream, str) or (streams and stream not in streams) or \
                stream in early.streams():
            continue
        state = split_skip(bookmarks.get(stream))[0] \
            if entry.get("uses_state") is True and not full_refresh else None
        try:
            launch = Launch.of(stream, list(entry["argv"]), Path(entry["cwd"]), config,
                               str(entry["catalog_flag"]), entry["catalog"], state)
        except (KeyError, TypeError, ValueError):
            continue  # a record this version cannot replay; the run starts the tap itself
        try:
            early.add(launch)
        except OSError:
            continue  # the run will say why when it starts this tap itself


def start_early(early: Prelaunched, cfg: Any, *, streams: Sequence[str], full_refresh: bool,
                refresh_catalog: bool) -> None:
    """Replay the previous run's first launches for ``cfg`` (a PipelineConfig) into
    ``early``, unless this run rediscovers its catalog or the pipeline opted out."""
    if refresh_catalog or not cfg.source.per_stream or not cfg.source.start_early:
        return
    book = LaunchBook(cfg.state_path.parent, cfg.pipeline, source=source_key(cfg),
                      keep=cfg.max_parallel_streams)
    prelaunch(early, book=book, pipeline=cfg.pipeline, state_db=cfg.state_path,
              config=cfg.source.config, full_refresh=full_refresh,
              streams=frozenset(streams))


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
