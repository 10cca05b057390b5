"""The one writer of the database: a queue of statements, committed in groups by a background task.

Recording costs a hot path nothing: :meth:`Writer.enqueue` appends a statement. A caller that must
not answer before what it recorded is committed (every tool call, at the tool boundary) awaits
:meth:`Writer.sync`, which wakes the writer: it commits everything queued at that moment in one
transaction, so concurrent callers share commits (group commit) and throughput does not fall.
Rows nobody waits for (console lines, network requests) are committed within the flush interval.

Nothing is dropped. A statement leaves the queue only once it is committed. A locked database
(another process inside a write transaction or holding ``locking_mode=EXCLUSIVE``) or a file that
cannot be written is retried until it can be; a caller waiting on it is answered with
``storage_unavailable`` after the bounded wait while its rows stay queued. A damaged file answers
waiting callers at once with ``storage_corrupt``. The only statement ever left out is one SQLite
refuses on its own (a constraint or bad SQL: a bug), alone, logged as an error with its SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from ..errors import ThinkRunError
from .failures import Kind, Moment, kind_of, storage_error

__all__ = ["Writer"]

log = logging.getLogger(__name__)

_RETRY_PAUSE = 0.05  # seconds between write attempts while the database is locked (each attempt also waits busy_timeout)
_FRESH_ATTEMPT = 0.3  # what a caller still waits once an outage has outlasted the bounded wait: one more attempt

Statement = tuple[str, Sequence[Any]]


@dataclass(frozen=True, slots=True)
class _Failure:
    """Why the last write attempt failed."""

    kind: Kind
    cause: str
    since: float  # monotonic time of the first failure of this outage


class Writer:
    """Owner of the write connection and of everything queued for it. ``start`` once, ``stop`` once.

    Args:
        db: The write connection, used by nothing else.
        path: The database file (named in errors).
        lock_wait: Longest a caller of :meth:`sync` waits, in seconds.
        flush_interval: Longest a queued statement nobody waits for stays uncommitted (when the file can be written).
        max_batch: Queue length that wakes the writer early.
    """

    def __init__(self, db: aiosqlite.Connection, path: Path, *, lock_wait: float, flush_interval: float, max_batch: int):
        self._db = db
        self._path = path
        self._lock_wait = lock_wait
        self._interval = flush_interval
        self._max_batch = max_batch
        self._queue: list[Statement] = []
        self._enqueued = 0  # statements ever queued
        self._committed = 0  # statements ever taken off the queue (committed, or refused as a bug)
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._failure: _Failure | None = None
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.commits = 0  # transactions committed (group commit shares them among callers)

    @property
    def queued(self) -> int:
        """Statements recorded and not yet committed."""
        return len(self._queue)

    def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("writer already started")
        self._task = asyncio.create_task(self._run(), name="thinkrun-store-writer")

    async def stop(self) -> None:
        """Stop the background task, write what is left (waiting at most the bounded wait), say what could not be."""
        if self._stopping:
            return
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task  # it finishes the write in progress, never abandons it halfway
        deadline = time.monotonic() + self._lock_wait
        await self._write_queued()
        while self._queue and self._failure is not None and self._failure.kind is not Kind.CORRUPT:
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(_RETRY_PAUSE)
            await self._write_queued()
        if self._queue:
            tables = Counter(_table_of(sql) for sql, _ in self._queue)
            log.error(
                "%d recorded statements could not be written to %s before closing (%s) and are lost: %s",
                len(self._queue),
                self._path,
                self._failure.cause if self._failure else "unknown",
                ", ".join(f"{n} {table}" for table, n in tables.most_common()),
            )
        self._release(everyone=True)

    # -- queueing and waiting ------------------------------------------------------------

    def enqueue(self, sql: str, params: Sequence[Any]) -> None:
        if self._stopping:
            log.warning("a statement recorded after the store closed is not written: %s", _table_of(sql))
            return
        self._queue.append((sql, params))
        self._enqueued += 1
        if len(self._queue) >= self._max_batch:
            self._wakeup.set()

    async def sync(self, *, deadline: float | None = None, moment: Moment = "commit") -> None:
        """Return once every statement queued before this call is committed.

        Args:
            deadline: ``time.monotonic()`` value to give up at; by default the bounded wait from now.
            moment: How a failure is described (``commit``: a call's own records; ``read``: a read waiting for them).

        Raises:
            ThinkRunError: ``storage_unavailable`` when the database stayed locked or unwritable until the
                deadline, ``storage_corrupt`` at once when the file is damaged. The statements stay queued.
        """
        target = self._enqueued
        if self._committed >= target:
            return
        started = time.monotonic()
        if self._stopping or (self._failure is not None and self._failure.kind is Kind.CORRUPT):
            raise self._error(moment, started)  # nothing will commit these rows: say so now
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, waiter))
        self._wakeup.set()
        if deadline is None:
            deadline = started + self._lock_wait
        if self._failure is not None:
            # The bounded wait counts from the start of the outage: once it is over, a caller gets one fresh
            # attempt and its answer, not another full wait (a read refused, then its call's own sync, would wait twice).
            deadline = min(deadline, max(self._failure.since + self._lock_wait, started + _FRESH_ATTEMPT))
        timeout = max(0.0, deadline - started)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            raise self._error(moment, started) from None
        if self._committed < target:  # released early: the file is damaged, or the store closed
            raise self._error(moment, started)

    def _error(self, moment: Moment, started: float) -> ThinkRunError:
        failure = self._failure or _Failure(Kind.UNAVAILABLE, "the commit did not finish in time", started)
        waited = time.monotonic() - min(started, failure.since)
        return storage_error(failure.cause, failure.kind, self._path, moment=moment, waited=waited, queued=self.queued)

    def _release(self, *, everyone: bool = False) -> None:
        """Wake the callers whose statements are committed (all of them when ``everyone``)."""
        waiting = []
        for target, waiter in self._waiters:
            if waiter.done():
                continue
            if everyone or self._committed >= target:
                waiter.set_result(None)
            else:
                waiting.append((target, waiter))
        self._waiters = waiting

    # -- writing -------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            pause = self._interval if self._failure is None or not self._waiters else _RETRY_PAUSE
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=pause)
            self._wakeup.clear()
            if self._stopping:
                return
            try:
                await self._write_queued()
            except Exception:  # the writer must outlive anything; the rows stay queued for the next attempt
                log.exception("unexpected failure writing to %s", self._path)

    async def _write_queued(self) -> None:
        """One attempt to commit everything queued now."""
        if not self._queue:
            return
        batch = self._queue[:]
        try:
            await self._commit(batch)
        except sqlite3.Error as exc:
            self._failed(exc)
            return
        del self._queue[: len(batch)]
        self._committed += len(batch)
        self.commits += 1
        if self._failure is not None:
            log.warning(
                "%s can be written again after %.1f s; the %d statements held meanwhile are committed",
                self._path,
                time.monotonic() - self._failure.since,
                len(batch),
            )
            self._failure = None
        self._release()

    async def _commit(self, batch: list[Statement]) -> None:
        db = self._db
        await db.execute("BEGIN IMMEDIATE")  # the write lock first: a busy database fails here, before any work
        try:
            try:
                for sql, rows in _group(batch):
                    await (db.execute(sql, rows[0]) if len(rows) == 1 else db.executemany(sql, rows))
            except sqlite3.Error as exc:
                if kind_of(exc) is not Kind.STATEMENT:
                    raise
                await db.execute("ROLLBACK")
                await db.execute("BEGIN IMMEDIATE")
                await self._one_by_one(batch)
            await db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # no transaction left to roll back is fine
                await db.execute("ROLLBACK")
            raise

    async def _one_by_one(self, batch: list[Statement]) -> None:
        """The batch again, each statement in a savepoint: a statement SQLite refuses (a bug) is left out alone."""
        db = self._db
        for sql, params in batch:
            await db.execute("SAVEPOINT one")
            try:
                await db.execute(sql, params)
            except sqlite3.Error as exc:
                if kind_of(exc) is not Kind.STATEMENT:
                    raise
                await db.execute("ROLLBACK TO one")
                log.error("a statement was refused and is not stored (a bug in thinkrun-mcp): %s: %s", exc, sql)
            await db.execute("RELEASE one")

    def _failed(self, exc: sqlite3.Error) -> None:
        kind, cause = kind_of(exc), str(exc)
        previous = self._failure
        if previous is None or (previous.kind, previous.cause) != (kind, cause):
            log.log(
                logging.ERROR if kind is Kind.CORRUPT else logging.WARNING,
                "cannot write to %s (%s); %d statements stay queued and are retried",
                self._path,
                cause,
                len(self._queue),
            )
        self._failure = _Failure(kind, cause, previous.since if previous else time.monotonic())
        if kind is Kind.CORRUPT:
            self._release(everyone=True)  # no wait can help: the waiting callers are answered now


def _group(batch: Iterable[Statement]) -> list[tuple[str, list[Sequence[Any]]]]:
    """Consecutive statements with the same SQL become one executemany; order is kept."""
    groups: list[tuple[str, list[Sequence[Any]]]] = []
    for sql, params in batch:
        if groups and groups[-1][0] == sql:
            groups[-1][1].append(params)
        else:
            groups.append((sql, [params]))
    return groups


def _table_of(sql: str) -> str:
    """The table a statement writes (for log lines that must not carry the recorded values)."""
    words = sql.replace("(", " ").split()
    for keyword in ("INTO", "UPDATE", "FROM"):
        if keyword in words[:-1]:
            return words[words.index(keyword) + 1]
    return words[0] if words else "?"
