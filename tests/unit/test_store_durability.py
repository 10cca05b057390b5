"""Acknowledged means durable: commits a caller awaits, another process's locks, damaged files (real SQLite
files, real lock-holding processes; no browser).

Every wait on a held lock here ends because the store gives up within its bounded wait (lowered to a
fraction of a second), never because the lock is let go: ``asyncio.timeout`` only catches a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.locks import EXCLUSIVE_MODE, WRITE_LOCK, damage_table, lock_held, write_garbage
from tests.support.wait import wait_until
from thinkrun_mcp.errors import ThinkRunError
from thinkrun_mcp.store.db import Store
from thinkrun_mcp.store.records import Records

WAIT = 0.3  # the bounded wait of these stores, in seconds
HANG = 5.0  # a call that has not answered by then would have hung


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(tmp_path / "thinkrun.db", lock_wait=WAIT)
    await s.open()
    yield s
    await s.close()


def record(store: Store, n: int, session_id: str = "ses_1") -> None:
    for i in range(n):
        Records(store).action(session_id, type=f"act{i}", ts=float(i), success=True, details={"i": i}, duration_ms=1)


def committed_actions(path: Path) -> int:
    """Actions another connection can read: what is committed, whatever the store still holds."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT COUNT(*) FROM actions").fetchone()[0]


async def refused(call) -> ThinkRunError:
    with pytest.raises(ThinkRunError) as caught:
        async with asyncio.timeout(HANG):
            await call
    return caught.value


# -- commits a caller awaits ------------------------------------------------------------------


async def test_after_sync_the_rows_recorded_before_it_are_committed_for_other_connections(store: Store):
    record(store, 3)
    await store.sync()
    assert committed_actions(store.path) == 3


async def test_concurrent_callers_share_commits(store: Store):
    async def caller(i: int) -> None:
        record(store, 1, session_id=f"ses_{i}")
        await store.sync()

    before = store.writer.commits
    await asyncio.gather(*(caller(i) for i in range(50)))

    assert committed_actions(store.path) == 50
    assert store.writer.commits - before < 50


async def test_rows_nobody_waits_for_are_committed_by_the_background_writer(store: Store):
    record(store, 4)
    await wait_until(lambda: committed_actions(store.path) == 4, timeout=HANG, what="the flush interval")


# -- another process holding a lock -----------------------------------------------------------


async def test_a_foreign_write_lock_refuses_the_commit_after_the_bounded_wait_naming_the_file(store: Store):
    with lock_held(store.path, WRITE_LOCK):
        record(store, 5)
        error = await refused(store.sync())

    assert error.code == "storage_unavailable"
    assert f"{store.path} is locked by another process" in error.message
    assert "5 statements recorded so far are kept" in error.message
    assert "do not repeat it" in (error.hint or "") and "fuser" in (error.hint or "")


async def test_a_read_waiting_for_queued_rows_under_a_foreign_lock_is_refused_in_bounded_time(store: Store):
    with lock_held(store.path, WRITE_LOCK):
        record(store, 1)
        error = await refused(Records(store).actions("ses_1", offset=0, limit=10))

    assert error.code == "storage_unavailable"
    assert error.message.startswith("cannot read the database")


async def test_a_read_with_nothing_queued_is_answered_while_another_process_holds_the_write_lock(store: Store):
    record(store, 2)
    await store.sync()
    with lock_held(store.path, WRITE_LOCK):
        async with asyncio.timeout(HANG):
            _, total = await Records(store).actions("ses_1", offset=0, limit=10)

    assert total == 2


async def test_rows_recorded_under_a_foreign_lock_are_all_written_once_it_is_released(store: Store):
    record(store, 3)
    await store.sync()
    with lock_held(store.path, WRITE_LOCK) as holder:
        record(store, 7)
        await refused(store.sync())
        record(store, 2)  # more after the refusal: still kept
        await asyncio.sleep(WAIT)  # the writer keeps trying meanwhile
        assert committed_actions(store.path) == 3
        holder.release()
        async with asyncio.timeout(HANG):
            await store.sync()

    assert committed_actions(store.path) == 12
    _, total = await Records(store).actions("ses_1", offset=0, limit=1)
    assert total == 12


