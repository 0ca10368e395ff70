"""The engine's foundation: an open catalog with its settings, model and device, vectors and search index."""

from __future__ import annotations

import getpass
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from desktop_app.core.adapt import Adapter
from desktop_app.core.ann import ServerAnn
from desktop_app.core.caches import not_stored_on_full_disk
from desktop_app.core.encoder import Encoder
from desktop_app.core.errors import InputError, ModelError, NoVectors, UserError
from desktop_app.core.export_targets import protect_catalog, unprotect_catalog
from desktop_app.core.files import DISK_FULL
from desktop_app.core.indexer import (
    embed_files,
)
from desktop_app.core.models import InstalledModel, catalog_model, vector_identity
from desktop_app.core.paths import ROOT_SAMPLE, catalog_title, folder_reachable, photo_file
from desktop_app.core.read_ahead import ReadAhead
from desktop_app.core.search import SearchIndex
from desktop_app.core.settings import (
    CatalogSettings,
    SearchSettings,
    UserSettings,
    catalog_settings,
    remember_catalog,
    update_catalog_settings,
    update_catalog_settings_with,
)
from desktop_app.core.storage import Catalog, server_index
from desktop_app.core.storage.backend import url_user
from desktop_app.core.storage.locks import lock_path
from desktop_app.core.storage.photos import ANY_COVER, CoverChange
from desktop_app.core.vector_store import VectorStore, store_folder
from desktop_app.core.vectors import ArticleVectors

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from desktop_app.core.engine import Engine

EvalProgress = Callable[[int, int, str], None]
DECISION_GROUPS = "decisions"  # evaluate and tune on the groups that same-product decisions form


def _forget_other_adapters(folder: Path) -> None:
    """Delete the stores of the model's other adapters (one adapter is on at a time; another is built again
    when switched on)."""
    base = folder.name.rsplit("-adapter", 1)[0]
    for other in folder.parent.glob(f"{base}-adapter*"):
        if other != folder and other.is_dir():
            shutil.rmtree(other, ignore_errors=True)
            (other.parent / f"{other.name}.sync-lock").unlink(missing_ok=True)


def _same_pairs(a: SearchSettings, b: SearchSettings) -> bool:
    return (a.method, a.threshold, a.max_matches) == (b.method, b.threshold, b.max_matches)


def current_curator(location: str | None = None) -> str:
    """Who is deciding in the catalog at `location` (see `curator_and_source`)."""
    return curator_and_source(location)[0]


def curator_and_source(location: str | None = None) -> tuple[str, str]:
    """The one place the curator's name is decided, with where it came from: the name set in the user
    settings (`lookalike settings --curator`), else for a shared catalog the database user (two curators on
    one workstation log in as themselves), else the login name."""
    name = UserSettings.load().curator.strip()
    if name:
        return name, "set with lookalike settings --curator"
    user = url_user(location) if location else None
    if user:
        return user, "the database user"
    try:
        return getpass.getuser(), "the login name"
    except (KeyError, OSError):
        return "curator", "no login name"


