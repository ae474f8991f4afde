"""Find the first record that breaks its stream's schema, with a readable reason.

Records are converted and type-checked in bulk; this module only runs when a
bulk conversion failed, to name the record and field at fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.schema import StreamSchema


def _validator(schema: Mapping[str, Any]) -> Any:
    import jsonschema  # only needed once a bulk conversion has failed

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _path(error: Any) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(record)"


def first_violation(rows: list[dict[str, Any]], schema: StreamSchema) -> tuple[int, str] | None:
    """The index of the first bad record and why it is bad, or None if all fit."""
    import jsonschema

    from sync.reader import records_to_table  # local: reader imports this module

    validator = _validator(schema.json_schema)
    for index, row in enumerate(rows):
        error = jsonschema.exceptions.best_match(validator.iter_errors(row))
        if error is not None:
            return index, f"property '{_path(error)}': {error.message}"
    for index, row in enumerate(rows):
        try:
            records_to_table([row], schema)
        except Exception as exc:  # noqa: BLE001 - any conversion failure is the answer
            return index, f"record does not fit the schema: {exc}"
    return None
