"""singer-sdk faces of the built-in file taps, so they also run as standalone Singer taps.

    sync-tap-csv --config config.json --discover
    sync-tap-csv --config config.json --catalog catalog.json --state state.json

The records come from the same DuckDB reader the in-process path uses; relative
paths in the config resolve against the working directory.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from singer_sdk import Stream, Tap

from sync.plan import StreamPlan
from sync.schema import StreamSchema
from sync.singer import RecordChunk
from taps.files import FileTap, FileTapConfig, Format


class FileStream(Stream):
    """One stream of a file tap."""

    is_sorted = True  # incremental streams are read in replication-key order

    def __init__(self, tap: Tap, files: FileTap, entry: Mapping[str, Any]) -> None:
        self._files = files
        self._entry = entry
        super().__init__(tap, schema=dict(entry["schema"]), name=str(entry["stream"]))
        self.primary_keys = list(entry.get("key_properties") or [])
        self.replication_key = entry.get("replication_key")

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        rk = self.replication_key
        start = self.get_starting_replication_key_value(context) if rk else None
        state = {"bookmarks": {self.name: {"replication_key_value": start}}} \
            if start is not None else None
        plan = StreamPlan(
            stream=self.name, destination_table=self.name,
            replication_method="INCREMENTAL" if rk else "FULL_TABLE", replication_key=rk,
            key_properties=tuple(self.primary_keys), batch_size=10_000, write_mode="append",
            schema=StreamSchema.build(self.name, self.schema, tuple(self.primary_keys)),
            catalog_entry=self._entry)
        with self._files.read(plan, state, threading.Event()) as events:
            for event in events:
                if isinstance(event, RecordChunk):
                    yield from event.table.to_pylist()


class _FileTapBase(Tap):
    fmt: ClassVar[Format]
    config_jsonschema: ClassVar[dict[str, Any]] = FileTapConfig.model_json_schema()

    def discover_streams(self) -> list[Stream]:
        files = FileTap(self.fmt, {"files": self.config.get("files", [])}, Path.cwd())
        return [FileStream(self, files, entry) for entry in files.discover()["streams"]]


class TapCSV(_FileTapBase):
    """Reads CSV files as Singer streams."""

    name = "sync-tap-csv"
    fmt = "csv"


class TapJSONL(_FileTapBase):
    """Reads JSON-lines files as Singer streams."""

    name = "sync-tap-jsonl"
    fmt = "jsonl"


class TapParquet(_FileTapBase):
    """Reads Parquet files as Singer streams."""

    name = "sync-tap-parquet"
    fmt = "parquet"
