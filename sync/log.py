"""structlog setup: readable on a terminal, JSON lines otherwise.

Every line carries what is bound in context: pipeline, run id, stream and
block run, bound by the coordinator as it goes.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

# structlog's import pulls in rich's console, traceback and pretty-printer (about 50 ms,
# an eighth of a small run's start-up) for the pretty tracebacks of its dev renderer.
# sync prints its own errors, so structlog is imported with those three hidden; it then
# renders plain tracebacks. rich itself stays usable (the live progress view imports it).
_HIDDEN = [name for name in ("rich.console", "rich.traceback", "rich.pretty")
           if name not in sys.modules]
if "structlog" not in sys.modules:
    for _name in _HIDDEN:
        sys.modules[_name] = None  # type: ignore[assignment]
try:
    import structlog
finally:
    for _name in _HIDDEN:
        if sys.modules.get(_name, 0) is None:
            del sys.modules[_name]

LogFormat = Literal["auto", "console", "json"]


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now, so the live progress view can take it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(fmt: LogFormat = "auto", level: str = "info",
              stream: TextIO | None = None,
              redactor: structlog.types.Processor | None = None) -> Literal["console", "json"]:
    """Configure structlog for the process; returns the format chosen."""
    out = stream or sys.stderr
    chosen: Literal["console", "json"]
    chosen = ("console" if out.isatty() else "json") if fmt == "auto" else fmt
    renderer: structlog.types.Processor
    if chosen == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    if chosen == "json" or redactor is not None:
        processors.append(structlog.processors.format_exc_info)
    if redactor is not None:
        processors.append(redactor)  # last before rendering: nothing escapes it
    processors.append(renderer)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(
            out if stream is not None else _CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    return chosen
