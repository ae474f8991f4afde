"""sync.kernels: the Arrow kernels sync calls without importing pyarrow.compute."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pytest

from sync import kernels


def test_kernels_compute_what_pyarrow_compute_would() -> None:
    kinds = pa.chunked_array([["RECORD", None], ["STATE", "RECORD"]])
    ok = kernels.fill_null(kernels.equal(kinds, "RECORD"), False)
    assert ok.to_pylist() == [True, False, False, True]
    assert kernels.indices_nonzero(kernels.invert(ok)).to_pylist() == [1, 2]
    assert kernels.min_max(pa.chunked_array([[3, 1], [7]])) == (1, 7)
    assert kernels.min_max(pa.chunked_array([[None]], pa.int64())) == (None, None)
    assert kernels.count_distinct(pa.array([1, 2, 2, 3])) == 3
    text = pa.array(["2026-01-01T00:00:00", "2026-01-01T00:00:00+02:00"])
    zoned = kernels.ends_with_match(text, r"(Z|[+-]\d\d(:?\d\d)?)$")
    assert zoned.to_pylist() == [False, True]
    assert kernels.if_else(zoned, text, kernels.concat(text, "Z")).to_pylist() == [
        "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+02:00"]


def test_cast_table_casts_nested_columns_and_checks_names() -> None:
    table = pa.table({"id": pa.array([1, 2], pa.int32()),
                      "at": ["2026-01-01T00:00:00Z", None],
                      "tags": pa.array([["a"], []], pa.list_(pa.large_string()))})
    target = pa.schema([("id", pa.int64()), ("at", pa.timestamp("us", tz="UTC")),
                        ("tags", pa.list_(pa.string()))])
    out = kernels.cast_table(table, target)
    assert out.schema == target
    assert out.column("id").to_pylist() == [1, 2]
    assert out.column("at").null_count == 1
    with pytest.raises(pa.ArrowInvalid, match="do not match"):
        kernels.cast_table(table.rename_columns(["key", "at", "tags"]), target)


def test_a_run_imports_neither_pyarrow_compute_nor_numpy() -> None:
    """Start-up cost: both are tens of milliseconds that a run does not need."""
    code = ("import sys; import sync.runner, sync.reader, targets.duckdb, taps.files; "
            "print(sorted(m for m in ('pyarrow.compute', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
