"""Example callback block: one line per block run, as a data engineer would log it.

No import is needed: sync puts `callback` in scope when it loads this file.
"""

import sys


@callback('success')
def log_batch(parent_block_data, **kwargs):
    """After every successful block run: which stream, table, batch, and how many rows."""
    last = " (last)" if kwargs['is_last_block_run'] else ""
    print(f"[{kwargs['pipeline_uuid']} run {kwargs['pipeline_run'].id}] "
          f"{kwargs['parent_block_uuid']}:{kwargs['stream']}:{kwargs['index']}{last} "
          f"-> {kwargs['destination_table']}: {parent_block_data.num_rows} rows",
          file=sys.stderr)


@callback('success', scope='run')
def run_summary(summary, **kwargs):
    """Once, when the run ends: a line per stream."""
    for s in kwargs['streams']:
        print(f"[{kwargs['pipeline_uuid']} run {kwargs['pipeline_run'].id}] {s.stream}: "
              f"{s.rows} rows in {s.batches} batches, {s.status}", file=sys.stderr)
