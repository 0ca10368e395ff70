"""The engine's thumbnails room: photos' thumbnails on this machine, from the photo when it can be read here,
else from the catalog's own (`core.catalog_thumbnails`), cached per machine (`core.thumbnails`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from desktop_app.core import thumbnails
from desktop_app.core.catalog_thumbnails import keeps_thumbnails
from desktop_app.core.images import PhotoError
from desktop_app.core.paths import photo_file

log = logging.getLogger(__name__)


class ThumbnailRoom:
    """Mixin of `Engine`: needs `catalog`, `photo_root()` and `stats()` (EngineBase)."""

    def stats(self) -> dict:
        """EngineBase's stats, with the catalog's thumbnails: whether index runs keep them, how many usable
        photos have one, and the bytes they take."""
        return {**super().stats(), "thumbnails": self.thumbnail_state()}

    def thumbnail_state(self) -> dict:
        return {"kept": keeps_thumbnails(self.catalog), **self.catalog.thumbnail_counts()}

    def thumbnails(self, paths: Sequence[str], size: int) -> dict[str, Path]:
        """Thumbnail files (JPEG, at most size x size) of these photos (stored paths): made from the photo
        when this machine can read it, else the catalog's own (cached here), else the one made here before
        (one read of the catalog for all of them). Photos with none (a file that cannot be decoded, a photo
        this machine cannot read and never showed, of which the catalog keeps none) are left out, as is
        everything while no photo folder is known (a catalog nothing was indexed into)."""
        root = self.photo_root()
        if root is None:
            return {}
        found: dict[str, Path] = {}
        unreadable: list[str] = []
        for rel in dict.fromkeys(paths):
            try:
                found[rel] = thumbnails.thumbnail(photo_file(root, rel), size, offline_copy=False)
            except PhotoError as exc:
                if exc.reason in thumbnails.UNREADABLE:
                    unreadable.append(rel)
        found.update(self.catalog_thumbnails(unreadable, size, root))
        return found

    def catalog_thumbnails(
        self, paths: Sequence[str], size: int, root: Path | None = None
    ) -> dict[str, Path]:
        """Thumbnails of these photos (stored paths) for a machine that cannot read them: the catalog's own
        of the photo as it is now (cached here at `size` under the photo's file under `root`, this machine's
        photo folder, asked for when not given; the catalog is read for those not cached yet, in one read),
        else the one this machine made before, for photos the catalog keeps none of."""
        root = root if root is not None else self.photo_root()
        if not paths or root is None:
            return {}
        versions = self.catalog.thumbnail_versions(paths)
        out: dict[str, Path] = {}
        fetch: list[str] = []
        for rel in dict.fromkeys(paths):
            file = photo_file(root, rel)
            version = versions.get(rel)
            cached = (
                thumbnails.stored_copy_path(file, version, size)
                if version is not None
                else thumbnails.last_known(file, size)
            )
            if cached is not None and cached.exists():
                out[rel] = cached
            elif version is not None:
                fetch.append(rel)
        for rel, stored in self.catalog.thumbnails_of(fetch).items() if fetch else ():
            try:
                # The version read with the data: the photo may have been indexed again in between.
                version = stored.version or versions[rel]
                out[rel] = thumbnails.from_stored(photo_file(root, rel), size, stored.data, version)
            except PhotoError as exc:  # a damaged row: the photo shows as one that cannot be shown
                log.warning("The catalog's thumbnail of %s cannot be decoded: %s", rel, exc)
        return out
