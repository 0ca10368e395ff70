"""`python -m desktop_app.cli` is the `lookalike` command too (as `python -m desktop_app` is)."""

from desktop_app.cli import main

if __name__ == "__main__":  # imported (a test walking every module), it runs nothing
    raise SystemExit(main())
