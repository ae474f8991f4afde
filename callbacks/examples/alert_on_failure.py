"""Example callback block: alert when a block run fails, using only keyword arguments.

A keyword-only callback reads the batch from kwargs['__input'][parent_block_uuid].
Swap the print for a webhook call or a pager; sync keeps a slow or failing alert from
ever changing the stream's outcome.
"""

import sys


@callback('failure')
def alert_me(**kwargs):
    """A block run failed: say which, where it was going, and why."""
    batch = kwargs['__input'][kwargs['parent_block_uuid']]
    rows = batch.num_rows if batch is not None else 0
    error = str(kwargs['error']).splitlines()[0]
    print(f"ALERT {kwargs['pipeline_uuid']}: {kwargs['parent_block_uuid']} failed on stream "
          f"{kwargs['stream']} (table {kwargs['destination_table']}, batch {kwargs['index']}, "
          f"{rows} rows, {kwargs['execution_partition']}): {error}", file=sys.stderr)


@callback('failure', scope='run')
def alert_run(**kwargs):
    """Once per failed run: the streams that failed."""
    failed = [s.stream for s in kwargs['streams'] if s.status != 'success']
    print(f"ALERT {kwargs['pipeline_uuid']} run {kwargs['pipeline_run'].id} failed: "
          f"{', '.join(failed) or kwargs['error']}", file=sys.stderr)
