"""A throwaway PostgreSQL cluster on 127.0.0.1 for tests and benchmarks: initdb, pg_ctl start, stop, remove.

The server refuses to run as root, so as root it runs as the `postgres` user. Needs Debian's server binaries
(`apt-get install postgresql`); `server_binaries()` says where they are, or None.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# A role that must give a password (the tests check how Lookalike asks for one); everyone else is trusted.
PASSWORD_ROLE = ("pwuser", "secret-pw")


def server_binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def pgvector_binaries() -> Path | None:
    """The bin folder of a PostgreSQL build that has pgvector: the one the `pgserver` wheel carries (the dev
    extra installs it; Debian 12 packages no pgvector), or None. Found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.origin:
        return None
    bindir = Path(spec.origin).parent / "pginstall" / "bin"
    return bindir if (bindir / "pg_ctl").is_file() else None


def _copied_build(bindir: Path, into: Path) -> Path:
    """A copy of a server build's folder (and, for the pgserver wheel, the shared libraries its binaries find
    relative to themselves, in `pgserver.libs` beside the package) under `into`; its bin folder."""
    build = bindir.parent
    site = build.parent.parent
    libs = site / f"{build.parent.name}.libs"
    target = into / build.parent.name / build.name
    shutil.copytree(build, target, symlinks=True)
    if libs.is_dir():
        shutil.copytree(libs, into / libs.name, symlinks=True)
    return target / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A cluster made by `cluster()`: its URL, and stop/start for tests of a server that goes away."""

    def __init__(self, fsync: bool = False, bindir: Path | None = None) -> None:
        """bindir: the server build to run (default: Debian's); one the `postgres` user may not reach (in a
        virtual environment under /root) is copied into the cluster's folder first."""
        bindir = bindir or server_binaries()
        if bindir is None:
            raise RuntimeError(
                "PostgreSQL server binaries are not installed (Debian: apt-get install postgresql)"
            )
        self.base = Path(tempfile.mkdtemp(prefix="lookalike-pg-"))
        self.data = self.base / "data"
        self.as_user: list[str] = []
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            shutil.chown(self.base, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
            if not str(bindir).startswith("/usr/"):
                bindir = _copied_build(bindir, self.base / "install")
        self.bindir = bindir
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"
        self.options = f"-p {self.port} -k {self.base} -h 127.0.0.1 -c max_connections=100" + (
            "" if fsync else " -c fsync=off"
        )

    def run(self, *cmd: str) -> None:
        subprocess.run([*self.as_user, *cmd], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self.run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        hba = self.data / "pg_hba.conf"
        rule = f"host all {PASSWORD_ROLE[0]} 127.0.0.1/32 scram-sha-256\\n"
        self.run("sh", "-c", f"printf '{rule}' | cat - {hba} > {hba}.new && mv {hba}.new {hba}")
        self.start()
        import psycopg

        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE ROLE {PASSWORD_ROLE[0]} LOGIN CREATEDB PASSWORD '{PASSWORD_ROLE[1]}'")

    def start(self) -> None:
        self.run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            self.options,
            "-l",
            str(self.base / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: "fast" ends every session (clients see it go), "immediate" does not even wait."""
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"],
            capture_output=True,
            timeout=60,
        )

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


@contextmanager
def cluster(fsync: bool = False, bindir: Path | None = None) -> Iterator[str]:
    """Start a cluster; yields its base URL (postgresql+psycopg://postgres@127.0.0.1:PORT)."""
    with running_cluster(fsync, bindir) as made:
        yield made.url


@contextmanager
def running_cluster(fsync: bool = False, bindir: Path | None = None) -> Iterator[Cluster]:
    """Start a cluster; yields it (its URL, and stop/start), and removes it at the end."""
    made = Cluster(fsync, bindir)
    try:
        made.init()
        yield made
    finally:
        made.remove()


def create_database(server: str, name: str, owner: str | None = None) -> str:
    """A new database on the cluster; returns its URL."""
    import psycopg

    with psycopg.connect(server.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}" + (f" OWNER {owner}" if owner else ""))
    return f"{server}/{name}"
