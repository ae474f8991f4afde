"""Callback blocks at run time: which functions run after which block run, inside an
error boundary with a timeout, and what happened to each call.

A callback that raises or outlives ``callback_timeout`` is logged and recorded on
its block run; the other callbacks still run and the stream's outcome never
changes. A timed-out call is left to finish in its daemon thread: Python cannot
stop a thread, and sync does not wait for it.
"""

from __future__ import annotations

import fnmatch
import threading
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import structlog

from callbacks.kwargs import batch_kwargs, run_kwargs
from callbacks.loader import CallbackFunction, block_uuid_of, load_callback_file
from sync.errors import ConfigError, SyncError
from sync.plan import StreamPlan
from sync.runs import BlockRunEvent, RunSummary, StreamResult

log = structlog.get_logger("sync.callbacks")

Outcome = Literal["ok", "error", "timeout"]


@dataclass(frozen=True)
class CallbackBlock:
    """A callback file attached to parent blocks and streams."""

    uuid: str
    file: Path
    functions: tuple[CallbackFunction, ...]
    parents: frozenset[str]
    streams: tuple[str, ...]

    def watches(self, stream: str) -> bool:
        return any(fnmatch.fnmatchcase(stream, p) for p in self.streams)


@dataclass(frozen=True)
class CallbackResult:
    """What one call of one callback function did."""

    block_uuid: str
    function: str
    outcome: Outcome
    seconds: float
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"block_uuid": self.block_uuid, "function": self.function,
                "outcome": self.outcome, "seconds": self.seconds, "error": self.error}


class StreamsFailed(SyncError):
    """Given to run-level failure callbacks: which streams failed and why."""

    def __init__(self, failed: Sequence[StreamResult]) -> None:
        self.failed = tuple(failed)
        super().__init__("; ".join(f"{r.stream}: {r.error}" for r in failed))


def load_blocks(cfg: Any) -> tuple[CallbackBlock, ...]:
    """Load and check every callback block of a pipeline config."""
    blocks = []
    known = {cfg.source.uuid, cfg.destination.uuid}
    seen: set[str] = set()
    for i, item in enumerate(cfg.callbacks):
        uuid = block_uuid_of(item.file, item.uuid)
        if uuid in seen or uuid in known:
            raise ConfigError(f"callback block uuid {uuid!r} is used twice", file=str(cfg.file),
                              key=f"callbacks.{i}.uuid")
        seen.add(uuid)
        parents = frozenset(item.parents) if item.parents is not None else frozenset(known)
        unknown = sorted(parents - known)
        if unknown:
            raise ConfigError(f"unknown parent block {unknown[0]!r}; the blocks are "
                              f"{', '.join(sorted(known))}", file=str(cfg.file),
                              key=f"callbacks.{i}.parents")
        path = cfg.resolve(item.file)
        functions = load_callback_file(path, uuid=uuid, default_scope=item.scope)
        blocks.append(CallbackBlock(uuid, path, functions, parents, tuple(item.streams)))
    return tuple(blocks)


def check_streams(blocks: Iterable[CallbackBlock], offered: Iterable[str],
                  cfg: Any) -> None:
    """A callback's stream name that matches no stream of the tap is a config error."""
    names = set(offered)
    for i, block in enumerate(blocks):
        for pattern in block.streams:
            if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
                raise ConfigError(f"callback block {block.uuid!r}: no stream matches "
                                  f"{pattern!r} (streams: {', '.join(sorted(names))})",
                                  file=str(cfg.file), key=f"callbacks.{i}.streams")


def _call(fn: CallbackFunction, data: Any, kwargs: dict[str, Any],
          timeout: float) -> tuple[Outcome, str | None]:
    box: dict[str, BaseException] = {}

    def target() -> None:
        try:
            fn.call(data, kwargs)
        except BaseException as exc:  # noqa: BLE001 - user code: recorded, never raised
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"callback-{fn.name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return "timeout", f"still running after {timeout:g} s"
    error = box.get("error")
    if error is None:
        return "ok", None
    tb = "".join(traceback.format_exception(error))
    return "error", f"{type(error).__name__}: {error}\n{tb}"


class CallbackDispatcher:
    """An observer of the coordinator: runs the matching callbacks after each block run."""

    def __init__(self, blocks: Sequence[CallbackBlock], *, timeout: float,
                 recorder: Any = None) -> None:
        self.blocks = tuple(blocks)
        self.timeout = timeout
        self.recorder = recorder

    def _run(self, block: CallbackBlock, fn: CallbackFunction, data: Any,
             kwargs: dict[str, Any]) -> CallbackResult:
        started = time.monotonic()
        outcome, error = _call(fn, data, kwargs, self.timeout)
        seconds = round(time.monotonic() - started, 4)
        result = CallbackResult(block.uuid, fn.name, outcome, seconds,
                                error.splitlines()[0] if error else None)
        if outcome == "ok":
            log.debug("callback ran", callback=f"{block.uuid}.{fn.name}", seconds=seconds)
        elif outcome == "timeout":
            log.error("callback timed out", callback=f"{block.uuid}.{fn.name}",
                      timeout=self.timeout)
        else:
            log.error("callback raised", callback=f"{block.uuid}.{fn.name}", error=error)
        return result

    # ------------------------------------------------------------ observer

    def stream_started(self, plan: StreamPlan) -> None:
        pass

    def stream_finished(self, result: StreamResult) -> None:
        pass

    def block_run(self, event: BlockRunEvent) -> None:
        results: list[CallbackResult] = []
        data: Any = None
        built = False
        for block in self.blocks:
            if event.block_uuid not in block.parents or not block.watches(event.stream):
                continue
            for fn in block.functions:
                if fn.scope != "batch" or event.status not in fn.statuses:
                    continue
                if not built:
                    data, built = event.data(), True
                kwargs = batch_kwargs(event, block.uuid, data)
                results.append(self._run(block, fn, data, kwargs))
        if results and self.recorder is not None:
            self.recorder.record_callbacks(event, [r.as_dict() for r in results])

    def run_finished(self, summary: RunSummary,
                     event: Mapping[str, Any]) -> list[CallbackResult]:
        """Run-level callbacks, once, with the streams each block watches."""
        results = []
        for block in self.blocks:
            streams = tuple(s for s in summary.streams if block.watches(s.stream))
            failed = [s for s in streams if s.status != "success"]
            status = "failure" if failed or summary.run.status != "success" else "success"
            error: BaseException | None = StreamsFailed(failed) if failed else None
            if status == "failure" and error is None:
                error = SyncError(f"the run ended {summary.run.status}")
            for fn in block.functions:
                if fn.scope != "run" or status not in fn.statuses:
                    continue
                view = RunSummary(summary.run, streams, summary.ended_at, summary.destination)
                kwargs = run_kwargs(view, block.uuid, dict(event), error)
                kwargs["status"] = status
                results.append(self._run(block, fn, view, kwargs))
        return results
