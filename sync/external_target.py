"""An external Singer target as a destination: one process per stream, batches confirmed.

Records go to the target with their stream renamed to the destination table. After
each batch sync sends a STATE carrying the tap's state and a batch marker. The
destination block run succeeds only once the target confirms the batch: it echoed
that STATE (or a later one), or it exited 0 after its input was closed. One process
serves the whole stream; for targets that report state only when their input ends
(most singer-sdk targets) the batches are confirmed together at the end of the
stream, and their block runs are reported then, in order. Only confirmed state is
saved (Singer's at-least-once rule). A target that dies or stops reading fails the
stream with the tail of its stderr; nothing waits forever.
"""

from __future__ import annotations

import os
import select
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import structlog

from sync.errors import DestinationError
from sync.pipe import widen_pipe
from sync.process import StderrTail, TempFiles, resolve_argv
from sync.schema import is_json_field

log = structlog.get_logger("sync.target")

MARKER = "__sync_batch"
ENCODE_ROWS = 10_000


def _encode_records(table: pa.Table, stream: str) -> bytes:
    """RECORD lines for a batch; JSON columns go out as JSON, not as text."""
    json_cols = [f.name for f in table.schema if is_json_field(f)]
    head = b'{"type":"RECORD","stream":' + orjson.dumps(stream) + b',"record":'
    out = bytearray()
    for rb in table.to_batches(ENCODE_ROWS):
        for row in rb.to_pylist():
            for name in json_cols:
                if row.get(name) is not None:
                    row[name] = orjson.Fragment(row[name])
            out += head
            out += orjson.dumps(row)
            out += b"}\n"
    return bytes(out)


