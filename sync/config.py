"""The pipeline file: YAML -> validated, frozen ``PipelineConfig``.

Every error names the file, the key and the line it was written on.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sync.errors import ConfigError
from sync.yamlfile import YamlDocument, load_yaml

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StreamSettings(_Model):
    """Per-stream settings; the key of the ``streams:`` mapping is a name or a glob."""

    destination_table: str | None = Field(None, description="Table the stream lands in.")
    replication_method: Literal["INCREMENTAL", "FULL_TABLE"] | None = None
    replication_key: str | None = None
    key_properties: tuple[str, ...] | None = None
    batch_size: int | None = Field(None, gt=0, description="Overrides the pipeline's.")
    selected: bool = Field(True, description="False leaves the stream out.")


class SourceSettings(_Model):
    """The source block: a built-in tap, an executable, or an argv list."""

    uuid: str = Field("source", pattern=_NAME.pattern)
    tap: str | tuple[str, ...]
    pip_url: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    per_stream: bool = True
    catalog: str | None = Field(None, description="A catalog file to use instead of discovery.")
    idle_timeout: float | None = Field(
        None, gt=0, description="Fail the stream when the tap writes nothing for this long.")
    start_early: bool = Field(
        True, description="Start the first taps while sync starts up, replaying the last "
                          "run's launches (see sync.prelaunch).")


class DestinationSettings(_Model):
    """The destination block: the built-in ``duckdb`` target (default) or an executable."""

    uuid: str = Field("destination", pattern=_NAME.pattern)
    target: str | tuple[str, ...] = "duckdb"
    pip_url: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    confirm_wait: float = Field(
        2.0, ge=0, description="External targets: seconds to wait for a batch's STATE echo "
                               "before closing the target to confirm the batch.")
    idle_timeout: float = Field(
        300.0, gt=0, description="External targets: fail when the target reads nothing or "
                                 "does not exit for this long.")


class CallbackSettings(_Model):
    """A callback block attached to parent blocks and streams."""

    file: str
    uuid: str | None = Field(None, pattern=_NAME.pattern)
    parents: tuple[str, ...] | None = None
    streams: tuple[str, ...] = ("*",)
    scope: Literal["batch", "run"] | None = Field(
        None, description="'run': every function of the file runs once when the run ends.")


class AlertSettings(_Model):
    """A built-in alert delivered through an apprise URL."""

    url: str = Field(description="An apprise URL: json://, mailto://, slack://, ...")
    on: tuple[Literal["failure", "success", "recovery"], ...] = ("failure",)
    streams: tuple[str, ...] = ("*",)
    after_failures: int = Field(
        1, ge=1, description="Alert on failure only from this many failed runs in a row.")


class PipelineConfig(_Model):
    """One pipeline file, validated; paths are resolved against ``base_dir``."""

    pipeline: str = Field(pattern=_NAME.pattern)
    source: SourceSettings
    destination: DestinationSettings = DestinationSettings()
    streams: dict[str, StreamSettings] = Field(default_factory=dict)
    batch_size: int = Field(50_000, gt=0)
    max_parallel_streams: int = Field(2, gt=0)
    retries: int = Field(0, ge=0)
    retry_backoff: float = Field(2.0, ge=0, description="Seconds before the first retry; doubles.")
    callback_timeout: float = Field(60.0, gt=0)
    state: str = ".sync/sync.db"
    callbacks: tuple[CallbackSettings, ...] = ()
    alerts: tuple[AlertSettings, ...] = ()
    schedule: str | None = None
    timezone: str = "UTC"

    file: Path = Field(Path("pipeline.yaml"), exclude=True)
    base_dir: Path = Field(Path("."), exclude=True)
    secrets: frozenset[str] = Field(frozenset(), exclude=True)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from croniter import croniter  # only pipelines with a schedule need it

        if not croniter.is_valid(value):
            raise ValueError(f"not a valid cron expression: {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    def resolve(self, path: str) -> Path:
        """A path from the file, resolved against the file's folder."""
        p = Path(path).expanduser()
        return (p if p.is_absolute() else self.base_dir / p).resolve()

    @property
    def state_path(self) -> Path:
        return self.resolve(self.state)


