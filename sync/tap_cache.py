"""Discovery results kept between runs: a tap's catalog and its ``--about``.

Discovery can cost a tap seconds (it may query the source), so ``sync run`` reuses
the last catalog of the same tap with the same config. The key covers the argv,
the config and the modification times of the executable files named in the argv,
so a changed config or an upgraded tap misses the cache; ``sync discover`` and
``sync run --refresh-catalog`` always ask the tap again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson


class TapCache:
    """JSON documents of one tap (one argv + config), in a private folder."""

    def __init__(self, folder: Path, argv: list[str], config: dict[str, Any]) -> None:
        self.folder = folder
        mtimes = []
        for part in argv:
            try:
                if os.path.isfile(part):
                    mtimes.append(os.stat(part).st_mtime_ns)
            except OSError:
                pass
        raw = orjson.dumps([argv, config, mtimes], option=orjson.OPT_SORT_KEYS)
        self.key = hashlib.sha256(raw).hexdigest()[:24]

    def _path(self, kind: str) -> Path:
        return self.folder / f"{self.key}.{kind}.json"

    def get(self, kind: str) -> Any:
        try:
            return orjson.loads(self._path(kind).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None

    def put(self, kind: str, value: Any) -> None:
        # a cache that cannot be written only costs the next run a discovery
        with contextlib.suppress(OSError):
            write_private(self._path(kind), orjson.dumps(value))


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with ``data``, readable by the owner only, in a
    folder only the owner can enter (created if need be)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