class TargetSession:
    """One running target process for one stream."""

    def __init__(self, argv: list[str], config_path: str, cwd: Path, *, stream: str,
                 name: str, io_timeout: float) -> None:
        self.stream = stream
        self.name = name
        self.io_timeout = io_timeout
        try:
            self.proc = subprocess.Popen([*argv, "--config", config_path], cwd=cwd,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise DestinationError(f"cannot start target {name}: {exc}", stream=stream) from None
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self._stdin = self.proc.stdin.fileno()
        widen_pipe(self._stdin)
        os.set_blocking(self._stdin, False)
        self.tail = StderrTail(self.proc.stderr, name=name)
        self._echo = threading.Condition()
        self._echoed: int = -1
        self._reader = threading.Thread(target=self._read_stdout, daemon=True,
                                        name=f"target-{stream}")
        self._reader.start()
        self.schema_sent = False

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = orjson.loads(line)
            except orjson.JSONDecodeError:
                log.debug("target stdout", line=line[:500].decode("utf-8", "replace"))
                continue
            value = msg.get("value", msg) if isinstance(msg, dict) else None
            if not isinstance(value, dict):
                continue
            marker = value.get(MARKER)
            with self._echo:
                if isinstance(marker, int) and marker > self._echoed:
                    self._echoed = marker
                self._echo.notify_all()

    @property
    def echoed(self) -> int:
        with self._echo:
            return self._echoed

    def failure(self, what: str) -> DestinationError:
        code = self.proc.poll()
        status = f"exited with code {code}" if code is not None else "stopped responding"
        return DestinationError(f"target {self.name} {status} {what}: "
                                f"{self.tail.text()[-2000:] or '(no stderr)'}",
                                stream=self.stream)

    def send(self, data: bytes) -> None:
        """Write to the target's stdin; fail if it dies or stops reading."""
        view = memoryview(data)
        last = time.monotonic()
        while view:
            _, ready, _ = select.select([], [self._stdin], [], 0.25)
            if not ready:
                if self.proc.poll() is not None:
                    raise self.failure("while receiving records")
                if time.monotonic() - last > self.io_timeout:
                    self.kill()
                    raise self.failure(f"(read nothing for {self.io_timeout:g} s)")
                continue
            try:
                written = os.write(self._stdin, view[:1 << 20])
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise self.failure("while receiving records") from None
            view = view[written:]
            last = time.monotonic()

    def wait_echo(self, marker: int, timeout: float) -> bool:
        """True once the target echoed the STATE of batch ``marker`` (or a later one)."""
        deadline = time.monotonic() + timeout
        with self._echo:
            while self._echoed < marker:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return self._echoed >= marker
                self._echo.wait(min(left, 0.25))
        return True

    def finish(self, timeout: float) -> int:
        """Close the target's input and wait for it to exit; its exit code."""
        try:
            os.set_blocking(self._stdin, True)
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise self.failure(f"(did not exit within {timeout:g} s of its input ending)") \
                from None
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class ExternalTarget:
    """Any Singer target executable, one process per stream."""

    transactional = False

    def __init__(self, spec: str | tuple[str, ...], config: Mapping[str, Any], base_dir: Path,
                 *, confirm_wait: float = 2.0, io_timeout: float = 300.0) -> None:
        self.argv = resolve_argv(spec, base_dir)
        self.name = Path(self.argv[0]).name
        self.config = dict(config)
        self.base_dir = base_dir
        self.confirm_wait = confirm_wait
        self.io_timeout = io_timeout
        self._files: TempFiles | None = None
        self._config_path = ""
        self._sessions: dict[str, TargetSession] = {}
        self._echoes: dict[str, bool] = {}
        self._lock = threading.Lock()

    def open(self) -> None:
        self._files = TempFiles()
        self._config_path = self._files.write("target-config.json", self.config)

    def describe(self) -> str:
        return f"Singer target {self.name}"

    def close(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            session.kill()
        if self._files is not None:
            self._files.close()
            self._files = None

    def committed_state(self, stream: str) -> dict[str, Any] | None:
        return None  # the state store keeps confirmed state for external targets

    def _session(self, stream: str) -> TargetSession:
        with self._lock:
            session = self._sessions.get(stream)
            if session is None:
                session = TargetSession(self.argv, self._config_path, self.base_dir,
                                        stream=stream, name=self.name,
                                        io_timeout=self.io_timeout)
                self._sessions[stream] = session
        if session.proc.poll() is not None:
            # Never start a new process behind a dead one: what it had is unconfirmed.
            raise session.failure("while receiving records")
        return session

    def _end(self, stream: str) -> TargetSession | None:
        with self._lock:
            return self._sessions.pop(stream, None)

    def end_stream(self, stream: str, *, ok: bool) -> None:
        """Close the stream's target. ``ok``: its exit 0 confirms every batch sent;
        otherwise it is stopped and nothing more is confirmed."""
        session = self._end(stream)
        if session is None:
            return
        if not ok:
            session.kill()
            return
        code = session.finish(self.io_timeout)
        if code != 0:
            raise session.failure("after its input ended")

    def confirmed(self, stream: str, index: int) -> int:
        """The last batch the target echoed; waits a little for targets that echo."""
        session = self._sessions.get(stream)
        if session is None:
            return index  # the session ended cleanly: everything was confirmed
        echoes = self._echoes.get(stream)
        wait = self.confirm_wait if echoes is not False else 0.0
        if session.wait_echo(index, wait):
            self._echoes[stream] = True
        elif echoes is None:
            self._echoes[stream] = False  # confirms on exit: do not wait for it again
            log.info("target confirms batches when its input ends", target=self.name)
        return session.echoed

    def write(self, *, stream: str, table_name: str, data: pa.Table, schema: pa.Schema,
              json_schema: Mapping[str, Any], state: Mapping[str, Any] | None,
              keys: tuple[str, ...], batch_index: int, **_: Any) -> int:
        session = self._session(stream)
        if not session.schema_sent:
            session.send(orjson.dumps({"type": "SCHEMA", "stream": table_name,
                                       "schema": json_schema, "key_properties": list(keys)})
                         + b"\n")
            session.schema_sent = True
        session.send(_encode_records(data, table_name))
        marked = {**(state or {}), MARKER: batch_index}
        session.send(orjson.dumps({"type": "STATE", "value": marked}) + b"\n")
        return int(data.num_rows)
