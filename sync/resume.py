"""The state a stream resumes from, as committed: the tap's state plus a skip count.

A batch of a stream without keys may end between two of the tap's STATE messages; its
commit then also records how many records after that STATE are already loaded, under
``SKIP_KEY``, and the resumed run drops that many. Kept free of heavy imports: the
early tap start reads it before Arrow is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SKIP_KEY = "__sync_skip"  # in committed state: records after the tap's STATE, already loaded


def split_skip(state: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, int]:
    """A committed state as (the tap's state, records to skip when resuming from it)."""
    if not state:
        return None, 0
    tap_state = {k: v for k, v in state.items() if k != SKIP_KEY}
    skip = state.get(SKIP_KEY, 0)
    return (tap_state or None), (int(skip) if isinstance(skip, int) else 0)
