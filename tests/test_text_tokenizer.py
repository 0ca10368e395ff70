"""CLIP's tokenizer as the app runs it (tokenizer.json through `tokenizers`, cut to 77 tokens) against
transformers' CLIPTokenizer and against a plain-Python BPE written here from CLIP's algorithm, on a few
hundred strings: product words, punctuation, Unicode, whitespace and texts longer than the context."""

from __future__ import annotations

import json
import random
import unicodedata

import numpy as np
import pytest

from desktop_app.core.errors import ModelError
from desktop_app.core.text_encoder import ClipTokenizer
from tests.clip_tiny import byte_symbols, clip_merges, clip_vocab, save_clip_tokenizer

pytest.importorskip("transformers")
regex = pytest.importorskip("regex")

START, END = 49406, 49407

WORDS = [
    "red",
    "hooded",
    "sweatshirt",
    "women's",
    "men's",
    "running",
    "shoes",
    "yoga",
    "mat",
    "stainless-steel",
    "watch",
    "leather",
    "strap",
    "bag",
    "backpack",
    "gray",
    "grey",
    "navy",
    "olive",
    "t-shirt",
    "zip-up",
    "jacket",
    "waterproof",
    "breathable",
    "XL",
    "42mm",
    "2-pack",
    "100%",
    "cotton",
    "V-neck",
    "it's",
    "don't",
    "we're",
    "they've",
    "I'm",
    "you'll",
    "she'd",
    "ROSE-GOLD",
    "Hoodie",
    "Sweat-Shirt",
]
UNICODE = [
    "crème",
    "brûlée",
    "naïve",
    "café",
    "Ärmel",
    "Größe",
    "Straße",
    "façade",
    "niño",
    "Ørsted",
    "łódź",
    "日本語",
    "中文字",
    "한국어",
    "Ελληνικά",
    "кроссовки",
    "футболка",
    "عربي",
    "עברית",
    "हिन्दी",
    "ไทย",
    "👟",
    "👜",
    "⌚",
    "🧘‍♀️",
    "e\u0301",
    "A\u030a",
    "ﬁ",
    "½",
    "²",
    "™",
    "©",
    "\u00a0",
    "İstanbul",
    "ǅ",
]
PUNCT = [
    ",",
    ".",
    "!",
    "?",
    "--",
    "...",
    "(",
    ")",
    "&",
    "&amp;",
    "/",
    "\\",
    "'",
    '"',
    "#1",
    "$49.99",
    "@",
    "*",
    "+",
    "=",
    ":",
    ";",
    "<b>",
    "[x]",
    "{y}",
    "~",
    "|",
    "_",
    "`",
]
SPACES = [" ", "  ", "\t", "\n", " \r\n ", "\u2003", "\u3000"]


def corpus(n: int = 320, seed: int = 0) -> list[str]:
    """Deterministic mixed strings, including some far longer than CLIP's 77 tokens."""
    rng = random.Random(seed)
    out = ["", " ", "a photo of a cat", "A PHOTO OF A CAT", "a red hooded sweatshirt", "but in black"]
    pools = [WORDS, WORDS, WORDS, UNICODE, PUNCT]
    while len(out) < n:
        length = rng.choice([1, 2, 3, 5, 8, 13, 40, 120])
        parts = []
        for _ in range(length):
            parts.append(rng.choice(rng.choice(pools)))
            parts.append(rng.choice(SPACES) if rng.random() < 0.8 else "")
        out.append("".join(parts))
    return out


# ------------------------------------------------------------------------- a reference written from CLIP's BPE

PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)


class ReferenceBPE:
    """CLIP's byte-pair encoding in plain Python: NFC, whitespace collapsed, lower case; split by CLIP's
    pattern; each piece as byte symbols with `</w>` on its last one; merges applied lowest rank first."""

    def __init__(self) -> None:
        self.ranks = {pair: i for i, pair in enumerate(clip_merges())}
        self.vocab = clip_vocab()
        self.byte_char = {}
        keep = [
            *range(ord("!"), ord("~") + 1),
            *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1),
        ]
        order = keep + [b for b in range(256) if b not in keep]
        for b, ch in zip(order, byte_symbols()):
            self.byte_char[b] = ch

    def bpe(self, piece: str) -> list[str]:
        word = [self.byte_char[b] for b in piece.encode("utf-8")]
        word[-1] += "</w>"
        while len(word) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(word, word[1:]))]
            rank, i = min(pairs)
            if rank == 1 << 30:
                break
            first, second = word[i], word[i + 1]
            merged, j = [], 0
            while j < len(word):  # every occurrence of the pair, left to right
                if j < len(word) - 1 and word[j] == first and word[j + 1] == second:
                    merged.append(first + second)
                    j += 2
                else:
                    merged.append(word[j])
                    j += 1
            word = merged
        return word

    def ids(self, text: str, context: int = 77) -> list[int]:
        text = regex.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).lower()
        tokens = [self.vocab[t] for piece in PATTERN.findall(text) for t in self.bpe(piece)]
        return [START, *tokens[: context - 2], END]


