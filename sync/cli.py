"""The ``sync`` command line. Maps errors to exit codes; the work lives elsewhere."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from sync.errors import ConfigError, SyncError

app = typer.Typer(help="Run Singer taps into targets, stream by stream, in batches, "
                       "with callbacks after every block run.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
state_app = typer.Typer(help="Show, set or clear saved bookmarks.", no_args_is_help=True)
runs_app = typer.Typer(help="The history of pipeline runs.", no_args_is_help=True)
app.add_typer(state_app, name="state")
app.add_typer(runs_app, name="runs")

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="The pipeline file.",
                                         exists=True, dir_okay=False, readable=True)]
LogFormatOpt = Annotated[str, typer.Option("--log-format",
                                           help="auto (console on a terminal, else json), "
                                                "console or json.")]
LogLevelOpt = Annotated[str, typer.Option("--log-level", help="debug, info, warning, error.")]

EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _fail(exc: SyncError, redact: Any = None) -> typer.Exit:
    message = str(exc) if redact is None else redact(str(exc))
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(exc.exit_code)


def _setup_logs(fmt: str, level: str, redactor: Any = None) -> str:
    from sync.log import configure

    if fmt not in ("auto", "console", "json"):
        raise ConfigError(f"--log-format must be auto, console or json, not {fmt!r}")
    if level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"--log-level must be debug, info, warning or error, not {level!r}")
    return configure(fmt, level, redactor=redactor)  # type: ignore[arg-type]


def _load(path: Path) -> Any:
    from sync.config import load_config

    return load_config(path)


@app.command()
def run(
    config: ConfigOpt,
    stream: Annotated[list[str] | None, typer.Option("--stream", "-s",
                                                     help="Run only this stream (repeat).")] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh",
                                               help="Ignore saved state; reload every stream "
                                                    "from scratch.")] = False,
    event: Annotated[str | None, typer.Option("--event", help="JSON object passed to "
                                                              "callbacks as 'event'.")] = None,
    log_format: LogFormatOpt = "auto",
    log_level: LogLevelOpt = "info",
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="No progress and no summary table.")] = False,
    refresh_catalog: Annotated[bool, typer.Option(
        "--refresh-catalog", help="Run the tap's discovery again instead of using the "
                                  "catalog kept from the last run.")] = False,
) -> None:
    """Run a pipeline once. Exit 0: every stream succeeded; 1: a stream failed; 2: bad
    config or usage; 75: another run of the pipeline holds its lock."""
    redact: Any = None
    try:
        from sync.memory import limit_memory_growth
        from sync.secrets import pipeline_redactor

        limit_memory_growth()
        chosen = _setup_logs(log_format, log_level)
        event_value: dict[str, Any] = {}
        if event is not None:
            try:
                event_value = orjson.loads(event)
            except orjson.JSONDecodeError as exc:
                raise ConfigError(f"--event is not valid JSON: {exc}") from None
            if not isinstance(event_value, dict):
                raise ConfigError("--event must be a JSON object")
        cfg = _load(config)
        redactor = pipeline_redactor(cfg)
        redact = redactor.text
        _setup_logs(log_format, log_level, redactor)  # from here on, no secret is logged
        code = _run(cfg, stream or [], full_refresh, event_value,
                    interactive=chosen == "console" and not quiet, quiet=quiet,
                    refresh_catalog=refresh_catalog)
    except SyncError as exc:
        raise _fail(exc, redact) from None
    raise typer.Exit(code)


def _run(cfg: Any, streams: list[str], full_refresh: bool, event: dict[str, Any], *,
         interactive: bool, quiet: bool, refresh_catalog: bool) -> int:
    from rich.console import Console

    from sync.progress import LiveProgress, summary_table
    from sync.runner import run_pipeline

    cancel = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        received.append(signum)
        cancel.set()

    previous = {s: signal.signal(s, on_signal) for s in EXIT_SIGNAL}
    err_console = Console(stderr=True)
    progress: list[LiveProgress] = []

    def on_plans(plans: Any) -> None:
        if interactive:
            live = LiveProgress(err_console, list(plans))
            live.__enter__()
            progress.append(live)

    class _Forward:
        def stream_started(self, plan: Any) -> None:
            for p in progress:
                p.stream_started(plan)

        def block_run(self, ev: Any) -> None:
            for p in progress:
                p.block_run(ev)

        def stream_finished(self, result: Any) -> None:
            for p in progress:
                p.stream_finished(result)

    try:
        summary = run_pipeline(cfg, streams=streams, full_refresh=full_refresh, event=event,
                               observers=[_Forward()], cancel=cancel, on_plans=on_plans,
                               refresh_catalog=refresh_catalog)
    finally:
        for p in progress:
            p.__exit__(None, None, None)
        for s, handler in previous.items():
            signal.signal(s, handler)
    if not quiet:
        out = Console()
        out.print(summary_table(summary))
        out.print(f"Data landed in {summary.destination}.")
    if received:
        return EXIT_SIGNAL.get(signal.Signals(received[0]), 130)
    return 0 if summary.ok else 1


@app.command()
def validate(config: ConfigOpt,
             discover: Annotated[bool, typer.Option(help="Also run discovery and check the "
                                                        "stream selection.")] = True) -> None:
    """Check a pipeline file (and its stream selection) without moving data."""
    try:
        _setup_logs("auto", "warning")
        cfg = _load(config)
        from callbacks.runtime import load_blocks

        blocks = load_blocks(cfg)
        for block in blocks:
            names = ", ".join(f"{f.name} ({'/'.join(sorted(f.statuses))}, {f.scope})"
                              for f in block.functions)
            typer.echo(f"callback block {block.uuid}: {names}")
        if discover:
            from sync.runner import make_source, plan_pipeline

            plans = plan_pipeline(cfg, make_source(cfg), blocks=blocks)
            for p in plans:
                typer.echo(f"{p.stream} -> {p.destination_table} ({p.replication_method}, "
                           f"{p.write_mode})")
    except SyncError as exc:
        raise _fail(exc) from None
    typer.echo(f"{config}: ok")


@app.command()
def discover(config: ConfigOpt,
             output: Annotated[Path | None, typer.Option("--output", "-o",
                                                         help="Write the catalog here "
                                                              "instead of stdout.")] = None
             ) -> None:
    """Run the tap's discovery and print (or write) its Singer catalog; the catalog
    kept for `sync run` is refreshed too."""
    try:
        _setup_logs("auto", "warning")
        from sync.runner import make_source

        source = make_source(_load(config), refresh_catalog=True)
        catalog = source.discover()
        about = getattr(source, "capabilities", None)
        if about is not None:
            about()  # kept with the catalog for the next `sync run`
    except SyncError as exc:
        raise _fail(exc) from None
    data = orjson.dumps(catalog, option=orjson.OPT_INDENT_2)
    if output:
        output.write_bytes(data + b"\n")
    else:
        sys.stdout.write(data.decode() + "\n")


@app.command()
def init(folder: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
         name: Annotated[str, typer.Option(help="The pipeline's name.")] = "my_pipeline"
         ) -> None:
    """Create a new project: a pipeline file, sample data and a callback, ready to run."""
    from sync.scaffold import init_project

    try:
        written = init_project(folder, name)
    except SyncError as exc:
        raise _fail(exc) from None
    for path in written:
        typer.echo(f"created {path}")
    typer.echo(f"next: sync run --config {folder / 'pipeline.yaml'}")


@app.command()
def schedule(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Pipeline files, or folders of them.", exists=True)] = None,
    config: Annotated[list[Path] | None, typer.Option(
        "--config", "-c", help="A pipeline file or folder (repeat).", exists=True)] = None,
    log_format: LogFormatOpt = "auto",
) -> None:
    """Run pipelines at their `schedule:` times until SIGTERM or Ctrl-C."""
    from sync.scheduler import Scheduler, pipeline_files

    try:
        chosen = _setup_logs(log_format, "info")
        given = [*(paths or []), *(config or [])]
        if not given:
            raise ConfigError("name the pipeline files (or folders) to schedule")
        configs = [_load(p) for p in pipeline_files(given)]
        scheduled = [c for c in configs if c.schedule]
        if not scheduled:
            raise ConfigError("none of these pipelines has a `schedule:`")
        stop = threading.Event()
        for sig in EXIT_SIGNAL:
            signal.signal(sig, lambda _s, _f: stop.set())
        code = Scheduler(scheduled, log_format="json" if chosen == "json" else "console",
                         stop=stop).run()
    except SyncError as exc:
        raise _fail(exc) from None
    raise typer.Exit(code)


@app.command()
def cron(config: Annotated[Path, typer.Argument(help="The pipeline file.", exists=True,
                                                dir_okay=False)]) -> None:
    """Print the crontab line that runs a pipeline at its `schedule:`."""
    from sync.scheduler import crontab_line

    try:
        cfg = _load(config)
        typer.echo(crontab_line(cfg))
    except ValueError as exc:
        raise _fail(ConfigError(str(exc), file=str(config), key="schedule")) from None
    except SyncError as exc:
        raise _fail(exc) from None


@app.command()
def install(config: ConfigOpt) -> None:
    """Install the pipeline's taps and targets that have a pip_url, each into its own
    virtual environment (otherwise done on first use)."""
    try:
        _setup_logs("auto", "info")
        cfg = _load(config)
        from sync.runner import make_destination, make_source

        installed = []
        if cfg.source.pip_url:
            make_source(cfg)
            installed.append(f"source {cfg.source.tap} ({cfg.source.pip_url})")
        if cfg.destination.pip_url:
            make_destination(cfg)
            installed.append(f"destination {cfg.destination.target} "
                             f"({cfg.destination.pip_url})")
    except SyncError as exc:
        raise _fail(exc) from None
    typer.echo("installed: " + (", ".join(installed) if installed else "nothing to install"))


def _store(cfg: Any) -> Any:
    from sync.state import SQLiteStore

    return SQLiteStore(cfg.state_path)


@state_app.command("show")
def state_show(config: ConfigOpt) -> None:
    """Print the saved bookmarks of every stream, as JSON."""
    try:
        cfg = _load(config)
        data = _store(cfg).bookmarks(cfg.pipeline)
    except SyncError as exc:
        raise _fail(exc) from None
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def _edit_state(cfg: Any, stream: str | None, value: dict[str, Any] | None) -> None:
    """Set (value) or clear (None) bookmarks in the state store and, for the built-in
    target, beside the data, holding the pipeline's lock so no run is in flight."""
    from sync.runner import make_destination, pipeline_lock

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
        cfg = _load(config)
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"--value is not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise ConfigError("--value must be a JSON object (a Singer state)")
        _edit_state(cfg, stream, parsed)
    except SyncError as exc:
        raise _fail(exc) from None
    typer.echo(f"set the state of {stream}")


