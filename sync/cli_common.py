"""What every `sync` command shares: options, log set-up, config loading, error exits."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from sync.errors import ConfigError, SyncError

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="The pipeline file.",
                                         exists=True, dir_okay=False, readable=True)]
LogFormatOpt = Annotated[str, typer.Option("--log-format",
                                           help="auto (console on a terminal, else json), "
                                                "console or json.")]
LogLevelOpt = Annotated[str, typer.Option("--log-level", help="debug, info, warning, error.")]

EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


def fail(exc: SyncError, redact: Any = None) -> typer.Exit:
    """Print the error (secrets masked) and leave with its exit code."""
    message = str(exc) if redact is None else redact(str(exc))
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(exc.exit_code)


def setup_logs(fmt: str, level: str, redactor: Any = None) -> str:
    from sync.log import configure

    if fmt not in ("auto", "console", "json"):
        raise ConfigError(f"--log-format must be auto, console or json, not {fmt!r}")
    if level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"--log-level must be debug, info, warning or error, not {level!r}")
    return configure(fmt, level, redactor=redactor)  # type: ignore[arg-type]


def json_object(text: str, option: str) -> dict[str, Any]:
    """A command-line option's value that must be a JSON object."""
    import orjson

    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{option} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{option} must be a JSON object")
    return value


def load(path: Path) -> Any:
    from sync.config import load_config

    return load_config(path)
