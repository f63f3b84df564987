"""``tasky serve``, ``tasky runner``, ``tasky version``: starting Tasky."""

from __future__ import annotations

from typing import Any

import click

from tasky import __version__
from tasky.serving import DEFAULT_BIND, DEFAULT_THREADS, GUNICORN_SETTINGS, post_worker_init


@click.command()
def version() -> None:
    """Print Tasky's version."""
    click.echo(__version__)


@click.command()
@click.option(
    "--bind", "-b", default=DEFAULT_BIND, show_default=True, help="HOST:PORT to listen on."
)
@click.option(
    "--workers",
    "-w",
    default=1,
    show_default=True,
    envvar="WEB_CONCURRENCY",
    type=click.IntRange(1),
    help="HTTP processes (also WEB_CONCURRENCY).",
)
@click.option(
    "--threads",
    default=DEFAULT_THREADS,
    show_default=True,
    type=click.IntRange(1),
    help="Request threads per process.",
)
def serve(bind: str, workers: int, threads: int) -> None:
    """Serve the API under gunicorn (settings from TASKY_* variables), a runner beside each
    process: the same server as `make run`. GUNICORN_CMD_ARGS may add any gunicorn flag."""
    from gunicorn.app.base import BaseApplication

    from tasky.metrics.directory import child_exit  # settles the metrics directory here

    options = {
        **GUNICORN_SETTINGS,
        "bind": [bind],
        "workers": workers,
        "threads": threads,
        "post_worker_init": post_worker_init,
        "child_exit": child_exit,
    }

    class Server(BaseApplication):
        def load_config(self) -> None:
            for name, value in options.items():
                self.cfg.set(name, value)
            from_env = self.cfg.parser().parse_args(self.cfg.get_cmd_args_from_env())
            for name, value in vars(from_env).items():
                if value is not None and name != "args":
                    self.cfg.set(name.lower(), value)

        def load(self) -> Any:
            from tasky import create_app

            return create_app()

    Server().run()


@click.command()
@click.option("--attach", hidden=True, help="The channel address of the HTTP processes.")
@click.option("--lifeline", hidden=True, type=int, help="The lifeline pipe's read end.")
def runner(attach: str | None, lifeline: int | None) -> None:
    """Run tasks without serving HTTP, beside any number of servers and runners sharing the
    store (TASKY_DATABASE_URL). SIGTERM or Ctrl-C stops it: running tasks are handed back."""
    from tasky.config import Settings
    from tasky.runner.main import run
    from tasky.serving import configure_logging

    configure_logging()
    run(Settings.from_env(), attach, lifeline)
