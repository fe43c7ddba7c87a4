"""Finding the input files under PDF_DIR, each with an outcome, and identifying them by content.

Nothing here opens a path before ``lstat``/``stat`` says it is a regular file: opening a FIFO
blocks for ever, and ``/dev/zero`` never ends. Links are not followed unless the user says so
(``--follow-symlinks``): this tool decides what may reach a cloud API, so by default nothing
outside the folder the user named is read.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from pipeline.errors import ConfigError
from pipeline.records import SkipReason

_HASH_CHUNK = 1 << 20
PATH_ID_PREFIX = "path:"
_BROKEN = {errno.ENOENT, errno.ELOOP, errno.ENOTDIR, errno.ENAMETOOLONG}
# What a file's name says it is. Every page of each becomes a page image; a TIFF has a page per frame.
DOCUMENT_KINDS = {".pdf": "pdf", ".tif": "tiff", ".tiff": "tiff", ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg",
                  ".webp": "webp"}
IMAGE_KINDS = frozenset(DOCUMENT_KINDS.values()) - {"pdf"}


def document_kind(name: str) -> str | None:
    """The kind of document a file name says (any case), or None for a name that is no input.

    >>> document_kind("scan.TIFF"), document_kind("a/b.jpg"), document_kind("notes.txt"), document_kind("..pdf")
    ('tiff', 'jpeg', None, 'pdf')
    """
    base = name.rsplit("/", 1)[-1].lower()
    return DOCUMENT_KINDS.get(base[base.rfind("."):]) if "." in base else None


@dataclass(frozen=True)
class Selection:
    """``--include`` / ``--exclude`` globs. A pattern without "/" matches the file name at any depth,
    one with "/" the path relative to the input folder; ``*`` crosses folders. With includes, only
    what matches one is an input; an exclude wins over an include.

    >>> Selection(include=("*.tif",), exclude=("drafts/*",)).wants("2024/a.TIF"), Selection(exclude=("drafts/*",)).wants("drafts/x/a.pdf")
    (True, False)
    >>> Selection(include=("*.tif",)).wants("a.pdf"), Selection().wants("anything.png")
    (False, True)
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def wants(self, rel: str) -> bool:
        name = PurePosixPath(rel).name
        def hit(pattern: str) -> bool:
            target = rel if "/" in pattern else name
            return fnmatch.fnmatch(target.lower(), pattern.lower())
        if any(hit(p) for p in self.exclude):
            return False
        return not self.include or any(hit(p) for p in self.include)


class NotARegularFileError(OSError):
    """A path that is a FIFO, socket or device (or a link to one): it is never read."""


@dataclass(frozen=True)
class InputFile:
    """One input under PDF_DIR: a regular file to read (``skip`` None), or an outcome found unread."""

    path: Path                       # as found under PDF_DIR (a link's own path)
    rel: str                         # relative to PDF_DIR, POSIX separators: how it is recorded
    skip: SkipReason | None = None
    detail: str = ""                 # the fix, for a skipped input; for a followed link, where it led
    outside: bool = False            # read through a link to a file outside PDF_DIR (--follow-symlinks)
    excluded: bool = False           # left out by --include / --exclude: counted, never read or recorded

    @property
    def kind(self) -> str:
        """pdf, tiff, png, jpeg or webp: what the name says (the content is checked on opening)."""
        return document_kind(self.rel) or "pdf"


def _link_outcome(path: Path, rel: str, root: Path, follow: bool,
                  ancestors: frozenset) -> tuple[InputFile | None, Path | None]:
    """A symlink: (its outcome, or None when it is no input) and (the real folder to search, or None).

    ``ancestors``: the (dev, inode) of the folder holding the link and of every folder above it.
    """
    named_input = document_kind(rel) is not None
    try:
        target = os.stat(path)
    except OSError as exc:
        if not named_input:
            return None, None  # a dangling link of another name: nothing says it was an input
        if exc.errno in _BROKEN:
            return InputFile(path, rel, SkipReason.BROKEN_LINK, f"a link that leads nowhere ({exc.strerror}: "
                             f"-> {_link_text(path)}); fix or remove the link"), None
        return InputFile(path, rel, SkipReason.UNREADABLE, f"cannot follow the link: {exc.strerror}"), None
    real = Path(os.path.realpath(path))
    if stat.S_ISDIR(target.st_mode):
        if not follow:
            return InputFile(path, rel, SkipReason.SYMLINK, f"a link to the folder {real}, not searched; "
                             "pass --follow-symlinks to read link targets"), None
        if (target.st_dev, target.st_ino) in ancestors:
            return InputFile(path, rel, SkipReason.BROKEN_LINK, f"a link back to {real}, a folder that "
                             "contains it (a loop); searched once, not again"), None
        return None, real
    if not named_input:
        return None, None
    if not stat.S_ISREG(target.st_mode):
        return InputFile(path, rel, SkipReason.NOT_A_REGULAR_FILE,
                         f"a link to {real}, which is not a regular file (a device, FIFO or socket); "
                         "never opened: remove the link"), None
    if not follow:
        return InputFile(path, rel, SkipReason.SYMLINK,
                         f"a link to {real}, not read; pass --follow-symlinks to read link targets"), None
    return _regular(path, rel, real, root), None


