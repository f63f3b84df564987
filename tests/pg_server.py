"""A throwaway PostgreSQL server for the tests: initdb into a temporary directory, started
on a free port of 127.0.0.1, stopped and removed at the end of the session.

The binaries come from ``$TASKY_TEST_PG_BIN`` or ``/usr/lib/postgresql/15/bin``. As root,
they run as the ``postgres`` user (PostgreSQL refuses to run as root); as anyone else, as
that user. ``fsync=off``: the data of a test server need not survive a power loss.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

DEFAULT_BIN = "/usr/lib/postgresql/15/bin"
SUPERUSER = "postgres"


class Unavailable(Exception):
    """No PostgreSQL server can be started here; the message says why."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    def __init__(self, bin_dir: str | None = None, durable: bool = False):
        self.durable = durable
        """Keep PostgreSQL's crash-safe defaults (for measurements) instead of fsync=off."""
        self.bin_dir = Path(bin_dir or os.environ.get("TASKY_TEST_PG_BIN") or DEFAULT_BIN)
        self.port = _free_port()
        self.root: Path | None = None
        self._names = itertools.count(1)
        self._as_user: list[str] = []
        self._uid: int | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> PostgresServer:
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not (self.bin_dir / tool).is_file():
                raise Unavailable(
                    f"no PostgreSQL server binaries: {self.bin_dir / tool} is "
                    f"missing (install postgresql-15, or set TASKY_TEST_PG_BIN)"
                )
        if os.geteuid() == 0:
            try:
                self._uid = pwd.getpwnam(SUPERUSER).pw_uid
            except KeyError:
                raise Unavailable(
                    "running as root and there is no 'postgres' user to run "
                    "the PostgreSQL server as"
                ) from None
            self._as_user = ["runuser", "-u", SUPERUSER, "--"]
        self.root = Path(tempfile.mkdtemp(prefix="tasky-pg-"))
        try:
            self._init_and_start()
        except BaseException:
            self.stop()
            raise
        return self

    def _init_and_start(self) -> None:
        if self._uid is not None:
            os.chown(self.root, self._uid, -1)
        data, sockets = self.root / "data", self.root / "sockets"
        self._run(
            "initdb",
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        self._run("mkdir", str(sockets), binary=False)
        options = f"-p {self.port} -k {sockets} -c listen_addresses=127.0.0.1"
        options += " -c max_connections=300"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
        )

    def stop(self) -> None:
        if self.root is None:
            return
        if (self.root / "data" / "postmaster.pid").exists():
            subprocess.run(
                [
                    *self._as_user,
                    str(self.bin_dir / "pg_ctl"),
                    "stop",
                    "-m",
                    "immediate",
                    "-w",
                    "-D",
                    str(self.root / "data"),
                ],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def _run(self, tool: str, *args: str, binary: bool = True) -> None:
        command = [*self._as_user, str(self.bin_dir / tool) if binary else tool, *args]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if done.returncode:
            log = self.root / "server.log"
            detail = log.read_text()[-2000:] if log.exists() else ""
            raise Unavailable(
                f"{' '.join(command)} failed ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}{detail}"
            )

    # -- databases -----------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        sql = f'CREATE DATABASE "{name}"'
        if template is not None:
            sql += f' TEMPLATE "{template}"'
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
