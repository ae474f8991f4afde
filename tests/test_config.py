"""The pipeline file: validation errors name the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.config import load_config
from sync.errors import ConfigError

VALID = """\
pipeline: shop
source:
  tap: jsonl
  config:
    files:
      - path: data/*.jsonl
destination:
  config:
    path: wh.duckdb
    schema: raw
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(text)
    return path


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


def test_valid_file_gets_defaults_and_resolved_paths(tmp_path: Path) -> None:
    """Defaults fill the optional keys; relative paths resolve against the file's folder."""
    cfg = load_config(write(tmp_path, VALID))
    assert cfg.pipeline == "shop"
    assert cfg.source.uuid == "source" and cfg.destination.uuid == "destination"
    assert cfg.destination.target == "duckdb"
    assert cfg.batch_size == 50_000 and cfg.max_parallel_streams == 2 and cfg.retries == 0
    assert cfg.state_path == (tmp_path / ".sync" / "sync.db").resolve()


@pytest.mark.parametrize(("text", "line", "key", "words"), [
    (VALID + "batch_sise: 5\n", 11, "batch_sise", "unknown key"),
    (VALID + "batch_size: many\n", 11, "batch_size", "integer"),
    (VALID + "batch_size: 0\n", 11, "batch_size", "greater than 0"),
    (VALID + "streams:\n  users:\n    replication_method: SOMETIMES\n", 13,
     "streams.users.replication_method", "INCREMENTAL"),
    (VALID + "schedule: every day\n", 11, "schedule", "cron"),
    (VALID + "timezone: Mars/Olympus\n", 11, "timezone", "time zone"),
    (VALID.replace("  tap: jsonl\n", "  tap: no-such-tap-anywhere\n"), 3, "source.tap",
     "neither a built-in"),
    (VALID.replace("      - path: data/*.jsonl\n", "      - paths: data/*.jsonl\n"), 6,
     "source.config.files.0.path", "required key is missing"),
    (VALID.replace("      - path: data/*.jsonl\n", "      - path: a\n        strem: b\n"), 7,
     "source.config.files.0.strem", "unknown key"),
    (VALID.replace("schema: raw", "schema: raw\n    pth: x"), 11, "destination.config.pth",
     "unknown key"),
    ("source:\n  tap: jsonl\n", 1, "pipeline", "required key is missing"),
])
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, line: int, key: str,
                                       words: str) -> None:
    """Each mistake is reported at its own line and key."""
    path = write(tmp_path, text)
    err = error_of(path)
    assert err.file == str(path.resolve())
    assert err.line == line
    assert err.key == key
    assert words in str(err)
    assert str(err).startswith(f"{path.resolve()}:{line}: {key}: ")


def test_env_interpolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """${VAR} and ${VAR:-default} are replaced; the values are remembered as secrets."""
    monkeypatch.setenv("SHOP_SCHEMA", "analytics")
    cfg = load_config(write(tmp_path, VALID.replace("schema: raw", "schema: ${SHOP_SCHEMA}")
                            + "state: ${STATE_FILE:-state/x.db}\n"))
    assert cfg.destination.config["schema"] == "analytics"
    assert cfg.state_path == (tmp_path / "state" / "x.db").resolve()
    assert "analytics" in cfg.secrets


def test_missing_env_var_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing environment variable names itself, the key and the line."""
    monkeypatch.delenv("NO_SUCH_VAR", raising=False)
    err = error_of(write(tmp_path, VALID.replace("schema: raw", "schema: ${NO_SUCH_VAR}")))
    assert "NO_SUCH_VAR is not set" in str(err)
    assert err.line == 10
    assert err.key == "destination.config.schema"


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    """Broken YAML is reported at the line the parser stopped."""
    err = error_of(write(tmp_path, "pipeline: x\nsource: [unclosed\n"))
    assert err.line is not None and err.line >= 2
    assert "invalid YAML" in str(err)


def test_missing_file(tmp_path: Path) -> None:
    """A missing pipeline file is a config error, not a traceback."""
    err = error_of(tmp_path / "nope.yaml")
    assert "file not found" in str(err)


def test_same_uuid_for_both_blocks(tmp_path: Path) -> None:
    """Source and destination blocks need distinct uuids."""
    err = error_of(write(tmp_path, VALID.replace("destination:\n",
                                                 "destination:\n  uuid: source\n")))
    assert err.key == "destination.uuid"