async def test_once_an_outage_outlasts_the_bounded_wait_a_caller_is_answered_after_one_fresh_attempt(tmp_path: Path):
    store = Store(tmp_path / "thinkrun.db", lock_wait=2.0)
    await store.open()
    try:
        with lock_held(store.path, WRITE_LOCK):
            record(store, 1)
            first = await refused(store.sync())  # waits the bounded wait
            record(store, 1)
            with pytest.raises(ThinkRunError) as caught:
                async with asyncio.timeout(1.5):  # less than another bounded wait
                    await store.sync()
    finally:
        await store.close()

    assert first.code == caught.value.code == "storage_unavailable"
    assert "2 statements recorded so far are kept" in caught.value.message


async def test_closing_under_a_foreign_lock_logs_the_rows_it_could_not_write(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    store = Store(tmp_path / "thinkrun.db", lock_wait=WAIT)
    await store.open()
    with lock_held(store.path, WRITE_LOCK):
        record(store, 4)
        with caplog.at_level(logging.ERROR, logger="thinkrun_mcp.store"):
            async with asyncio.timeout(HANG):
                await store.close()

    assert "4 recorded statements could not be written" in caplog.text
    assert "4 actions" in caplog.text


# -- start-up on a locked or damaged file -----------------------------------------------------


@pytest.mark.parametrize("statements", [WRITE_LOCK, EXCLUSIVE_MODE], ids=["begin-exclusive", "locking-mode-exclusive"])
async def test_start_on_a_file_another_process_holds_fails_naming_the_file_and_the_remedy(tmp_path: Path, statements):
    path = tmp_path / "thinkrun.db"
    first = Store(path)
    await first.open()
    await first.close()

    with lock_held(path, statements):
        error = await refused(Store(path, lock_wait=WAIT).open())

    assert error.code == "storage_unavailable"
    assert error.message.startswith(f"cannot open the database: {path} is locked by another process")
    assert "fuser" in (error.hint or "") and "--data-dir" in (error.hint or "")


async def test_start_on_a_file_that_is_not_a_database_fails_as_corrupt(tmp_path: Path):
    path = tmp_path / "thinkrun.db"
    write_garbage(path)

    error = await refused(Store(path).open())

    assert error.code == "storage_corrupt"
    assert f"{path} is damaged (file is not a database)" in error.message
    assert ".recover" in (error.hint or "") and "doctor" in (error.hint or "")


async def test_start_on_a_database_with_damaged_pages_fails_as_corrupt(tmp_path: Path):
    path = tmp_path / "thinkrun.db"
    store = Store(path)
    await store.open()
    record(store, 300)
    await store.close()
    damage_table(path, "actions")

    error = await refused(Store(path).open())

    assert error.code == "storage_corrupt"
    assert error.message.startswith(f"cannot open the database: {path} is damaged (")


async def test_a_failed_start_leaves_no_thread_behind(tmp_path: Path):
    # A connection thread left running kept the process alive: a server that could not start hung instead of exiting.
    path = tmp_path / "thinkrun.db"
    write_garbage(path)
    threads = threading.active_count()

    await refused(Store(path).open())

    for _ in range(50):  # a connection thread told to stop may take a moment to end
        if threading.active_count() <= threads:
            break
        await asyncio.sleep(0.1)
    assert threading.active_count() <= threads, threading.enumerate()


# -- damage under a running store, and statements SQLite refuses ------------------------------


async def test_damage_under_an_open_store_makes_a_read_a_storage_corrupt_error(store: Store):
    record(store, 300)
    await store.sync()
    damage_table(store.path, "actions")

    error = await refused(Records(store).actions("ses_1", offset=0, limit=10))

    assert error.code == "storage_corrupt"
    assert f"cannot read the database: {store.path} is damaged" in error.message


async def test_a_statement_sqlite_refuses_is_left_out_alone_and_logged(store: Store, caplog: pytest.LogCaptureFixture):
    records = Records(store)
    records.artifact(object_id="obj_1", session_id="ses_1", type="screenshot", path="/a.png", mime_type=None, size=1, ts=1.0)
    record(store, 1)
    records.artifact(object_id="obj_1", session_id="ses_1", type="screenshot", path="/b.png", mime_type=None, size=1, ts=2.0)
    record(store, 1, session_id="ses_2")

    with caplog.at_level(logging.ERROR, logger="thinkrun_mcp.store"):
        await store.sync()

    assert committed_actions(store.path) == 2
    assert [a.path for a in await records.artifacts("ses_1")] == ["/a.png"]
    assert "refused and is not stored" in caplog.text and "UNIQUE constraint failed: artifacts.id" in caplog.text
