"""Writing files for the user (exports, pictures, settings) so that a failure never destroys the old file.

Every file Lookalike writes outside the catalog goes through `atomic_writer`: the content goes to a
temporary file in the same folder, is flushed to disk, and only then renamed over the target. A full disk,
a kill or a bug mid-write leaves the previous file as it was. Problems the user can fix (a missing folder,
a directory in the way, no permission, a full disk) become one-line `UserError`s naming the file.

The file that results is the one the user would get from an ordinary save: a symlink is followed (its file
gets the content, the link stays a link), a new file gets 0666 less the umask, a replaced file keeps its
mode. A target that is not a regular file (a device, a FIFO, a socket) is refused, never replaced.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from collections.abc import Container, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from desktop_app.core.errors import DiskFull, InputError
from desktop_app.core.export_targets import TEXT, check_replaceable, data_kind
from desktop_app.core.wording import megabytes


def check_output_path(path: Path | str, what: str = "output file", kind: str | None = TEXT) -> Path:
    """The target of a write, checked before any work is done: its folder exists, and it is a regular file or
    nothing yet. A device, a FIFO or a socket is refused: replacing one would swap it for a plain file (as root,
    /dev/null itself), and writing into one is not what an export means. A symlink is checked where it points.

    An export replaces only a file of its own `kind` (TEXT or PNG; None: not checked): a catalog, a photo or a
    workbook given by mistake as the CSV to write is refused, while writing over an earlier export is not.
    Nor is any file an open catalog is made of, or a photo of its photo folder (see
    `export_targets.protect_catalog`)."""
    target = Path(path).expanduser()
    if str(path) == "-":  # the shell's "standard output": only `labels export -` streams there
        raise InputError(f"The {what} goes to a file, not to standard output ('-'); name a file.")
    if target.is_dir():
        raise InputError(f"The {what} {target} is a folder; give a file name, e.g. {target / 'out'}.")
    if target.exists() and not target.is_file():
        raise InputError(f"{target} is not a regular file; name a file path for the {what}.")
    parent = _real_target(target).parent
    if not parent.exists():
        raise InputError(
            f"The folder {parent} for the {what} does not exist; create it first or choose another."
        )
    if not parent.is_dir():
        raise InputError(f"{parent} is not a folder, so the {what} {target.name} cannot be written there.")
    check_replaceable(target, what, kind)
    return target


def check_output_folder(path: Path | str, what: str = "output folder") -> Path:
    """A folder that files will be written into, checked before any work: it is a folder we can write to, or
    it does not exist yet and the nearest folder above it that does exists is one we can write to (so it
    can be created)."""
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise InputError(f"The {what} {folder} is not a folder; name a folder.")
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{existing} is not a folder, so the {what} {folder} cannot be made there.")
    if not os.access(existing, os.W_OK | os.X_OK):
        doing = "write into" if existing == folder else f"create {folder} in"
        raise InputError(
            f"No permission to {doing} {existing}; choose a folder you can write to for the {what}."
        )
    return folder


def _real_target(target: Path) -> Path:
    """Where a write to `target` lands: a symlink is followed, so the link stays a link and its file gets the
    new content (as `>` in a shell does)."""
    return Path(os.path.realpath(target)) if os.path.islink(target) else target


DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def write_error(exc: OSError, target: Path) -> Exception:
    """The user-facing error an OSError from writing `target` means (a full disk, no permission...)."""
    if exc.errno in DISK_FULL:
        return DiskFull(
            f"The disk holding {target} is full (or the file is over a size limit); {target.name} was not "
            "written and any previous version is unchanged. Free some space and try again."
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return InputError(f"No permission to write {target}; choose a folder you can write to.")
    return InputError(f"Cannot write {target}: {exc.strerror or exc}.")


@contextmanager
def replacing(target: Path, prefix: str, suffix: str) -> Iterator[Path]:
    """A temporary file beside `target` for the block to fill: renamed over `target` when the block succeeds,
    removed when it fails, so a reader (or an index run) never sees half a file. Name it with a leading dot
    to keep it out of the indexer's walk.

    A symlink `target` is followed (its file is replaced, the link stays). The new file gets the mode an
    ordinary new file gets (0666 less the umask), or the mode of the file it replaces."""
    real = _real_target(target)
    try:
        before = os.stat(real)
    except FileNotFoundError:
        before = None
    if before is not None and not stat.S_ISREG(before.st_mode):
        raise InputError(f"{target} is not a regular file; name a file path.")
    tmp = _new_file_beside(real, prefix, suffix)
    try:
        yield tmp
        if before is not None:
            _keep_owner_and_mode(tmp, before)
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _new_file_beside(target: Path, prefix: str, suffix: str) -> Path:
    """An empty file with a fresh name in the target's folder, created as open(..., 'w') would create it
    (mode 0666 less the umask), which mkstemp's private 0600 is not."""
    for _ in range(100):
        tmp = target.parent / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target.parent))


