"""Schema migrations: named functions applied once, in order, recorded in ``_migrations``.

Add a migration by appending a function decorated with :func:`migration`; its name is
its recorded identity (the approach of simonw/llm). Never edit an applied one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiosqlite

__all__ = ["MIGRATIONS", "migration", "run_script"]

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


@migration
async def m005_task_cost(db: aiosqlite.Connection) -> None:
    """Tokens read from the prompt cache and the estimated cost (NULL: no price), per task and per step."""
    await run_script(
        db,
        """
        ALTER TABLE tasks ADD COLUMN cached_input_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE tasks ADD COLUMN cost_usd REAL;
        ALTER TABLE task_steps ADD COLUMN cached_input_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE task_steps ADD COLUMN cost_usd REAL
        """,
    )


# -- typed rows ------------------------------------------------------------------------------


@migration
async def m006_profiles(db: aiosqlite.Connection) -> None:
    """Saved browser identities (cookies, storage): the row here, the state in a file of its own."""
    await run_script(
        db,
        """
        CREATE TABLE profiles (
            id TEXT PRIMARY KEY,
            owner_id TEXT NOT NULL,
            name TEXT NOT NULL,
            file TEXT NOT NULL,
            encrypted INTEGER NOT NULL,
            cookies INTEGER NOT NULL,
            origins INTEGER NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX profiles_owner ON profiles(owner_id, updated_at)
        """,
    )
