"""Load a callback file: run it with ``callback`` in scope, find and check its functions.

Problems are config errors naming the file and line: a missing file, a syntax
error, an unknown status, a function sync cannot call, or a file with no callbacks.
"""

from __future__ import annotations

import inspect
import sys
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callbacks.decorator import (
    MARK,
    CallbackDefinitionError,
    CallbackSpec,
    Scope,
    Status,
    callback,
    on_failure,
    on_success,
)
from sync.errors import ConfigError
from sync.yamlfile import read_text

BATCH_KWARGS = frozenset({
    "block_uuid", "parent_block_uuid", "ds", "hr", "execution_date", "execution_partition",
    "event", "pipeline_run", "pipeline_uuid", "__input", "stream", "destination_table",
    "index", "is_last_block_run", "error", "__error", "rows", "block_run_uuid", "status",
    "started_at", "ended_at",
})
RUN_KWARGS = frozenset({
    "block_uuid", "ds", "hr", "execution_date", "execution_partition", "event",
    "pipeline_run", "pipeline_uuid", "__input", "status", "streams", "summary", "error",
    "__error",
})


@dataclass(frozen=True)
class CallbackFunction:
    """One function of a callback block and how sync calls it."""

    name: str
    func: Callable[..., Any]
    statuses: frozenset[Status]
    scope: Scope
    line: int
    takes_data: bool
    accepts: frozenset[str] | None  # keyword names it takes; None: it takes **kwargs

    def call(self, data: Any, kwargs: dict[str, Any]) -> Any:
        """Call it as the seed documents: data first if it takes it, then the keywords."""
        kw = kwargs if self.accepts is None else \
            {k: v for k, v in kwargs.items() if k in self.accepts}
        return self.func(data, **kw) if self.takes_data else self.func(**kw)


def _definition_line(exc: BaseException, file: str) -> int | None:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == file:
            return frame.lineno
    return None


def _signature(fn: Callable[..., Any], name: str, file: str, line: int,
               scope: Scope) -> tuple[bool, frozenset[str] | None]:
    known = BATCH_KWARGS if scope == "batch" else RUN_KWARGS
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"callback {name}: cannot read its signature ({exc})", file=file,
                          line=line) from None
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if positional:
        first = positional[0]
        takes_data = first.kind is first.POSITIONAL_ONLY or first.name not in known
    else:  # f(*args, **kwargs) gets the data as args[0], as the seed's callers pass it
        takes_data = any(p.kind is p.VAR_POSITIONAL for p in params)
    rest = params[1:] if takes_data and positional else params
    for p in rest:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is not p.empty:
            continue
        if p.kind is p.POSITIONAL_ONLY or p.name not in known:
            raise ConfigError(
                f"callback {name}: sync cannot fill its parameter {p.name!r}; a callback "
                "takes the batch as its first argument and keyword arguments such as "
                "stream, index or **kwargs", file=file, line=line)
    accepts = None if var_kw else frozenset(p.name for p in rest
                                            if p.kind is not p.VAR_POSITIONAL)
    return takes_data, accepts


def load_callback_file(path: Path, *, uuid: str,
                       default_scope: Scope | None = None) -> tuple[CallbackFunction, ...]:
    """Every callback function of a file, checked."""
    file = str(path)
    source = read_text(path, "callback file")
    try:
        code = compile(source, file, "exec")
    except SyntaxError as exc:
        raise ConfigError(f"syntax error: {exc.msg}", file=file, line=exc.lineno) from None
    module_name = f"sync_callbacks.{uuid}"
    module = types.ModuleType(module_name)
    module.__file__ = file
    ns = module.__dict__
    ns.update(callback=callback, on_success=on_success, on_failure=on_failure)
    sys.modules[module_name] = module
    try:
        exec(code, ns)
    except CallbackDefinitionError as exc:
        raise ConfigError(str(exc), file=file, line=_definition_line(exc, file)) from None
    except Exception as exc:  # noqa: BLE001 - user code; reported with its line
        raise ConfigError(f"loading the file raised {type(exc).__name__}: {exc}", file=file,
                          line=_definition_line(exc, file)) from None
    found: list[CallbackFunction] = []
    for name, obj in list(ns.items()):
        if not inspect.isfunction(obj) or obj.__module__ != module_name:
            continue
        specs: tuple[CallbackSpec, ...] = getattr(obj, MARK, ())
        if not specs and name in ("on_success", "on_failure"):
            specs = (CallbackSpec("success" if name == "on_success" else "failure",
                                  legacy=True),)
        if not specs:
            continue
        line = obj.__code__.co_firstlineno
        by_scope: dict[Scope, set[Status]] = {}
        for spec in specs:
            scope: Scope = spec.scope or default_scope or "batch"
            by_scope.setdefault(scope, set()).add(spec.status)
        for scope, statuses in by_scope.items():
            takes_data, accepts = _signature(obj, name, file, line, scope)
            found.append(CallbackFunction(name, obj, frozenset(statuses), scope, line,
                                          takes_data, accepts))
    if not found:
        raise ConfigError("no callback functions in the file; decorate one with @callback "
                          "or name it on_success / on_failure", file=file)
    return tuple(sorted(found, key=lambda f: f.line))


def block_uuid_of(path: str, uuid: str | None) -> str:
    """A callback block's uuid: configured, else the file's stem."""
    return uuid or Path(path).stem