def _keep_owner_and_mode(tmp: Path, before: os.stat_result) -> None:
    """Give the new file the replaced file's permissions, and its owner and group where we may (a shared
    folder's group stays; only root can give a file to another user)."""
    if hasattr(os, "chown"):
        try:
            os.chown(tmp, before.st_uid, before.st_gid)
        except OSError:
            pass  # not allowed for a non-owner: the file becomes ours, as any rewrite by us would
    os.chmod(tmp, stat.S_IMODE(before.st_mode))


@contextmanager
def atomic_writer(
    path: Path | str,
    mode: str = "w",
    encoding: str | None = "utf-8",
    newline: str | None = None,
    what: str = "output file",
    kind: str | None = TEXT,
) -> Iterator[IO]:
    """Open a temporary file beside `path`; on success it replaces `path` atomically, else it is removed.
    `kind`: what the content is (see `check_output_path`)."""
    target = check_output_path(path, what, kind)
    binary = "b" in mode
    try:
        with replacing(target, f".{target.name}.", ".tmp") as tmp:
            with open(tmp, mode, **({} if binary else {"encoding": encoding, "newline": newline})) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
    except OSError as exc:
        raise write_error(exc, target) from exc
    sync_folder(_real_target(target).parent)


def sync_folder(folder: Path) -> None:
    """Make the rename itself durable where the platform allows it (POSIX)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(path: Path | str, data: bytes, what: str = "output file") -> Path:
    """`data` written to `path` atomically; only a file of the data's own kind (a PNG over a PNG) is replaced."""
    with atomic_writer(path, "wb", what=what, kind=data_kind(data[:4096])) as fh:
        fh.write(data)
    return Path(path)


def write_text(path: Path | str, text: str, what: str = "output file") -> Path:
    with atomic_writer(path, "w", what=what) as fh:
        fh.write(text)
    return Path(path)


@contextmanager
def staged_copy(source: Path, dest: Path) -> Iterator[None]:
    """`source` copied in full to a temporary file beside `dest` (and flushed to disk) before the block runs;
    when the block succeeds the copy is renamed to `dest`, when the copy or the block fails it is removed and
    `dest` is as it was. One per file in an ExitStack copies several files before any of them replaces its
    old version (a model and its weights). No room for the copy is a DiskFull that names `dest`."""
    dest = Path(dest)
    try:
        tmp = _new_file_beside(dest, f".{dest.name}.", ".partial")
    except OSError as exc:
        raise write_error(exc, dest) from exc
    try:
        try:
            shutil.copyfile(source, tmp)
            with open(tmp, "r+b") as fh:
                os.fsync(fh.fileno())
        except OSError as exc:
            if exc.errno in DISK_FULL or exc.filename == str(tmp):  # (not a source that cannot be read)
                raise write_error(exc, dest) from exc
            raise
        yield
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    sync_folder(dest.parent)


def copy_file(source: Path, dest: Path) -> None:
    """Copy `source` to `dest` through a temporary file beside it (see `staged_copy`)."""
    with staged_copy(source, dest):
        pass


# ============================================================================ CSV cells for spreadsheets

# Characters that make a spreadsheet treat a cell as a formula (OWASP's list for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _escaped_form(value: str) -> bool:
    """True for a formula character after any number of apostrophes: the cells one leading apostrophe is
    added to on the way out (and taken from on the way in), which keeps the round trip exact."""
    return value.lstrip("'").startswith(FORMULA_STARTS)


def spreadsheet_safe(value: str) -> str:
    """A cell that a spreadsheet shows as text: a leading formula character gets an apostrophe in front (so
    does a value that already looks escaped, so that `spreadsheet_value` gives back exactly this value)."""
    return "'" + value if _escaped_form(value) else value


