"""sync.testing: users call their callbacks in a unit test, with sync's own arguments."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sync.errors import ConfigError
from sync.testing import callback_kwargs, run_callbacks

EXAMPLES = Path(__file__).resolve().parent.parent / "callbacks" / "examples"


def test_callback_kwargs_match_the_contract() -> None:
    """The helper builds every keyword the seed page lists, with sync's values."""
    when = datetime(2026, 4, 26, 20, 28, 17, 335254, tzinfo=UTC)
    kw = callback_kwargs(block_uuid="fireball_callback", stream="stripe_transactions",
                         destination_table="dim_users_v1", index=3, is_last_block_run=False,
                         parent_block_uuid="load_data_from_api", pipeline_uuid="fire_etl",
                         run_id=2357, execution_date=when, data=[{"id": 1}])
    assert kw["ds"] == "2026-04-26" and kw["hr"] == "20"
    assert kw["execution_partition"] == "2357/20260426T202817"
    assert repr(kw["pipeline_run"]) == ("PipelineRun(id=2357, pipeline_uuid=fire_etl, "
                                        "execution_date=2026-04-26 20:28:17.335254+00:00)")
    assert kw["__input"]["load_data_from_api"].num_rows == 1
    assert kw["destination_table"] == "dim_users_v1" and kw["index"] == 3
    assert kw["event"] == {} and "error" not in kw


def test_run_callbacks_calls_a_file_like_sync(capsys: pytest.CaptureFixture[str]) -> None:
    """run_callbacks loads a file and calls its matching functions with a built context."""
    out = run_callbacks(EXAMPLES / "alert_on_failure.py", stream="orders",
                        error=RuntimeError("disk full"), index=4)
    assert [name for name, _ in out] == ["alert_me"]
    err = capsys.readouterr().err
    assert "stream orders" in err and "batch 4" in err and "disk full" in err


def test_run_callbacks_surfaces_callback_errors(tmp_path: Path) -> None:
    """A callback that raises raises in the test, so the user sees the bug."""
    path = tmp_path / "cb.py"
    path.write_text("@callback\ndef f(data, **kwargs):\n    raise ValueError('nope')\n")
    with pytest.raises(ValueError, match="nope"):
        run_callbacks(path)


def test_run_callbacks_checks_the_file(tmp_path: Path) -> None:
    """The same load-time checks as a real run."""
    path = tmp_path / "cb.py"
    path.write_text("@callback('sometimes')\ndef f(**kwargs):\n    pass\n")
    with pytest.raises(ConfigError, match="unknown callback status"):
        run_callbacks(path)
