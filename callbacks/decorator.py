"""``@callback`` and the legacy ``@on_success`` / ``@on_failure`` decorators.

They only mark a function; the loader finds marked functions in a callback file.
All forms of the seed documentation work:

    @callback                      # success
    @callback('success')
    @callback('failure')
    @callback('success', 'failure')
    @callback('failure', scope='run')   # once, when the pipeline run ends
    @on_success / @on_failure      # legacy, or plain functions named on_success / on_failure
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_args

Status = Literal["success", "failure"]
Scope = Literal["batch", "run"]
STATUSES: tuple[str, ...] = get_args(Status)
SCOPES: tuple[str, ...] = get_args(Scope)
MARK = "__sync_callbacks__"

F = TypeVar("F", bound=Callable[..., Any])


class CallbackDefinitionError(ValueError):
    """A decorator was given a status or scope that does not exist."""


@dataclass(frozen=True)
class CallbackSpec:
    """What a decorator said about a function: when it runs."""

    status: Status
    scope: Scope | None = None  # None: the block's scope (batch unless configured)
    legacy: bool = False


def _mark(fn: F, specs: list[CallbackSpec]) -> F:
    existing: tuple[CallbackSpec, ...] = getattr(fn, MARK, ())
    setattr(fn, MARK, existing + tuple(specs))
    return fn


def _check(statuses: tuple[Any, ...], scope: Any) -> None:
    for status in statuses:
        if status not in STATUSES:
            raise CallbackDefinitionError(
                f"unknown callback status {status!r}; use 'success' or 'failure'")
    if scope is not None and scope not in SCOPES:
        raise CallbackDefinitionError(f"unknown callback scope {scope!r}; use 'batch' or 'run'")


def callback(*args: Any, scope: Scope | None = None) -> Any:
    """Mark a function as a callback: ``@callback``, ``@callback('success')`` and so on."""
    if len(args) == 1 and callable(args[0]) and not isinstance(args[0], str):
        return _mark(args[0], [CallbackSpec("success", scope)])
    statuses = args or ("success",)
    _check(statuses, scope)

    def decorate(fn: F) -> F:
        return _mark(fn, [CallbackSpec(s, scope) for s in statuses])

    return decorate


def on_success(fn: F) -> F:
    """Legacy: run after the parent block run succeeds, with the runtime variables."""
    return _mark(fn, [CallbackSpec("success", None, legacy=True)])


def on_failure(fn: F) -> F:
    """Legacy: run after the parent block run fails, with the runtime variables."""
    return _mark(fn, [CallbackSpec("failure", None, legacy=True)])
