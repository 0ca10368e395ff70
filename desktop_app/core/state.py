"""Small per-user state shared by the CLI and the GUI: the catalogs used recently."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from desktop_app.core.paths import user_data_dir


def _state_file() -> Path:
    return user_data_dir() / "state.json"


def load_state() -> dict:
    try:
        return json.loads(_state_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save_state(state: dict) -> None:
    path = _state_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=2)
        os.replace(tmp, path)  # atomic: a crash leaves the old state, never half a file
    except OSError:
        pass  # remembering the last catalog is a convenience, never a reason to fail


def remember_catalog(db: Path) -> None:
    state = load_state()
    recent = [str(Path(db).resolve())] + [p for p in state.get("recent", []) if p != str(Path(db).resolve())]
    state["recent"] = recent[:10]
    save_state(state)


def last_catalog() -> Path | None:
    for p in load_state().get("recent", []):
        if Path(p).exists():
            return Path(p)
    return None
