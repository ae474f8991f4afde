"""Reading a tap's stdout: whole lines, promptly, whatever the tap's rhythm."""

from __future__ import annotations

import os
import threading
import time

import pytest

from sync.errors import SourceError
from sync.pipe import pipe_blocks


def _writer(fd: int, pieces: list[tuple[bytes, float]]) -> threading.Thread:
    def run() -> None:
        for data, pause in pieces:
            os.write(fd, data)
            time.sleep(pause)
        os.close(fd)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_slow_tap_with_a_line_cut_in_two() -> None:
    """A line that arrives in two parts, far apart, comes out whole; nothing spins."""
    read, write = os.pipe()
    _writer(write, [(b'{"a": 1}\n{"b"', 1.5), (b': 2}\n{"c": 3}\n', 0.0)])
    started = time.process_time()
    lines = b"".join(pipe_blocks(read)).splitlines()
    os.close(read)
    assert lines == [b'{"a": 1}', b'{"b": 2}', b'{"c": 3}']
    assert time.process_time() - started < 0.5  # waited, did not busy-loop


def test_trickling_tap_is_handed_over_within_a_second_or_two() -> None:
    """A tap that writes a line every 50 ms gets its lines handed over as they age."""
    read, write = os.pipe()
    _writer(write, [(b'{"n": %d}\n' % i, 0.05) for i in range(60)])
    first_at = None
    started = time.monotonic()
    for _block in pipe_blocks(read):
        if first_at is None:
            first_at = time.monotonic() - started
    os.close(read)
    assert first_at is not None and first_at < 2.0


def test_idle_timeout() -> None:
    """A tap that goes silent fails after the idle timeout."""
    read, write = os.pipe()
    with pytest.raises(SourceError, match=r"wrote nothing for 0\.5 s"):
        for _ in pipe_blocks(read, idle_timeout=0.5, stream="s"):
            pass
    os.close(read)
    os.close(write)