class SpreadsheetWriter:
    """A CSV writer for files meant for spreadsheets: every text cell of every row (header included) goes
    through `spreadsheet_safe`, so no column can be forgotten; numbers are written as numbers (floats with
    `places` decimals), so a negative one stays a number. With `raw`, text is written as it is."""

    def __init__(self, fh: IO, raw: bool = False, places: int = 4, **dialect) -> None:
        import csv

        self._writer = csv.writer(fh, **dialect)
        self._raw = raw
        self._places = places

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([self._cell(c) for c in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)

    def _cell(self, value: object) -> object:
        if isinstance(value, float):
            return f"{value:.{self._places}f}"
        if isinstance(value, str) and not self._raw:
            return spreadsheet_safe(value)
        return value


def spreadsheet_value(cell: str) -> str:
    """The value `spreadsheet_safe` wrote as `cell`: our own apostrophe before a formula character is removed,
    and nothing else is changed. `read_csv` applies it to every cell, so an export imports as it was."""
    return cell[1:] if cell.startswith("'") and _escaped_form(cell) else cell


# ============================================================================ reading files the user gives us

# How long a named pipe given as an input may go without a program writing to it: a FIFO nobody writes to
# would otherwise keep the command waiting for ever.
PIPE_WAIT_S = 10.0


def read_input(
    path: Path | str, what: str, limit: int, error: type[Exception] = InputError, pipes: bool = True
) -> bytes:
    """The bytes of a file the user gives us (a CSV, a manifest), never more than `limit` of them.

    A regular file over the limit is refused by its size before anything is read; a named pipe (a FIFO, or
    a shell's `<(command)`) is read up to the limit and refused past it, and refused when no program comes to
    write to it within PIPE_WAIT_S. A device, a socket or (with pipes=False, for files read on every start
    such as the settings) a pipe is refused without being read: /dev/zero reports a size of 0 and never ends.
    Every refusal is one `error` naming the file."""
    source = Path(path).expanduser()
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(source, flags)  # non-blocking: opening a FIFO nobody writes to must not wait
    except FileNotFoundError as exc:
        raise error(f"The {what} {source} does not exist.") from exc
    except IsADirectoryError as exc:
        raise error(f"{source} is a folder; give the {what} itself.") from exc
    except OSError as exc:
        raise error(f"Cannot read the {what} {source}: {exc.strerror or exc}.") from exc
    try:
        return _read_open_input(fd, source, what, limit, error, pipes)
    except OSError as exc:
        raise error(f"Cannot read the {what} {source}: {exc.strerror or exc}.") from exc
    finally:
        os.close(fd)


def _read_open_input(
    fd: int, source: Path, what: str, limit: int, error: type[Exception], pipes: bool
) -> bytes:
    from desktop_app.core.scan import special_kind

    mode = os.fstat(fd).st_mode
    if stat.S_ISDIR(mode):
        raise error(f"{source} is a folder; give the {what} itself.")
    pipe = stat.S_ISFIFO(mode)
    if (pipe and not pipes) or (not pipe and special_kind(mode) is not None):
        raise error(f"{source} is {special_kind(mode)}, not a file; give the {what} as a regular file.")
    too_big = error(f"The {what} {source} is over {_size(limit)}; split it or give a smaller file.")
    if not pipe and os.fstat(fd).st_size > limit:
        raise too_big
    first = _first_pipe_bytes(fd, source, what, error) if pipe else b""
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    data = read_at_most(fd, limit + 1, first)
    if len(data) > limit:  # a pipe, or a file that grew while it was read
        raise too_big
    return data


def read_at_most(fd: int, n: int, first: bytes = b"") -> bytes:
    """`first` and what follows it from an open file, up to `n` bytes in all: a reader that asks for
    limit + 1 learns that a file is over its limit without ever holding more than that."""
    chunks, got = [first], len(first)
    while got < n:
        block = os.read(fd, min(1 << 20, n - got))
        if not block:
            break
        chunks.append(block)
        got += len(block)
    return b"".join(chunks)


def _first_pipe_bytes(fd: int, source: Path, what: str, error: type[Exception]) -> bytes:
    """What a pipe opened non-blocking holds so far, after waiting (up to PIPE_WAIT_S) for a program to open
    it for writing when none has yet: read() gives b"" while no writer is there, and EAGAIN when one is there
    but has written nothing yet (it is then waited for, as `cat` would)."""
    import select

    try:
        first = os.read(fd, 1 << 16)
    except BlockingIOError:
        return b""  # a writer is there
    if first or not hasattr(select, "poll"):
        return first
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    if not poller.poll(PIPE_WAIT_S * 1000):
        raise error(
            f"Nothing was written to the pipe {source} in {PIPE_WAIT_S:.0f} s; start the program that writes "
            f"the {what} into it first, or give a file."
        )
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:
        return b""


def _size(limit: int) -> str:
    return megabytes(limit) if limit >= 1_000_000 else f"{limit / 1000:.0f} KB"


CSV_MAX_BYTES = 250_000_000


def read_csv(path: Path | str, what: str = "CSV file") -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of a UTF-8 CSV file (see `parse_csv`), read by `read_input`: at most CSV_MAX_BYTES."""
    return parse_csv(read_input(path, what, CSV_MAX_BYTES), Path(path).expanduser(), what)


def parse_csv(data: bytes, source: Path, what: str = "CSV file") -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of a UTF-8 CSV file's bytes, its columns separated by commas (or, when the header line
    has none, semicolons or tabs; a first line "sep=;" as Excel writes it names the separator and is skipped)
    and named in lower case; any other encoding, binary data or a malformed file
    is a one-line InputError naming the file and how to fix it. Cells are read back through
    `spreadsheet_value`, so a file Lookalike exported (with `=cmd` written as `'=cmd`) imports with the values
    it was written from."""
    import csv
    import io

    if b"\x00" in data[:4096]:
        if data[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):  # (before UTF-16: the same first bytes)
            kind = "UTF-32 text"
        else:
            kind = "UTF-16 text" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "binary data"
        raise InputError(
            f"The {what} {source} holds {kind}, not UTF-8 text; save it as 'CSV UTF-8' and try again."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"The {what} {source} is not UTF-8 text (byte {exc.start} cannot be read; Latin-1 or Windows-1252 "
            "perhaps); save it as 'CSV UTF-8' and try again."
        ) from exc
    first, _, rest = text.partition("\n")
    declared = _declared_separator(first)
    if declared is not None:  # Excel's "sep=;" line names the separator and is no header: skip it
        text, first = rest, rest.split("\n", 1)[0]
    # Spreadsheets in many locales save "CSV" with semicolons (or tabs): take what the header line uses.
    delimiter = declared or (
        "," if "," in first else max(";\t", key=first.count) if any(c in first for c in ";\t") else ","
    )
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]  # "Article" is the article column
        reader.fieldnames = header
        rows = [{k: _cell_value(v) for k, v in row.items()} for row in reader]
    except csv.Error as exc:
        raise InputError(f"The {what} {source} is not a readable CSV file ({exc}).") from exc
    return header, rows


