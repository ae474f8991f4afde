"""A callback block for tests: every call, in every calling form, appended to $CALLS_FILE."""

import json
import os
import traceback


def _write(form, parent_block_data, kwargs):
    error = kwargs.get("error")
    record = {"form": form, "block_uuid": kwargs["block_uuid"]}
    for key in ("parent_block_uuid", "ds", "hr", "execution_partition", "event",
                "pipeline_uuid", "stream", "destination_table", "index", "is_last_block_run"):
        record[key] = kwargs[key]
    record["keys"] = sorted(kwargs)
    record["execution_date"] = kwargs["execution_date"].isoformat()
    record["tz"] = str(kwargs["execution_date"].tzinfo)
    record["pipeline_run"] = repr(kwargs["pipeline_run"])
    record["run_id"] = kwargs["pipeline_run"].id
    record["input_keys"] = sorted(kwargs["__input"])
    record["rows"] = None if parent_block_data is None else parent_block_data.num_rows
    record["same_data"] = parent_block_data is kwargs["__input"][kwargs["parent_block_uuid"]]
    if error is not None:
        record["error_type"] = type(error).__name__
        record["error"] = str(error)
        record["error_is___error"] = error is kwargs["__error"]
        record["has_traceback"] = bool(traceback.format_tb(error.__traceback__))
    with open(os.environ["CALLS_FILE"], "a") as fh:
        fh.write(json.dumps(record) + "\n")


@callback('success')
def positional_ok(parent_block_data, **kwargs):
    _write("positional", parent_block_data, kwargs)


@callback('failure')
def positional_failed(parent_block_data, **kwargs):
    _write("positional", parent_block_data, kwargs)


@callback('success', 'failure')
def keywords_only(**kwargs):
    _write("keywords", kwargs['__input'][kwargs['parent_block_uuid']], kwargs)


@callback
def bare(data, **kwargs):
    _write("bare", data, kwargs)


def on_success(**kwargs):
    _write("legacy", kwargs['__input'][kwargs['parent_block_uuid']], kwargs)


@on_failure
def legacy_failure(**kwargs):
    _write("legacy", kwargs['__input'][kwargs['parent_block_uuid']], kwargs)


@callback('success', 'failure', scope='run')
def run_level(summary, **kwargs):
    with open(os.environ["CALLS_FILE"], "a") as fh:
        fh.write(json.dumps({"form": "run", "status": kwargs["status"],
                             "streams": {s.stream: [s.status, s.rows, s.batches]
                                         for s in kwargs["streams"]},
                             "run_status": kwargs["pipeline_run"].status,
                             "error": str(kwargs.get("error") or "")}) + "\n")
