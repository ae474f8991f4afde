"""The Arrow compute kernels sync calls, reached without importing ``pyarrow.compute``.

Importing ``pyarrow.compute`` builds a documented Python wrapper for each of Arrow's
several hundred kernels, about 25 ms of every `sync run`'s start-up. Those wrappers all
end in ``call_function``; sync calls the few kernels it needs through it directly.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

try:
    from pyarrow._compute import CastOptions, MatchSubstringOptions
    from pyarrow._compute import call_function as _call
except ImportError:  # pragma: no cover - a pyarrow that moved its internals
    from pyarrow.compute import CastOptions, MatchSubstringOptions
    from pyarrow.compute import call_function as _call


def call(name: str, *args: Any, options: Any = None) -> Any:
    """Run the Arrow kernel ``name`` on ``args``."""
    return _call(name, list(args), options)


def equal(left: Any, right: Any) -> Any:
    return call("equal", left, right)


def and_(left: Any, right: Any) -> Any:
    return call("and", left, right)


def invert(values: Any) -> Any:
    return call("invert", values)


def fill_null(values: Any, fill: Any) -> Any:
    return call("coalesce", values, fill)


def indices_nonzero(values: Any) -> Any:
    return call("indices_nonzero", values)


def if_else(cond: Any, left: Any, right: Any) -> Any:
    return call("if_else", cond, left, right)


def min_max(values: Any) -> tuple[Any, Any]:
    """The smallest and largest value, as Python values (None for no values)."""
    bounds = call("min_max", values)
    return bounds["min"].as_py(), bounds["max"].as_py()


def count_distinct(values: Any) -> int:
    return int(call("count_distinct", values).as_py())


def ends_with_match(values: Any, pattern: str) -> Any:
    """Which strings match the regular expression ``pattern``."""
    return call("match_substring_regex", values, options=MatchSubstringOptions(pattern))


def concat(left: Any, right: Any) -> Any:
    """Element-wise string concatenation."""
    return call("binary_join_element_wise", left, right, "")


def cast_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with its columns cast to ``schema``'s types, without overflow checks."""
    if table.schema.names != schema.names:
        raise pa.ArrowInvalid(f"columns {table.schema.names} do not match {schema.names}")
    columns = [col if col.type == f.type else
               call("cast", col, options=CastOptions.unsafe(f.type))
               for col, f in zip(table.columns, schema, strict=True)]
    return pa.Table.from_arrays(columns, schema=schema)