def _declared_separator(line: str) -> str | None:
    """The separator an Excel "sep=X" first line declares (quoted or not, any case), or None for any other
    line."""
    line = line.rstrip("\r").strip(" ").strip('"')  # spaces only: "sep=<tab>" declares a tab
    if len(line) == 5 and line[:4].lower() == "sep=":
        return line[4]
    return None


def named_id(cell: str, known: Container[str]) -> str:
    """The article id (or stored photo path) a CSV cell names. Spaces around it are part of the name when the
    catalog has that name (a folder called '  spaced  ' keeps its spaces through an export and an import);
    otherwise they are the kind a spreadsheet or a hand edit adds, and ' red ' names 'red' when the catalog has
    'red'. A name the catalog has neither way comes back as written, to be reported as unknown."""
    if cell in known:
        return cell
    bare = cell.strip()
    return bare if bare in known else cell


def check_columns_once(header: list[str], read: set[str], source: Path | str, what: str = "CSV file") -> None:
    """Refuse a file that names a column an import reads twice (which of the two would count?): one line
    naming it, instead of rows silently read from one of them."""
    repeated = [name for i, name in enumerate(header) if name in read and name in header[:i]]
    if repeated:
        raise InputError(
            f"The {what} {source} has two columns named {repeated[0]!r}; keep one and import again."
        )


def _cell_value(cell: str | list[str] | None) -> str | list[str] | None:
    # DictReader gives None for a short row's missing cells and a list for a long row's extra ones
    if isinstance(cell, str):
        return spreadsheet_value(cell)
    return cell