@dataclass
class EngineBase:
    """One open catalog: its settings, model, encoder and vectors (the rooms of `Engine` build on these).

    Reads and writes (settings, labels, decisions, covers, inspect) may come from several threads: each
    opens its own connection. The loaded state (vectors, search index, encoder) is for one caller at a
    time: the search child, or a command.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._model: InstalledModel | None = None
        self._model_key: tuple | None = None
        self._vectors: ArticleVectors | None = None
        self._vectors_key: tuple | None = None
        self._index: SearchIndex | None = None
        self._labels_rev: tuple | None = None
        self._encoder: Encoder | None = None
        self._encoder_key: tuple | None = None
        self._adapter: Adapter | None = None
        # A long-lived search process reads a large vector store ahead into the OS file cache (once per
        # store folder: after an index run its pages are still cached); short commands do not.
        self.read_ahead_stores = False
        self._read_ahead: ReadAhead | None = None
        self._read_folders: set[Path] = set()
        protect_catalog(self, self.location, self.own_files(), self.photo_root)

    def own_files(self) -> list[Path]:
        """The files and folders this catalog is made of on this machine, which no export may replace: the
        catalog file with SQLite's files and the locks beside it, and the vector stores."""
        stores = store_folder(self.catalog, "").parent
        path = self.catalog.path
        if path is None:
            return [stores]
        sqlite_files = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]
        return [*sqlite_files, lock_path(path), path.parent / f".{path.name}.lock", stores]

    @classmethod
    def open(cls, db: Path | str, create: bool = False, remember: bool = True) -> Engine:
        engine = cls(Catalog(db, create=create))
        if remember:
            remember_catalog(engine.location)
        return engine

    @property
    def path(self) -> Path | None:
        """The catalog file (None for a catalog in a database server)."""
        return self.catalog.path

    def curator(self) -> str:
        """Who is deciding in this catalog: the name label and match decisions are logged with."""
        return current_curator(self.location)

    @property
    def location(self) -> str:
        """Where the catalog is: its file, or its database URL (without a password)."""
        return self.catalog.location

    def title(self) -> str:
        """The catalog's name in window titles (`paths.catalog_title`): a folder's catalog by the folder."""
        return catalog_title(self.location, self.photo_root())

    def close(self) -> None:
        if self._read_ahead is not None:
            self._read_ahead.stop()
        self._index = None
        self._vectors = None
        self._encoder = None
        unprotect_catalog(self)
        self.catalog.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ settings

    def settings(self) -> CatalogSettings:
        return catalog_settings(self.catalog)

    def update_settings(self, **changes: Any) -> CatalogSettings:
        """Change catalog settings; a different model or preprocessing switches vectors on the next search."""
        return update_catalog_settings(self.catalog, **changes)

    def vector_space(self) -> int | None:
        """The vector space search compares in: the id of the adapter switched on, or None (frozen)."""
        adapter = self.adapter()
        return adapter.id if adapter is not None else None

    def update_search(self, **changes: Any) -> SearchSettings:
        """Change some of the search settings (method, threshold, max_matches, top_k; None turns s or m off)
        of the vector space in use (the frozen vectors, or the adapter switched on) in one write
        transaction, leaving the others as stored."""
        space = self.vector_space()
        out: list[SearchSettings] = []

        def change(s: CatalogSettings) -> CatalogSettings:
            old = s.search_for(space)
            new = replace(old, **changes)
            out.append(new)
            if not s.has_own_search(space) and _same_pairs(old, new):  # top-K alone: every space's
                return replace(s, search=replace(s.search, top_k=new.top_k))
            return s.with_search_for(space, new)

        update_catalog_settings_with(self.catalog, change)
        return out[0]

    def search_settings(
        self,
        method: str | None = None,
        threshold: float | None = None,
        max_matches: int | None = None,
        top_k: int | None = None,
    ) -> SearchSettings:
        """The stored search settings of the vector space in use (an adapter's own, see
        `CatalogSettings.search_for`), with any of them overridden for one call."""
        return self.settings().search_for(self.vector_space()).override(method, threshold, max_matches, top_k)

    def search_space_note(self) -> str | None:
        """Why the adapter in use searches without the frozen vectors' s, while it has no settings of its own
        (None otherwise): said when an adapter is trained or switched on, and by `settings`."""
        space = self.vector_space()
        s = self.settings()
        if space is None or s.has_own_search(space) or s.search.threshold is None or not s.search.uses_pairs:
            return None
        return (
            f"Adapter {space} searches without s: s={s.search.threshold:g} was set for the frozen vectors, "
            "and the adapted vectors' cosines lie on another scale. Tune it with the adapter on, on groups or "
            "decisions it did not learn from (lookalike tune), or set one (lookalike settings --threshold S); "
            "the frozen vectors keep theirs."
        )

    def photo_root(self) -> Path | None:
        """Where the photos are on this machine: this user's mapping for the catalog, else the folder it was
        indexed from."""
        root = UserSettings.load().photo_root(self.location) or self.settings().photo_root
        return Path(root) if root else None

    def map_photo_root(self, folder: Path | None) -> str | None:
        """Remember where this catalog's photos are on this machine (None: forget it). A folder that is not
        there yet is taken (a share's mount point before it is mounted: the photos show offline until it
        is), and the warning to give is returned; a file is refused."""
        note = None
        if folder is not None:
            folder = Path(folder).expanduser()
            if folder.exists() and not folder.is_dir():
                raise InputError(f"{folder} is a file, not a folder; give the folder the photos are in.")
            if not folder.exists():
                note = (
                    f"{folder.resolve()} is not there yet; the photos show as offline until it is (a share "
                    "mounted there, a drive plugged in)."
                )
        user = UserSettings.load()
        user.set_photo_root(self.location, folder)
        user.save(strict=True)
        return note

    def root_sample(self, n: int = ROOT_SAMPLE) -> tuple[str, ...]:
        """A few of the catalog's photos (stored paths) to look for in a photo folder (`photos_online`;
        `catalog root` checks more)."""
        return self.catalog.photo_path_sample(n)

    def photos_online(self) -> bool:
        """Whether this machine's photo folder of the catalog is reachable and holds its photos (a stat or a
        few): an empty mount point is offline. It touches the disk: front ends ask it off their UI thread."""
        return folder_reachable(self.photo_root(), self.root_sample())

    def absolute(self, rel: str | None) -> Path | None:
        root = self.photo_root()
        return photo_file(root, rel) if root is not None and rel else None

    # ------------------------------------------------------------ model and device

    def model(self) -> InstalledModel:
        """The model this catalog's vectors come from (ModelError when it is not installed here)."""
        s = self.settings()
        key = (s.model, s.model_manifest)
        if self._model is None or self._model_key != key:
            self._model = catalog_model(s.model, s.model_manifest)
            self._model_key = key
        return self._model

    def model_id(self) -> str:
        """The vector identity of the catalog's model with its preprocessing (letterbox, mirror)."""
        s = self.settings()
        return vector_identity(self.model().manifest, s.resize, s.mirror)

    def vectors_model_id(self) -> str:
        """The model id to search with: the catalog's model, or when that is not installed here, the model
        with the most vectors (search needs only vectors; only new photos would need the model)."""
        try:
            return self.model_id()
        except ModelError:
            by_model = self.catalog.counts()["vectors_by_model"]
            if not by_model:
                raise
            return max(by_model, key=by_model.get)

    def encoder(self, device: str | None = None) -> Encoder:
        """An encoder session for the catalog's model (kept); device None = the user's setting."""
        device = device or UserSettings.load().device
        model = self.model()
        key = (str(model.manifest_path), device)
        if self._encoder is None or self._encoder_key != key:
            self._encoder = Encoder(model, device=device)
            self._encoder_key = key
        return self._encoder

    def keep_encoder_of(self, previous: EngineBase) -> None:
        """Use the encoder session `previous` made, when this engine has none (a search process opening the
        next catalog, or the same one again): `encoder` keeps it for the same model and device and makes its
        own otherwise. A session costs seconds to make (the model loads and runs once)."""
        if self._encoder is None and previous._encoder is not None:
            self._encoder, self._encoder_key = previous._encoder, previous._encoder_key

    def embed(
        self, files: Sequence[Path], device: str | None = None
    ) -> tuple[np.ndarray, list[Path], list[str]]:
        """Vectors of photo files outside the catalog, preprocessed like the catalog's photos."""
        s = self.settings()
        return embed_files(self.encoder(device), list(files), s.resize, s.mirror)

    # ------------------------------------------------------------ vectors and search index

    def vectors(self, articles: Sequence[str] | None = None) -> ArticleVectors:
        """The vectors search uses: all of them (kept for the next call), or only these articles' (read now).

        With an adapter switched on they are the adapted vectors; off, the stored frozen ones exactly."""
        model_id = self.vectors_model_id()
        adapter = self.adapter()
        if articles is not None:
            av = self.catalog.article_vectors(model_id, articles)
            return adapter.apply_to(av) if adapter is not None else av
        key = (model_id, adapter.id if adapter is not None else None)
        if self._vectors is None or self._vectors_key != key:
            self._vectors = self.stored_vectors(model_id, adapter=adapter)
            self._vectors_key = key
            self._index = None
            self._labels_rev = self.catalog.labels_revision()
        return self._vectors

    def search_space(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors of photos from outside the catalog (`embed`) in the space search compares: adapted like the
        catalog's own when an adapter is switched on, else as they are."""
        adapter = self.adapter()
        return adapter.apply(vectors) if adapter is not None else vectors

    def frozen_vectors(self) -> ArticleVectors:
        """The stored vectors of the catalog's model, never adapted."""
        return self.stored_vectors(self.vectors_model_id())

    def stored_vectors(
        self, model_id: str, progress: EvalProgress | None = None, adapter: Adapter | None = None
    ) -> ArticleVectors:
        """All vectors of a model (or an adapter's projection of them) from their local vector store
        (memory-mapped float16), brought up to date with the catalog first (reading only what changed, or
        everything when the store is damaged); straight from the catalog when no store can be kept."""
        store = self._vector_store(model_id, adapter)
        labels = self.catalog.labels()
        revision = self.catalog.vectors_revision(model_id)
        server = None if adapter is not None else self.server_candidates(model_id, progress, revision)
        try:
            store.sync(self.catalog, model_id, revision, progress, graph=server is None)
            av = store.open_repaired(self.catalog, model_id, labels, progress, graph=server is None)
        except OSError as exc:  # no place to keep it, or none to rebuild a damaged one (a full disk)
            if exc.errno in DISK_FULL:
                not_stored_on_full_disk("search cache (the local copy of the vectors)", str(store.folder))
            log.info(
                "no local vector store for %s (%s); reading vectors from the catalog", self.location, exc
            )
            av = self.catalog.article_vectors(model_id)
            if adapter is not None:
                return adapter.apply_to(av)
            av.ann = server  # the server's candidate stage needs no local files
            return av
        if server is not None:
            av.ann = server
        if adapter is not None:
            _forget_other_adapters(store.folder)
        if self.read_ahead_stores and store.folder not in self._read_folders:
            self._read_folders.add(store.folder)
            if self._read_ahead is not None:
                self._read_ahead.stop()
            self._read_ahead = store.read_ahead()
        return av

    def sync_vectors(self, progress: EvalProgress | None = None, adapter: Adapter | None = None) -> None:
        """Bring the local vector stores up to date now (the model's vectors, and the adapted ones of
        `adapter`, else of the adapter that is on: built the first time, with their own graph index in a
        large catalog), so that the next search process opens them at once. A place that cannot hold them is
        left alone: search then reads the catalog."""
        try:
            model_id = self.vectors_model_id()
            adapter = adapter or self.adapter()
        except ModelError:
            return
        revision = self.catalog.vectors_revision(model_id)
        server = self.server_candidates(model_id, progress, revision)
        try:
            self._vector_store(model_id, None).sync(
                self.catalog, model_id, revision, progress, graph=server is None
            )
            if adapter is not None:
                store = self._vector_store(model_id, adapter)
                store.sync(self.catalog, model_id, revision, progress)
                _forget_other_adapters(store.folder)
        except OSError as exc:
            log.info("vector store not updated: %s", exc)

    def server_candidates(
        self, model_id: str, progress: EvalProgress | None = None, revision: tuple | None = None
    ) -> ServerAnn | None:
        """The candidate stage the catalog's server answers (pgvector, `storage.server_index`), synced first
        when behind, if this shared catalog has it switched on; else None (this machine's own graph index).
        One that cannot be used now is logged: search goes on with this machine's own."""
        try:
            photos = server_index.ready(self.catalog, model_id, progress, revision)
        except UserError as exc:
            log.warning("The server's candidate index is not used this time: %s", exc)
            return None
        return None if photos is None else ServerAnn(partial(server_index.nearest, self.catalog), photos)

    def _vector_store(self, model_id: str, adapter: Adapter | None) -> VectorStore:
        folder = store_folder(self.catalog, model_id)
        if adapter is not None:
            folder = folder.with_name(f"{folder.name}-adapter{adapter.id}")
        return VectorStore(folder, adapter)

    def search_index(self) -> SearchIndex:
        av = self.vectors()
        if av.n_photos == 0:
            raise NoVectors("The catalog has no embedded photos for its model yet; update the index first.")
        if self._index is None:
            self._index = SearchIndex(av)
            self._index.prepare(("centroid", "ordered"))
        rev = self.catalog.labels_revision()
        if rev != self._labels_rev:
            labels = self.catalog.labels()
            self._index.set_labels([labels.get(a, {}) for a in av.articles])
            self._labels_rev = rev
        return self._index

    def reload(self) -> None:
        """Forget loaded vectors (after an index run); they are read again on the next search."""
        self._vectors = None
        self._index = None

    # ------------------------------------------------------------ covers

    def set_cover(self, article: str, path: str | None, expected: object = ANY_COVER) -> CoverChange:
        """Show the article by this photo (a path of one of its photos); None goes back to the automatic cover.
        Returns the change, with the choice it replaced (what an undo puts back). With `expected` (a path,
        or None for the automatic cover), a cover someone changed since is a Conflict and nothing is written."""
        if path is not None and path not in {r.path for r in self.catalog.photos_of(article)}:
            raise InputError(f"{path} is not a photo of {article}.")
        return self.catalog.set_cover(article, path, curator=self.curator(), expected=expected)

    def chosen_cover(self, article: str) -> str | None:
        """The photo a curator chose as the article's cover (None: the automatic choice is used)."""
        return self.catalog.covers().get(article)

    # ------------------------------------------------------------ overview

    def skipped_files(self) -> list[dict]:
        """Every file the index leaves out, by path, with its reason: those skipped when read (kept with the
        photos) and those the latest scan skipped (special files, names that print like another's)."""
        return sorted(self.catalog.skipped() + self.catalog.scan_skipped(), key=lambda s: s["path"])

    def stats(self) -> dict:
        """What the catalog holds and how it was made, for `lookalike stats` and the app's status."""
        s = self.settings()
        counts = self.catalog.counts()
        last = self.catalog.last_run()
        # "chosen": False for a catalog no index run has made yet; its model is then the default one.
        model: dict[str, Any] = {"name": s.model, "installed": False, "chosen": s.model is not None}
        try:
            m = self.model()
            model.update(
                name=s.model or m.manifest.name,
                installed=True,
                precision=m.manifest.precision,
                family=m.manifest.family,
                dim=m.manifest.dim,
                model_id=self.model_id(),
            )
        except ModelError as exc:
            model["problem"] = str(exc)
        # What the session of the last run that embedded anything really got.
        devices = [(r.get("summary") or {}).get("device") for r in self.catalog.recent_runs()]
        model["device"] = next((d for d in devices if d), None)
        return {
            "catalog": self.location,
            "backend": self.catalog.kind,
            "schema_version": self.catalog.schema_version(),
            "photo_root": str(here) if (here := self.photo_root()) else None,  # where this machine finds them
            "stored_photo_root": s.photo_root,  # the folder the catalog keeps, for machines without a mapping
            "grouping": s.grouping.to_dict(),
            "grouping_text": s.grouping.describe(),
            "model": model,
            "preprocessing": s.preprocessing(),
            "search": self.search_settings().to_dict(),
            "search_space": self.vector_space(),  # the adapter whose settings these are (None: frozen)
            "counts": counts,
            "last_run": last,
            "skipped": self.skipped_files(),
            "size_bytes": self.catalog.size_bytes(),
        }
