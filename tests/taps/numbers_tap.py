#!/usr/bin/env python3
"""A small real Singer tap for tests, run as a subprocess.

Config keys:
  streams: {name: {"count": N, "bad_line_at": K | null, "keys": true,
                   "huge_at": K | null, "huge_bytes": 50 MB}}
  state_every: emit STATE after every this many records (default 10)
  exit_code: exit with this code after writing everything (default 0)
  fail_after: exit with code 3 after this many records
  hang_after: stop writing (sleep for an hour) after this many records
  pause_every, pause_seconds: sleep pause_seconds after every pause_every records
  extra_lines: raw lines written before anything else
  starts_file: append {"streams": [...], "state": {...}, "config_mode": ..., "pid": ...,
               "tap": this script's path, "env": {k: $k for k in env_keys}} on every start
  echo_config: write the whole config to stderr (to check that sync hides its secrets)
Records are {"id": i, "value": i * 1.5, "label": "row-i", "updated_at": ...}; a
stream is incremental on "id", and --state resumes after the bookmarked id.
"""

import argparse
import datetime
import json
import os
import sys
import time

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "value": {"type": ["number", "null"]},
        "label": {"type": ["string", "null"]},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


def load(path):
    with open(path) as fh:
        return json.load(fh)


def out(msg):
    sys.stdout.write(json.dumps(msg) + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--discover", action="store_true")
    p.add_argument("--catalog")
    p.add_argument("--properties")
    p.add_argument("--state")
    a = p.parse_args()
    cfg = load(a.config)
    streams = cfg.get("streams", {"numbers": {"count": 10}})
    if a.discover:
        if cfg.get("starts_file"):
            with open(cfg["starts_file"], "a") as fh:
                fh.write(json.dumps({"discover": True}) + "\n")
        out_streams = []
        for name, spec in streams.items():
            keys = ["id"] if spec.get("keys", True) else []
            out_streams.append({
                "tap_stream_id": name, "stream": name, "schema": SCHEMA,
                "key_properties": keys, "replication_key": "id",
                "metadata": [{"breadcrumb": [], "metadata": {
                    "table-key-properties": keys, "valid-replication-keys": ["id"]}}],
            })
        json.dump({"streams": out_streams}, sys.stdout)
        return 0
    catalog = load(a.catalog or a.properties)
    selected = []
    for entry in catalog["streams"]:
        md = {tuple(m["breadcrumb"]): m["metadata"] for m in entry.get("metadata", [])}
        if md.get((), {}).get("selected"):
            selected.append(entry["stream"])
    state = load(a.state) if a.state else {}
    if cfg.get("starts_file"):
        with open(cfg["starts_file"], "a") as fh:
            mode = os.stat(a.config).st_mode & 0o777
            fh.write(json.dumps({"streams": selected, "state": state, "config_mode": mode,
                                 "config_path": a.config, "pid": os.getpid(),
                                 "tap": os.path.abspath(sys.argv[0]),
                                 "env": {k: os.environ.get(k)
                                         for k in cfg.get("env_keys", [])}}) + "\n")
    if cfg.get("echo_config"):
        sys.stderr.write("numbers_tap config: " + json.dumps(cfg) + "\n")
    for line in cfg.get("extra_lines", []):
        sys.stdout.write(line + "\n")
    every = cfg.get("state_every", 10)
    base = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    emitted = 0
    for name in selected:
        spec = streams[name]
        keys = ["id"] if spec.get("keys", True) else []
        out({"type": "SCHEMA", "stream": name, "schema": SCHEMA, "key_properties": keys,
             "bookmark_properties": ["id"]})
        start = state.get("bookmarks", {}).get(name, {}).get("replication_key_value", 0)
        bookmark = start
        for i in range(start + 1, spec["count"] + 1):
            if spec.get("huge_at") == i:
                out({"type": "RECORD", "stream": name, "record": {
                    "id": i, "value": 0.5, "label": "x" * spec.get("huge_bytes", 50 << 20)}})
            elif spec.get("bad_line_at") == i:
                out({"type": "RECORD", "stream": name,
                     "record": {"id": "not-a-number", "value": 1.0}})
            else:
                out({"type": "RECORD", "stream": name, "record": {
                    "id": i, "value": i * 1.5, "label": f"row-{i}",
                    "updated_at": (base + datetime.timedelta(minutes=i)).isoformat()}})
            bookmark = i
            emitted += 1
            if cfg.get("pause_every") and emitted % cfg["pause_every"] == 0:
                sys.stdout.flush()
                time.sleep(cfg.get("pause_seconds", 0.05))
            if cfg.get("hang_after") is not None and emitted >= cfg["hang_after"]:
                sys.stdout.flush()
                time.sleep(3600)
            if cfg.get("fail_after") is not None and emitted >= cfg["fail_after"]:
                sys.stdout.flush()
                sys.stderr.write("numbers_tap: simulated crash\n")
                return 3
            if i % every == 0:
                out({"type": "STATE", "value": {"bookmarks": {
                    name: {"replication_key": "id", "replication_key_value": bookmark}}}})
        out({"type": "STATE", "value": {"bookmarks": {
            name: {"replication_key": "id", "replication_key_value": bookmark}}}})
    return cfg.get("exit_code", 0)


if __name__ == "__main__":
    sys.exit(main())
