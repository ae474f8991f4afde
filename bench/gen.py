"""Deterministic Singer data for benchmarks: one 12-field stream, ~400 bytes a record.

    python bench/gen.py RECORDS OUT.singer

Fields: integers, floats, booleans, two timestamps, strings, a string array, a nested
object and nullable fields. A STATE follows every 10,000 records.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

STREAM = "events"
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "account_id": {"type": "integer"},
        "amount": {"type": ["number", "null"]},
        "score": {"type": "number"},
        "is_active": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
        "name": {"type": "string"},
        "email": {"type": ["string", "null"]},
        "description": {"type": ["string", "null"]},
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "address": {"type": ["object", "null"], "properties": {
            "street": {"type": "string"}, "city": {"type": "string"},
            "postcode": {"type": "string"}, "country": {"type": "string"}}},
    },
}
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
         "sierra", "tango", "uniform", "victor", "whiskey", "xray")


def schema_message() -> bytes:
    return orjson.dumps({"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA,
                         "key_properties": ["id"], "bookmark_properties": ["updated_at"]})


def generate(n: int, out: Path) -> None:
    rng = random.Random(42)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with out.open("wb") as fh:
        fh.write(schema_message() + b"\n")
        for i in range(1, n + 1):
            created = base + timedelta(seconds=i * 7)
            rec = {
                "id": i,
                "account_id": rng.randint(1, 50_000),
                "amount": None if i % 17 == 0 else round(rng.uniform(0, 10_000), 2),
                "score": rng.random(),
                "is_active": rng.random() < 0.8,
                "created_at": created.isoformat().replace("+00:00", "Z"),
                "updated_at": None if i % 11 == 0 else
                (created + timedelta(minutes=rng.randint(1, 5000))).isoformat(),
                "name": " ".join(rng.choices(WORDS, k=3)),
                "email": None if i % 13 == 0 else f"user{i}@example.com",
                "description": " ".join(rng.choices(WORDS, k=rng.randint(2, 6))),
                "tags": rng.sample(WORDS, k=rng.randint(0, 4)),
                "address": None if i % 19 == 0 else {
                    "street": f"{rng.randint(1, 999)} {rng.choice(WORDS).title()} Street",
                    "city": rng.choice(WORDS).title(), "postcode": f"{rng.randint(10000, 99999)}",
                    "country": rng.choice(["PT", "NO", "PE", "IN", "DE"])},
            }
            fh.write(orjson.dumps({"type": "RECORD", "stream": STREAM, "record": rec,
                                   "time_extracted": "2026-12-01T00:00:00Z"}) + b"\n")
            if i % 10_000 == 0:
                fh.write(orjson.dumps({"type": "STATE", "value": {"bookmarks": {
                    STREAM: {"replication_key_value": i}}}}) + b"\n")


if __name__ == "__main__":
    generate(int(sys.argv[1]), Path(sys.argv[2]))
