"""Built-in targets: name -> config model."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from targets.duckdb import DuckDBConfig


@dataclass(frozen=True)
class BuiltinTarget:
    """A target that runs in-process."""

    name: str
    config_model: type[BaseModel]


BUILTIN_TARGETS: dict[str, BuiltinTarget] = {
    "duckdb": BuiltinTarget("duckdb", DuckDBConfig),
}
