"""singer-sdk's standard test suites against the built-in taps and target."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from singer_sdk.testing import get_tap_test_class, get_target_test_class

from taps.sdk import TapCSV, TapJSONL, TapParquet
from targets.sdk import TargetDuckDB

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "config" / "demo"
_WORK = Path(tempfile.mkdtemp(prefix="sync-sdk-suites-"))


def _parquet() -> str:
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    path = _WORK / "orders.parquet"
    pq.write_table(pj.read_json(DEMO / "orders.jsonl"), path)
    return str(path)


TestTargetDuckDB = get_target_test_class(
    TargetDuckDB, config={"path": str(_WORK / "suite.duckdb")})

TestTapJSONL = get_tap_test_class(TapJSONL, config={"files": [
    {"path": str(DEMO / "users.jsonl"), "key_properties": ["id"],
     "replication_key": "updated_at"},
    {"path": str(DEMO / "orders.jsonl"), "key_properties": ["order_id"]}]})

TestTapCSV = get_tap_test_class(TapCSV, config={"files": [
    {"path": str(DEMO / "products.csv"), "key_properties": ["sku"]}]})

TestTapParquet = get_tap_test_class(TapParquet, config={"files": [
    {"path": _parquet(), "stream": "orders", "key_properties": ["order_id"]}]})

__all__ = ["TestTapCSV", "TestTapJSONL", "TestTapParquet", "TestTargetDuckDB", "json"]
