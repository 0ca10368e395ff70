"""Words through the engine (CLIP models only): search by words, words mixed into a photo query, and label
suggestions from label names alone (zero-shot).

Words become a vector in the photos' space through the catalog model's text side (`core.text_encoder`).

- Search by words: the text vector is a query of one "photo". Each hit shows its best photo (the pair
  score), and the article score is the catalog's method over that one-vector query: the best photo for the
  pair methods, the cosine with the article's centroid for `centroid`. The threshold s is left out: cosines
  between words and photos lie on another scale (around 0.2-0.35 for CLIP) than between photos.
- Words with photos: each query photo vector q becomes normalise((1 - w) q + w t) for the text vector t
  and the weight w (0..1); the catalog's method and m then score the articles as for the photos alone. The
  threshold s is set aside here too (the answer says so): the fused vectors lie further from every photo,
  so every pair's cosine drops and s would leave none. A weight of 0 is the photo query itself (same path).
- Zero-shot labels: `core.zero_shot`.

Text is always compared with the frozen vectors the model made: an adapter maps photo vectors out of the
space the text side shares with them, so with an adapter switched on, words search a second, frozen index
(and the answer's note says so).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from desktop_app.core import zero_shot as zs
from desktop_app.core.encoder import normalise
from desktop_app.core.errors import InputError, ModelError, NoVectors
from desktop_app.core.label_sources import ZERO_SHOT_ACCEPTED
from desktop_app.core.labels import ReviewData, check_field
from desktop_app.core.search import SearchIndex
from desktop_app.core.settings import SearchSettings
from desktop_app.core.similar import Query
from desktop_app.core.text_encoder import TextEncoder, has_words, text_side_problem

TEXT_CACHE = 256  # text vectors kept: a curator retyping a query, zero-shot label sets
MAX_TEXT = 1000  # characters; CLIP reads 77 tokens, so anything longer is a mistake (a pasted file)


@dataclass
class TextQuery:
    """What `SearchRoom.similar` searches with when a query has words."""

    index: SearchIndex
    vectors: np.ndarray
    paths: list[str]
    views: list[str | None] | None
    params: SearchSettings
    own: list[str]  # the query's own articles, never returned
    note: str = ""


def clean_text(text: str | None) -> str:
    """The words of a query, stripped; InputError when there are none or far too many."""
    words = (text or "").strip()
    if not has_words(words):
        raise InputError("Type some words to search for (for example: red hooded sweatshirt).")
    if len(words) > MAX_TEXT:
        raise InputError(
            f"The text has {len(words)} characters; search by words takes up to {MAX_TEXT} "
            "(the model reads about 60 words)."
        )
    return words


def check_weight(weight: float) -> float:
    w = float(weight)
    if not 0.0 <= w <= 1.0:
        raise InputError(f"The weight of the words must be between 0 and 1 (got {w:g}).")
    return w


class TextRoom:
    """Words (a room of `Engine`)."""

    _text_encoder: TextEncoder | None = None
    _text_key: tuple | None = None
    _text_vectors: OrderedDict | None = None
    _frozen_index: SearchIndex | None = None
    _frozen_key: tuple | None = None

    # ------------------------------------------------------------ the text side

    def text_problem(self) -> str | None:
        """None when this catalog can search by words; else the one line that says why not."""
        try:
            model = self.model()
        except ModelError as exc:
            return str(exc)
        return text_side_problem(model)

    def text_encoder(self) -> TextEncoder:
        """The text side of the catalog's model (kept); ModelError with the reason when it has none."""
        model = self.model()
        key = (str(model.manifest_path), model.manifest.text)
        if self._text_encoder is None or self._text_key != key:
            self._text_encoder = TextEncoder(model)
            self._text_key = key
            self._text_vectors = OrderedDict()
        return self._text_encoder

    def text_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised [len(texts), D] vectors of texts in the photos' space (recent ones remembered)."""
        encoder = self.text_encoder()
        cache = self._text_vectors if self._text_vectors is not None else OrderedDict()
        self._text_vectors = cache
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            for t, v in zip(missing, encoder.encode(missing)):
                cache[t] = v
        out = np.stack([cache[t] for t in texts]) if texts else np.zeros((0, encoder.dim), np.float32)
        for t in texts:
            cache.move_to_end(t)
        while len(cache) > TEXT_CACHE:
            cache.popitem(last=False)
        return out

    def text_index(self) -> SearchIndex:
        """The search index of the frozen vectors: the usual one, or a second one while an adapter is on."""
        if self.adapter() is None:
            return self.search_index()
        av = self.frozen_vectors()
        rev = self.catalog.labels_revision()
        key = (av.model_id, av.n_photos, rev)
        if self._frozen_index is None or self._frozen_key != key:
            if av.n_photos == 0:
                raise NoVectors(
                    "The catalog has no embedded photos for its model yet; update the index first."
                )
            index = SearchIndex(av)
            index.prepare(("centroid",))
            labels = self.catalog.labels()
            index.set_labels([labels.get(a, {}) for a in av.articles])
            self._frozen_index, self._frozen_key = index, key
        return self._frozen_index

    # ------------------------------------------------------------ queries with words

    def text_query(
        self, query: Query, params: SearchSettings, vectors: np.ndarray | None, paths: list[str] | None
    ) -> TextQuery:
        """The vectors of a query with words: the words alone, or mixed into each query photo vector."""
        words = clean_text(query.text)
        index = self.text_index()
        t = self.text_vectors([words])[0]
        notes = [self._words_cut_note(words), self._frozen_note()]
        if params.threshold is not None and params.uses_pairs:
            # Words alone: word-photo cosines lie on another scale. Words mixed in: every fused query vector
            # moves away from the photos, so every pair's cosine drops and s would leave no pair at all.
            why = (
                "word-photo similarities lie on another scale than photo-photo ones"
                if query.kind == "text"
                else "words mixed into the query photos lower every photo pair's similarity, so s would "
                "leave no pair"
            )
            notes.insert(0, f"The threshold s ({params.threshold:g}) is not used with words: {why}.")
        note = " ".join(n for n in notes if n)
        params = replace(params, threshold=None)
        if query.kind == "text":
            return TextQuery(index, t[None, :], [""], None, params, [], note)
        w = check_weight(query.text_weight)
        base, base_paths, views, own = self._photo_vectors(index, query, vectors, paths)
        fused = normalise((1.0 - w) * base + w * t[None, :])
        return TextQuery(index, fused, base_paths, views, params, own, note)

    def photo_only(self, query: Query) -> tuple[Query, str] | None:
        """A photo query whose words weigh 0, as the photo query alone (with the note that says so); None for
        any other query. Weight 0 must give exactly the photo-only ranking, adapter included, so it takes the
        photo-only path rather than fusing nothing into the frozen vectors."""
        if query.text is None or query.kind == "text" or check_weight(query.text_weight) > 0:
            return None
        clean_text(query.text)  # refused as any words would be
        note = "The words weigh 0, so this is the search by the photos alone."
        return replace(query, text=None), note

    def _words_cut_note(self, words: str) -> str:
        encoder = self.text_encoder()
        if not encoder.tokenizer.cut([words])[0]:
            return ""
        return (
            f"The words are longer than the model reads ({encoder.tokenizer.context_length} tokens); "
            "the rest was cut."
        )

    def _frozen_note(self) -> str:
        if self.adapter() is None:
            return ""
        return (
            "Learned similarity is on, but words are compared with the photos' own vectors: the adapter "
            "maps photo vectors out of the space they share with words."
        )

    def _photo_vectors(
        self, index: SearchIndex, query: Query, vectors: np.ndarray | None, paths: list[str] | None
    ) -> tuple[np.ndarray, list[str], list | None, list[str]]:
        """(vectors, paths, views, own articles) of a query's photos, from the frozen vectors."""
        av = index.av
        if query.kind == "files":
            if vectors is None or len(vectors) == 0:
                raise InputError("None of the query photos could be read.")
            return vectors, list(paths or []), None, []
        if query.kind == "photo":
            row = av.row_of_photo(query.photo_id if query.photo_id is not None else -1)
            if row is None:
                raise NoVectors(
                    "This photo has no vector yet (it was skipped or is not indexed). Update the index, "
                    "or pick another photo."
                )
            return (
                av.vectors[row : row + 1],
                [av.paths[row]],
                [av.views[row]],
                [av.articles[av.article_of_row[row]]],
            )
        present = [a for a in query.articles if a in av]
        if not present:
            raise NoVectors(
                f"{query.articles[0] if query.articles else 'The query'} has no embedded photos yet, so "
                "it cannot be compared. Update the index to embed them."
            )
        rows = np.concatenate(
            [
                np.arange(av.rows_of(av.article_index(a)).start, av.rows_of(av.article_index(a)).stop)
                for a in present
            ]
        )
        return (
            av.vectors[rows],
            [av.paths[r] for r in rows],
            [av.views[r] for r in rows],
            list(query.articles),
        )

    def nearest_photos_by_text(
        self, query: Query, top: int, vectors: np.ndarray | None = None, paths: list[str] | None = None
    ) -> list[dict]:
        """The catalog photos nearest to a query with words (best over the query's vectors)."""
        tq = self.text_query(query, self.search_settings(), vectors, paths)
        av = tq.index.av
        own = {av.article_index(a) for a in tq.own if a in av}
        return av.nearest_photos(tq.vectors, own, top)

    # ------------------------------------------------------------ zero-shot labels

    def zero_shot(
        self, field: str, labels: Sequence[str] | None = None, prompts: Sequence[str] = (zs.DEFAULT_PROMPT,)
    ) -> zs.ZeroShot:
        """Label suggestions for the field's unlabelled articles from the label names alone.

        labels: the candidate labels ("value" or "value=words to say it with"); default: the values the field
        already has. Where articles are labelled, the confidence is calibrated on them."""
        problem = self.text_problem()  # first: no label name can help a model without a text side
        if problem:
            raise ModelError(problem)
        check_field(field)
        known = {a: d[field] for a, d in self.catalog.labels(field).items() if field in d}
        if labels:
            choices = zs.parse_labels(labels)
            where = f"the names given hold {len(choices)}"
        else:
            choices = zs.parse_labels(
                sorted(set(known.values()), key=lambda v: (v.casefold(), v)), given=False
            )
            where = f"the field '{field}' has {len(choices)}"
        if len(choices) < 2:
            named = f" ({', '.join(c.value for c in choices)})" if choices else ""
            raise InputError(
                f"Zero-shot suggestions need at least two different label names; {where}{named}. "
                "Name them with --labels a,b,c."
            )
        prompts = zs.check_prompts(prompts)
        texts = [p.format(c.words) for c in choices for p in prompts]
        label_vectors = zs.label_vectors(self.text_vectors(texts), len(choices), len(prompts))
        index = self.text_index()
        confirmed = self.catalog.labels(field, confirmed_only=True)  # ground truth for the temperature
        return zs.suggest(
            index.av,
            known,
            choices,
            label_vectors,
            self.text_encoder().logit_scale,
            field,
            list(prompts),
            confirmed=confirmed.keys(),
        )

    def accept_zero_shot(
        self,
        field: str,
        labels: Sequence[str] | None = None,
        prompts: Sequence[str] = (zs.DEFAULT_PROMPT,),
        min_confidence: float = 0.8,
        conflicts: list[dict] | None = None,
    ) -> int:
        """Accept every zero-shot suggestion at or above a confidence, as one undoable decision (as a bulk
        accept of suggestions from labelled neighbours: an article labelled meanwhile keeps its label and is
        listed in `conflicts`)."""
        result = self.zero_shot(field, labels, prompts)
        chosen = [s for s in result.suggestions if s.label is not None and s.confidence >= min_confidence]
        return self.accept_chosen(field, chosen, conflicts, ZERO_SHOT_ACCEPTED)

    def zero_shot_review(self, field: str, labels: Sequence[str] | None = None) -> ReviewData | None:
        """The review queue's data from zero-shot suggestions, or None when it should use labelled neighbours:
        the model has no text side, or the field has enough labelled articles (or too few label names)."""
        if self.text_problem() is not None:
            return None
        known = {a: d[field] for a, d in self.catalog.labels(field).items() if field in d}
        if len(known) >= zs.FEW_LABELLED and not labels:
            return None
        names = labels or sorted(set(known.values()), key=lambda v: (v.casefold(), v))
        if len(zs.parse_labels(names, given=bool(labels))) < 2:
            return None
        result = self.zero_shot(field, labels or None)
        av = self.text_index().av
        photos = {}
        for s in result.suggestions:
            a = av.article_index(s.article)
            rows = av.rows_of(a)
            paths = av.paths[rows]
            first = av.cover_row(a) - rows.start
            photos[s.article] = [paths[first]] + [p for i, p in enumerate(paths) if i != first]
        known_labels = sorted({c.value for c in result.choices} | set(known.values()), key=str.casefold)
        return ReviewData(
            result.suggestions,
            photos,
            known_labels,
            self.catalog.skipped_articles(field),
            len(known),
            note=result.describe(),
        )
