"""One pipeline run, from config to summary: lock, discover, plan, coordinate, record."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog

from callbacks.alerts import AlertDispatcher
from callbacks.runtime import CallbackBlock, CallbackDispatcher, check_streams, load_blocks
from sync.config import PipelineConfig
from sync.coordinator import Coordinator, Observer, RunContext
from sync.destination import Destination, UnavailableDestination
from sync.errors import ConfigError, DestinationError, SourceError
from sync.executor import Executor, ThreadExecutor
from sync.history import HistoryRecorder
from sync.locks import pipeline_lock, work_dir
from sync.plan import StreamPlan, build_plans
from sync.prelaunch import LaunchBook, Prelaunched, source_key
from sync.runs import RunStatus, RunSummary
from sync.secrets import pipeline_redactor
from sync.shared_tap import SharedTap, merge_states
from sync.singer import catalog_streams, stream_name
from sync.source import Source
from sync.state import SQLiteStore

log = structlog.get_logger("sync.runner")


def _argv(cfg: PipelineConfig, spec: str | tuple[str, ...], pip_url: str | None,
          key: str) -> str | tuple[str, ...] | list[str]:
    if pip_url is None:
        return spec
    from sync.plugins import plugin_argv, plugins_root

    try:
        return plugin_argv(spec, pip_url, plugins_root(work_dir(cfg)), key=key)
    except ConfigError as exc:
        raise _with_file(exc, cfg) from None


def make_source(cfg: PipelineConfig, *, refresh_catalog: bool = False,
                prelaunched: Prelaunched | None = None, record: bool = False) -> Source:
    """The pipeline's tap. ``record``: note its launches, for the next run to start them
    early; ``prelaunched``: processes started early, to adopt where they fit."""
    from taps import BUILTIN_TAPS

    tap = cfg.source.tap
    book = LaunchBook(work_dir(cfg), cfg.pipeline, source=source_key(cfg),
                      keep=cfg.max_parallel_streams) if record else None
    builtin = BUILTIN_TAPS.get(tap) if isinstance(tap, str) and cfg.source.pip_url is None \
        else None
    if book is not None and (builtin is not None or not cfg.source.per_stream
                             or not cfg.source.start_early):
        book.forget()  # nothing to start early next time
        book = None
    if builtin is not None:
        return builtin.build(cfg.source.config, cfg.base_dir)
    from sync.external_tap import ExternalTap

    catalog = cfg.resolve(cfg.source.catalog) if cfg.source.catalog else None
    argv = _argv(cfg, tap, cfg.source.pip_url, "source.pip_url")
    return ExternalTap(tuple(argv) if isinstance(argv, list) else argv, cfg.source.config,
                       cfg.base_dir, catalog, cfg.source.idle_timeout,
                       cache_dir=work_dir(cfg) / "catalogs", refresh=refresh_catalog,
                       launches=book, prelaunched=prelaunched)


def make_destination(cfg: PipelineConfig) -> Destination:
    dest = cfg.destination
    if dest.target == "duckdb" and dest.pip_url is None:
        from targets.duckdb import DuckDBConfig, DuckDBDestination

        return DuckDBDestination(DuckDBConfig.model_validate(dest.config),
                                 pipeline=cfg.pipeline, base_dir=cfg.base_dir)
    from sync.external_target import ExternalTarget

    argv = _argv(cfg, dest.target, dest.pip_url, "destination.pip_url")
    return ExternalTarget(tuple(argv) if isinstance(argv, list) else argv, dest.config,
                          cfg.base_dir, confirm_wait=dest.confirm_wait,
                          io_timeout=dest.idle_timeout)


def _with_file(exc: ConfigError, cfg: PipelineConfig) -> ConfigError:
    if exc.file:
        return exc
    return ConfigError(exc.detail, file=str(cfg.file), line=exc.line, key=exc.key)


def plan_pipeline(cfg: PipelineConfig, source: Source, *, streams: Sequence[str] = (),
                  full_refresh: bool = False,
                  blocks: Sequence[CallbackBlock] = ()) -> list[StreamPlan]:
    """Discover the tap's streams and plan the selected ones; check callback streams."""
    try:
        catalog = source.discover()
        plans = build_plans(cfg, catalog, only=streams, full_refresh=full_refresh)
        check_streams(blocks, (stream_name(e) for e in catalog_streams(catalog)), cfg)
        return plans
    except ConfigError as exc:
        raise _with_file(exc, cfg) from None


