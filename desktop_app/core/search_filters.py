"""Which articles a search may return: label and folder filters (cached as masks per catalog), articles
left out, and why a filter leaves none. A mixin of `search.SearchIndex`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from desktop_app.core.errors import UserError
from desktop_app.core.vectors import ArticleVectors
from desktop_app.core.wording import quoted

Label = Mapping[str, str] | tuple[str, str] | str | None


class Filters:
    av: ArticleVectors
    nonempty: np.ndarray
    _masks: dict[tuple[str, str], np.ndarray]
    n_articles: int  # a property of SearchIndex

    def label_mask(self, field_name: str, value: str) -> np.ndarray:
        key = ("label:" + field_name, value)
        if key not in self._masks:
            self._masks[key] = np.fromiter(
                (lab.get(field_name) == value for lab in self.av.labels), dtype=bool, count=self.n_articles
            )
        return self._masks[key]

    def folder_mask(self, folder: str) -> np.ndarray:
        """Articles whose id or any photo path lies in `folder` (a path prefix on whole components)."""
        f = folder.replace("\\", "/").strip("/")
        while f.startswith("./"):
            f = f[2:]
        if not f:
            return np.ones(self.n_articles, dtype=bool)
        key = ("folder", f)
        if key not in self._masks:
            pre = f + "/"

            def inside(p: str) -> bool:
                p = p.replace("\\", "/")
                return p == f or p.startswith(pre)

            mask = np.fromiter((inside(a) for a in self.av.articles), dtype=bool, count=self.n_articles)
            by_path = np.fromiter((inside(p) for p in self.av.paths), dtype=bool, count=len(self.av.paths))
            hits = np.flatnonzero(by_path)
            if hits.size:
                mask[self.av.article_of_row[hits]] = True
            self._masks[key] = mask
        return self._masks[key]

    def _allowed(
        self,
        label: Label,
        folder: str | None,
        exclude: Iterable[int],
        query_articles: Iterable[int],
    ) -> np.ndarray:
        allowed = self.nonempty.copy()
        for field_name, value in _label_items(label):
            allowed &= self.label_mask(field_name, value)
        if folder:
            allowed &= self.folder_mask(folder)
        drop = [*query_articles, *exclude]
        if drop:
            allowed[np.asarray(drop, dtype=np.int64)] = False
        return allowed

    def why_empty(self, label: Label, folder: str | None) -> str:
        """Why filters leave no article to return, in words ("" when they leave some)."""
        for field_name, value in _label_items(label):
            if not self.label_mask(field_name, value).any():
                known = sorted({lab[field_name] for lab in self.av.labels if field_name in lab})
                hint = (
                    f" (its values: {', '.join(known[:8])}{'…' if len(known) > 8 else ''})" if known else ""
                )
                return f"No article has the label {field_name}={value}{hint}."
        if folder and not self.folder_mask(folder).any():
            return (
                f"No article lies under the folder {quoted(folder)}; give a folder relative to the photo folder, "
                "e.g. shoes/men."
            )
        if label and folder and not (self._allowed(label, folder, (), ()).any()):
            return "No article has that label under that folder."
        return ""


def _label_items(label: Label) -> list[tuple[str, str]]:
    if label is None:
        return []
    if isinstance(label, str):
        if "=" not in label:
            raise UserError(f"Label filter {quoted(label)} must look like field=value.")
        f, v = label.split("=", 1)
        return [(f.strip(), v.strip())]
    if isinstance(label, tuple):
        return [(str(label[0]), str(label[1]))]
    return [(str(f), str(v)) for f, v in label.items()]