def _regular(path: Path, rel: str, real: Path, root: Path) -> InputFile:
    """A regular file to read; one whose real path is outside PDF_DIR (through a followed link) says so."""
    if real.is_relative_to(root):
        return InputFile(path, rel)
    return InputFile(path, rel, outside=True,
                     detail=f"read through a link, from {real}, outside PDF_DIR (--follow-symlinks)")


def _link_text(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def iter_inputs(root: Path, follow_symlinks: bool = False, selection: Selection | None = None,
                skip: Path | None = None) -> Iterator[InputFile]:
    """Every input under root, sorted by relative path for a deterministic run order.

    Inputs: files named like a document (``DOCUMENT_KINDS``: ``*.pdf``, ``*.tif``, ``*.png``, ...,
    any case, dotfiles included: ``sub/..pdf`` is a file), symlinks of such names, and links to
    folders. A folder is searched whatever its name (``reports.pdf/`` too) and is not an input
    itself; hidden folders (``.git``, ``.venv``) are not searched. With ``follow_symlinks``, linked
    folders are searched and linked files read; a link back into a folder being searched is a loop
    (``broken_link``), never searched twice. A name the ``selection`` does not want comes back
    ``excluded``, before anything else is looked at. ``skip``: a folder never searched (the run
    folder, when it sits inside the input folder: its page images are no inputs).
    """
    root = Path(os.path.realpath(root))
    skipped = _dir_id(skip) if skip is not None and os.path.isdir(skip) else None
    found: list[InputFile] = []
    # (folder as found, its real path, the (dev, inode) of every folder above it)
    stack: list[tuple[Path, Path, frozenset]] = [(root, root, frozenset())]
    while stack:
        folder, real_folder, above = stack.pop()
        if skipped is not None and folder != root and _dir_id(real_folder) == skipped:
            continue
        try:
            entries = list(os.scandir(folder))
            ancestors = above | {_dir_id(real_folder)}
        except OSError as exc:
            if folder == root:
                raise ConfigError(f"input folder {root} cannot be listed: {exc.strerror}") from exc
            found.append(InputFile(folder, folder.relative_to(root).as_posix(), SkipReason.UNREADABLE,
                                   f"the folder cannot be listed ({exc.strerror}); its files were not searched"))
            continue
        for entry in entries:
            path = Path(entry.path)
            rel = path.relative_to(root).as_posix()
            is_link = entry.is_symlink()
            if selection is not None and document_kind(entry.name) and not selection.wants(rel) and (
                    is_link or not entry.is_dir(follow_symlinks=False)):
                found.append(InputFile(path, rel, excluded=True))
                continue
            if is_link:
                if entry.name.startswith(".") and not document_kind(entry.name):
                    continue  # a hidden name: not searched, as hidden folders are not
                outcome, linked = _link_outcome(path, rel, root, follow_symlinks, ancestors)
                if linked is not None:
                    stack.append((path, linked, ancestors))
                if outcome is not None:
                    found.append(outcome)
            elif entry.is_dir(follow_symlinks=False):
                if not entry.name.startswith("."):
                    stack.append((path, real_folder / entry.name, ancestors))
            elif document_kind(entry.name):
                if entry.is_file(follow_symlinks=False):
                    found.append(_regular(path, rel, real_folder / entry.name, root))
                else:
                    found.append(InputFile(path, rel, SkipReason.NOT_A_REGULAR_FILE,
                                           "not a regular file (a FIFO, socket or device); never opened: "
                                           "remove it from the input folder"))
    yield from sorted(found, key=lambda f: f.path)


def _dir_id(path: Path) -> tuple[int, int]:
    """What identifies a folder however it is reached (through links, bind mounts)."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


def open_regular(path: Path) -> BinaryIO:
    """Open a file for reading only if it is a regular file; raises NotARegularFileError otherwise.

    O_NONBLOCK: a FIFO put in the file's place since discovery opens at once instead of blocking,
    and is then refused by the fstat check.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotARegularFileError(errno.EINVAL, "not a regular file (a FIFO, socket or device)", str(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_sha256(path: Path) -> str:
    """Content hash of a file, streamed: the document identity (a renamed copy is the same document)."""
    digest = hashlib.sha256()
    with open_regular(path) as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def path_doc_id(rel: str) -> str:
    """Identity of an input that was never read (so has no content hash): a hash of its path, prefixed.

    >>> path_doc_id("sub/..pdf")[:21]
    'path:d68379e511e10d41'
    >>> path_digest(path_doc_id("a.pdf")) == hashlib.sha256(b"a.pdf").hexdigest()
    True
    """
    return PATH_ID_PREFIX + hashlib.sha256(rel.encode("utf-8")).hexdigest()


def path_digest(doc_id: str) -> str:
    """The hex digest in a document id, content or path (what ``--shard`` assigns by)."""
    return doc_id.removeprefix(PATH_ID_PREFIX)
