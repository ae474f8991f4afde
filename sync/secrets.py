"""Secrets never leave the process: not in logs, errors, run history or files.

A pipeline's secrets are the values that came from ``${ENV_VAR}`` and every value
under a config key named like a secret (password, secret, token, api_key, ...).
``Redactor`` replaces each of them with ``***`` wherever text goes out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
_SECRET_KEY = re.compile(
    r"(^|[_\-.])(password|passwd|pass|secret|token|api[_\-]?key|private[_\-]?key|"
    r"access[_\-]?key|client[_\-]?secret|credentials?|key)$", re.IGNORECASE)
_MIN_LENGTH = 4


def is_secret_key(name: str) -> bool:
    """True for config keys whose values are secrets."""
    return bool(_SECRET_KEY.search(name))


def secret_values(config: Any) -> set[str]:
    """Every string under a secret-named key, at any depth."""
    found: set[str] = set()

    def walk(value: Any, secret: bool) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, secret or is_secret_key(str(k)))
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v, secret)
        elif secret and isinstance(value, str | int) and not isinstance(value, bool):
            found.add(str(value))

    walk(config, False)
    return found


class Redactor:
    """Replaces known secret values in text and in log events."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if len(s) >= _MIN_LENGTH}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, value: str) -> str:
        return self._pattern.sub(MASK, value) if self._pattern is not None else value

    def value(self, value: Any) -> Any:
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        if isinstance(value, BaseException):
            return self.text(str(value))
        return value

    def __call__(self, logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        """A structlog processor."""
        if self._pattern is None:
            return event
        return {k: self.value(v) for k, v in event.items()}


def pipeline_redactor(cfg: Any) -> Redactor:
    """The redactor for a pipeline config: its ${ENV} values and secret-named settings."""
    secrets = set(cfg.secrets)
    secrets |= secret_values(cfg.source.config)
    secrets |= secret_values(cfg.destination.config)
    return Redactor(secrets)
