#!/usr/bin/env python3
"""A small real Singer target for tests, run as a subprocess.

Config keys:
  path: folder for <stream>.jsonl files (records appended as they arrive)
  echo: "each" (echo every STATE at once) or "exit" (only the last STATE, on exit)
  fail_after: exit 4 after this many records
  hang_after: stop reading stdin (sleep) after this many records
"""

import argparse
import json
import os
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    a = p.parse_args()
    with open(a.config) as fh:
        cfg = json.load(fh)
    os.makedirs(cfg["path"], exist_ok=True)
    with open(os.path.join(cfg["path"], "starts.log"), "a") as log:
        log.write("start\n")
    files = {}
    state = None
    seen = 0
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["type"] == "SCHEMA":
            path = os.path.join(cfg["path"], msg["stream"] + ".jsonl")
            files[msg["stream"]] = open(path, "a")  # noqa: SIM115 - closed at exit
        elif msg["type"] == "RECORD":
            fh = files[msg["stream"]]
            fh.write(json.dumps(msg["record"]) + "\n")
            fh.flush()
            seen += 1
            if cfg.get("fail_after") is not None and seen >= cfg["fail_after"]:
                sys.stderr.write("jsonl_target: simulated failure\n")
                return 4
            if cfg.get("hang_after") is not None and seen >= cfg["hang_after"]:
                time.sleep(3600)
        elif msg["type"] == "STATE":
            state = msg["value"]
            if cfg.get("echo", "each") == "each":
                sys.stdout.write(json.dumps({"type": "STATE", "value": state}) + "\n")
                sys.stdout.flush()
    if state is not None:
        sys.stdout.write(json.dumps({"type": "STATE", "value": state}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
