"""Words into vectors in a CLIP model's photo space: CLIP's BPE tokenizer and the text model's session.

The tokenizer is the checkpoint's own `tokenizer.json` (CLIP's byte-level BPE and its vocabulary) run by the
`tokenizers` library, cut to the model's context length (77 tokens for CLIP, start and end tokens included).
A batch of texts is padded to its longest text by repeating each text's end token: CLIP's text model reads
its output at the end token behind a causal mask, so what follows the end token never changes a vector
(`zoo_text.validate_text_onnx` checks that for every installed text model). Only CLIP models have a text
side; for any other model every text feature says so in one line (`text_side_problem`).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from desktop_app.core.device import make_session
from desktop_app.core.encoder import normalise
from desktop_app.core.errors import ModelError
from desktop_app.core.models import InstalledModel

FETCH_HINT = "lookalike models fetch clip-vit-b32-int8"
MASK_INPUT = "attention_mask"  # fed when a text model declares it (some exports do, CLIP's does not need it)
BATCH = 64  # texts per run: zero-shot label sets are small, a batch this size is a few milliseconds


def has_words(text: str | None) -> bool:
    """Whether a text holds anything visible: zero-width spaces, byte-order marks and control characters
    alone tokenize to nothing (or to noise), so such a text is as empty as a blank one."""
    return any(unicodedata.category(ch)[0] not in "CZ" for ch in text or "")


def text_side_problem(model: InstalledModel | None) -> str | None:
    """None when the model turns words into vectors; otherwise the one line that says why not and what to do."""
    if model is None:
        return f"no model is installed, so there is no text side; install a CLIP model: {FETCH_HINT}"
    m = model.manifest
    if m.text is None:
        if m.family != "clip":
            return f"{m.name} has no text side; install a CLIP model: {FETCH_HINT} (and index the catalog with it)"
        from desktop_app.core import zoo  # the zoo reaches the network code; only these messages need it

        return f"{m.name} was installed without its text side; {zoo.add_text_hint(m.name)}"
    for what, path in (("text model", model.text_path), ("tokenizer", model.tokenizer_path)):
        if path is None or not _is_file(path):
            from desktop_app.core import zoo

            return f"the {what} of {m.name} ({path}) is missing; {zoo.reinstall_hint(model, text=True)}"
    return None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


TOKENIZER_MAX_BYTES = 64_000_000


class ClipTokenizer:
    """A tokenizer.json run by `tokenizers`: texts -> token ids cut to the context length, end token kept."""

    def __init__(self, path: Path, context_length: int) -> None:
        from desktop_app.core.files import read_input

        # read bounded here (CLIP's is 3.6 MB), not by the library, which would read /dev/zero for ever
        raw = read_input(path, "tokenizer", TOKENIZER_MAX_BYTES, error=ModelError)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelError(f"The tokenizer {path} is not a tokenizer.json (not UTF-8 text: {exc})") from exc
        self._setup(text, context_length, f"The tokenizer {path}")

    @classmethod
    def from_json(cls, text: str, context_length: int, where: str) -> ClipTokenizer:
        """A tokenizer from the text of a tokenizer.json; `where` names it in messages ("The tokenizer of X")."""
        tok = cls.__new__(cls)
        tok._setup(text, context_length, where)
        return tok

    def _setup(self, text: str, context_length: int, where: str) -> None:
        from tokenizers import Tokenizer

        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ModelError(f"{where} is not a tokenizer.json (not JSON: {exc})") from exc
        model = data.get("model") if isinstance(data, dict) else None
        if not isinstance(model, dict):
            raise ModelError(
                f"{where} is not a tokenizer.json: it is JSON, but holds no tokenizer model (CLIP's "
                "tokenizer.json has a BPE model with its vocabulary and merges)."
            )
        try:
            tok = Tokenizer.from_str(text)
        except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exception for files it cannot load
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise ModelError(f"{where} cannot be read as a tokenizer.json: {first}") from exc
        tok.no_padding()  # padded here, by repeating the end token (see the module docstring)
        # Truncation counts the start and end tokens the post-processor adds, so the end token survives.
        tok.enable_truncation(max_length=context_length)
        self._tok = tok
        self.context_length = context_length
        self.where = where
        self.kind = str(model.get("type", ""))
        self.merges = len(model.get("merges") or ())

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def problem(self, model_vocab: int | None = None) -> str | None:
        """Why this is not a CLIP tokenizer for a text model that reads `model_vocab` token ids (None: fine).

        An empty tokenizer (what transformers builds for a checkpoint saved without its tokenizer files) would
        turn every text into the same ids, and every search by words into the same answer."""
        if model_vocab is not None and self.vocab_size != model_vocab:
            return (
                f"{self.where} has {self.vocab_size:,} tokens and the text model reads {model_vocab:,}: "
                "the tokenizer does not belong to this text model"
            )
        if self.kind != "BPE" or self.merges == 0:
            what = f"a {self.kind} model" if self.kind and self.kind != "BPE" else "no BPE merges"
            return f"{self.where} has {what} ({self.vocab_size:,} tokens): it is not CLIP's BPE tokenizer"
        return None

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The token ids of each text, start and end tokens included."""
        return [list(e.ids) for e in self._tok.encode_batch(list(texts))]

    def cut(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text is longer than the context length (the model reads only its first tokens)."""
        return [bool(e.overflowing) for e in self._tok.encode_batch(list(texts))]

    def batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(ids [n, longest] int64 padded with each text's own end token, attention mask [n, longest] int64)."""
        rows = self.ids(texts)
        if any(not r for r in rows):
            raise ModelError(
                "The tokenizer returned no tokens for a text; its tokenizer.json adds no start "
                "and end tokens, so it is not a CLIP tokenizer."
            )
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), np.int64)
        mask = np.zeros((len(rows), width), np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
            ids[i, len(r) :] = r[-1]
            mask[i, : len(r)] = 1
        return ids, mask


class TextEncoder:
    """A CLIP model's text side: texts in, float32 [N, D] L2-normalised vectors in the photos' space out.

    The session runs on the CPU: a query is one short sequence, answered in milliseconds, and a GPU session
    would cost more to start than it ever saves here."""

    def __init__(self, model: InstalledModel, threads: int | None = None) -> None:
        problem = text_side_problem(model)
        if problem:
            raise ModelError(problem)
        text = model.manifest.text
        assert text is not None and model.text_path is not None and model.tokenizer_path is not None
        self.model = model
        self.dim = model.manifest.dim
        self.tokenizer = ClipTokenizer(model.tokenizer_path, text.context_length)
        bad = self.tokenizer.problem()  # the vocabulary's size was checked when it was installed
        if bad:
            raise ModelError(f"{bad.rstrip('.')}; {_reinstall(model)}.")
        try:
            self.session, self.info = make_session(model.text_path, "cpu", threads)
            self.input_name, self.output_name = text.input_name, text.output_name
            self.feeds_mask, self._id_type = check_text_session(
                self.session, self.input_name, self.output_name
            )
        except ModelError as exc:  # ONNX Runtime's words name no fix: say how to put the file back
            raise ModelError(f"{str(exc).rstrip('.')}; {_reinstall(model)}.") from exc

    @property
    def logit_scale(self) -> float:
        text = self.model.manifest.text
        return float(text.logit_scale) if text is not None else 100.0

    def describe(self) -> str:
        m = self.model.manifest
        precision = m.text.precision if m.text is not None else m.precision
        return f"{m.name} text side ({precision}, {self.dim}-d) on {self.info.device}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 [len(texts), D]."""
        texts = list(texts)
        out = [self._run(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def _run(self, texts: list[str]) -> np.ndarray:
        ids, mask = self.tokenizer.batch(texts)
        feed = {self.input_name: ids.astype(self._id_type, copy=False)}
        if self.feeds_mask:
            feed[MASK_INPUT] = mask.astype(self._id_type, copy=False)
        out = np.asarray(self.session.run([self.output_name], feed)[0], dtype=np.float32)
        out = out.reshape(len(texts), -1)
        if out.shape[1] != self.dim:
            raise ModelError(
                f"The text model returned {out.shape[1]}-d vectors; the photos' vectors are "
                f"{self.dim}-d, so the two sides do not belong together."
            )
        if not np.isfinite(out).all():
            raise ModelError("The text model returned values that are not finite numbers; it is damaged.")
        return normalise(out)


def _reinstall(model: InstalledModel) -> str:
    from desktop_app.core import zoo

    return zoo.reinstall_hint(model, text=True)


def check_text_session(session, input_name: str, output_name: str) -> tuple[bool, type]:
    """(feeds an attention mask, integer type of the ids) for a text model's session, or ModelError."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name for o in session.get_outputs()}
    if input_name not in inputs:
        raise ModelError(f"The text model has no input named {input_name!r} (it has {', '.join(inputs)}).")
    if output_name not in outputs:
        raise ModelError(f"The text model has no output named {output_name!r} (it has {', '.join(outputs)}).")
    others = set(inputs) - {input_name, MASK_INPUT}
    if others:
        raise ModelError(
            f"The text model also needs inputs {', '.join(sorted(others))}; Lookalike feeds only "
            f"{input_name} and {MASK_INPUT}."
        )
    kind = inputs[input_name].type
    if "int" not in kind:
        raise ModelError(f"The text model's input {input_name} is {kind}; token ids need an integer input.")
    return MASK_INPUT in inputs, np.int32 if "int32" in kind else np.int64


__all__ = [
    "ClipTokenizer",
    "FETCH_HINT",
    "TextEncoder",
    "check_text_session",
    "has_words",
    "text_side_problem",
]
