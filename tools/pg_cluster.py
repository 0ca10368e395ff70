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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def cluster(fsync: bool = False) -> Iterator[str]:
    """Start a cluster; yields its base URL (postgresql+psycopg://postgres@127.0.0.1:PORT)."""
    import psycopg

    bindir = server_binaries()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL server binaries are not installed (Debian: apt-get install postgresql)"
        )
    base = Path(tempfile.mkdtemp(prefix="lookalike-pg-"))
    data = base / "data"
    as_user: list[str] = []
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        shutil.chown(base, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]

    def run(*cmd: str) -> None:
        subprocess.run([*as_user, *cmd], check=True, capture_output=True, timeout=120)

    port = free_port()
    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
    hba = data / "pg_hba.conf"
    rule = f"host all {PASSWORD_ROLE[0]} 127.0.0.1/32 scram-sha-256\\n"
    run("sh", "-c", f"printf '{rule}' | cat - {hba} > {hba}.new && mv {hba}.new {hba}")
    opts = f"-p {port} -k {base} -h 127.0.0.1 -c max_connections=100" + ("" if fsync else " -c fsync=off")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start")
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {PASSWORD_ROLE[0]} LOGIN CREATEDB PASSWORD '{PASSWORD_ROLE[1]}'")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


def create_database(server: str, name: str, owner: str | None = None) -> str:
    """A new database on the cluster; returns its URL."""
    import psycopg

    with psycopg.connect(server.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}" + (f" OWNER {owner}" if owner else ""))
    return f"{server}/{name}"
