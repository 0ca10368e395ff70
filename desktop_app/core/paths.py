"""Per-user locations: data (catalogs, models, thumbnails) and settings.

LOOKALIKE_HOME overrides the base directory, which keeps tests and portable installs self-contained.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import platformdirs

APP = "lookalike"


def user_data_dir() -> Path:
    override = os.environ.get("LOOKALIKE_HOME")
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def default_catalog_path(photo_dir: Path) -> Path:
    """One catalog per photo folder, named after the folder and a hash of its absolute path."""
    resolved = Path(photo_dir).expanduser().resolve()
    digest = hashlib.sha1(os.fsencode(resolved)).hexdigest()[:10]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in resolved.name) or "root"
    return user_data_dir() / "catalogs" / f"{safe}-{digest}.sqlite"


def thumbnail_dir() -> Path:
    return user_data_dir() / "thumbnails"
