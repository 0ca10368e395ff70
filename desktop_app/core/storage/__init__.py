"""Catalog storage: the only package that speaks SQL (SQLite files and PostgreSQL databases alike)."""

from desktop_app.core.storage.backend import Identity, is_url
from desktop_app.core.storage.catalog import Catalog, check_catalog_target, explain, identify
from desktop_app.core.storage.locks import IndexLock, index_lock_held
from desktop_app.core.storage.photos import PhotoRow, PhotoWrite
from desktop_app.core.storage.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "Catalog",
    "Identity",
    "check_catalog_target",
    "IndexLock",
    "PhotoRow",
    "PhotoWrite",
    "explain",
    "identify",
    "index_lock_held",
    "is_url",
]
