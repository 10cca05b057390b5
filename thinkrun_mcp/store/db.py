"""The SQLite store: one aiosqlite connection, WAL, recorded migrations, batched writes.

Writes that happen on hot paths (console lines, network requests, actions) are
queued with :meth:`Store.enqueue` and written in one transaction by a background
flusher, so recording costs a tool call almost nothing. Every read goes through
:meth:`Store.fetch` / :meth:`Store.fetch_one`, which flush the queue first, so a
reader never misses a row that was recorded before it asked. :meth:`Store.close`
flushes whatever is left.

Migrations are named functions applied once, in order, and recorded in the
``_migrations`` table (the approach of simonw/llm).

Each record family reads its rows as frozen dataclasses through a :class:`Table`:
the table's columns are listed once, in the order of the row's fields, and every
SELECT names them (never ``SELECT *``), so a column added by a migration cannot
shift a row out of shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import aiosqlite

from ..ids import is_id
from ..redact import Redactor
from ..text import safe_text

__all__ = ["MIGRATIONS", "Store", "Table", "json_object", "migration", "run_script"]

R = TypeVar("R")

log = logging.getLogger(__name__)

Migration = Callable[[aiosqlite.Connection], Awaitable[None]]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    """Register a migration; its function name is its recorded identity. Order of definition is order of application."""
    MIGRATIONS.append((fn.__name__, fn))
    return fn


async def run_script(db: aiosqlite.Connection, script: str) -> None:
    """Run ``;``-separated DDL statements inside the caller's transaction (``executescript`` would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            await db.execute(statement)


@migration
async def m001_sessions_and_records(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            client_key TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at REAL NOT NULL,
            ended_at REAL,
            end_reason TEXT,
            current_url TEXT,
            title TEXT,
            viewport_width INTEGER NOT NULL,
            viewport_height INTEGER NOT NULL,
            options TEXT NOT NULL DEFAULT '{}',
            action_count INTEGER NOT NULL DEFAULT 0,
            navigation_count INTEGER NOT NULL DEFAULT 0,
            screenshot_count INTEGER NOT NULL DEFAULT 0,
            dropped TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX sessions_created ON sessions(created_at);
        CREATE TABLE actions (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL,
            type TEXT NOT NULL,
            ts REAL NOT NULL,
            success INTEGER NOT NULL,
            details TEXT NOT NULL DEFAULT '{}',
            duration_ms INTEGER NOT NULL,
            error TEXT
        );
        CREATE INDEX actions_session ON actions(session_id, id);
        CREATE TABLE console (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL,
            ts REAL NOT NULL,
            level TEXT NOT NULL,
            message TEXT NOT NULL,
            url TEXT
        );
        CREATE INDEX console_session ON console(session_id, id);
        CREATE TABLE network (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL,
            ts REAL NOT NULL,
            url TEXT NOT NULL,
            method TEXT NOT NULL,
            status INTEGER,
            resource_type TEXT,
            duration_ms INTEGER,
            size INTEGER,
            failure TEXT
        );
        CREATE INDEX network_session ON network(session_id, id);
        CREATE TABLE artifacts (
            id TEXT PRIMARY KEY,
            session_id TEXT,
            type TEXT NOT NULL,
            path TEXT NOT NULL,
            mime_type TEXT,
            bytes INTEGER NOT NULL DEFAULT 0,
            width INTEGER,
            height INTEGER,
            name TEXT,
            ts REAL NOT NULL
        );
        CREATE INDEX artifacts_session ON artifacts(session_id, ts);
        """,
    )


@migration
async def m003_agent_tasks(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE TABLE tasks (
            id TEXT PRIMARY KEY,
            session_id TEXT,
            client_key TEXT NOT NULL,
            status TEXT NOT NULL,
            backend TEXT NOT NULL,
            model TEXT NOT NULL,
            instruction TEXT NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',
            output TEXT,
            error TEXT,
            steps INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            started_at REAL,
            completed_at REAL
        );
        CREATE INDEX tasks_session ON tasks(session_id, created_at);
        CREATE INDEX tasks_status ON tasks(status);
        CREATE TABLE task_steps (
            id INTEGER PRIMARY KEY,
            task_id TEXT NOT NULL,
            step INTEGER NOT NULL,
            ts REAL NOT NULL,
            action TEXT NOT NULL,
            args TEXT NOT NULL DEFAULT '{}',
            outcome TEXT NOT NULL DEFAULT '',
            success INTEGER NOT NULL,
            url TEXT,
            duration_ms INTEGER NOT NULL DEFAULT 0,
            model_ms INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            prompt_chars INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX task_steps_task ON task_steps(task_id, id);
        CREATE TABLE act_cache (
            site TEXT NOT NULL,
            instruction TEXT NOT NULL,
            method TEXT NOT NULL,
            role TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT,
            hits INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            used_at REAL NOT NULL,
            PRIMARY KEY (site, instruction)
        );
        """,
    )


