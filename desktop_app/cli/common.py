"""What every subcommand of `lookalike` shares: option types that check their values, opening the engine,
printing text safely and JSON exactly, and progress bars on a terminal."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from desktop_app.core.matching import METHODS
from desktop_app.core.wording import plural  # noqa: F401  (the subcommands' counts)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `lookalike similar: --top must be 1 or more (got 0)`, exit 2."""

    last_error: str | None = None  # what the last refused command line was told, for `--json` callers

    def error(self, message: str):  # type: ignore[override]
        Parser.last_error = f"{self.prog}: {message}"
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


# ============================================================================ option types


def positive_int(name: str, lowest: int = 1) -> Callable[[str], int]:
    """A whole number of at least `lowest` (1 unless given)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number (got {text!r})") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"{name} must be {lowest} or more (got {value})")
        return value

    parse.__name__ = name
    return parse


def non_negative_int(name: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number (got {text!r})") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{name} must be 0 or more (got {value})")
        return value

    parse.__name__ = name
    return parse


def query_count(text: str) -> int | None:
    """--queries: a positive number, or "all" (None)."""
    if text.strip().lower() == "all":
        return None
    return positive_int("--queries")(text)


def fraction(name: str, lo: float = 0.0, hi: float = 1.0) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number (got {text!r})") from None
        if not math.isfinite(value) or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{name} must be between {lo:g} and {hi:g} (got {text})")
        return value

    parse.__name__ = name
    return parse


def max_matches(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--max-matches must be a whole number (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"--max-matches must be 1 or more (got {value}); leave it out to count every pair"
        )
    return value


def refuse_ignored(given: dict[str, bool], when: str, fix: str = "leave {it} out") -> None:
    """Refuse the options given (`given`: name -> whether given) that the command would ignore `when`
    ("without --png FILE"), in one line with the fix ({it}: "it" or "them"): a silent no-op leaves the
    user believing the option did something."""
    from desktop_app.core.errors import InputError

    names = [name for name, on in given.items() if on]
    if not names:
        return
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    verb, it = ("does", "it") if len(names) == 1 else ("do", "them")
    raise InputError(f"{listed} {verb} nothing {when}: {fix.format(it=it)}.")


def add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="CATALOG", help="the catalog file (default: the catalog used last)")


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout (default: text)")


def method_list(text: str) -> str:
    """One method or several separated by commas, each a known one."""
    names = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in METHODS]
    if not names or bad:
        raise argparse.ArgumentTypeError(
            f"unknown method {', '.join(bad) or text!r}; choose from {', '.join(METHODS)}"
        )
    return ",".join(names)


def add_search_options(p: argparse.ArgumentParser, method: bool = True) -> None:
    """--method, --threshold, --max-matches, each defaulting to the catalog's stored setting."""
    if method:
        p.add_argument(
            "--method",
            choices=METHODS,
            help="how articles are compared (default: the catalog's "
            "setting, greedy unless `lookalike tune` or the app chose another)",
        )
    p.add_argument(
        "--threshold",
        type=fraction("--threshold", -1.0, 1.0),
        metavar="S",
        help="s: matched photo pairs below this cosine similarity are left out (default: the "
        "catalog's setting, none unless tuned)",
    )
    p.add_argument(
        "--max-matches",
        type=max_matches,
        metavar="M",
        help="m: only the M best pairs count (default: the catalog's setting, all pairs unless tuned)",
    )


def search_params(engine, args: argparse.Namespace):
    """The catalog's stored search settings with the options given on the command line."""
    return engine.search_settings(
        getattr(args, "method", None),
        getattr(args, "threshold", None),
        getattr(args, "max_matches", None),
        getattr(args, "top", None),
    )


# ============================================================================ words that are not UTF-8

# Arguments that name what the catalog stores in the scan's form (article ids, photo paths and folders under
# the photo folder): a name that is not UTF-8 is stored with \\xNN escapes, so bytes typed for it are given
# those escapes too and find it.
STORED_NAME_ARGUMENTS = frozenset({"ids", "article", "articles", "article_a", "article_b", "mark", "folder"})
STORED_PATH_ARGUMENTS = frozenset(
    {"mark"}
)  # of those, the ones that name photos (stored paths, not articles)
# Arguments that name a file or a place to open as the system gave them (bytes that are not UTF-8 included).
PLACE_ARGUMENTS = frozenset({"db", "source", "target", "model", "mirror"})