@pytest.fixture(scope="module")
def tokenizer_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokenizer")
    hf = save_clip_tokenizer(folder)
    return folder / "tokenizer.json", hf


def test_the_vocabulary_is_clips(tokenizer_files):
    path, _hf = tokenizer_files
    tok = ClipTokenizer(path, 77)
    assert tok.vocab_size == 49408
    # ids every CLIP user has seen: <start> a photo of a cat <end>
    assert tok.ids(["a photo of a cat"]) == [[START, 320, 1125, 539, 320, 2368, END]]


def test_parity_with_transformers_clip_tokenizer(tokenizer_files):
    path, hf = tokenizer_files
    texts = corpus()
    ours = ClipTokenizer(path, 77).ids(texts)
    theirs = hf(texts, truncation=True, max_length=77)["input_ids"]
    differ = [(t, a, b) for t, a, b in zip(texts, ours, theirs) if list(a) != list(b)]
    assert not differ, f"{len(differ)} of {len(texts)} differ, e.g. {differ[0][0]!r}"
    assert sum(len(a) == 77 for a in ours) >= 20  # long texts were really cut
    assert all(a[0] == START and a[-1] == END and len(a) <= 77 for a in ours)


def test_parity_with_a_reference_bpe(tokenizer_files):
    path, _hf = tokenizer_files
    texts = corpus(seed=1)
    reference = ReferenceBPE()
    ours = ClipTokenizer(path, 77).ids(texts)
    differ = [(t, a, reference.ids(t)) for t, a in zip(texts, ours) if a != reference.ids(t)]
    assert not differ, (
        f"{len(differ)} of {len(texts)} differ, e.g. {differ[0][0]!r}: {differ[0][1][:12]} vs {differ[0][2][:12]}"
    )


def test_long_texts_keep_their_end_token_and_batches_pad_with_it(tokenizer_files):
    path, _hf = tokenizer_files
    tok = ClipTokenizer(path, 77)
    long = "very " * 200
    (ids,) = tok.ids([long])
    assert len(ids) == 77 and ids[0] == START and ids[-1] == END
    batch, mask = tok.batch(["a photo", long, ""])
    assert batch.shape == (3, 77) and batch.dtype == np.int64
    assert list(batch[0, :4]) == [START, 320, 1125, END] and (batch[0, 4:] == END).all()
    assert list(mask.sum(axis=1)) == [4, 77, 2]
    assert list(batch[2, :2]) == [START, END]
    short = ClipTokenizer(path, 8)
    assert short.ids([long])[0] == [START, *[1070] * 6, END]  # "very" is one token


def test_a_file_that_is_not_a_tokenizer_is_a_model_error(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"hello": 1}')  # valid JSON, but no tokenizer: said so, not as a parse error
    with pytest.raises(
        ModelError, match=r"is not a tokenizer.json: it is JSON, but holds no tokenizer model"
    ):
        ClipTokenizer(bad, 77)
    bad.write_text("[1, 2]")
    with pytest.raises(ModelError, match="is not a tokenizer.json"):
        ClipTokenizer(bad, 77)
    bad.write_text("{not json")
    with pytest.raises(ModelError, match=r"is not a tokenizer.json \(not JSON"):
        ClipTokenizer(bad, 77)
    with pytest.raises(ModelError, match="does not exist"):
        ClipTokenizer(tmp_path / "missing.json", 77)


def test_a_tokenizer_without_merges_or_of_another_size_is_named(tokenizer_files, tmp_path):
    path, _hf = tokenizer_files
    full = ClipTokenizer(path, 77)
    assert full.problem(49408) is None and full.problem() is None
    assert full.problem(512) == (
        f"The tokenizer {path} has 49,408 tokens and the text model reads 512: the tokenizer does not "
        "belong to this text model"
    )
    data = json.loads(path.read_text(encoding="utf-8"))
    data["model"]["merges"] = []  # every word falls apart into bytes: not CLIP's tokenizer
    no_merges = tmp_path / "no-merges.json"
    no_merges.write_text(json.dumps(data), encoding="utf-8")
    tok = ClipTokenizer(no_merges, 77)
    assert tok.problem(49408) == (
        f"The tokenizer {no_merges} has no BPE merges (49,408 tokens): it is not CLIP's BPE tokenizer"
    )
