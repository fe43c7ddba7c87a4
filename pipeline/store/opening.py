"""Opening a run store, read-write or read-only, and saying exactly why it cannot be opened.

A run store holds paid labels: a message about it names the cause (a read-only file system, a
permission, a file that is not SQLite, a folder in its place) and never advises deleting it.
Read-only opening (``mode=ro``) writes nothing, so ``build_dataset`` and ``evaluate`` can read a
run from read-only media; where SQLite cannot even keep its shared-memory index beside the file
(a read-only folder), the file is read as ``immutable``, which is safe only when no write-ahead
log holds writes not yet in the file: that case is refused with what to do instead.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import tempfile
from pathlib import Path

from pipeline.errors import StoreError
from pipeline.store.schema import CORE_SCHEMA

_SQLITE_HEADER = b"SQLite format 3\x00"
_CAUSES = {errno.EROFS: "the file system is read-only",
           errno.EACCES: "permission denied (this user may not write there)",
           errno.EPERM: "operation not permitted (the file or folder is immutable or locked)"}


def os_cause(exc: OSError) -> str:
    """An OSError in words that name the cause.

    >>> os_cause(OSError(errno.EROFS, "Read-only file system"))
    'the file system is read-only'
    >>> os_cause(OSError(errno.ENOSPC, "No space left on device"))
    'No space left on device'
    """
    return _CAUSES.get(exc.errno, exc.strerror or str(exc))


def write_problem(path: Path) -> str | None:
    """Why this process cannot write the store at ``path`` (and the files SQLite keeps beside it), or None."""
    for existing in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if existing.is_file():
            try:
                os.close(os.open(existing, os.O_RDWR))
            except OSError as exc:
                return f"{existing.name}: {os_cause(exc)}"
    try:                           # SQLite creates its -wal and -shm files in the folder
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=".docdistill-write-check-")
    except OSError as exc:
        return f"the folder {path.parent}: {os_cause(exc)}"
    os.close(fd)
    os.unlink(probe)
    return None


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(_SQLITE_HEADER)) == _SQLITE_HEADER


def explain(path: Path, exc: Exception, read_only: bool) -> str:
    """The message for a store that cannot be opened: the cause, and a fix that keeps every label."""
    if path.is_dir():
        return f"{path} is a folder, not a run store file: give the run folder (the one that holds {path.name})"
    try:
        not_sqlite = path.is_file() and not _is_sqlite(path)
    except OSError as read_error:
        return f"cannot read the run store {path}: {os_cause(read_error)}"
    if not_sqlite:
        return (f"{path} is not an SQLite database, so not a docdistill run store (docdistill did not write it); "
                "give another --out folder")
    problem = None if read_only else write_problem(path)
    if problem:
        return (f"cannot write the run store {path}: {problem}. What it holds is safe and readable where it is "
                "(build_dataset and evaluate open it read-only); to continue this run, make the folder writable "
                "or copy the run folder to a writable disk and give that as --out")
    return f"{path} cannot be opened as a docdistill run store (SQLite: {exc})"


def open_read_write(path: Path) -> sqlite3.Connection:
    """WAL mode, the core tables created if missing, and a write lock taken once to prove writes work."""
    conn = None
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process; only an OS crash can lose the last commit.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(CORE_SCHEMA)
        # An existing store on read-only media opens and reads fine: find out now, not at the first label.
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        raise StoreError(explain(path, exc, read_only=False)) from exc
    return conn


def open_read_only(path: Path) -> sqlite3.Connection:
    """``mode=ro``: nothing is created or changed; ``immutable`` where the folder itself is read-only."""
    if not path.exists():
        raise StoreError(f"no run store at {path}: give the --out folder of python -m pipeline.distill")
    if path.is_dir():
        raise StoreError(explain(path, IsADirectoryError(str(path)), read_only=True))
    try:
        return _connect_ro(path, immutable=False)
    except sqlite3.DatabaseError as exc:
        first = exc
    if write_problem(path) is None:            # a writable folder: not the read-only case, say what SQLite said
        raise StoreError(explain(path, first, read_only=True)) from first
    wal = path.with_name(path.name + "-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        raise StoreError(f"cannot read the run store {path} in place: its write-ahead log {wal.name} holds writes "
                         "not yet in the file and the folder is read-only; copy the run folder (with "
                         f"{wal.name}) to a writable disk and read it from there") from first
    try:
        return _connect_ro(path, immutable=True)
    except sqlite3.DatabaseError as exc:
        raise StoreError(explain(path, exc, read_only=True)) from exc


def _connect_ro(path: Path, immutable: bool) -> sqlite3.Connection:
    uri = path.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("SELECT 1 FROM meta LIMIT 1").fetchall()   # opens the file: errors show here, not later
    except sqlite3.OperationalError as exc:
        conn.close()
        if "no such table" in str(exc):
            raise StoreError(f"{path} is an SQLite database but not a docdistill run store (no meta table)") from exc
        raise
    except sqlite3.DatabaseError:
        conn.close()
        raise
    return conn
