"""The SQLite store: WAL, recorded migrations, queued writes committed in groups, bounded waits.

Writes that happen on hot paths (console lines, network requests, actions) are
queued with :meth:`Store.enqueue` and committed by the one :class:`~thinkrun_mcp.store.writer.Writer`.
A caller that must not answer before its records are committed awaits
:meth:`Store.sync` (the tool boundary does, after every call): concurrent callers
share one commit. Every read goes through :meth:`Store.fetch` / :meth:`Store.fetch_one`
on a read connection of its own (so it never queues behind a write waiting for a
lock), after what was queued before it is committed, so a reader never misses a row
recorded before it asked.

No call waits longer than ``lock_wait`` for a database another process has
locked: it is answered with ``storage_unavailable`` (or ``storage_corrupt`` for a
damaged file, see :mod:`~thinkrun_mcp.store.failures`), and queued rows are kept
and written once the lock is gone. :meth:`Store.open` fails within about two
seconds, naming the file, the cause and the remedy, when the file is locked or damaged.

Migrations (:mod:`~thinkrun_mcp.store.migrations`) are named functions applied once, in order, recorded in the
``_migrations`` table (the approach of simonw/llm).

Each record family reads its rows as frozen dataclasses through a :class:`Table`:
the table's columns are listed once, in the order of the row's fields, and every
SELECT names them (never ``SELECT *``), so a column added by a migration cannot
shift a row out of shape.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import aiosqlite

from ..ids import is_id
from ..redact import Redactor
from ..text import safe_text
from .failures import Kind, kind_of, retry_busy, storage_error
from .migrations import MIGRATIONS
from .writer import Writer

__all__ = ["Store", "Table", "json_object"]

R = TypeVar("R")
T = TypeVar("T")

_START_WAIT = 2.0  # at start, a lock held longer than this is held, not passing: fail rather than hang
_CHECK_BUDGET = 1.0  # seconds the start-up quick_check may take
_BUSY_SLICE = 0.1  # SQLite's own busy wait per attempt; attempts repeat until the caller's deadline

log = logging.getLogger(__name__)


def json_object(text: str | None) -> dict[str, Any]:
    """A JSON object column (``'{}'`` or NULL: empty)."""
    return json.loads(text) if text else {}


@dataclass(frozen=True, slots=True)
class Table(Generic[R]):
    """How one table's rows become ``row`` dataclasses.

    Args:
        name: The table.
        columns: Its columns, in the order of ``row``'s fields (a field may be named
            differently from its column: the order maps them).
        row: The frozen dataclass a row becomes, built positionally.
        decode: column → function turning the stored value into the field's value
            (JSON text into a dict, 0/1 into a bool, a status string into its enum).
    """

    name: str
    columns: tuple[str, ...]
    row: Callable[..., R]
    decode: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)

    @property
    def names(self) -> str:
        """The columns as a SELECT list."""
        return ", ".join(self.columns)

    @property
    def select(self) -> str:
        """``SELECT <columns> FROM <table>``, to which a caller adds its WHERE and ORDER BY."""
        return f"SELECT {self.names} FROM {self.name}"

    def read(self, values: Sequence[Any]) -> R:
        """The row object of one result row selected with :attr:`names`."""
        return self.row(*(self.decode[c](v) if c in self.decode else v for c, v in zip(self.columns, values, strict=True)))

    def update(self, key: Any, values: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]] | None:
        """``UPDATE`` of the row whose first column is ``key``: every column in ``values`` that is not None.

        The column names are the calling module's own literals; one that is not a column
        of this table (or is its key) is refused with ``ValueError`` before any SQL is built.
        """
        given = {column: value for column, value in values.items() if value is not None}
        unknown = sorted(c for c in given if c not in self.columns[1:])
        if unknown:
            raise ValueError(f"not updatable columns of {self.name}: {', '.join(unknown)}")
        if not given:
            return None
        assignments = ", ".join(f"{column} = ?" for column in given)
        return f"UPDATE {self.name} SET {assignments} WHERE {self.columns[0]} = ?", (*given.values(), key)


class Store:
    """Owner of the database: one write connection (behind a :class:`Writer`) and one read connection.

    Open with :meth:`open`, close with :meth:`close`.

    Args:
        path: The database file.
        lock_wait: Longest, in seconds, a commit or a read waits for a database locked by another
            process before it is answered with ``storage_unavailable`` (queued rows are kept).
        flush_interval: Longest a row nobody waits for stays uncommitted.
        max_batch: Queue length that wakes the writer early.
        redactor: Secret values no string written may hold (raw or encoded).
    """

    def __init__(
        self,
        path: Path,
        *,
        lock_wait: float = 5.0,
        flush_interval: float = 0.2,
        max_batch: int = 500,
        redactor: Redactor | None = None,
    ):
        self.path = path
        self.lock_wait = lock_wait
        self.redactor = redactor if redactor is not None else Redactor()  # secret values never reach the file
        self._flush_interval = flush_interval
        self._max_batch = max_batch
        self._write_db: aiosqlite.Connection | None = None
        self._read_db: aiosqlite.Connection | None = None
        self._writer: Writer | None = None
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        """Open the file, apply migrations, and check it can be locked for writing and is not damaged.

        Fails within ``min(lock_wait, 2 s)`` plus a 1 s integrity budget.

        Raises:
            ThinkRunError: ``storage_unavailable`` (locked by another process, cannot be opened) or
                ``storage_corrupt`` (not a database, malformed), naming the file, the cause and the remedy.
        """
        if self._write_db is not None or self._closed:
            raise RuntimeError("store already opened")
        started = time.monotonic()
        deadline = started + min(self.lock_wait, _START_WAIT)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._write_db = db = await retry_busy(lambda: _connect(self.path), deadline)
            await retry_busy(lambda: db.execute("PRAGMA journal_mode=WAL"), deadline)
            await retry_busy(self._migrate, deadline)
            await retry_busy(lambda: _write_lock_probe(db), deadline)
            await self._quick_check()
            self._read_db = await retry_busy(lambda: _connect(self.path, query_only=True), deadline)
        except (sqlite3.Error, OSError) as exc:
            await self._close_connections()
            kind = kind_of(exc) if isinstance(exc, sqlite3.Error) else Kind.UNAVAILABLE  # OSError: the folder
            raise storage_error(str(exc), kind, self.path, moment="start", waited=time.monotonic() - started) from exc
        except BaseException:
            await self._close_connections()
            raise
        self._writer = Writer(
            self._write_db, self.path, lock_wait=self.lock_wait, flush_interval=self._flush_interval, max_batch=self._max_batch
        )
        self._writer.start()

    async def close(self) -> None:
        """Write what is queued (waiting at most ``lock_wait``; what cannot be written is logged as an error), then close."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._writer is not None:
                await self._writer.stop()
        finally:
            await self._close_connections()

    async def _close_connections(self) -> None:
        for db in (self._read_db, self._write_db):
            if db is not None:
                with contextlib.suppress(sqlite3.Error):
                    await db.close()
        self._read_db = self._write_db = None

    @property
    def writer(self) -> Writer:
        if self._writer is None:
            raise RuntimeError("store is not open")
        return self._writer

    async def _migrate(self) -> None:
        db = self._write_db
        assert db is not None
        await db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
        done = {row[0] for row in await db.execute_fetchall("SELECT name FROM _migrations")}
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            await db.execute("BEGIN IMMEDIATE")
            try:
                await fn(db)
                await db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            log.info("applied migration %s", name)

    async def _quick_check(self) -> None:
        """``PRAGMA quick_check`` within a time budget (a large file is left to ``doctor``'s full check)."""
        db = self._write_db
        assert db is not None
        stop_at = time.monotonic() + _CHECK_BUDGET
        await db.set_progress_handler(lambda: time.monotonic() > stop_at, 10_000)
        try:
            found = [row[0] for row in await db.execute_fetchall("PRAGMA quick_check(5)")]
        except sqlite3.OperationalError as exc:
            if "interrupt" not in str(exc).lower():
                raise
            log.info(
                "quick check of %s skipped: it takes longer than %.0f s (thinkrun-mcp doctor runs it)", self.path, _CHECK_BUDGET
            )
            return
        finally:
            await db.set_progress_handler(None, 0)
        if found != ["ok"]:
            problems = " ".join(line for problem in found for line in problem.split("\n") if "***" not in line)
            raise storage_error(f"quick_check: {problems}", Kind.CORRUPT, self.path, moment="start")

    async def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check``: ``["ok"]``, or the problems found (the full check: for ``doctor``)."""
        return [row[0] for row in await self.fetch("PRAGMA integrity_check(20)")]

    async def applied_migrations(self) -> list[str]:
        rows = await self.fetch("SELECT name FROM _migrations ORDER BY rowid")
        return [r["name"] for r in rows]

    # -- writes --------------------------------------------------------------------------

    def enqueue(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Queue a write; it is committed within the flush interval, or before the next read or :meth:`sync`."""
        self.writer.enqueue(sql, tuple(self._clean(p) for p in params))

    def _clean(self, value: Any) -> Any:
        """A parameter as written: no lone surrogate (SQLite's UTF-8 cannot take one: the whole batch would fail)
        and no secret value, raw or encoded (the last line: the services redact first). Our own ids are
        left as they are: they hold nothing from a page, and they are the keys of updates."""
        if not isinstance(value, str) or is_id(value):
            return value
        return self.redactor.redact(safe_text(value))

    def update(self, table: Table[Any], key: Any, values: Mapping[str, Any]) -> None:
        """Queue the update :meth:`Table.update` builds (nothing when every value is None)."""
        statement = table.update(key, values)
        if statement is not None:
            self.enqueue(*statement)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Write now (after everything queued before it), for writes a caller must see committed."""
        self.enqueue(sql, params)
        await self.sync()

    async def sync(self) -> None:
        """Return once everything queued so far is committed: what a caller awaits before it answers.

        Concurrent callers share one commit (group commit).

        Raises:
            ThinkRunError: ``storage_unavailable`` after ``lock_wait`` (locked or unwritable file),
                ``storage_corrupt`` (damaged file); the rows stay queued either way.
        """
        await self.writer.sync()

    flush = sync  # the name callers used before commits were awaited

    # -- reads ---------------------------------------------------------------------------

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        return list(await self._read(lambda db: db.execute_fetchall(sql, params)))

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async def one(db: aiosqlite.Connection) -> aiosqlite.Row | None:
            async with db.execute(sql, params) as cur:
                return await cur.fetchone()

        return await self._read(one)

    async def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]

    async def rows(self, table: Table[R], clause: str = "", params: Sequence[Any] = ()) -> list[R]:
        """The rows of ``table`` that ``clause`` (``WHERE … ORDER BY … LIMIT …``) selects, as row objects."""
        return [table.read(r) for r in await self.fetch(f"{table.select} {clause}", params)]

    async def row(self, table: Table[R], clause: str, params: Sequence[Any] = ()) -> R | None:
        """The first row of ``table`` that ``clause`` selects, or None."""
        found = await self.fetch_one(f"{table.select} {clause}", params)
        return None if found is None else table.read(found)

    async def _read(self, query: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """``query`` on the read connection once what was queued before it is committed, within ``lock_wait``."""
        started = time.monotonic()
        deadline = started + self.lock_wait
        await self.writer.sync(deadline=deadline, moment="read")
        db = self._read_db
        assert db is not None
        try:
            return await retry_busy(lambda: query(db), deadline)
        except sqlite3.Error as exc:
            kind = kind_of(exc)
            if kind is Kind.STATEMENT:
                raise  # a wrong query is a bug: the tool boundary reports internal_error with its traceback
            waited = time.monotonic() - started
            raise storage_error(str(exc), kind, self.path, moment="read", waited=waited, queued=self.writer.queued) from exc


async def _connect(path: Path, *, query_only: bool = False) -> aiosqlite.Connection:
    db = await aiosqlite.connect(path, isolation_level=None)
    db.row_factory = aiosqlite.Row
    try:
        # A short busy_timeout: a lock is waited for in slices and retried, so no call holds the connection's
        # thread for the whole bounded wait and every caller's deadline is kept.
        await db.execute(f"PRAGMA busy_timeout={int(_BUSY_SLICE * 1000)}")
        # FULL: a commit is in the WAL on disk before a call is answered (survives power loss, not only a
        # killed process); group commit pays the fsync once per group (about 0.4 ms here, see benchmarks/).
        await db.execute("PRAGMA synchronous=FULL")
        if query_only:
            await db.execute("PRAGMA query_only=1")
    except BaseException:
        await db.close()
        raise
    return db


async def _write_lock_probe(db: aiosqlite.Connection) -> None:
    """Take the write lock and give it back: another process holding it is found at start, not at the first write."""
    await db.execute("BEGIN IMMEDIATE")
    await db.execute("ROLLBACK")
