"""Downloading one model file: resume where a cut attempt stopped (HTTP Range), check pinned size and sha256.

The zoo fetches every file of a known model through `fetch_file` (an image model, a text model, a
tokenizer). A partial download lives in a `.part` file that the next attempt continues; a file that fails a
pinned check is deleted, so the next attempt starts clean. Every failure is a ModelError that says what to do,
including how to install the file by hand on a machine without network access.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

from desktop_app.core.errors import ModelError
from desktop_app.core.models import sha256_of

MIRROR_ENV = "LOOKALIKE_MODEL_MIRROR"

Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes or None when unknown)


@dataclass(frozen=True)
class Wanted:
    """One file to download: where from, how messages name it, what pins it, and the offline alternative."""

    url: str
    what: str  # e.g. "clip-vit-b32-int8" or "the text model of clip-vit-b32-int8"
    size: int | None
    sha256: str | None
    import_hint: str  # the command that installs the file from disk instead
    also: tuple[str, ...] = ()  # URLs of the other files that command needs (a CLIP model's text side)


@dataclass(frozen=True)
class Downloaded:
    bytes: int
    resumed_from: int  # bytes already on disk from an earlier, cut attempt (0 = fresh download)
    sha256: str


def fetch_file(
    wanted: Wanted, part: Path, progress: Progress | None, timeout: float, chunk: int
) -> Downloaded:
    """Complete `part` from `wanted.url` and check it against the pinned size and sha256 (ModelError if not)."""
    size = wanted.size
    if part.exists() and size and part.stat().st_size > size:
        part.unlink()  # longer than the pinned file: cannot be a prefix of it
    if part.exists() and size and part.stat().st_size == size:
        done, resumed = size, size  # complete already; only the checks are left
    else:
        done, resumed = _download(wanted, part, progress, timeout, chunk)
    if size is not None and done != size:
        part.unlink(missing_ok=True)
        raise ModelError(
            f"The download of {wanted.what} has {done} bytes, not the pinned {size}; it was deleted. "
            "Run the command again, or check the mirror."
        )
    sha = sha256_of(part)
    if wanted.sha256 and sha != wanted.sha256:
        part.unlink(missing_ok=True)
        raise ModelError(
            f"The download of {wanted.what} failed its checksum (sha256 {sha[:12]}..., expected "
            f"{wanted.sha256[:12]}...); it was deleted. Run the command again, or check the mirror."
        )
    return Downloaded(done, resumed, sha)


def _offline_message(wanted: Wanted, reason: str) -> str:
    urls = [wanted.url, *wanted.also]
    files = urls[0] if len(urls) == 1 else f"{', '.join(urls[:-1])} and {urls[-1]}"
    return (
        f"Cannot download {wanted.what} ({reason}). Without network access, fetch {files} on another "
        f"machine, copy {'it' if len(urls) == 1 else 'them'} here and run: {wanted.import_hint}"
    )


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None)
    if isinstance(inner, BaseException):
        exc = inner
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def _open(wanted: Wanted, start: int, timeout: float):
    """The HTTP response for the rest of the file from `start`, or None when `start` is already the end."""
    headers = {"User-Agent": "lookalike-model-fetch", "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    request = urllib.request.Request(wanted.url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:
            # Range past the end: what we hold is the whole file (or junk, which the checks will catch).
            return None
        if exc.code == 404:
            raise ModelError(
                f"{wanted.what} was not found at {wanted.url} (HTTP 404). Check the mirror ({MIRROR_ENV}) or "
                f"import the file instead: {wanted.import_hint}"
            ) from exc
        raise ModelError(
            f"The download of {wanted.what} from {wanted.url} failed: HTTP {exc.code} {exc.reason}."
        ) from exc
    except (urllib.error.URLError, OSError, HTTPException, ValueError) as exc:
        raise ModelError(_offline_message(wanted, _reason(exc))) from exc


def _download(
    wanted: Wanted, part: Path, progress: Progress | None, timeout: float, chunk: int
) -> tuple[int, int]:
    """Append the rest of the file to `part`; (bytes on disk, bytes that were there before). Raises ModelError."""
    start = part.stat().st_size if part.exists() else 0
    response = _open(wanted, start, timeout)
    if response is None:
        return start, start
    with response:
        status = getattr(response, "status", 200)
        length_header = response.headers.get("Content-Length")
        length = int(length_header) if length_header and length_header.isdigit() else None
        resumed = 0
        if start and status == 206:
            match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != start:
                part.unlink(missing_ok=True)  # the server sent another range than asked: start over
                raise ModelError(
                    f"The server answered the resume of {wanted.what} with the wrong range; run the command "
                    "again to download it from the start."
                )
            resumed = start
        elif start:
            start = 0  # the server ignored the Range header and sends the whole file
        total = start + length if length is not None else wanted.size
        done = start
        if progress:
            progress(done, total)
        try:
            with open(part, "ab" if start else "wb") as fh:
                while block := response.read(chunk):
                    fh.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
        except (OSError, HTTPException, ValueError) as exc:
            raise ModelError(
                f"The download of {wanted.what} was cut after {done / 1e6:.1f} MB ({_reason(exc)}). "
                "Run the same command again to resume it."
            ) from exc
    if length is not None and done < start + length:
        raise ModelError(
            f"The download of {wanted.what} was cut after {done / 1e6:.1f} of {(start + length) / 1e6:.1f} MB. "
            "Run the same command again to resume it."
        )
    return done, resumed
