"""Secrets from ${ENV} and secret-named keys never show in logs, errors, history or files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from sync.secrets import Redactor, is_secret_key, secret_values
from tests.conftest import numbers_source, run_cli

TOKEN = "tok-7f3a9c1e55d2"
PASSWORD = "hunter2-hunter2"


def test_secret_keys_and_values() -> None:
    """Keys named like secrets are found at any depth; key_properties is not one."""
    assert is_secret_key("password") and is_secret_key("api_key")
    assert is_secret_key("client_secret") and is_secret_key("token")
    assert not is_secret_key("key_properties") and not is_secret_key("monkey_count")
    assert secret_values({"auth": {"password": "pw-123456", "user": "me"},
                          "list": [{"token": "abcd1234"}]}) == {"pw-123456", "abcd1234"}
    redact = Redactor({"abcd1234"})
    assert redact.text("bearer abcd1234 failed") == "bearer *** failed"


def test_secrets_never_leave(tmp_path: Path, pipeline_file: Callable[..., Path]) -> None:
    """A failing run whose tap prints its config: the secrets appear nowhere we write;
    the tap's config file was private (0600) and is gone afterwards."""
    starts = tmp_path / "starts.jsonl"
    source = numbers_source({"s": {"count": 30}}, fail_after=15, echo_config=True,
                            starts_file=str(starts))
    source["config"]["api_token"] = "${SYNC_TEST_TOKEN}"
    source["config"]["auth"] = {"password": PASSWORD}
    cfg = pipeline_file(source=source, batch_size=10)
    done = run_cli("run", "--config", str(cfg), "--log-format", "json", "--log-level", "debug",
                   env={"SYNC_TEST_TOKEN": TOKEN})
    assert done.returncode == 1
    assert "numbers_tap config" in done.stderr  # the tap did print its config ...
    for secret in (TOKEN, PASSWORD):
        assert secret not in done.stderr and secret not in done.stdout  # ... masked
        for path in tmp_path.rglob("*"):
            if path.is_file() and path not in (starts, cfg):  # ours, not the user's
                assert secret.encode() not in path.read_bytes(), path
    assert "***" in done.stderr
    run_id = run_cli("runs", "list", "--config", str(cfg),
                     env={"SYNC_TEST_TOKEN": TOKEN}).stdout.split()[0]
    shown = run_cli("runs", "show", "--config", str(cfg), run_id,
                    env={"SYNC_TEST_TOKEN": TOKEN}).stdout
    assert TOKEN not in shown and PASSWORD not in shown and "exited with code 3" in shown
    start = json.loads(starts.read_text().splitlines()[-1])
    assert start["config_mode"] == 0o600
    assert not os.path.exists(start["config_path"])
