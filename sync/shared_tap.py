"""One tap process for every stream (``source.per_stream: false``), split by stream.

A reader thread runs the tap once with every selected stream and routes each
stream's events to that stream's bounded queue; STATE messages go to every
stream. Each stream is then cut into batches and loaded exactly as with a tap per
stream. All streams of the tap run at once (a stream nobody reads would stall
the tap), and they all end when the tap's output ends.

State: the tap's STATE covers every stream, so each stream commits the whole
value with its batches; the next run hands the tap, for every stream, the
bookmark that stream itself committed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from sync.errors import StreamError
from sync.plan import StreamPlan
from sync.singer import ControlMessage, RecordChunk, SchemaMessage, SourceEvent, StateMessage

_END = object()
QUEUE_EVENTS = 16


class MultiStreamSource(Protocol):
    def discover(self) -> dict[str, Any]: ...

    def read_all(self, plans: Sequence[StreamPlan], state: Mapping[str, Any] | None,
                 cancel: threading.Event) -> AbstractContextManager[Iterator[SourceEvent]]: ...


def merge_states(states: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """One tap state from each stream's committed state: each stream's own bookmark."""
    bookmarks: dict[str, Any] = {}
    for stream, state in states.items():
        entry = ((state or {}).get("bookmarks") or {}).get(stream)
        if entry is not None:
            bookmarks[stream] = entry
    return {"bookmarks": bookmarks} if bookmarks else None


def _merge(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    bookmarks = {**(old.get("bookmarks") or {}), **(new.get("bookmarks") or {})}
    return {**old, **new, "bookmarks": bookmarks}


class SharedTap:
    """Looks like a per-stream Source to the coordinator; runs the tap once."""

    def __init__(self, source: MultiStreamSource, plans: Sequence[StreamPlan],
                 state: Mapping[str, Any] | None, cancel: threading.Event) -> None:
        self._source = source
        self._plans = list(plans)
        self._state = state
        self._cancel = cancel
        self._queues = {p.stream: queue.Queue[Any](maxsize=QUEUE_EVENTS) for p in plans}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def discover(self) -> dict[str, Any]:
        return self._source.discover()

    def _put(self, stream: str, item: Any) -> None:
        q = self._queues[stream]
        while not self._stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._cancel.is_set():
                    self._stop.set()

    def _run(self) -> None:
        merged: dict[str, Any] = dict(self._state or {})
        try:
            with self._source.read_all(self._plans, self._state, self._stop) as events:
                for event in events:
                    if isinstance(event, StateMessage):
                        # Some taps send only the current stream's bookmark: keep them all.
                        merged = _merge(merged, event.value)
                        cumulative = StateMessage(merged, event.line)
                        for stream in self._queues:
                            self._put(stream, cumulative)
                    elif isinstance(event, RecordChunk | SchemaMessage | ControlMessage) and \
                            event.stream in self._queues:
                        self._put(event.stream, event)
            for stream in self._queues:
                self._put(stream, _END)
        except BaseException as exc:  # noqa: BLE001 - every stream of the tap fails with it
            for stream in self._queues:
                self._put(stream, exc)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="shared-tap",
                                                daemon=True)
                self._thread.start()

    @contextmanager
    def read(self, plan: StreamPlan, state: Mapping[str, Any] | None,
             cancel: threading.Event) -> Iterator[Iterator[SourceEvent]]:
        self._start()
        yield self._events(plan.stream, cancel)

    def _events(self, stream: str, cancel: threading.Event) -> Iterator[SourceEvent]:
        q = self._queues[stream]
        while True:
            try:
                item = q.get(timeout=0.2)
            except queue.Empty:
                if cancel.is_set() and self._cancel.is_set():
                    self._stop.set()
                    return
                continue
            if item is _END:
                return
            if isinstance(item, StreamError):
                # The tap failed every stream: each gets its own error to annotate.
                raise type(item)(item.detail, stream=stream, line=item.line) from item
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
