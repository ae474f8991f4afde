"""Built-in alerts, delivered for real: a JSON webhook and an SMTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import numbers_source, run_cli

SECRET = "sekret-token-4711"


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A JSON webhook on 127.0.0.1 that keeps what it receives."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"json://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


@pytest.fixture
def smtp() -> Iterator[tuple[str, list[Any]]]:
    """An SMTP server on 127.0.0.1 (aiosmtpd) that keeps the mails it receives."""
    mails: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            mails.append(message_from_bytes(envelope.content))
            return "250 OK"

    with socket.socket() as probe:  # a free port: aiosmtpd's own check needs a real one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield (f"mailto://127.0.0.1:{port}?from=sync@example.com&to=ops@example.com"
           "&mode=insecure"), mails
    controller.stop()


def _body(mail: Any) -> str:
    part = mail.get_payload()[0] if mail.is_multipart() else mail
    return str(part.get_payload(decode=True).decode())


def test_failure_and_recovery_alerts(tmp_path: Path, pipeline_file: Callable[..., Path],
                                     webhook: tuple[str, list[dict[str, Any]]],
                                     smtp: tuple[str, list[Any]]) -> None:
    """A run with one failing stream sends one webhook alert for it (not one per batch),
    naming pipeline, stream, table, batch, rows, error and run, and no secret; the email
    alert waits for two failed runs in a row; the next good run sends a recovery mail."""
    url, posts = webhook
    mailto, mails = smtp
    streams = {"good": {"count": 30}, "broken": {"count": 30, "bad_line_at": 25}}
    source = numbers_source(streams, token=SECRET)
    source["config"]["token"] = "${ALERT_TEST_TOKEN}"
    doc = {"source": source, "batch_size": 10,
           "streams": {"good": {}, "broken": {"destination_table": "dim_broken"}},
           "alerts": [{"url": url, "on": ["failure"]},
                      {"url": mailto, "on": ["failure", "recovery"], "streams": ["brok*"],
                       "after_failures": 2}]}
    cfg = pipeline_file(**doc)
    env = {"ALERT_TEST_TOKEN": SECRET}
    assert run_cli("run", "--config", str(cfg), env=env).returncode == 1
    assert len(posts) == 1 and mails == []
    alert = posts[0]
    assert alert["title"] == "[sync] test_pipeline: stream broken failed"
    for part in ("pipeline: test_pipeline", "run: 1", "stream: broken",
                 "destination table: dim_broken", "rows loaded: 20", "batch: 2",
                 "error: stream 'broken', line"):
        assert part in alert["message"], part
    assert SECRET not in json.dumps(posts)

    assert run_cli("run", "--config", str(cfg), env=env).returncode == 1
    assert len(posts) == 2 and len(mails) == 1
    assert "stream broken failed" in mails[0]["Subject"]
    assert "run: 2" in _body(mails[0]) and SECRET not in _body(mails[0])

    doc["source"]["config"]["streams"]["broken"] = {"count": 30}
    cfg = pipeline_file(**doc)
    assert run_cli("run", "--config", str(cfg), env=env).returncode == 0
    assert len(posts) == 2 and len(mails) == 2
    assert "stream broken recovered" in mails[1]["Subject"]


def test_undeliverable_alert_never_fails_the_sync(pipeline_file: Callable[..., Path]) -> None:
    """An alert to a server that is not there is logged and recorded; the run succeeds."""
    cfg = pipeline_file(source=numbers_source({"s": {"count": 3}}),
                        alerts=[{"url": "json://127.0.0.1:9/hook", "on": ["success"]}])
    done = run_cli("run", "--config", str(cfg), "--log-format", "json")
    assert done.returncode == 0, done.stderr
    assert "alert not delivered" in done.stderr
    shown = json.loads(run_cli("runs", "show", "--config", str(cfg), "1").stdout)
    assert shown["alerts"] == [{"stream": "s", "kind": "success", "target": "json://127.0.0.1",
                                "delivered": False,
                                "error": "the alert service did not accept it"}]


def test_bad_alert_url_is_a_config_error(pipeline_file: Callable[..., Path]) -> None:
    """A URL apprise cannot use is reported at load, with its line and key."""
    cfg = pipeline_file(source=numbers_source({"s": {"count": 1}}),
                        alerts=[{"url": "nonsense-scheme://x"}])
    done = run_cli("validate", "--config", str(cfg))
    assert done.returncode == 2 and "alerts.0.url" in done.stderr
