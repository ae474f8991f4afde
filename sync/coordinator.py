"""The batch coordinator: the one place that knows both a source and a destination.

For every stream it runs ``source:S:0 -> destination:S:0 -> source:S:1 -> ...``.
Extraction of the next batch overlaps loading of the current one through a
bounded queue, so memory stays flat. After every block run it emits a
``BlockRunEvent`` to its observers, in contract order. A failing stream never
stops the others; retries resume from the last committed state.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa
import structlog

from sync.batcher import Batch, cut_batches
from sync.destination import Destination
from sync.errors import DestinationError, SourceError, StateError, StreamError
from sync.executor import Executor
from sync.outbox import Entry, Outbox
from sync.plan import StreamPlan
from sync.resume import split_skip
from sync.runs import BlockRunEvent, BlockStatus, BlockType, PipelineRun, StreamResult
from sync.source import Source
from sync.state import SQLiteStore

log = structlog.get_logger("sync.coordinator")

QUEUE_DEPTH = 2


class Observer(Protocol):
    """Told about every stream start, block run and stream end."""

    def stream_started(self, plan: StreamPlan) -> None: ...

    def block_run(self, event: BlockRunEvent) -> None: ...

    def stream_finished(self, result: StreamResult) -> None: ...


@dataclass(frozen=True)
class RunContext:
    """What every stream of one pipeline run shares."""

    run: PipelineRun
    source_uuid: str
    destination_uuid: str
    event: Mapping[str, Any]
    full_refresh: bool = False
    retries: int = 0
    retry_backoff: float = 2.0


class _Cancelled(Exception):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


class Coordinator:
    """Runs stream plans through a source and a destination."""

    def __init__(self, ctx: RunContext, source: Source, destination: Destination,
                 store: SQLiteStore, observers: Sequence[Observer], executor: Executor,
                 cancel: threading.Event | None = None) -> None:
        self.ctx = ctx
        self.source = source
        self.destination = destination
        self.store = store
        self.observers = list(observers)
        self.executor = executor
        self.cancel = cancel or threading.Event()

    def run(self, plans: Sequence[StreamPlan]) -> list[StreamResult]:
        """Every plan's result, in plan order."""
        return self.executor.map(self._stream, list(plans))

    # ------------------------------------------------------------ observers

    def _notify(self, method: str, *args: Any) -> None:
        for obs in self.observers:
            try:
                getattr(obs, method)(*args)
            except Exception:
                log.exception("observer failed", observer=type(obs).__name__, hook=method)

    def _emit(self, plan: StreamPlan, block_type: BlockType, index: int, is_last: bool,
              status: BlockStatus, started: datetime, rows: int,
              error: BaseException | None = None, table: pa.Table | None = None,
              ended: datetime | None = None,
              data: Callable[[], pa.Table] | None = None) -> None:
        uuid = self.ctx.source_uuid if block_type == "source" else self.ctx.destination_uuid
        event = BlockRunEvent(
            pipeline_run=self.ctx.run, pipeline_uuid=self.ctx.run.pipeline_uuid,
            block_uuid=uuid, block_type=block_type, stream=plan.stream,
            destination_table=plan.destination_table, index=index, is_last_block_run=is_last,
            status=status, started_at=started, ended_at=ended or _now(), rows=rows,
            event=self.ctx.event, error=error, data=data or (lambda: table))
        structlog.contextvars.bind_contextvars(block_run=event.uuid)
        if status == "success":
            log.debug("block run succeeded", rows=rows, is_last_block_run=is_last)
        else:
            log.error("block run failed", error=str(error))
        self._notify("block_run", event)

    # ------------------------------------------------------------ streams

    def saved_state(self, plan: StreamPlan) -> dict[str, Any] | None:
        """The state a stream resumes from: the last committed one (none on full refresh)."""
        if self.ctx.full_refresh or plan.replication_method == "FULL_TABLE":
            return None
        if self.destination.transactional:
            return self.destination.committed_state(plan.stream)
        return self.store.get_bookmark(self.ctx.run.pipeline_uuid, plan.stream)

    def _stream(self, plan: StreamPlan) -> StreamResult:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(pipeline=self.ctx.run.pipeline_uuid,
                                               run_id=self.ctx.run.id, stream=plan.stream)
        self._notify("stream_started", plan)
        started = time.monotonic()
        index, rows, batches, attempt = 0, 0, 0, 0
        run_state: dict[str, Any] | None = None
        error: BaseException | None = None
        status: Any = "success"
        while True:
            attempt += 1
            saved = run_state if run_state is not None else self.saved_state(plan)
            state, skip = split_skip(saved)
            truncate = plan.write_mode == "replace" and run_state is None
            progress = _Progress(index)
            try:
                self._attempt(plan, state, skip, truncate, progress)
                rows += progress.rows
                batches += progress.batches
                error = None
                break
            except _Cancelled:
                rows += progress.rows
                batches += progress.batches
                status, error = "cancelled", None
                break
            except Exception as exc:  # noqa: BLE001 - a stream's failure stays in the stream
                rows += progress.rows
                batches += progress.batches
                index = progress.index
                if progress.state is not None:
                    run_state = dict(progress.state)
                error = exc
                if attempt > self.ctx.retries or self.cancel.is_set():
                    status = "failed"
                    break
                delay = self.ctx.retry_backoff * (2 ** (attempt - 1))
                log.warning("stream failed, retrying", attempt=attempt, delay=delay,
                            error=str(exc))
                if self.cancel.wait(delay):
                    status = "failed"
                    break
        result = StreamResult(plan.stream, plan.destination_table, status, rows, batches,
                              round(time.monotonic() - started, 3), attempt,
                              str(error) if error else None,
                              error.block_run if isinstance(error, StreamError) else None)
        structlog.contextvars.unbind_contextvars("block_run")
        if status == "success":
            log.info("stream finished", rows=rows, batches=batches, seconds=result.seconds)
        else:
            log.error("stream " + status, rows=rows, batches=batches, error=result.error)
        self._notify("stream_finished", result)
        return result

    def _attempt(self, plan: StreamPlan, state: Mapping[str, Any] | None, skip: int,
                 truncate: bool, progress: _Progress) -> None:
        q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=QUEUE_DEPTH)
        stop = threading.Event()
        producer = threading.Thread(target=self._produce, name=f"extract-{plan.stream}",
                                    args=(plan, state, skip, progress.index, q, stop),
                                    daemon=True)
        producer.start()
        ok = False
        try:
            self._consume(plan, truncate, progress, q)
            ok = True
        finally:
            stop.set()
            while producer.is_alive():
                with contextlib.suppress(queue.Empty):
                    q.get(timeout=0.05)
            producer.join()
            try:
                self.destination.end_stream(plan.stream, ok=ok)
            except Exception as exc:  # noqa: BLE001 - raised only after a clean stream
                if ok:
                    raise _as_stream_error(exc, plan.stream, f"{self.ctx.destination_uuid}:"
                                           f"{plan.stream}:{progress.index}",
                                           DestinationError) from None

    def _produce(self, plan: StreamPlan, state: Mapping[str, Any] | None, skip: int,
                 first_index: int, q: queue.Queue[tuple[str, Any]],
                 stop: threading.Event) -> None:
        structlog.contextvars.bind_contextvars(pipeline=self.ctx.run.pipeline_uuid,
                                               run_id=self.ctx.run.id, stream=plan.stream)

        def put(item: tuple[str, Any]) -> bool:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    if self.cancel.is_set():
                        stop.set()
            return False

        watcher = threading.Thread(target=_link, args=(self.cancel, stop), daemon=True)
        watcher.start()
        try:
            with self.source.read(plan, state, stop) as events:
                exact = plan.write_mode in ("append", "replace")  # no key to dedupe on
                for batch in cut_batches(events, stream=plan.stream, batch_size=plan.batch_size,
                                         first_index=first_index, exact=exact, skip=skip):
                    if not put(("batch", batch)):
                        return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
            put(("error", exc))
            return
        put(("end", None))

    def _consume(self, plan: StreamPlan, truncate: bool, progress: _Progress,
                 q: queue.Queue[tuple[str, Any]]) -> None:
        def emit(entry: Entry, error: BaseException | None) -> None:
            status: BlockStatus = "failure" if error is not None else "success"
            self._emit(plan, entry.kind, entry.batch.index, entry.batch.is_last, status,
                       entry.started, 0 if error else entry.rows, error,
                       data=entry.data.load, ended=entry.ended)

        def confirmed(entry: Entry) -> None:
            progress.committed(entry.batch, entry.rows)
            self._mirror_state(plan, entry.batch)

        outbox = Outbox(emit, confirmed)
        try:
            self._consume_into(plan, truncate, progress, q, outbox)
        finally:
            outbox.close()

    def _consume_into(self, plan: StreamPlan, truncate: bool, progress: _Progress,
                      q: queue.Queue[tuple[str, Any]], outbox: Outbox) -> None:
        extract_started = _now()
        written = -1
        while True:
            kind, payload = self._get(q)
            if kind == "end":
                return
            if kind == "error":
                # What was handed over before the tap failed is still good: confirm it.
                self._finish_destination(plan, outbox, written)
                exc = _as_stream_error(payload, plan.stream,
                                       f"{self.ctx.source_uuid}:{plan.stream}:{progress.index}",
                                       SourceError)
                self._emit(plan, "source", progress.index, False, "failure", extract_started,
                           0, exc, table=plan.schema.arrow.empty_table())
                raise exc
            batch: Batch = payload
            outbox.source(batch)
            load_started = _now()
            block_run = f"{self.ctx.destination_uuid}:{plan.stream}:{batch.index}"
            try:
                loaded = self.destination.write(
                    stream=plan.stream, table_name=plan.destination_table, data=batch.table,
                    schema=batch.schema.arrow, json_schema=batch.schema.json_schema,
                    state=batch.commit_state(), mode=plan.write_mode,
                    keys=batch.schema.key_properties or plan.key_properties,
                    truncate=truncate, run_id=self.ctx.run.id, batch_index=batch.index,
                    is_last=batch.is_last, block_run=block_run)
                truncate = False
                written = batch.index
                outbox.destination(batch, load_started, loaded)
                outbox.confirm_through(self.destination.confirmed(plan.stream, batch.index))
            except Exception as exc:  # noqa: BLE001 - wrapped with its stream and block run
                err = _as_stream_error(exc, plan.stream, block_run, DestinationError)
                if outbox.fail(err) is None:
                    self._emit(plan, "destination", batch.index, batch.is_last, "failure",
                               load_started, 0, err, table=batch.table)
                raise err from None
            extract_started = _now()
            if batch.is_last:
                self._finish_destination(plan, outbox, batch.index)
                return

    def _finish_destination(self, plan: StreamPlan, outbox: Outbox, last: int) -> None:
        """End the stream's input at the destination; all it took is then confirmed."""
        if not outbox.unconfirmed:
            return
        try:
            self.destination.end_stream(plan.stream, ok=True)
        except Exception as exc:  # noqa: BLE001 - wrapped with its stream and block run
            err = _as_stream_error(exc, plan.stream, None, DestinationError)
            failed = outbox.fail(err)
            if failed is not None and err.block_run is None:
                err.block_run = f"{self.ctx.destination_uuid}:{plan.stream}:{failed.batch.index}"
            raise err from None
        outbox.confirm_through(last)

    def _get(self, q: queue.Queue[tuple[str, Any]]) -> tuple[str, Any]:
        if self.cancel.is_set():
            raise _Cancelled()  # no new block run once the run is being stopped
        while True:
            try:
                return q.get(timeout=0.2)
            except queue.Empty:
                if self.cancel.is_set():
                    raise _Cancelled() from None

    def _mirror_state(self, plan: StreamPlan, batch: Batch) -> None:
        state = batch.commit_state()
        if state is None:
            return
        try:
            self.store.set_bookmark(self.ctx.run.pipeline_uuid, plan.stream, state,
                                    self.ctx.run.id)
        except StateError:
            if not self.destination.transactional:
                raise
            log.warning("could not copy the committed state to the state store; the "
                        "destination keeps it", exc_info=True)


class _Progress:
    """What one attempt of a stream has committed so far."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.rows = 0
        self.batches = 0
        self.state: Mapping[str, Any] | None = None

    def committed(self, batch: Batch, rows: int) -> None:
        self.index = batch.index + 1
        self.rows += rows
        self.batches += 1
        state = batch.commit_state()
        if state is not None:
            self.state = state


def _link(cancel: threading.Event, stop: threading.Event) -> None:
    """Set ``stop`` when the run is cancelled; end when the attempt stops."""
    while not stop.wait(0.2):
        if cancel.is_set():
            stop.set()
            return


def _as_stream_error(exc: BaseException, stream: str, block_run: str | None,
                     kind: type[StreamError]) -> StreamError:
    if isinstance(exc, StreamError):
        if exc.block_run is None:
            exc.block_run = block_run
        if exc.stream is None:
            exc.stream = stream
        return exc
    err = kind(f"{type(exc).__name__}: {exc}", stream=stream, block_run=block_run)
    err.__cause__ = exc
    err.__traceback__ = exc.__traceback__
    return err
