"""One small exception tree. Every error knows where it happened.

``SyncError`` is the root. Configuration and usage problems are ``ConfigError``
(exit code 2); a second run holding the pipeline lock is ``LockHeldError``
(exit code 75); everything that fails a stream is a ``StreamError`` subclass that
carries the stream and the block run it happened in.
"""

from __future__ import annotations


class SyncError(Exception):
    """Root of every error `sync` raises on purpose."""

    exit_code = 1


class ConfigError(SyncError):
    """The pipeline file, a callback file or the command line is wrong."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.detail = message
        where = ""
        if file:
            where = file + (f":{line}" if line else "")
        if key:
            where = f"{where}: {key}" if where else key
        super().__init__(f"{where}: {message}" if where else message)


class LockHeldError(SyncError):
    """Another run of the same pipeline holds its lock."""

    exit_code = 75


class StreamError(SyncError):
    """A failure that fails one stream; carries the stream and block run."""

    def __init__(self, message: str, *, stream: str | None = None,
                 block_run: str | None = None, line: int | None = None) -> None:
        self.stream = stream
        self.block_run = block_run
        self.line = line
        self.detail = message
        parts = []
        if stream is not None:
            parts.append(f"stream '{stream}'")
        if line is not None:
            parts.append(f"line {line}")
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class SourceError(StreamError):
    """The tap failed, or emitted something invalid."""


class SchemaViolation(SourceError):
    """A record does not match its stream's schema."""


class DestinationError(StreamError):
    """The destination could not load or commit a batch."""


class StateError(SyncError):
    """The state or run-history store failed."""
