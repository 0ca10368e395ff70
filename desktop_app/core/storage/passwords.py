"""Passwords a curator typed for shared catalogs (a prompt, or a password written into a URL): kept in this
process's memory per database login (user@host:port/database), given to the connection of that login only.

They are never written anywhere, nor put into the environment: PGPASSWORD would send a password typed for
one catalog to every server this process and its children connect to later, and would override ~/.pgpass.
A child process that opens the catalog (search, indexing, training) is handed them when it starts
(`run_with_passwords`), over its pipe, not through its environment or a file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from desktop_app.core.storage.backend import parse_db_url

_typed: dict[str, str] = {}
_lock = threading.Lock()


def login_key(url: object) -> str:
    """Which login a password is for: user@host:port/database (the host of a URL that names none is libpq's
    default, shown as the local socket)."""
    parsed = parse_db_url(str(url)) if isinstance(url, str) else url
    host = parsed.host or parsed.query.get("host") or "local"
    return f"{parsed.username or ''}@{host}:{parsed.port or 5432}/{parsed.database or ''}"


def remember_password(url: object, password: str) -> None:
    """Use `password` for this URL's login from now on, until the process ends."""
    with _lock:
        _typed[login_key(url)] = password


def typed_password(url: object) -> str | None:
    """The password typed for this URL's login, or None (libpq then looks in PGPASSWORD and ~/.pgpass)."""
    with _lock:
        return _typed.get(login_key(url))


def typed_passwords() -> dict[str, str]:
    """Every password typed in this process, by login: what a child process is handed when it starts."""
    with _lock:
        return dict(_typed)


def adopt_passwords(passwords: Mapping[str, str]) -> None:
    """Take the passwords a parent process handed over (`typed_passwords`)."""
    with _lock:
        _typed.update(passwords)


def forget_password(url: object) -> None:
    """Stop using the password typed for this URL's login (the server refused it)."""
    with _lock:
        _typed.pop(login_key(url), None)


def forget_passwords() -> None:
    with _lock:
        _typed.clear()


def run_with_passwords(passwords: Mapping[str, str], target: Callable[..., Any], *args: Any) -> Any:
    """The entry point of a spawned child: adopt the parent's typed passwords, then run `target(*args)`."""
    adopt_passwords(passwords)
    return target(*args)
