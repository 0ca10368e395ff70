"""How counts are written in every message, one way for the CLI, the app and the core's notes."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """ "1 label", "2 labels", "0 labels", "1,200 labels": a count with its noun (`many` for nouns without
    a plain -s)."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ... 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def quoted(name: str) -> str:
    """An article id, photo path or label in a message: in single quotes, as stored. Not `repr`, which
    doubles the backslash of a stored \\xNN escape (a file name that is not UTF-8) and so names no article."""
    return f"'{name}'"


def megabytes(n_bytes: int | float) -> str:
    """A size in the one unit convention of every message and README: decimal megabytes ("500 MB")."""
    mb = n_bytes / 1_000_000
    return f"{mb:,.0f} MB" if mb >= 10 or mb == int(mb) else f"{mb:.1f} MB"


# Why a file was skipped (the reason codes stored with it and in JSON): a label for a list of files, and
# how a count of them reads ("3 not regular files (pipes, devices, sockets)").
SKIP_REASONS: dict[str, tuple[str, str, str]] = {
    "empty": ("empty file", "empty file", "empty files"),
    "not_an_image": ("not an image", "file that is not an image", "files that are not images"),
    "truncated": ("truncated or corrupt", "truncated or corrupt photo", "truncated or corrupt photos"),
    "decode_error": ("cannot be decoded", "photo that cannot be decoded", "photos that cannot be decoded"),
    "too_large": ("too many pixels", "photo with too many pixels", "photos with too many pixels"),
    "unreadable": ("cannot be read", "file that cannot be read", "files that cannot be read"),
    "vanished": ("deleted while indexing", "file deleted while indexing", "files deleted while indexing"),
    "not_a_file": (
        "not a regular file",
        "not a regular file (a pipe, device or socket)",
        "not regular files (pipes, devices, sockets)",
    ),
    "too_big": ("over the size limit", "file over the size limit", "files over the size limit"),
    "name_clash": ("name prints like another", "name that prints like another", "names that print alike"),
    "bad_vector": ("invalid vector", "photo with an invalid vector", "photos with an invalid vector"),
    "unreadable_folder": (
        "folder cannot be read",
        "folder that cannot be read",
        "folders that cannot be read",
    ),
}


def skip_reason(reason: str) -> str:
    """The reason a file was skipped, in words, for a list of files ("not a regular file")."""
    known = SKIP_REASONS.get(reason)
    return known[0] if known else reason.replace("_", " ")


def skipped_counts(counts: dict[str, int]) -> str:
    """How many files were skipped and why, most first: "3 not regular files (pipes, devices, sockets), 1
    empty file"."""
    parts = []
    for reason, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        _, one, many = SKIP_REASONS.get(reason, ("", f"file ({skip_reason(reason)})", ""))
        parts.append(plural(n, one, many or f"files ({skip_reason(reason)})"))
    return ", ".join(parts)


# A match decision between two articles, and a duplicate verdict on two photos, as every front end says it.
DECISION_WORDS = {"same": "same product", "alike": "look-alike", "not_match": "not a match"}
VERDICT_WORDS = {"duplicate": "duplicates", "not_duplicate": "not duplicates"}
# How a result's best photo pair is related as pictures (Engine.photo_relations), on its card and in `similar`.
RELATION_WORDS = {"exact": "same file", "near": "same photo", "edit": "same shot"}


def decision_words(decision: str | None) -> str:
    """A stored match decision or duplicate verdict in words; "undecided" for none."""
    if not decision:
        return "undecided"
    return DECISION_WORDS.get(decision) or VERDICT_WORDS.get(decision) or decision.replace("_", " ")
