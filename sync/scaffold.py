"""``sync init``: the files of a new project, ready to run."""

from __future__ import annotations

from pathlib import Path

from sync.errors import ConfigError

PIPELINE = """\
# A pipeline: one source, one destination, the streams, callbacks.
# Run it with:  sync run --config pipeline.yaml
pipeline: {name}
source:
  tap: jsonl                      # built-in: csv, jsonl, parquet; or any Singer tap
  config:
    files:
      - path: data/*.jsonl        # one stream per file, named after it
        key_properties: [id]
        replication_key: updated_at
destination:
  target: duckdb
  config:
    path: warehouse.duckdb
    schema: raw
batch_size: 50000
callbacks:
  - file: callbacks/notify.py
"""

DATA = """\
{"id": 1, "name": "first", "updated_at": "2026-01-01T00:00:00Z"}
{"id": 2, "name": "second", "updated_at": "2026-01-02T00:00:00Z"}
"""

CALLBACK = """\
\"\"\"Callbacks run after every block run of their parent blocks (see the README).\"\"\"


@callback('success')
def report(parent_block_data, **kwargs):
    print(f"{kwargs['parent_block_uuid']}:{kwargs['stream']}:{kwargs['index']} "
          f"{parent_block_data.num_rows} rows -> {kwargs['destination_table']}")


@callback('failure')
def alert(**kwargs):
    print(f"FAILED {kwargs['stream']} batch {kwargs['index']}: {kwargs['error']}")
"""

GITIGNORE = """\
.sync/
*.duckdb
*.duckdb.wal
"""


def init_project(folder: Path, name: str) -> list[Path]:
    """Write a new project's files into ``folder``; refuse to overwrite any."""
    files = {
        folder / "pipeline.yaml": PIPELINE.format(name=name),
        folder / "data" / "events.jsonl": DATA,
        folder / "callbacks" / "notify.py": CALLBACK,
        folder / ".gitignore": GITIGNORE,
    }
    existing = [p for p in files if p.exists()]
    if existing:
        raise ConfigError(f"{existing[0]} already exists; sync init writes only new files")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(files)
