"""Pure planning: pipeline config + tap catalog -> ordered stream plans."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sync.config import PipelineConfig, StreamSettings
from sync.errors import ConfigError
from sync.schema import StreamSchema
from sync.singer import (
    catalog_streams,
    entry_key_properties,
    entry_replication_key,
    select_entry,
    stream_name,
)

WriteMode = Literal["append", "merge", "replace"]
ReplicationMethod = Literal["INCREMENTAL", "FULL_TABLE"]


@dataclass(frozen=True)
class StreamPlan:
    """Everything needed to sync one stream, decided before any data moves."""

    stream: str
    destination_table: str
    replication_method: ReplicationMethod
    replication_key: str | None
    key_properties: tuple[str, ...]
    batch_size: int
    write_mode: WriteMode
    schema: StreamSchema
    catalog_entry: Mapping[str, Any]


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def _settings_for(name: str, streams: Mapping[str, StreamSettings]) -> StreamSettings | None:
    """Exact names win over globs; among globs, the first in the file wins."""
    if name in streams:
        return streams[name]
    for pattern, settings in streams.items():
        if _is_glob(pattern) and fnmatch.fnmatchcase(name, pattern):
            return settings
    return None


def build_plans(cfg: PipelineConfig, catalog: Mapping[str, Any], *,
                only: Sequence[str] = (), full_refresh: bool = False) -> list[StreamPlan]:
    """The selected streams in catalog order, each with its settings applied."""
    entries = {stream_name(e): e for e in catalog_streams(catalog)}
    where = str(cfg.file)
    for pattern in cfg.streams:
        if _is_glob(pattern):
            if not any(fnmatch.fnmatchcase(n, pattern) for n in entries):
                raise ConfigError(f"no stream of the tap matches {pattern!r} "
                                  f"(it offers: {', '.join(sorted(entries)) or 'nothing'})",
                                  file=where, key=f"streams.{pattern}")
        elif pattern not in entries:
            raise ConfigError(f"the tap has no stream {pattern!r} "
                              f"(it offers: {', '.join(sorted(entries)) or 'nothing'})",
                              file=where, key=f"streams.{pattern}")
    plans: list[StreamPlan] = []
    for name, entry in entries.items():
        settings = _settings_for(name, cfg.streams)
        if cfg.streams and (settings is None or not settings.selected):
            continue
        plans.append(_plan(cfg, name, entry, settings or StreamSettings(), full_refresh))
    if only:
        known = {p.stream for p in plans}
        unknown = [s for s in only if s not in known]
        if unknown:
            raise ConfigError(f"--stream {', '.join(unknown)}: not a selected stream of this "
                              f"pipeline (selected: {', '.join(sorted(known)) or 'none'})",
                              file=where)
        plans = [p for p in plans if p.stream in only]
    return plans


def _plan(cfg: PipelineConfig, name: str, entry: Mapping[str, Any], s: StreamSettings,
          full_refresh: bool) -> StreamPlan:
    keys = tuple(s.key_properties) if s.key_properties is not None \
        else tuple(entry_key_properties(entry))
    rk = s.replication_key or entry_replication_key(entry)
    method: ReplicationMethod = s.replication_method or ("INCREMENTAL" if rk else "FULL_TABLE")
    where = str(cfg.file)
    if method == "INCREMENTAL" and not rk:
        raise ConfigError("INCREMENTAL replication needs a replication_key", file=where,
                          key=f"streams.{name}.replication_key")
    schema_body = entry.get("schema") or {"type": "object", "properties": {}}
    props = schema_body.get("properties") or {}
    for key in keys:
        if props and key not in props:
            raise ConfigError(f"key property {key!r} is not a property of stream {name!r}",
                              file=where, key=f"streams.{name}.key_properties")
    if method == "INCREMENTAL" and rk and props and rk not in props:
        raise ConfigError(f"replication key {rk!r} is not a property of stream {name!r}",
                          file=where, key=f"streams.{name}.replication_key")
    mode: WriteMode
    if full_refresh or (method == "FULL_TABLE" and not keys):
        mode = "replace"
    elif keys:
        mode = "merge"
    else:
        mode = "append"
    selected = select_entry(entry, selected=True, replication_method=method,
                            replication_key=rk if method == "INCREMENTAL" else None,
                            key_properties=list(keys))
    return StreamPlan(
        stream=name,
        destination_table=s.destination_table or name,
        replication_method=method,
        replication_key=rk if method == "INCREMENTAL" else None,
        key_properties=keys,
        batch_size=s.batch_size or cfg.batch_size,
        write_mode=mode,
        schema=StreamSchema.build(name, schema_body, keys),
        catalog_entry=selected,
    )