@state_app.command("clear")
def state_clear(config: ConfigOpt,
                stream: Annotated[str | None, typer.Option("--stream", "-s")] = None) -> None:
    """Forget saved bookmarks (one stream, or all): the next run starts from scratch."""
    try:
        _edit_state(_load(config), stream, None)
    except SyncError as exc:
        raise _fail(exc) from None
    typer.echo("cleared")


@runs_app.command("list")
def runs_list(config: ConfigOpt,
              limit: Annotated[int, typer.Option("--limit", "-n")] = 20) -> None:
    """The latest runs of a pipeline."""
    try:
        cfg = _load(config)
        records = _store(cfg).runs(cfg.pipeline, limit)
    except SyncError as exc:
        raise _fail(exc) from None
    for r in records:
        ended = r.ended_at.isoformat(timespec="seconds") if r.ended_at else "-"
        typer.echo(f"{r.id}\t{r.status}\t{r.execution_date.isoformat(timespec='seconds')}\t"
                   f"{ended}\t{r.error or ''}")


@runs_app.command("show")
def runs_show(config: ConfigOpt, run_id: Annotated[int, typer.Argument()]) -> None:
    """Every stream and block run of one run, as JSON."""
    try:
        cfg = _load(config)
        store = _store(cfg)
        data = {"streams": [s.__dict__ for s in store.stream_results(run_id)],
                "block_runs": store.block_runs(run_id),
                "run_callbacks": store.run_callbacks(run_id),
                "alerts": store.alerts(run_id)}
    except SyncError as exc:
        raise _fail(exc) from None
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def main() -> None:
    """Console-script entry point."""
    app()
