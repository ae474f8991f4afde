"""What the coordinator needs of a destination block."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

import pyarrow as pa

WriteMode = Literal["append", "merge", "replace"]


class Destination(Protocol):
    """A target, built in or external."""

    transactional: bool
    """True when a batch and its state commit together (state lives in the destination)."""

    def open(self) -> None: ...

    def describe(self) -> str: ...

    def close(self) -> None: ...

    def committed_state(self, stream: str) -> dict[str, Any] | None: ...

    def write(self, *, stream: str, table_name: str, data: pa.Table, schema: pa.Schema,
              json_schema: Mapping[str, Any], state: Mapping[str, Any] | None,
              mode: WriteMode, keys: tuple[str, ...], truncate: bool, run_id: int,
              batch_index: int, is_last: bool, block_run: str) -> int:
        """Hand one batch over; returns the rows. ``confirmed`` says when it is committed."""
        ...

    def confirmed(self, stream: str, index: int) -> int:
        """The highest batch index of the stream known to be committed (-1: none yet).
        May wait a little for ``index``, never long."""
        ...

    def end_stream(self, stream: str, *, ok: bool) -> None:
        """The stream is done (``ok``) or has failed; release what it holds."""
        ...
