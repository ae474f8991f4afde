"""A singer-sdk face of the built-in DuckDB target, so it also runs as a standalone
Singer target (``sync-target-duckdb --config config.json < messages``) and can be put
through singer-sdk's standard target tests. The loading is the same core that
``sync run`` uses in-process: Arrow batches into DuckDB.
"""

from __future__ import annotations

import decimal
import threading
from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, ClassVar

from singer_sdk import Sink, Target
from singer_sdk.sinks import BatchSink

from sync.reader import records_to_table
from sync.schema import StreamSchema
from targets.duckdb import DuckDBConfig, DuckDBDestination


def _plain(value: Any) -> Any:
    """SDK record values (Decimal, datetime) as the JSON values our reader expects."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class DuckDBSink(BatchSink):
    """Loads each drained batch of one stream through the DuckDB loader core."""

    max_size = 50_000

    def __init__(self, target: Target, stream_name: str, schema: dict[str, Any],
                 key_properties: list[str] | None) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        assert isinstance(target, TargetDuckDB)
        self._owner = target

    @property
    def _destination(self) -> DuckDBDestination:
        return self._owner.destination()

    def process_batch(self, context: dict[str, Any]) -> None:
        records = [_plain(r) for r in context.get("records", [])]
        keys = tuple(self.key_properties or ())
        schema = StreamSchema.build(self.stream_name, self.schema, keys)
        table = records_to_table(records, schema)
        self._destination.write(
            stream=self.stream_name, table_name=self.stream_name, data=table,
            schema=schema.arrow, state=None, mode="merge" if keys else "append", keys=keys,
            truncate=False, run_id=0, batch_index=0, block_run=f"{self.stream_name}")


class TargetDuckDB(Target):
    """Loads Singer streams into a DuckDB file."""

    name = "sync-target-duckdb"
    default_sink_class: ClassVar[type[Sink]] = DuckDBSink  # type: ignore[misc]
    config_jsonschema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "The DuckDB database file."},
            "schema": {"type": "string", "description": "Schema the tables land in."},
        },
    }
    _dest: DuckDBDestination | None = None

    _lock = threading.Lock()

    def destination(self) -> DuckDBDestination:
        with self._lock:
            if self._dest is None:
                cfg: Mapping[str, Any] = self.config
                settings = {k: cfg[k] for k in ("path", "schema") if cfg.get(k) is not None}
                dest = DuckDBDestination(DuckDBConfig.model_validate(settings),
                                         pipeline=self.name, base_dir=Path.cwd())
                dest.open()
                self._dest = dest
            return self._dest

    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        if self._dest is not None:
            self._dest.close()
            self._dest = None