def _loc_key(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def raise_validation(exc: ValidationError, doc: YamlDocument,
                     prefix: tuple[str | int, ...] = ()) -> None:
    """Turn the first pydantic error into a ConfigError naming file, line and key."""
    err = exc.errors()[0]
    loc = (*prefix, *tuple(p for p in err["loc"] if not str(p).startswith("function-")))
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    elif err["type"] == "missing":
        message = "required key is missing"
    raise ConfigError(message, file=doc.file, line=doc.line_of(loc), key=_loc_key(loc))


def _check_executable(spec: str | tuple[str, ...], doc: YamlDocument, key: tuple[str, ...],
                      base_dir: Path, builtins: frozenset[str]) -> None:
    argv0 = spec if isinstance(spec, str) else (spec[0] if spec else "")
    if isinstance(spec, str) and spec in builtins:
        return
    if not argv0:
        raise ConfigError("empty command", file=doc.file, line=doc.line_of(key),
                          key=".".join(key))
    if "/" in argv0:
        path = Path(argv0) if Path(argv0).is_absolute() else base_dir / argv0
        if not path.exists():
            raise ConfigError(f"executable not found: {path}", file=doc.file,
                              line=doc.line_of(key), key=".".join(key))
    elif shutil.which(argv0) is None:
        names = ", ".join(sorted(builtins))
        raise ConfigError(f"{argv0!r} is neither a built-in ({names}) nor an executable "
                          "on PATH", file=doc.file, line=doc.line_of(key), key=".".join(key))


def parse_config(doc: YamlDocument, path: Path) -> PipelineConfig:
    """Validate a parsed pipeline document."""
    from taps import BUILTIN_TAPS
    from targets import BUILTIN_TARGETS

    if not isinstance(doc.data, dict):
        raise ConfigError("a pipeline file must be a mapping of keys", file=doc.file, line=1)
    values = dict(doc.data)
    values.update(file=path, base_dir=path.parent, secrets=doc.secrets)
    for reserved in ("file", "base_dir", "secrets"):
        if reserved in doc.data:
            raise ConfigError("unknown key", file=doc.file, line=doc.line_of((reserved,)),
                              key=reserved)
    try:
        cfg = PipelineConfig.model_validate(values)
    except ValidationError as exc:
        raise_validation(exc, doc)
        raise  # pragma: no cover - raise_validation always raises
    blocks = (
        ("source", "tap", cfg.source.tap, cfg.source.pip_url, cfg.source.config,
         {name: tap.config_model for name, tap in BUILTIN_TAPS.items()}),
        ("destination", "target", cfg.destination.target, cfg.destination.pip_url,
         cfg.destination.config,
         {name: target.config_model for name, target in BUILTIN_TARGETS.items()}),
    )
    for block, field, spec, pip_url, config, builtins in blocks:
        if pip_url is not None:
            continue  # installed into its own environment when first used
        _check_executable(spec, doc, (block, field), cfg.base_dir, frozenset(builtins))
        if isinstance(spec, str) and spec in builtins:
            try:
                builtins[spec].model_validate(config)
            except ValidationError as exc:
                raise_validation(exc, doc, (block, "config"))
    if cfg.alerts:
        import apprise  # only pipelines with alerts pay for it

        for i, alert in enumerate(cfg.alerts):
            if not apprise.Apprise().add(alert.url):
                raise ConfigError("not a URL apprise can deliver to", file=doc.file,
                                  line=doc.line_of(("alerts", i, "url")),
                                  key=f"alerts.{i}.url")
    if cfg.source.uuid == cfg.destination.uuid:
        raise ConfigError("the source and destination blocks need different uuids",
                          file=doc.file, line=doc.line_of(("destination", "uuid")),
                          key="destination.uuid")
    return cfg


def load_config(path: Path) -> PipelineConfig:
    """Read and validate a pipeline file."""
    path = path.resolve()
    return parse_config(load_yaml(path), path)
