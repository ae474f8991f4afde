"""Built-in alerting: the pipeline file's ``alerts:``, delivered through apprise.

One alert per stream per run (never one per batch): on failure (optionally only from
N failed runs in a row), on success, and on recovery (the first success after an
alerted failure). The message names the pipeline, stream, destination table, batch,
rows, a short error and the run id, with every secret masked. An alert that cannot be
delivered is logged and recorded; it never changes the run.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import structlog

from sync.plan import StreamPlan
from sync.runs import BlockRunEvent, PipelineRun, StreamResult

log = structlog.get_logger("sync.alerts")


def _target(url: str) -> str:
    """Where an alert goes, without credentials or tokens: scheme://host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}"


def _batch(result: StreamResult) -> str:
    if result.failed_block_run:
        return result.failed_block_run.rsplit(":", 1)[-1]
    return str(max(result.batches - 1, 0))


def message(kind: str, pipeline: str, run: PipelineRun,
            result: StreamResult) -> tuple[str, str]:
    """The title and body of an alert."""
    word = {"failure": "failed", "success": "succeeded", "recovery": "recovered"}[kind]
    title = f"[sync] {pipeline}: stream {result.stream} {word}"
    lines = [f"pipeline: {pipeline}", f"run: {run.id}", f"stream: {result.stream}",
             f"destination table: {result.destination_table}", f"status: {result.status}",
             f"rows loaded: {result.rows}", f"batch: {_batch(result)}"]
    if result.error and kind == "failure":
        error = result.error.splitlines()[0]
        lines.append("error: " + (error[:300] + "..." if len(error) > 300 else error))
    return title, "\n".join(lines)


class AlertDispatcher:
    """An observer: after each stream, sends the alerts that apply to it."""

    def __init__(self, alerts: Sequence[Any], *, pipeline: str, run: PipelineRun, store: Any,
                 redact: Callable[[str], str]) -> None:
        self.alerts = alerts
        self.pipeline = pipeline
        self.run = run
        self.store = store
        self.redact = redact

    def stream_started(self, plan: StreamPlan) -> None:
        pass

    def block_run(self, event: BlockRunEvent) -> None:
        pass

    def _kind(self, alert: Any, result: StreamResult, history: list[str]) -> str | None:
        failed_before = 0
        for status in history:
            if status != "failed":
                break
            failed_before += 1
        if result.status == "failed":
            if "failure" in alert.on and failed_before + 1 >= alert.after_failures:
                return "failure"
            return None
        if result.status != "success":
            return None
        if "recovery" in alert.on and failed_before >= alert.after_failures:
            return "recovery"
        if "success" in alert.on:
            return "success"
        return None

    def stream_finished(self, result: StreamResult) -> None:
        history: list[str] | None = None
        for alert in self.alerts:
            if not any(fnmatch.fnmatchcase(result.stream, p) for p in alert.streams):
                continue
            if history is None:
                history = self.store.previous_statuses(self.pipeline, result.stream,
                                                       self.run.id)
            kind = self._kind(alert, result, history)
            if kind is not None:
                self._send(alert.url, kind, result)

    def _send(self, url: str, kind: str, result: StreamResult) -> None:
        import apprise

        title, body = message(kind, self.pipeline, self.run, result)
        title, body = self.redact(title), self.redact(body)
        target = _target(url)
        error: str | None = None
        try:
            notifier = apprise.Apprise()
            notifier.add(url)
            delivered = bool(notifier.notify(title=title, body=body))
            if not delivered:
                error = "the alert service did not accept it"
        except Exception as exc:  # noqa: BLE001 - an alert never fails the sync
            delivered, error = False, f"{type(exc).__name__}: {exc}"
        if delivered:
            log.info("alert sent", alert=kind, stream=result.stream, to=target)
        else:
            log.error("alert not delivered", alert=kind, stream=result.stream, to=target,
                      error=error)
        self.store.record_alert(self.run, result.stream, kind, target, delivered, error)
