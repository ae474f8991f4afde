"""Read a tap's stdout in blocks of whole lines, promptly, with an idle timeout.

Blocks grow up to ``BLOCK_BYTES`` while the tap keeps the pipe full (bulk parsing
likes big blocks) and are handed over as soon as the pipe runs dry (a slow tap's
records are not held back). Waiting is done in short polls, so a cancel request
or an idle timeout is noticed within a fraction of a second.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import threading
import time
from collections.abc import Iterator

from sync.errors import SourceError

BLOCK_BYTES = 4 << 20
READ_BYTES = 1 << 20
POLL_SECONDS = 0.25
LINGER_SECONDS = 0.5  # a part-filled block waits this long for more before it goes
MAX_BLOCK_AGE = 1.0  # seconds a block may wait for more while a slow tap trickles
SMALL_READ = 64 << 10
TRICKLE_SECONDS = 0.005
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def widen_pipe(fd: int, size: int = READ_BYTES) -> None:
    """Ask for a larger pipe buffer (fewer context switches); harmless if refused."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, size)


class Cancelled(Exception):
    """Reading stopped because the caller asked it to."""


def pipe_blocks(fd: int, *, cancel: threading.Event | None = None,
                idle_timeout: float | None = None, stream: str | None = None,
                block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """Blocks of whole lines from a file descriptor until EOF."""
    parts: list[bytes] = []
    size = 0
    last_data = time.monotonic()
    block_started = last_data
    while True:
        ready, _, _ = select.select([fd], [], [], LINGER_SECONDS if parts else POLL_SECONDS)
        now = time.monotonic()
        if parts and (not ready or now - block_started > MAX_BLOCK_AGE):
            # The pipe stayed dry for a moment, or a slow tap has trickled for a while:
            # hand over the whole lines we have rather than wait for a full block.
            block, rest = _split(parts)
            block_started = now
            if block:
                parts, size = ([rest], len(rest)) if rest else ([], 0)
                yield block
                continue
        if not ready:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if idle_timeout is not None and now - last_data > idle_timeout:
                raise SourceError(f"the tap wrote nothing for {idle_timeout:g} s "
                                  "(source.idle_timeout)", stream=stream)
            continue
        chunk = os.read(fd, READ_BYTES)
        if not chunk:
            break
        last_data = time.monotonic()
        if not parts:
            block_started = last_data
        parts.append(chunk)
        size += len(chunk)
        if len(chunk) < SMALL_READ:
            # A tap that flushes every message would wake us for each one: let the
            # pipe fill for a moment instead of paying a loop per record.
            time.sleep(TRICKLE_SECONDS)
        if size >= block_bytes:
            block, rest = _split(parts)
            parts, size = ([rest], len(rest)) if rest else ([], 0)
            block_started = time.monotonic()
            if block:
                yield block
            if cancel is not None and cancel.is_set():
                raise Cancelled()
    if parts:
        data = b"".join(parts)
        if data.strip():
            yield data if data.endswith(b"\n") else data + b"\n"


def _split(parts: list[bytes]) -> tuple[bytes, bytes]:
    """(whole lines, the unfinished last line)."""
    data = parts[0] if len(parts) == 1 else b"".join(parts)
    cut = data.rfind(b"\n") + 1
    return data[:cut], data[cut:]