def run_pipeline(cfg: PipelineConfig, *, streams: Sequence[str] = (),
                 full_refresh: bool = False, event: Mapping[str, Any] | None = None,
                 observers: Sequence[Observer] = (), executor: Executor | None = None,
                 cancel: threading.Event | None = None,
                 on_plans: Any = None, refresh_catalog: bool = False,
                 prelaunched: Prelaunched | None = None, locked: bool = False) -> RunSummary:
    """Run the pipeline once; returns its summary. Raises only for config and lock errors.

    ``prelaunched``: tap processes `sync run` started ahead (see sync.prelaunch);
    ``locked``: the caller holds the pipeline's lock already."""
    cancel = cancel or threading.Event()
    blocks = load_blocks(cfg)  # user code is checked before any data moves
    with contextlib.nullcontext() if locked else pipeline_lock(cfg):
        store = SQLiteStore(cfg.state_path, redact=pipeline_redactor(cfg).text)
        try:
            return _run_locked(cfg, store, blocks, streams, full_refresh, dict(event or {}),
                               observers, executor, cancel, on_plans, refresh_catalog,
                               prelaunched)
        finally:
            store.close()


def _run_locked(cfg: PipelineConfig, store: SQLiteStore, blocks: Sequence[CallbackBlock],
                streams: Sequence[str],
                full_refresh: bool, event: dict[str, Any], observers: Sequence[Observer],
                executor: Executor | None, cancel: threading.Event,
                on_plans: Any, refresh_catalog: bool,
                prelaunched: Prelaunched | None) -> RunSummary:
    source = make_source(cfg, refresh_catalog=refresh_catalog, prelaunched=prelaunched,
                         record=not streams)  # a --stream run is no model for the next
    destination = make_destination(cfg)
    run = store.start_run(cfg.pipeline, datetime.now(UTC), event)
    structlog.contextvars.bind_contextvars(pipeline=cfg.pipeline, run_id=run.id)
    log.info("run started", full_refresh=full_refresh, trigger=event or None)
    status: RunStatus = "failed"
    error: str | None = None
    try:
        try:
            plans = plan_pipeline(cfg, source, streams=streams, full_refresh=full_refresh,
                                  blocks=blocks)
        except SourceError as exc:
            error = f"discovery failed: {exc}"
            raise
        if on_plans is not None:
            on_plans(plans)
        dispatcher = CallbackDispatcher(blocks, timeout=cfg.callback_timeout, recorder=store)
        try:
            destination.open()
        except DestinationError as exc:
            # Every stream fails at its first destination block run, with this reason,
            # so its failure callbacks and alerts fire like for any other load error.
            log.error("destination cannot be opened", error=str(exc))
            destination = UnavailableDestination(destination, exc)
        try:
            shared = not cfg.source.per_stream and hasattr(source, "read_all")
            ctx = RunContext(run, cfg.source.uuid, cfg.destination.uuid, event, full_refresh,
                             0 if shared else cfg.retries, cfg.retry_backoff)
            workers = len(plans) if shared else cfg.max_parallel_streams
            alerts = [AlertDispatcher(cfg.alerts, pipeline=cfg.pipeline, run=run, store=store,
                                      redact=pipeline_redactor(cfg).text)] if cfg.alerts else []
            coordinator = Coordinator(ctx, source, destination, store,
                                      [HistoryRecorder(store, run), dispatcher, *alerts,
                                       *observers],
                                      executor or ThreadExecutor(max(workers, 1)), cancel)
            shared_tap: SharedTap | None = None
            if shared:
                if cfg.retries:
                    log.warning("retries do not apply with per_stream: false; a failed "
                                "stream resumes on the next run")
                state = merge_states({p.stream: coordinator.saved_state(p) for p in plans})
                shared_tap = SharedTap(source, plans, state, cancel)  # type: ignore[arg-type]
                coordinator.source = shared_tap
            try:
                results = coordinator.run(plans)
            finally:
                if shared_tap is not None:
                    shared_tap.close()
        finally:
            destination.close()
        if cancel.is_set():
            status = "cancelled"
        elif all(r.status == "success" for r in results):
            status = "success"
        failed = [r.stream for r in results if r.status == "failed"]
        if failed:
            error = f"streams failed: {', '.join(failed)}"
        final = dataclasses.replace(run, status=status)
        log.info("run finished", status=status, streams=len(results),
                 rows=sum(r.rows for r in results))
        summary = RunSummary(final, tuple(results), datetime.now(UTC), destination.describe())
        called = dispatcher.run_finished(summary, event)
        if called:
            store.record_run_callbacks(run, [c.as_dict() for c in called])
        return summary
    except BaseException as exc:
        error = error or f"{type(exc).__name__}: {exc}"
        raise
    finally:
        store.finish_run(run, status, error)
        structlog.contextvars.clear_contextvars()
