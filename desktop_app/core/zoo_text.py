"""Text sides of CLIP models in the zoo: the published text models and tokenizers the known models pair with,
their download, their check, and adding a text side to an installed model.

A text side is two files beside the image model, `<name>.text.onnx` and `<name>.tokenizer.json`, named by the
model's manifest (`models.TextTower`). The manifest is rewritten last and atomically, so a model has either
its old manifest or one whose text files are all in place and checked. The check (`validate_text_onnx`) runs
the text model on tokenized texts of different lengths, batched and one at a time: the vectors must have the
photos' dimension, be finite, and not depend on the padding of a batch.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop_app.core.downloads import Progress, Wanted, fetch_file
from desktop_app.core.errors import ModelError
from desktop_app.core.files import copy_file
from desktop_app.core.models import InstalledModel, ModelManifest, TextTower, load_manifest, sha256_of

PADDING_AGREEMENT = 0.999  # lowest cosine between a text's vector alone and in a padded batch
CHECK_TEXTS = (
    "a photo of a red hooded sweatshirt",
    "gray",
    "",
    "stainless steel watch, 42 mm, leather strap",
)


@dataclass(frozen=True)
class KnownFile:
    """A file in a known model's repository; size and sha256 None when not known to us (unpinned)."""

    path: str
    size: int | None = None
    sha256: str | None = None

    @property
    def pinned(self) -> bool:
        return bool(self.size and self.sha256)


@dataclass(frozen=True)
class KnownText:
    """The text side a known model pairs with: the text model and tokenizer of the same checkpoint."""

    model: KnownFile
    tokenizer: KnownFile
    precision: str
    input_name: str = "input_ids"
    output_name: str = "text_embeds"
    context_length: int = 77
    logit_scale: float = 100.0  # OpenAI CLIP's trained temperature, exp(4.6052)

    @property
    def pinned(self) -> bool:
        return self.model.pinned and self.tokenizer.pinned

    def section(self, name: str, text_sha: str, tokenizer_sha: str, source: str) -> TextTower:
        return TextTower(
            file=text_file_name(name),
            sha256=text_sha,
            tokenizer=tokenizer_file_name(name),
            tokenizer_sha256=tokenizer_sha,
            input_name=self.input_name,
            output_name=self.output_name,
            context_length=self.context_length,
            precision=self.precision,
            logit_scale=self.logit_scale,
            source=source,
            extra={"pinned": self.pinned},
        )


def text_file_name(name: str) -> str:
    return f"{name}.text.onnx"


def tokenizer_file_name(name: str) -> str:
    return f"{name}.tokenizer.json"


# The published exports of the Xenova repositories: `onnx/text_model*.onnx` are CLIPTextModelWithProjection
# (input_ids [batch, tokens] int64 -> text_embeds [batch, 512]) and `tokenizer.json` is CLIP's BPE. At the pinned
# ViT-B/32 revision, the int8 text model and the tokenizer have a published size and sha256 (several listings
# agree); the fp32 and fp16 text models are pinned by revision only, and the ViT-B/16 files not at all.
B32_TOKENIZER = KnownFile(
    "tokenizer.json", 2_224_119, "f7f3b7af117d467b58374797691a6438d3e6b9e9cef800dfd5dced7f697a90cd"
)
B16_TOKENIZER = KnownFile("tokenizer.json")
B32_TEXT_INT8 = KnownText(
    KnownFile(
        "onnx/text_model_quantized.onnx",
        64_504_507,
        "73baab855d406190da9faa498cfedf65f15cf309f4cc7385b7b032e6d08e5c3a",
    ),
    B32_TOKENIZER,
    "int8",
)
B32_TEXT_FP32 = KnownText(KnownFile("onnx/text_model.onnx"), B32_TOKENIZER, "fp32")
B32_TEXT_FP16 = KnownText(KnownFile("onnx/text_model_fp16.onnx"), B32_TOKENIZER, "fp16")
B16_TEXT_FP32 = KnownText(KnownFile("onnx/text_model.onnx"), B16_TOKENIZER, "fp32")
B16_TEXT_INT8 = KnownText(KnownFile("onnx/text_model_quantized.onnx"), B16_TOKENIZER, "int8")


