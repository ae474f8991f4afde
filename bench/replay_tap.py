#!/usr/bin/env python3
"""A Singer tap that replays a file of Singer messages: the 'external tap' of benchmarks.

Config: {"file": PATH, "repeat": N}: the file's messages, N times (default once).
--discover prints a catalog made from the file's SCHEMA lines.
"""

import json
import shutil
import sys


def main() -> int:
    args = sys.argv[1:]
    with open(args[args.index("--config") + 1]) as fh:
        cfg = json.load(fh)
    if "--discover" in args:
        streams = {}
        with open(cfg["file"], "rb") as fh:
            for line in fh:
                msg = json.loads(line)
                if msg["type"] == "SCHEMA" and msg["stream"] not in streams:
                    streams[msg["stream"]] = {
                        "tap_stream_id": msg["stream"], "stream": msg["stream"],
                        "schema": msg["schema"], "key_properties": msg.get("key_properties", []),
                        "metadata": [{"breadcrumb": [], "metadata": {}}]}
                elif msg["type"] == "RECORD":
                    break
        json.dump({"streams": list(streams.values())}, sys.stdout)
        return 0
    repeat = int(cfg.get("repeat", 1))
    for n in range(repeat):
        with open(cfg["file"], "rb") as fh:
            if n:  # later rounds: the records again, without the SCHEMA line
                fh.readline()
            shutil.copyfileobj(fh, sys.stdout.buffer, 1 << 20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
