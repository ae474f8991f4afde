"""How streams are run side by side. The coordinator only sees ``Executor``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Runs one function per stream plan and returns the results in plan order."""

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]: ...


class ThreadExecutor:
    """Streams in threads of this process, at most ``workers`` at a time.

    Arrow, DuckDB and the pipes to tap processes release the GIL, so threads
    give real parallelism on the data path.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items)),
                                thread_name_prefix="stream") as pool:
            return list(pool.map(fn, items))
