"""What a failed SQLite call means, and what the caller is told: one table of SQLite result codes.

Every SQLite error the store meets falls in one of four kinds (:class:`Kind`):

- ``BUSY``: another connection holds a lock. Wait (bounded), keep the rows, try again;
  past the bounded wait the caller gets ``storage_unavailable``.
- ``UNAVAILABLE``: the file cannot be read or written now (I/O error, disk full, read-only,
  cannot open). Rows are kept and retried; callers get ``storage_unavailable``.
- ``CORRUPT``: the file is damaged or is not a database. Nothing will succeed until a person
  repairs or replaces it; callers get ``storage_corrupt`` at once.
- ``STATEMENT``: this one statement is wrong (a constraint, bad SQL): a bug in thinkrun-mcp.

:func:`storage_error` builds the coded error naming the file, the cause and the remedy.
"""

from __future__ import annotations

import asyncio
import enum
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal, TypeVar

from ..errors import ThinkRunError

__all__ = ["Kind", "Moment", "kind_of", "retry_busy", "storage_error"]

T = TypeVar("T")


class Kind(enum.Enum):
    BUSY = "busy"
    UNAVAILABLE = "unavailable"
    CORRUPT = "corrupt"
    STATEMENT = "statement"


# fmt: off
# SQLite primary result codes (https://sqlite.org/rescode.html) → kind; any other code is STATEMENT.
_KINDS: dict[int, Kind] = {
    5: Kind.BUSY,           # SQLITE_BUSY: another connection holds the lock
    6: Kind.BUSY,           # SQLITE_LOCKED: a conflict inside this process (shared cache)
    15: Kind.BUSY,          # SQLITE_PROTOCOL: the WAL lock protocol lost a race; retrying is the remedy
    7: Kind.UNAVAILABLE,    # SQLITE_NOMEM
    8: Kind.UNAVAILABLE,    # SQLITE_READONLY: the file or its folder is not writable
    10: Kind.UNAVAILABLE,   # SQLITE_IOERR
    13: Kind.UNAVAILABLE,   # SQLITE_FULL: the disk is full
    14: Kind.UNAVAILABLE,   # SQLITE_CANTOPEN
    22: Kind.UNAVAILABLE,   # SQLITE_NOLFS
    11: Kind.CORRUPT,       # SQLITE_CORRUPT: "database disk image is malformed"
    26: Kind.CORRUPT,       # SQLITE_NOTADB: "file is not a database"
}
# fmt: on

# When the error carries no code (older drivers), its message decides.
_MESSAGES = (
    ("database is locked", Kind.BUSY),
    ("database table is locked", Kind.BUSY),
    ("malformed", Kind.CORRUPT),
    ("not a database", Kind.CORRUPT),
    ("disk i/o error", Kind.UNAVAILABLE),
    ("unable to open database", Kind.UNAVAILABLE),
)

Moment = Literal["start", "commit", "read"]


def kind_of(exc: sqlite3.Error) -> Kind:
    """The kind of a SQLite error, from its result code (or, lacking one, its message)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return _KINDS.get(code & 0xFF, Kind.STATEMENT)
    text = str(exc).lower()
    return next((kind for pattern, kind in _MESSAGES if pattern in text), Kind.STATEMENT)


async def retry_busy(op: Callable[[], Awaitable[T]], deadline: float) -> T:
    """``op()``, again while the database is busy and ``deadline`` (``time.monotonic()``) is not reached."""
    while True:
        try:
            return await op()
        except sqlite3.Error as exc:
            if kind_of(exc) is not Kind.BUSY or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(0.02)


def storage_error(cause: str, kind: Kind, path: Path, *, moment: Moment, waited: float = 0.0, queued: int = 0) -> ThinkRunError:
    """The coded error a caller reads when the database at ``path`` failed with ``cause``.

    Args:
        cause: SQLite's own words ("database is locked", "file is not a database").
        kind: What the failure means (:func:`kind_of`).
        path: The database file.
        moment: ``start`` (opening the server), ``commit`` (a call's records could not be
            committed) or ``read`` (a query could not be answered).
        waited: Seconds spent waiting for a lock before giving up.
        queued: Statements recorded and not yet written (kept, written later).
    """
    what = {
        "start": "cannot open the database",
        "commit": "what this call recorded is not committed yet",
        "read": "cannot read the database",
    }[moment]
    kept = (
        f"; the {queued} statement{'s' if queued != 1 else ''} recorded so far are kept in memory and written as soon "
        "as the database can be written"
        if queued and moment != "start"
        else ""
    )
    done = "the call itself was done (do not repeat it); " if moment == "commit" else ""
    if kind is Kind.CORRUPT:
        return ThinkRunError(
            "storage_corrupt",
            f"{what}: {path} is damaged ({cause}){kept}",
            hint=f"{done}{'' if moment == 'start' else 'stop the server and '}run `thinkrun-mcp doctor`; recover the data with "
            f"`sqlite3 {path} .recover | sqlite3 recovered.db`, or move {path.name} aside to start with an empty history",
        )
    if kind is Kind.BUSY:
        return ThinkRunError(
            "storage_unavailable",
            f"{what}: {path} is locked by another process ({cause}; waited {waited:.1f} s){kept}",
            hint=f"{done}another program holds a lock on the file: a sqlite3 shell or tool inside a transaction or with "
            "locking_mode=EXCLUSIVE, a backup, or another server on the same data dir; end it "
            f"(`fuser {path}` names it), or give this server its own --data-dir",
        )
    if kind is Kind.UNAVAILABLE:
        return ThinkRunError(
            "storage_unavailable",
            f"{what}: {path} cannot be used ({cause}){kept}",
            hint=f"{done}check that {path.parent} exists, is writable by this user and that its disk is not full",
        )
    return ThinkRunError(
        "internal_error",
        f"{what}: a statement was refused by {path} ({cause})",
        hint="this is a bug in thinkrun-mcp; the traceback is in the server log",
    )
