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


class UnavailableDestination:
    """Stands in for a destination that could not be opened: every write fails with
    the reason, so each stream fails at its first destination block run."""

    def __init__(self, inner: Destination, error: Exception) -> None:
        self.transactional = inner.transactional
        self._inner = inner
        self._error = error

    def open(self) -> None:
        raise self._error

    def describe(self) -> str:
        return self._inner.describe()

    def close(self) -> None:
        pass

    def committed_state(self, stream: str) -> dict[str, Any] | None:
        return None

    def confirmed(self, stream: str, index: int) -> int:
        return -1

    def end_stream(self, stream: str, *, ok: bool) -> None:
        pass

    def write(self, **kwargs: Any) -> int:
        from sync.errors import DestinationError

        raise DestinationError(str(self._error), stream=kwargs.get("stream"),
                               block_run=kwargs.get("block_run"))
