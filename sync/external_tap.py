"""An external Singer tap run as a process, one process per stream."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import orjson
import structlog

from sync.batch_files import batch_chunks
from sync.errors import SourceError
from sync.pipe import Cancelled, pipe_blocks, widen_pipe
from sync.plan import StreamPlan
from sync.prelaunch import Launch, LaunchBook, Prelaunched
from sync.process import StderrTail, TempFiles, owned, resolve_argv, spawn
from sync.reader import SingerReader
from sync.singer import ControlMessage, SourceEvent, select_entry, stream_name
from sync.tap_cache import TapCache

log = structlog.get_logger("sync.external_tap")


class ExternalTap:
    """Any Singer tap executable: ``--discover``, then ``--catalog`` and ``--state``."""

    def __init__(self, spec: str | tuple[str, ...], config: Mapping[str, Any], base_dir: Path,
                 catalog_file: Path | None = None, idle_timeout: float | None = None,
                 cache_dir: Path | None = None, refresh: bool = False,
                 launches: LaunchBook | None = None,
                 prelaunched: Prelaunched | None = None) -> None:
        self.idle_timeout = idle_timeout
        self.launches = launches
        self.prelaunched = prelaunched
        self.argv = resolve_argv(spec, base_dir)
        self.config = dict(config)
        self.base_dir = base_dir
        self.catalog_file = catalog_file
        self.name = Path(self.argv[0]).name
        self.cache = TapCache(cache_dir, self.argv, self.config) if cache_dir else None
        self.refresh = refresh
        self._catalog: dict[str, Any] | None = None
        self._capabilities: frozenset[str] | None = None

    def capabilities(self) -> frozenset[str]:
        """What the tap says it supports (``--about --format json``); empty if it won't say.

        Asked without ``--config``: a tap that does not know ``--about`` then fails at
        once instead of starting a sync."""
        if self._capabilities is None and self.cache is not None and not self.refresh:
            cached = self.cache.get("about")
            if isinstance(cached, list):
                self._capabilities = frozenset(str(c) for c in cached)
        if self._capabilities is None:
            try:
                done = subprocess.run([*self.argv, "--about", "--format", "json"],
                                      cwd=self.base_dir, capture_output=True, check=False,
                                      timeout=60, stdin=subprocess.DEVNULL)
                about = orjson.loads(done.stdout) if done.returncode == 0 else {}
            except (OSError, subprocess.TimeoutExpired, orjson.JSONDecodeError):
                about = {}
            caps = about.get("capabilities") if isinstance(about, dict) else None
            self._capabilities = frozenset(str(c) for c in caps) if isinstance(caps, list) \
                else frozenset()
            if self.cache is not None:
                self.cache.put("about", sorted(self._capabilities))
        return self._capabilities

    def _catalog_flag(self) -> str:
        caps = self.capabilities()
        return "--properties" if "properties" in caps and "catalog" not in caps \
            else "--catalog"

    def discover(self) -> dict[str, Any]:
        """Run the tap with ``--discover`` (or read the configured catalog file)."""
        if self._catalog is not None:
            return self._catalog
        if self.catalog_file is None and self.cache is not None and not self.refresh:
            cached = self.cache.get("catalog")
            if isinstance(cached, dict) and isinstance(cached.get("streams"), list):
                self._catalog = cached
                return cached
        if self.catalog_file is not None:
            try:
                catalog = orjson.loads(self.catalog_file.read_bytes())
            except (OSError, orjson.JSONDecodeError) as exc:
                raise SourceError(f"cannot read catalog {self.catalog_file}: {exc}") from None
        else:
            files = TempFiles()
            try:
                cfg = files.write("config.json", self.config)
                try:
                    done = subprocess.run([*self.argv, "--config", cfg, "--discover"],
                                          cwd=self.base_dir, capture_output=True, check=False,
                                          stdin=subprocess.DEVNULL)
                except OSError as exc:
                    raise SourceError(f"cannot start tap {self.name}: {exc}") from None
            finally:
                files.close()
            if done.returncode != 0:
                tail = done.stderr.decode("utf-8", "replace").strip()[-2000:]
                raise SourceError(f"tap {self.name} --discover exited with code "
                                  f"{done.returncode}: {tail}")
            try:
                catalog = orjson.loads(done.stdout)
            except orjson.JSONDecodeError as exc:
                raise SourceError(f"tap {self.name} --discover did not print a JSON catalog: "
                                  f"{exc}") from None
        if not isinstance(catalog, dict) or not isinstance(catalog.get("streams"), list):
            raise SourceError(f"tap {self.name}: the catalog has no 'streams' list")
        if self.cache is not None and self.catalog_file is None:
            self.cache.put("catalog", catalog)
        self._catalog = catalog
        return catalog

    @contextmanager
    def read(self, plan: StreamPlan, state: Mapping[str, Any] | None,
             cancel: threading.Event) -> Iterator[Iterator[SourceEvent]]:
        """One stream: the tap runs with a catalog that selects only it."""
        with self._run([plan], state, cancel, plan.stream) as events:
            yield events

    @contextmanager
    def read_all(self, plans: Sequence[StreamPlan], state: Mapping[str, Any] | None,
                 cancel: threading.Event) -> Iterator[Iterator[SourceEvent]]:
        """Every planned stream from one tap process."""
        with self._run(plans, state, cancel, None) as events:
            yield events

    @contextmanager
    def _run(self, plans: Sequence[StreamPlan], state: Mapping[str, Any] | None,
             cancel: threading.Event, stream: str | None) -> Iterator[Iterator[SourceEvent]]:
        chosen = {p.stream: p.catalog_entry for p in plans}
        catalog = {"streams": [chosen.get(stream_name(e)) or select_entry(e, selected=False)
                               for e in self.discover()["streams"]]}
        caps = self.capabilities()
        takes_state = not caps or "state" in caps
        passed = state if state and takes_state else None
        launch = Launch.of(stream or "", self.argv, self.base_dir, self.config,
                           self._catalog_flag(), catalog, passed)
        with ExitStack() as stack:
            found = self.prelaunched.take(launch) \
                if stream is not None and self.prelaunched is not None else None
            if found is not None:
                proc, files = found
                stack.callback(files.close)
                stack.enter_context(owned(proc))
                log.debug("tap process started ahead of the stream adopted", pid=proc.pid)
            else:
                files = TempFiles()
                stack.callback(files.close)
                try:
                    proc = stack.enter_context(spawn(launch.command(files), cwd=self.base_dir,
                                                     name=self.name))
                except OSError as exc:
                    raise SourceError(f"cannot start tap {self.name}: {exc}",
                                      stream=stream) from None
            if stream is not None and self.launches is not None:
                self.launches.record(launch, uses_state=takes_state and all(
                    p.replication_method != "FULL_TABLE" for p in plans))
            assert proc.stderr is not None
            tail = StderrTail(proc.stderr, name=self.name)
            yield self._events(proc, tail, stream, cancel)

    def _events(self, proc: subprocess.Popen[bytes], tail: StderrTail, stream: str | None,
                cancel: threading.Event) -> Iterator[SourceEvent]:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        widen_pipe(fd)
        reader = SingerReader(expect_stream=stream)
        blocks = pipe_blocks(fd, cancel=cancel, idle_timeout=self.idle_timeout,
                             stream=stream)
        try:
            for event in reader.read_blocks(blocks):
                if cancel.is_set():
                    return
                if isinstance(event, ControlMessage) and event.type == "BATCH":
                    schema = reader.schemas.get(event.stream)
                    if schema is None:
                        raise SourceError("BATCH before any SCHEMA for its stream",
                                          stream=event.stream, line=event.line)
                    yield from batch_chunks(event, schema)
                    continue
                yield event
        except Cancelled:
            return
        except SourceError:
            proc.kill()
            raise
        code = proc.wait()
        if code != 0:
            raise SourceError(f"tap {self.name} exited with code {code}: "
                              f"{tail.text()[-2000:] or '(no stderr)'}", stream=stream,
                              line=reader.lines_read or None)
