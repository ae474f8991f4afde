"""What the coordinator needs of a source block: discovery and per-stream reads."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from sync.plan import StreamPlan
from sync.singer import SourceEvent


class Source(Protocol):
    """A tap, built in or external."""

    def discover(self) -> dict[str, Any]:
        """The Singer catalog of every stream the tap offers."""
        ...

    def read(self, plan: StreamPlan, state: Mapping[str, Any] | None,
             cancel: threading.Event) -> AbstractContextManager[Iterator[SourceEvent]]:
        """The events of one stream, from ``state`` on; stops when ``cancel`` is set."""
        ...
