"""``sync schedule``: run pipelines at their cron times, in the foreground.

Each run is a ``sync run`` process of its own (a crash never takes the scheduler
down; the pipeline lock keeps it from overlapping a run started by hand). A
pipeline never runs twice at once: a tick that comes while it is still running is
remembered, and once the run ends it runs once more, not once per missed tick.
SIGTERM or SIGINT stops the scheduling, passes the signal on to the runs in flight
(they finish or roll back their batch) and waits for them.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import structlog

from sync.config import PipelineConfig

log = structlog.get_logger("sync.scheduler")


@dataclass
class _Job:
    cfg: PipelineConfig
    next_at: datetime
    process: subprocess.Popen[bytes] | None = None
    missed: datetime | None = None
    runs: int = field(default=0)


def next_tick(cfg: PipelineConfig, after: datetime) -> datetime:
    """The first cron time of the pipeline strictly after ``after`` (UTC)."""
    from croniter import croniter

    assert cfg.schedule is not None
    local = after.astimezone(ZoneInfo(cfg.timezone))
    upcoming: datetime = croniter(cfg.schedule, local).get_next(datetime)
    return upcoming.astimezone(UTC)


class Scheduler:
    """Starts each pipeline's runs at its ticks until told to stop."""

    def __init__(self, configs: Sequence[PipelineConfig], *, log_format: str = "json",
                 stop: threading.Event | None = None) -> None:
        now = datetime.now(UTC)
        self.jobs = [_Job(cfg, next_tick(cfg, now)) for cfg in configs]
        self.log_format = log_format
        self.stop = stop or threading.Event()
        for job in self.jobs:
            log.info("scheduled", pipeline=job.cfg.pipeline, schedule=job.cfg.schedule,
                     timezone=job.cfg.timezone, next_run=job.next_at.isoformat())

    def _start(self, job: _Job, scheduled_at: datetime) -> None:
        event = {"trigger": "schedule", "scheduled_at": scheduled_at.isoformat()}
        argv = [sys.executable, "-m", "sync", "run", "--config", str(job.cfg.file), "--quiet",
                "--log-format", self.log_format, "--event", orjson.dumps(event).decode()]
        job.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        job.runs += 1
        log.info("run started", pipeline=job.cfg.pipeline, scheduled_at=event["scheduled_at"],
                 pid=job.process.pid)

    def _reap(self, job: _Job) -> None:
        if job.process is None or job.process.poll() is None:
            return
        code = job.process.returncode
        job.process = None
        level = log.info if code == 0 else log.error
        level("run ended", pipeline=job.cfg.pipeline, exit_code=code,
              next_run=job.next_at.isoformat())
        if job.missed is not None and not self.stop.is_set():
            missed, job.missed = job.missed, None
            log.info("running once for the ticks missed while it ran", pipeline=job.cfg.pipeline)
            self._start(job, missed)

    def run(self) -> int:
        """Schedule until ``stop`` is set; returns the exit code."""
        while not self.stop.is_set():
            now = datetime.now(UTC)
            for job in self.jobs:
                self._reap(job)
                if now < job.next_at:
                    continue
                scheduled_at = job.next_at
                job.next_at = next_tick(job.cfg, max(now, scheduled_at))
                if job.process is not None:
                    job.missed = job.missed or scheduled_at
                    log.warning("still running at its next tick; will run once after it",
                                pipeline=job.cfg.pipeline, tick=scheduled_at.isoformat())
                    continue
                self._start(job, scheduled_at)
            wake = min(job.next_at for job in self.jobs)
            delay = (wake - datetime.now(UTC)).total_seconds()
            self.stop.wait(max(0.0, min(delay, 0.2)))
        return self._shutdown()

    def _shutdown(self) -> int:
        running = [job for job in self.jobs if job.process is not None]
        log.info("stopping", runs_in_flight=len(running))
        for job in running:
            assert job.process is not None
            job.process.terminate()  # the run finishes or rolls back its batch
        for job in running:
            assert job.process is not None
            try:
                job.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                job.process.kill()
                job.process.wait()
        log.info("stopped")
        return 0


def pipeline_files(paths: Sequence[Path]) -> list[Path]:
    """Pipeline files named directly, or every *.yaml / *.yml in a named folder."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        else:
            out.append(path)
    return out


def crontab_line(cfg: PipelineConfig) -> str:
    """A crontab line that runs the pipeline at its schedule, logging beside its state."""
    if cfg.schedule is None:
        raise ValueError("the pipeline has no schedule")
    fields = cfg.schedule.split()
    if len(fields) == 6:
        raise ValueError("cron cannot run every few seconds; use `sync schedule`")
    sync = Path(sys.executable).with_name("sync")
    logfile = cfg.state_path.parent / f"{cfg.pipeline}.log"
    tz = f"CRON_TZ={cfg.timezone}\n" if cfg.timezone != "UTC" else ""
    return (f"{tz}{cfg.schedule} cd {cfg.base_dir} && {sync} run --config {cfg.file} "
            f"--quiet --log-format json >> {logfile} 2>&1")
