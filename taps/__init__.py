"""Built-in taps: name -> how to validate its config and build it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from taps.files import FileTap, FileTapConfig


@dataclass(frozen=True)
class BuiltinTap:
    """A tap that runs in-process."""

    name: str
    config_model: type[BaseModel]
    build: Callable[[Mapping[str, Any], Path], FileTap]


BUILTIN_TAPS: dict[str, BuiltinTap] = {
    "csv": BuiltinTap("csv", FileTapConfig, lambda c, d: FileTap("csv", c, d)),
    "jsonl": BuiltinTap("jsonl", FileTapConfig, lambda c, d: FileTap("jsonl", c, d)),
    "parquet": BuiltinTap("parquet", FileTapConfig, lambda c, d: FileTap("parquet", c, d)),
}