# ---------------------------------------------------------------------------------------------- checks


def validate_text_onnx(onnx_path: Path, tokenizer_path: Path, text: TextTower, dim: int) -> str:
    """Run a text model on tokenized texts as the app will; a one-line description, or ModelError."""
    from desktop_app.core.device import onnxruntime
    from desktop_app.core.text_encoder import MASK_INPUT, ClipTokenizer, check_text_session

    ort = onnxruntime()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 1  # a check, not a benchmark
    try:
        session = ort.InferenceSession(str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelError(f"{onnx_path} is not a usable ONNX model: {str(exc).splitlines()[0][:300]}") from exc
    feeds_mask, id_type = check_text_session(session, text.input_name, text.output_name)
    tokenizer = ClipTokenizer(tokenizer_path, text.context_length)

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feed = {text.input_name: ids.astype(id_type)}
        if feeds_mask:
            feed[MASK_INPUT] = mask.astype(id_type)
        try:
            out = session.run([text.output_name], feed)[0]
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ModelError(
                f"The text model fails on token ids from its tokenizer ({str(exc).splitlines()[0][:200]}); "
                "the tokenizer does not belong to this text model."
            ) from exc
        return np.asarray(out, np.float32).reshape(len(ids), -1)

    bad = tokenizer.problem(
        text_model_vocab(session, text.input_name, feeds_mask, id_type, tokenizer.vocab_size)
    )
    if bad:
        raise ModelError(f"{bad}.")
    ids, mask = tokenizer.batch(CHECK_TEXTS)
    together = run(ids, mask)
    if together.shape[1] != dim:
        raise ModelError(
            f"The text model returns {together.shape[1]}-d vectors; the image model's are {dim}-d, "
            "so they are not two sides of one model."
        )
    alone = np.concatenate([run(*tokenizer.batch([t])) for t in CHECK_TEXTS])
    if not (np.isfinite(together).all() and np.isfinite(alone).all()):
        raise ModelError("The text model returns values that are not finite numbers.")
    low = float(_cosines(together, alone).min())
    if low < PADDING_AGREEMENT:
        raise ModelError(
            f"The text model's vectors change when texts are batched (cosine {low:.4f}); Lookalike "
            "pads a batch after each text's end token, which a CLIP text model never reads."
        )
    inputs = ", ".join(i.name for i in session.get_inputs())
    return f"{inputs} -> {text.output_name} [batch, {dim}], {tokenizer.vocab_size} tokens"


def text_model_vocab(session, input_name: str, feeds_mask: bool, id_type: type, guess: int) -> int | None:
    """How many token ids a text model reads, found by running it (onnxruntime has no view of its embedding
    table): an id past the table makes its Gather fail. Two runs when `guess` is right; a search otherwise.
    None when the model fails even on id 0 (the checks after this one say why)."""
    from desktop_app.core.device import onnxruntime

    quiet = onnxruntime().RunOptions()
    quiet.log_severity_level = 4  # the failing runs are the probe, not errors to log

    def reads(token: int) -> bool:
        ids = np.array([[token]], dtype=id_type)
        feed = {input_name: ids}
        if feeds_mask:
            from desktop_app.core.text_encoder import MASK_INPUT

            feed[MASK_INPUT] = np.ones_like(ids)
        try:
            session.run(None, feed, quiet)
        except Exception:  # noqa: BLE001 - onnxruntime raises its own types; any failure means "not read"
            return False
        return True

    if guess > 0 and reads(guess - 1) and not reads(guess):
        return guess
    if not reads(0):
        return None
    good, bad = 0, max(guess, 1)
    while reads(bad):  # the table is larger than the guess
        good, bad = bad, bad * 2
        if bad > 1 << 24:
            return None
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if reads(middle) else (good, middle)
    return good + 1


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(axis=1)


# ---------------------------------------------------------------------------------------------- install


def add_text_side(
    model: InstalledModel,
    text_file: Path,
    tokenizer_file: Path,
    text: TextTower,
    move: bool = False,
    check: bool = True,
) -> InstalledModel:
    """Check a text model and tokenizer against an installed model (unless the caller just did), put them
    beside it and rewrite its manifest."""
    if model.bundled:
        raise ModelError(f"{model.manifest.name} is the bundled model; it has no text side to add.")
    name = model.manifest.name
    text = dataclasses.replace(
        text,
        file=text_file_name(name),
        tokenizer=tokenizer_file_name(name),
        sha256=sha256_of(text_file),
        tokenizer_sha256=sha256_of(tokenizer_file),
    )
    if check:
        validate_text_onnx(text_file, tokenizer_file, text, model.manifest.dim)
    folder = model.manifest_path.parent
    for src, dest in ((text_file, folder / text.file), (tokenizer_file, folder / text.tokenizer)):
        if move:
            os.replace(src, dest)
        elif Path(src).resolve() != dest.resolve():
            copy_file(src, dest)  # a full disk: one line, and no partial file left
    manifest = dataclasses.replace(model.manifest, text=text)
    _write_manifest(model.manifest_path, manifest)
    return load_manifest(model.manifest_path)


def _write_manifest(path: Path, manifest: ModelManifest) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(manifest.to_json(), encoding="utf-8")
    os.replace(tmp, path)


def same_checkpoint(model: InstalledModel, repo: str, sha256: str | None, export_source: str) -> bool:
    """Whether an installed image model comes from the checkpoint whose text side is about to be added."""
    m = model.manifest
    if sha256 and m.sha256 == sha256:
        return True
    # fetched or imported from the repository, or exported from the checkpoint the repository converted
    return m.source.startswith((f"{repo}@", *([export_source + "@"] if export_source else [])))


def offline_files(spec: KnownText, base_url: str) -> tuple[tuple[str, str], str]:
    """(URLs of the text model and tokenizer, the `models import` options that install them) for a machine
    without network access."""
    urls = (f"{base_url}/{spec.model.path}", f"{base_url}/{spec.tokenizer.path}")
    return urls, f"--text {Path(spec.model.path).name} --tokenizer {Path(spec.tokenizer.path).name}"


def offline_import(known, url: str, text: bool) -> tuple[tuple[str, ...], str]:
    """For the download of a known model's image file (`known` a zoo.KnownModel, at `url`): the URLs of the
    other files to fetch on another machine, and the command that installs them all. With its text side,
    both towers come from there: every file is named, and one command imports both."""
    name = Path(known.path).name
    hint = f"lookalike models import {name} --as {known.name}"
    if not text or known.text is None:
        return (), hint
    also, text_args = offline_files(known.text, url[: -len(known.path)].rstrip("/"))
    later = text_args.replace("--text ", f"--text-for {known.name} ", 1)
    return also, (
        f"{hint} {text_args} (or the photo side alone, and the text side later: lookalike models import {later})"
    )


@dataclass
class TextFetch:
    bytes: int  # bytes downloaded (text model and tokenizer together)
    verified: bool  # both files checked against a pinned size and sha256
    already_installed: bool = False
    warning: str = ""


def fetch_text(
    known,
    model: InstalledModel,
    base_url: str,
    downloads: Path,
    progress: Progress | None,
    force: bool,
    timeout: float,
    chunk: int,
) -> tuple[InstalledModel, TextFetch]:
    """Download and add the known text side of an installed image model (`known` is a zoo.KnownModel)."""
    spec: KnownText = known.text
    if model.manifest.text is not None and not force:
        from desktop_app.core.text_encoder import text_side_problem

        if text_side_problem(model) is None:
            return model, TextFetch(0, spec.pinned, already_installed=True)
    if not same_checkpoint(model, known.repo, known.sha256, known.export_source):
        raise ModelError(
            f"The installed {known.name} does not come from {known.repo}; its text side would not "
            f"match its photo vectors. Remove it first: lookalike models remove {known.name}"
        )
    urls, _args = offline_files(spec, base_url)
    hint = (
        f"lookalike models import --text-for {known.name} {Path(spec.model.path).name} "
        f"--tokenizer {Path(spec.tokenizer.path).name}"
    )
    parts, total = [], 0
    for label, file, suffix in (
        ("tokenizer", spec.tokenizer, "tokenizer.json"),
        ("text model", spec.model, "text.onnx"),
    ):
        url = f"{base_url}/{file.path}"
        others = tuple(u for u in urls if u != url)
        wanted = Wanted(url, f"the {label} of {known.name}", file.size, file.sha256, hint, others)
        part = downloads / f"{known.name}.{suffix}.part"
        got = fetch_file(wanted, part, progress, timeout, chunk)
        parts.append(part)
        total += got.bytes - got.resumed_from
    source = f"{known.repo}@{known.revision or 'main (unpinned)'}/{spec.model.path}"
    section = spec.section(model.manifest.name, "", "", source)
    try:
        installed = add_text_side(model, parts[1], parts[0], section, move=True)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)
    warning = ""
    if not spec.pinned:
        loose = [f.path for f in (spec.model, spec.tokenizer) if not f.pinned]
        warning = f"The text side of {known.name} is not pinned by size and sha256 ({', '.join(loose)}): it was checked by running it."
    return installed, TextFetch(total, spec.pinned, warning=warning)


