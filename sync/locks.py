"""A pipeline's work folder and the lock that lets one run of it at a time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from sync.errors import LockHeldError

if TYPE_CHECKING:
    from sync.config import PipelineConfig


def work_dir(cfg: PipelineConfig) -> Path:
    """The folder for locks and caches: beside the state database."""
    return cfg.state_path.parent


@contextmanager
def pipeline_lock(cfg: PipelineConfig) -> Iterator[None]:
    """Hold the pipeline's lock, or raise LockHeldError at once."""
    path = work_dir(cfg) / "locks" / f"{cfg.pipeline}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockHeldError(f"another run of pipeline '{cfg.pipeline}' is in progress "
                            f"(lock {path})") from None
    try:
        yield
    finally:
        lock.release()
