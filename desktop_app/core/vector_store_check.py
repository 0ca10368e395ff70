"""Whether a vector store's files are whole, checked against its state.json before they are mapped.

The store is derived data: a file cut short (a full disk, a crash of the machine, a copy that stopped) or
overwritten must cost a rebuild from the catalog, never a traceback at every search. `check_files` is cheap
(a stat per file and the headers of the metadata's arrays), so it runs at every open and sync; what it
cannot see without reading everything (bytes overwritten inside a file) shows when the metadata or the graph
index is read, which raises `StoreDamaged` too.

Damage to the graph index alone keeps the vectors: only the graph is built again, from them.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop_app.core.vector_store_meta import StoreMeta

ITEM_BYTES = 2  # float16
# The metadata's arrays whose length state.json fixes: per photo ("n") or per article plus one.
META_ROWS = {"photo_ids.npy": "n", "updated.npy": "n", "has_view.npy": "n", "offsets.npy": "articles"}
META_PACKED = ("articles.npy", "paths.npy", "views.npy")
log = logging.getLogger("desktop_app.core.vector_store")


class StoreDamaged(Exception):
    """A store file is not what its state.json says; `ann_only` when only the graph index is."""

    def __init__(self, message: str, ann_only: bool = False) -> None:
        super().__init__(message)
        self.ann_only = ann_only


@dataclass
class Damage:
    store: list[str] = field(default_factory=list)  # vectors, centroids, metadata: rebuild from the catalog
    ann: list[str] = field(default_factory=list)  # the graph index: rebuild from the stored vectors

    def __bool__(self) -> bool:
        return bool(self.store or self.ann)

    def error(self) -> StoreDamaged:
        return StoreDamaged("; ".join(self.store + self.ann), ann_only=not self.store)


def check_files(folder: Path, state: dict) -> Damage:
    """What is wrong with the files `state` names (nothing, for a whole store)."""
    damage = Damage()
    n, dim, articles = state["n"], state["dim"], state["articles"]
    for key, rows in (("vectors", n), ("centroids", articles)):
        problem = _matrix_problem(folder, state.get(key), rows, dim)
        if problem:
            damage.store.append(problem)
    if state.get("meta"):
        problem = _meta_problem(folder / state["meta"], {"n": n, "articles": articles + 1})
        if problem:
            damage.store.append(problem)
    elif n:
        damage.store.append("state.json names no metadata file")
    if state.get("ann"):
        damage.ann.extend(_ann_problems(folder, state["ann"], dim))
    return damage


def usable_state(folder: Path, state: dict | None, ident: str) -> dict | None:
    """The state a sync may start from: None (rebuild everything from the catalog) when it is another
    model's or its files are damaged; without its graph index when only that is damaged."""
    if state is None or state.get("model_id") != ident or state.get("damaged"):
        return None
    damage = check_files(folder, state)
    if damage.store:
        log.warning("The search cache %s is damaged (%s); rebuilding it.", folder, damage.error())
        return None
    if damage.ann:
        log.warning("The candidate index in %s is damaged (%s); building it again.", folder, damage.error())
        return dict(state, ann=None)
    return state


def load_meta(path: Path) -> StoreMeta:
    """A store's metadata, read whole (zip checks each array's CRC); StoreDamaged when it cannot be."""
    try:
        return StoreMeta.load(path)
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # a damaged file's symptoms
        raise StoreDamaged(f"{path.name} cannot be read ({exc})") from exc


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _matrix_problem(folder: Path, name: str | None, rows: int, dim: int) -> str | None:
    """A float16 matrix file holds at least rows x dim values (a sync may leave more past the valid end)."""
    if not rows:
        return None
    if not name:
        return f"state.json names no file for its {rows} rows"
    need = rows * dim * ITEM_BYTES
    size = _size(folder / name)
    if size is None:
        return f"{name} is missing"
    if size < need:
        return f"{name} has {size:,} bytes, {rows:,} rows of {dim} need {need:,}"
    return None


def _meta_problem(path: Path, lengths: dict[str, int]) -> str | None:
    """The metadata is a readable archive with every array, each as long as state.json says (headers only;
    the arrays' bytes are checked when they are read)."""
    if _size(path) is None:
        return f"{path.name} is missing"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = sorted((set(META_ROWS) | set(META_PACKED)) - names)
            if missing:
                return f"{path.name} has no {', '.join(missing)}"
            for member, key in META_ROWS.items():
                with archive.open(member) as fh:
                    shape = _npy_shape(fh)
                if shape != (lengths[key],):
                    return f"{path.name}: {member} has shape {shape}, state.json says ({lengths[key]},)"
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:  # a damaged file's every symptom
        return f"{path.name} cannot be read ({exc})"
    return None


def _npy_shape(fh) -> tuple:
    major, _ = np.lib.format.read_magic(fh)
    read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    return read_header(fh)[0]


def _ann_problems(folder: Path, info: dict, dim: int) -> list[str]:
    problems = []
    size = _size(folder / info["file"])
    if size is None:
        problems.append(f"{info['file']} is missing")
    elif size != info.get("bytes", size) or size == 0:
        problems.append(f"{info['file']} has {size:,} bytes, state.json says {info.get('bytes', 0):,}")
    if _size(folder / info["basis"]) is None:
        return [*problems, f"{info['basis']} is missing"]
    try:
        basis = np.load(folder / info["basis"], mmap_mode="r")
        if basis.shape != (dim, info["rank"]):
            problems.append(f"{info['basis']} has shape {basis.shape}, not ({dim}, {info['rank']})")
    except (OSError, EOFError, ValueError) as exc:
        problems.append(f"{info['basis']} cannot be read ({exc})")
    return problems