@dataclass
class TextPlan:
    text_file: Path
    tokenizer_file: Path
    section: TextTower  # checksums and file names are filled in when it is installed


def plan_text(
    described: TextTower | None,
    folder: Path,
    known: KnownText | None,
    text_file: Path | None,
    tokenizer_file: Path | None,
) -> TextPlan | None:
    """Which text files an import installs, and how they are described; None for an image-only import.

    The files given win; else those a manifest's text section names in `folder`. The description is the
    manifest's, else the known model's, else CLIP's usual export (input_ids -> text_embeds, 77 tokens)."""
    from desktop_app.core.errors import InputError

    if (text_file is None) != (tokenizer_file is None):
        raise InputError("A text model and its tokenizer go together: give both --text and --tokenizer.")
    if text_file is None:
        if described is None:
            return None
        text_file, tokenizer_file = _manifest_text_files(described, folder)
    assert tokenizer_file is not None
    for path in (text_file, tokenizer_file):
        if not Path(path).is_file():
            raise ModelError(f"{path} does not exist or is not a file.")
    if described is None and known is not None:
        _check_known_pins(known, Path(text_file), Path(tokenizer_file))
        described = known.section("", "", "", f"imported {Path(text_file).name}")
    if described is None:
        described = TextTower(
            file="", sha256="", tokenizer="", tokenizer_sha256="", source=f"imported {Path(text_file).name}"
        )
    return TextPlan(Path(text_file), Path(tokenizer_file), described)


def _manifest_text_files(described: TextTower, folder: Path) -> tuple[Path, Path]:
    """The text model and tokenizer a manifest's text section names, which must be beside it in `folder`."""
    text_file, tokenizer_file = folder / described.file, folder / described.tokenizer
    missing = [p for p in (text_file, tokenizer_file) if not p.is_file()]
    if missing:
        raise ModelError(
            f"The manifest names a text side, but {missing[0]} is not there; put it beside the "
            "manifest, or give its files with --text and --tokenizer."
        )
    return text_file, tokenizer_file


def _check_known_pins(known: KnownText, text_file: Path, tokenizer_file: Path) -> None:
    """Refuse files that are not the ones a known model pins by sha256 (another revision, a damaged copy)."""
    for label, path, pin in (
        ("text model", text_file, known.model),
        ("tokenizer", tokenizer_file, known.tokenizer),
    ):
        if pin.sha256 and sha256_of(path) != pin.sha256:
            raise ModelError(
                f"{path.name} is not the {label} the known model pins (sha256 expected "
                f"{pin.sha256[:12]}...); download {pin.path} of the same revision again."
            )
