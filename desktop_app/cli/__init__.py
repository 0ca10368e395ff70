"""The `lookalike` command: a thin front end over the engine (`desktop_app.core.engine`), for scripting.

One module per subcommand; each registers its parser and a handler (args -> exit code). Errors the user can
fix (`core.errors.UserError`) print one line and exit with code 2 (with --json also {"error": ...} on
stdout); anything else is a bug and ends in a traceback with exit code 1. Without arguments it starts the
desktop app.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from desktop_app import __version__
from desktop_app.cli import (
    adapt,
    app,
    catalog,
    catalog_map,
    decide,
    duplicates,
    evaluate,
    index,
    inspect,
    labels,
    models,
    settings,
    similar,
    stats,
)
from desktop_app.cli.common import Parser, check_argument_text, safe
from desktop_app.core.errors import UserError, one_line

SUBCOMMANDS = (
    index,
    stats,
    similar,
    inspect,
    decide,
    duplicates,
    evaluate,
    settings,
    labels,
    adapt,
    catalog_map,
    catalog,
    app,
    models,
)


def build_parser() -> Parser:
    parser = Parser(prog="lookalike", description="Find look-alike products in folders of catalogue photos.")
    parser.add_argument("--version", action="version", version=f"lookalike {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="lookalike: %(message)s")
    try:
        args = build_parser().parse_args(argv or ["gui"])
        if args.command is None:
            args = build_parser().parse_args(["gui"])
        check_argument_text(args, f"lookalike {args.command}")
    except SystemExit as exc:
        if exc.code == 2 and "--json" in argv and Parser.last_error:  # a script reads stdout only
            print(json.dumps({"error": Parser.last_error, "kind": "InputError"}))
        raise
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        message = one_line(str(exc))
        if getattr(args, "json", False):
            print(json.dumps({"error": message, "kind": type(exc).__name__}))
        print(f"lookalike: {safe(message)}", file=sys.stderr)  # it may name a file or an id: escaped
        return exc.exit_code
    except KeyboardInterrupt:
        print("Interrupted; the catalog keeps everything committed so far.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error of ours. Silence the flush at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
