"""The ``sync`` command line. Maps errors to exit codes; the work lives elsewhere."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from sync.cli_common import (
    EXIT_SIGNAL,
    ConfigOpt,
    LogFormatOpt,
    LogLevelOpt,
    fail,
    json_object,
    load,
    setup_logs,
)
from sync.cli_history import runs_app, state_app
from sync.errors import ConfigError, SyncError

app = typer.Typer(help="Run Singer taps into targets, stream by stream, in batches, "
                       "with callbacks after every block run.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.add_typer(state_app, name="state")
app.add_typer(runs_app, name="runs")

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
    # Until the run installs its own handlers, a signal unwinds: taps started early die.
    for sig in EXIT_SIGNAL:
        signal.signal(sig, _exit_on_signal)
    try:
        from sync.secrets import pipeline_redactor

        chosen = setup_logs(log_format, log_level)
        event_value = json_object(event, "--event") if event is not None else {}
        cfg = load(config)
        redactor = pipeline_redactor(cfg)
        redact = redactor.text
        setup_logs(log_format, log_level, redactor)  # from here on, no secret is logged
        from sync.locks import pipeline_lock
        from sync.prelaunch import Prelaunched, start_early

        with pipeline_lock(cfg):
            early = Prelaunched()
            try:
                # The taps start now and import their libraries while sync imports its own.
                start_early(early, cfg, streams=stream or [], full_refresh=full_refresh,
                            refresh_catalog=refresh_catalog)
                from sync.memory import limit_memory_growth

                limit_memory_growth()  # before the run starts its threads
                code = _run(cfg, stream or [], full_refresh, event_value,
                            interactive=chosen == "console" and not quiet, quiet=quiet,
                            refresh_catalog=refresh_catalog, prelaunched=early)
            finally:
                early.close()
    except SyncError as exc:
        raise fail(exc, redact) from None
    raise typer.Exit(code)


def _exit_on_signal(signum: int, _frame: Any) -> None:
    early = sys.modules.get("sync.prelaunch")
    if early is not None and early.defer_signal(signum):
        return  # a tap process is being started or stopped: raised again right after
    raise SystemExit(EXIT_SIGNAL.get(signal.Signals(signum), 130))


def _run(cfg: Any, streams: list[str], full_refresh: bool, event: dict[str, Any], *,
         interactive: bool, quiet: bool, refresh_catalog: bool, prelaunched: Any) -> int:
    from sync.runner import run_pipeline

    cancel = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        received.append(signum)
        cancel.set()

    previous = {s: signal.signal(s, on_signal) for s in EXIT_SIGNAL}
    progress: list[Any] = []

    def on_plans(plans: Any) -> None:
        if interactive:  # rich is imported only when it draws something
            from rich.console import Console

            from sync.progress import LiveProgress

            live = LiveProgress(Console(stderr=True), list(plans))
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
                               refresh_catalog=refresh_catalog, prelaunched=prelaunched,
                               locked=True)
    finally:
        for p in progress:
            p.__exit__(None, None, None)
        for s, handler in previous.items():
            signal.signal(s, handler)
    if not quiet:
        from rich.console import Console

        from sync.progress import summary_table

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
        setup_logs("auto", "warning")
        cfg = load(config)
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
        raise fail(exc) from None
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
        setup_logs("auto", "warning")
        from sync.runner import make_source

        source = make_source(load(config), refresh_catalog=True)
        catalog = source.discover()
        about = getattr(source, "capabilities", None)
        if about is not None:
            about()  # kept with the catalog for the next `sync run`
    except SyncError as exc:
        raise fail(exc) from None
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
        raise fail(exc) from None
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
        chosen = setup_logs(log_format, "info")
        given = [*(paths or []), *(config or [])]
        if not given:
            raise ConfigError("name the pipeline files (or folders) to schedule")
        configs = [load(p) for p in pipeline_files(given)]
        scheduled = [c for c in configs if c.schedule]
        if not scheduled:
            raise ConfigError("none of these pipelines has a `schedule:`")
        stop = threading.Event()
        for sig in EXIT_SIGNAL:
            signal.signal(sig, lambda _s, _f: stop.set())
        code = Scheduler(scheduled, log_format="json" if chosen == "json" else "console",
                         stop=stop).run()
    except SyncError as exc:
        raise fail(exc) from None
    raise typer.Exit(code)


@app.command()
def cron(config: Annotated[Path, typer.Argument(help="The pipeline file.", exists=True,
                                                dir_okay=False)]) -> None:
    """Print the crontab line that runs a pipeline at its `schedule:`."""
    from sync.scheduler import crontab_line

    try:
        cfg = load(config)
        typer.echo(crontab_line(cfg))
    except ValueError as exc:
        raise fail(ConfigError(str(exc), file=str(config), key="schedule")) from None
    except SyncError as exc:
        raise fail(exc) from None


@app.command()
def install(config: ConfigOpt) -> None:
    """Install the pipeline's taps and targets that have a pip_url, each into its own
    virtual environment (otherwise done on first use)."""
    try:
        setup_logs("auto", "info")
        cfg = load(config)
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
        raise fail(exc) from None
    typer.echo("installed: " + (", ".join(installed) if installed else "nothing to install"))


def main() -> None:
    """Console-script entry point."""
    app()