def check_argument_text(args: argparse.Namespace, prog: str) -> None:
    """Arguments holding bytes that are not UTF-8 (Python keeps them as surrogate escapes): article ids and
    stored paths take the catalog's escaped form; a label, field, note or other text is refused in one line
    (exit 2) instead of failing where it is stored or printed. Files and places are left as they are."""
    for dest, value in vars(args).items():
        if dest in PLACE_ARGUMENTS or dest == "handler":
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        if not any(isinstance(v, str) and not _is_utf8(v) for v in values):
            continue
        from desktop_app.core.scan import path_text, printable

        if dest in STORED_NAME_ARGUMENTS:
            as_stored = path_text if dest in STORED_PATH_ARGUMENTS else printable  # (see `scan.printable`)
            escaped = [as_stored(v) if isinstance(v, str) else v for v in values]
            setattr(args, dest, escaped if isinstance(value, (list, tuple)) else escaped[0])
            continue
        bad = next(v for v in values if isinstance(v, str) and not _is_utf8(v))
        Parser(prog=prog).error(
            f"'{safe(printable(bad))}' (given for {dest.replace('_', '-')}) is not UTF-8 text: the terminal sent "
            "other bytes; type it in UTF-8"
        )


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ============================================================================ engine


def open_engine(args: argparse.Namespace, create: bool = False):
    from desktop_app.core.engine import Engine, resolve_db

    db = resolve_db(getattr(args, "db", None))
    return with_password(args, lambda: Engine.open(db, create=create))


def with_password(args: argparse.Namespace, open_it: Callable):
    """Open a shared catalog (or two: `catalog copy`), asking on a terminal for each password the server wants
    that libpq could not find. A password stays in this process's memory, for its catalog's login only
    (`core.storage.passwords`); Lookalike never writes it anywhere."""
    import getpass

    from desktop_app.core.storage.passwords import login_key, remember_password
    from desktop_app.core.storage.postgres import PasswordNeeded

    asked: set[str] = set()
    while True:
        try:
            return open_it()
        except PasswordNeeded as exc:
            if (
                not exc.url
                or exc.in_url  # the URL's own password was refused: it would win over a typed one
                or getattr(args, "json", False)
                or not sys.stdin.isatty()
                or login_key(exc.url) in asked
            ):
                raise
            asked.add(login_key(exc.url))
            remember_password(exc.url, getpass.getpass(f"Password for {safe(exc.url)}: "))


# ============================================================================ output

_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")
# Joiners shape text in many scripts (Persian, Indic) and in emoji sequences: shown as they are.
_JOINERS = {"\u200c", "\u200d"}


def safe(value: Any) -> str:
    """Text for a terminal: control characters (escape sequences in a file name or label) are shown as \\xNN,
    and invisible format characters (bidi overrides such as U+202E, which make a name read backwards, zero
    widths, marks; Unicode's Cf) and line or paragraph separators as \\uNNNN, never sent raw. JSON output
    stays exact."""
    return _NOT_PRINTABLE_ASCII.sub(_escaped, str(value))


def _escaped(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"\\x{code:02x}"
    if char in _JOINERS or unicodedata.category(char) not in ("Cf", "Zl", "Zp"):
        return char
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str, allow_nan=False))


SCORE_DECIMALS = 4  # set-matching scores, in JSON and text alike


def num(x: float) -> float | None:
    """A score for JSON: a number, rounded; None for one that is not finite."""
    return round(float(x), SCORE_DECIMALS) if math.isfinite(x) else None


def score_text(x: float) -> str:
    """A score for text output: always SCORE_DECIMALS decimals, so a column of them lines up (1.0000, not
    1.0 above 0.9901); "n/a" for one that is not finite."""
    return f"{x:.{SCORE_DECIMALS}f}" if math.isfinite(x) else "n/a"


class Bar:
    """A tqdm progress bar on stderr when it is a terminal and the output is not JSON; else nothing."""

    def __init__(self, enabled: bool, unit: str, desc: str) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.unit, self.desc = unit, desc
        self._bar = None

    def update(self, done: int, total: int, note: str = "") -> None:
        if not self.enabled or total <= 0:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit=self.unit, desc=self.desc, file=sys.stderr, leave=False)
        self._bar.total = total
        self._bar.n = done
        if note:
            self._bar.set_postfix_str(note[:40], refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def output_path(text: str) -> Path:
    return Path(text).expanduser()


def png_path(text: str) -> Path:
    """A PNG picture to write: the name must say so (a '.jpg' name would hold PNG bytes)."""
    path = output_path(text)
    if path.suffix.lower() != ".png" and not path.is_dir():  # a folder is refused later, saying so
        raise argparse.ArgumentTypeError(
            f"{text!r} does not end in .png; the picture is a PNG (e.g. {path.stem}.png)"
        )
    return path
