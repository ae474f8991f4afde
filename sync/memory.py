"""Keep the process's memory flat however long a stream is.

Many threads (stream loaders, Arrow's and DuckDB's pools) each get their own glibc
malloc arena, and freed memory stays in those arenas: the process grows with the
number of threads, not with the data. Two arenas and Arrow on the system allocator
keep peak memory close to what is actually live.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys

_M_ARENA_MAX = -8


def limit_memory_growth() -> None:
    """Call once at start-up, before any thread is started. Harmless elsewhere."""
    if sys.platform.startswith("linux"):
        # The process's own symbols include libc's (find_library would run ldconfig);
        # without glibc's mallopt there is nothing to tune.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).mallopt(_M_ARENA_MAX, 2)
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