@migration
async def m004_page_cache(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE TABLE page_cache (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            provider TEXT NOT NULL,
            url TEXT NOT NULL,
            body TEXT,
            file TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            bytes INTEGER NOT NULL,
            fetched_at REAL NOT NULL,
            used_at REAL NOT NULL
        );
        CREATE INDEX page_cache_used ON page_cache(used_at);
        """,
    )


# -- typed rows ------------------------------------------------------------------------------


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
    """Owner of the database connection. Open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, path: Path, *, flush_interval: float = 0.2, max_batch: int = 500, redactor: Redactor | None = None):
        self.path = path
        self.redactor = redactor if redactor is not None else Redactor()  # secret values never reach the file
        self._flush_interval = flush_interval
        self._max_batch = max_batch
        self._db: aiosqlite.Connection | None = None
        self._queue: list[tuple[str, Sequence[Any]]] = []
        self._flush_lock = asyncio.Lock()
        self._wakeup = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        if self._db is not None:
            raise RuntimeError("store already open")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path, isolation_level=None)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA busy_timeout=5000")
        self._db = db
        await self._migrate()
        self._flusher = asyncio.create_task(self._flush_loop(), name="thinkrun-store-flusher")

    async def close(self) -> None:
        if self._db is None or self._closed:
            return
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
            try:
                await self._flusher
            except asyncio.CancelledError:
                pass
        await self.flush()
        await self._db.close()
        self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def _migrate(self) -> None:
        db = self.db
        await db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
        async with db.execute("SELECT name FROM _migrations") as cur:
            done = {row[0] for row in await cur.fetchall()}
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            await db.execute("BEGIN")
            try:
                await fn(db)
                await db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            log.info("applied migration %s", name)

    async def applied_migrations(self) -> list[str]:
        rows = await self.fetch("SELECT name FROM _migrations ORDER BY rowid")
        return [r["name"] for r in rows]

    # -- writes --------------------------------------------------------------------------

    def enqueue(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Queue a write; it reaches the database within the flush interval or before the next read."""
        if self._closed:
            log.debug("write after close dropped: %s", sql.split("(", 1)[0])
            return
        self._queue.append((sql, tuple(self._clean(p) for p in params)))
        if len(self._queue) >= self._max_batch:
            self._wakeup.set()

    def _clean(self, value: Any) -> Any:
        """A parameter as written: no lone surrogate (SQLite's UTF-8 cannot take one: the whole batch would fail)
        and no secret value, raw or encoded (the last line: the services redact first). Our own ids and
        digests are left as they are: they hold nothing from a page, and they are the keys of updates."""
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
        await self.flush()

    async def flush(self) -> None:
        async with self._flush_lock:
            while self._queue:
                batch, self._queue = self._queue, []
                await self._write(batch)

    async def _write(self, batch: list[tuple[str, Sequence[Any]]]) -> None:
        db = self.db
        await db.execute("BEGIN")
        try:
            for sql, rows in _group(batch):
                if len(rows) == 1:
                    await db.execute(sql, rows[0])
                else:
                    await db.executemany(sql, rows)
            await db.execute("COMMIT")
        except Exception:
            await db.execute("ROLLBACK")
            # One bad statement must not lose the rest: retry them one by one, logging the bad ones.
            log.exception("batched write failed; retrying %d statements one by one", len(batch))
            for sql, params in batch:
                try:
                    await db.execute(sql, params)
                except Exception:
                    log.exception("write failed: %s", sql)

    async def _flush_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._flush_interval)
            except TimeoutError:
                pass
            self._wakeup.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must survive; the error is logged and rows stay queued for the next try
                log.exception("store flush failed")

    # -- reads ---------------------------------------------------------------------------

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        await self.flush()
        async with self.db.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        await self.flush()
        async with self.db.execute(sql, params) as cur:
            return await cur.fetchone()

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


def _group(batch: Iterable[tuple[str, Sequence[Any]]]) -> list[tuple[str, list[Sequence[Any]]]]:
    """Consecutive statements with the same SQL become one executemany; order is kept."""
    groups: list[tuple[str, list[Sequence[Any]]]] = []
    for sql, params in batch:
        if groups and groups[-1][0] == sql:
            groups[-1][1].append(params)
        else:
            groups.append((sql, [params]))
    return groups
