"""Whether a vector store's files are whole, checked against its state.json before they are mapped.

The store is derived data: a file cut short (a full disk, a crash of the machine, a copy that stopped) or
overwritten must cost a rebuild from the catalog, never a traceback at every search (or a crash: the graph
index is read by native code, memory-mapped). `check_files` is cheap (a stat per file and the headers of the
metadata's arrays), so it runs at every open and sync.

Bytes overwritten inside a file at its full size show in no size. So a sync records, for each file it
wrote, its stat stamp (size, mtime and ctime in ns, inode) and the CRC-32 of each block of the bytes the
store uses (`stamp_files`). An open whose stamps all match trusts the files (a stat each); a file whose
stamp differs was written, copied or restored since, and its blocks are read and compared: damaged ones
are rebuilt, whole ones (a folder copied, a sync killed while appending past the valid end) are kept and
stamped again. ctime, which no one can set back, catches a writer that put the mtime back (`cp -p`).

Damage to the graph index alone keeps the vectors: only the graph is built again, from them.
"""

from __future__ import annotations

import logging
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop_app.core.vector_store_meta import StoreMeta

ITEM_BYTES = 2  # float16
# The metadata's arrays whose length state.json fixes: per photo ("n") or per article plus one.
META_ROWS = {"photo_ids.npy": "n", "updated.npy": "n", "has_view.npy": "n", "offsets.npy": "articles"}
META_PACKED = ("articles.npy", "paths.npy", "views.npy")
CRC_BLOCK = 64 << 20  # bytes per CRC-32 of a stamp: an append re-reads only from the last whole block on
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
    touched: list[str] = field(
        default_factory=list
    )  # files whose stamp changed, their bytes whole: stamp again

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
    if not damage:
        _compare_stamps(folder, state, damage)
    return damage


def usable_state(folder: Path, state: dict | None, ident: str) -> dict | None:
    """The state a sync may start from: None (rebuild everything from the catalog) when it is another
    model's or its files are damaged; without its graph index when only that is damaged; with new stamps
    when a file's stamp changed but its bytes are whole (or it had none)."""
    if state is None or state.get("model_id") != ident or state.get("damaged"):
        return None
    damage = check_files(folder, state)
    if damage.store:
        log.warning("The search cache %s is damaged (%s); rebuilding it.", folder, damage.error())
        return None
    if damage.ann:
        log.warning("The candidate index in %s is damaged (%s); building it again.", folder, damage.error())
        return dict(state, ann=None)
    if damage.touched or not state.get(
        "files"
    ):  # stamp again what is whole; stamp a store made before stamps
        return dict(state, files=stamp_files(folder, state))
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


# ---------------------------------------------------------------------------------------------- stamps


def used_bytes(state: dict) -> dict[str, int]:
    """Each file the state names -> how many of its first bytes the store uses (a matrix file may hold
    rows a killed append left past its valid end)."""
    dim = state.get("dim", 0)
    out: dict[str, int] = {}
    for key, rows in (("vectors", state.get("n", 0)), ("centroids", state.get("articles", 0))):
        if state.get(key):
            out[state[key]] = rows * dim * ITEM_BYTES
    for name in (state.get("meta"), *((state.get("ann") or {}).get(k) for k in ("file", "basis"))):
        if name:
            out[name] = -1  # the whole file
    return out


def stamp_files(folder: Path, state: dict) -> dict[str, dict]:
    """The stamps of the files `state` names, as `check_files` compares them: name -> {"stat": [size,
    mtime_ns, ctime_ns, inode], "used": bytes, "crc": [CRC-32 per block]}. Blocks that a previous stamp of
    the same file covered whole, and that lie before its old used end, keep their CRC (an append rewrites
    none of them)."""
    old = state.get("files") or {}
    out = {}
    for name, used in used_bytes(state).items():
        path = folder / name
        st = os.stat(path)
        used = st.st_size if used < 0 else used
        prior = old.get(name)
        keep = _kept_blocks(prior, used) if prior else []
        out[name] = {
            "stat": _stat(st),
            "used": used,
            "crc": keep + _block_crcs(path, len(keep) * CRC_BLOCK, used),
        }
    return out


def restamp(state: dict, folder: Path, names: list[str]) -> dict:
    """The state with new stat stamps for these files, whose bytes were found whole."""
    files = dict(state.get("files") or {})
    for name in names:
        files[name] = dict(files[name], stat=_stat(os.stat(folder / name)))
    return dict(state, files=files)


def _kept_blocks(prior: dict, used: int) -> list[int]:
    """The CRCs of a previous stamp that still hold: whole blocks inside both the old and the new used end."""
    whole = min(prior["used"], used) // CRC_BLOCK
    return list(prior["crc"][:whole])


def _stat(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _block_crcs(path: Path, start: int, end: int) -> list[int]:
    """CRC-32 of each CRC_BLOCK of bytes from `start` (a block boundary) to `end`."""
    crcs = []
    with open(path, "rb") as fh:
        fh.seek(start)
        for offset in range(start, end, CRC_BLOCK):
            data = fh.read(min(CRC_BLOCK, end - offset))
            crcs.append(zlib.crc32(data))
    return crcs


def _compare_stamps(folder: Path, state: dict, damage: Damage) -> None:
    """Files whose stat stamp changed since the sync that wrote them: their blocks are read and compared.
    A store written before stamps existed has none, and is trusted as it was."""
    files = state.get("files") or {}
    ann_files = set((state.get("ann") or {}).values())
    for name in used_bytes(state):
        stamp = files.get(name)
        if stamp is None:
            continue
        try:
            st = os.stat(folder / name)
        except OSError:
            continue  # named but missing: check_files said so already
        if _stat(st) == stamp["stat"]:
            continue
        problem = _changed_blocks(folder / name, stamp)
        if problem is None:
            damage.touched.append(name)
        elif name in ann_files:
            damage.ann.append(problem)
        else:
            damage.store.append(problem)


def _changed_blocks(path: Path, stamp: dict) -> str | None:
    """Whether the used bytes of a file are still what was stamped; None when they are."""
    try:
        crcs = _block_crcs(path, 0, stamp["used"]) if os.path.getsize(path) >= stamp["used"] else None
    except OSError as exc:
        return f"{path.name} cannot be read ({exc})"
    if crcs is None:
        return f"{path.name} is shorter than it was written"
    if crcs != stamp["crc"]:
        # The first block that differs (or, with a stamp of another length, the first past the shorter).
        changed = next((i for i, (a, b) in enumerate(zip(crcs, stamp["crc"])) if a != b), None)
        changed = min(len(crcs), len(stamp["crc"])) if changed is None else changed
        return (
            f"{path.name} was overwritten since it was written (bytes from {changed * CRC_BLOCK:,} on differ)"
        )
    return None
