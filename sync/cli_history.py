"""`sync state ...` and `sync runs ...`: bookmarks and run history."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer

from sync.cli_common import ConfigOpt, fail, json_object, load
from sync.errors import SyncError

state_app = typer.Typer(help="Show, set or clear saved bookmarks.", no_args_is_help=True)
runs_app = typer.Typer(help="The history of pipeline runs.", no_args_is_help=True)


def _store(cfg: Any) -> Any:
    from sync.state import SQLiteStore

    return SQLiteStore(cfg.state_path)


@state_app.command("show")
def state_show(config: ConfigOpt) -> None:
    """Print the saved bookmarks of every stream, as JSON."""
    try:
        cfg = load(config)
        data = _store(cfg).bookmarks(cfg.pipeline)
    except SyncError as exc:
        raise fail(exc) from None
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def _edit_state(cfg: Any, stream: str | None, value: dict[str, Any] | None) -> None:
    """Set (value) or clear (None) bookmarks in the state store and, for the built-in
    target, beside the data, holding the pipeline's lock so no run is in flight."""
    from sync.locks import pipeline_lock
    from sync.runner import make_destination

    with pipeline_lock(cfg):
        store = _store(cfg)
        if value is None:
            store.clear_bookmarks(cfg.pipeline, stream)
        else:
            assert stream is not None
            store.set_bookmark(cfg.pipeline, stream, value, None)
        if cfg.destination.target == "duckdb" and cfg.destination.pip_url is None:
            dest = make_destination(cfg)
            dest.open()
            try:
                if value is None:
                    dest.clear_state(stream)  # type: ignore[attr-defined]
                else:
                    dest.set_state(stream, value)  # type: ignore[attr-defined]
            finally:
                dest.close()


@state_app.command("set")
def state_set(config: ConfigOpt,
              stream: Annotated[str, typer.Option("--stream", "-s", help="The stream.")],
              value: Annotated[str, typer.Option("--value", help="The Singer state, a JSON "
                                                                 "object.")]) -> None:
    """Set a stream's bookmark: its next run starts the tap from this state."""
    try:
        cfg = load(config)
        _edit_state(cfg, stream, json_object(value, "--value"))
    except SyncError as exc:
        raise fail(exc) from None
    typer.echo(f"set the state of {stream}")


@state_app.command("clear")
def state_clear(config: ConfigOpt,
                stream: Annotated[str | None, typer.Option("--stream", "-s")] = None) -> None:
    """Forget saved bookmarks (one stream, or all): the next run starts from scratch."""
    try:
        _edit_state(load(config), stream, None)
    except SyncError as exc:
        raise fail(exc) from None
    typer.echo("cleared")


@runs_app.command("list")
def runs_list(config: ConfigOpt,
              limit: Annotated[int, typer.Option("--limit", "-n")] = 20) -> None:
    """The latest runs of a pipeline."""
    try:
        cfg = load(config)
        records = _store(cfg).runs(cfg.pipeline, limit)
    except SyncError as exc:
        raise fail(exc) from None
    for r in records:
        ended = r.ended_at.isoformat(timespec="seconds") if r.ended_at else "-"
        typer.echo(f"{r.id}\t{r.status}\t{r.execution_date.isoformat(timespec='seconds')}\t"
                   f"{ended}\t{r.error or ''}")


@runs_app.command("show")
def runs_show(config: ConfigOpt, run_id: Annotated[int, typer.Argument()]) -> None:
    """Every stream and block run of one run, as JSON."""
    try:
        cfg = load(config)
        store = _store(cfg)
        data = {"streams": [s.__dict__ for s in store.stream_results(run_id)],
                "block_runs": store.block_runs(run_id),
                "run_callbacks": store.run_callbacks(run_id),
                "alerts": store.alerts(run_id)}
    except SyncError as exc:
        raise fail(exc) from None
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


