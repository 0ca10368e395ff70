"""`python -m desktop_app` runs the same entry point as the `lookalike` command."""

from desktop_app.cli import main

raise SystemExit(main())
