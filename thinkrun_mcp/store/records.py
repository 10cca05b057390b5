"""What a session records: actions, console entries, network requests, artifacts.

Writes are queued (see :class:`~thinkrun_mcp.store.db.Store`); reads flush first.
Console and network logs keep the newest ``max_rows`` rows per session: older
rows are trimmed in batches and the session counts what it dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeVar

from .db import Store, Table, json_object

__all__ = ["ActionRow", "ArtifactRow", "ConsoleRow", "NetworkRow", "Records"]


@dataclass(frozen=True, slots=True)
class ActionRow:
    id: int
    session_id: str
    type: str
    ts: float
    success: bool
    details: dict[str, Any]
    duration_ms: int
    error: str | None


@dataclass(frozen=True, slots=True)
class ConsoleRow:
    id: int
    session_id: str
    ts: float
    level: str
    message: str
    url: str | None


@dataclass(frozen=True, slots=True)
class NetworkRow:
    id: int
    session_id: str
    ts: float
    url: str
    method: str
    status: int | None
    resource_type: str | None
    duration_ms: int | None
    size: int | None
    failure: str | None


@dataclass(frozen=True, slots=True)
class ArtifactRow:
    id: str
    session_id: str | None
    type: str
    path: str
    mime_type: str | None
    bytes: int
    width: int | None
    height: int | None
    name: str | None
    ts: float


_ACTIONS = Table(
    "actions",
    ("id", "session_id", "type", "ts", "success", "details", "duration_ms", "error"),
    ActionRow,
    {"success": bool, "details": json_object},
)
_CONSOLE = Table("console", ("id", "session_id", "ts", "level", "message", "url"), ConsoleRow)
_NETWORK = Table(
    "network",
    ("id", "session_id", "ts", "url", "method", "status", "resource_type", "duration_ms", "size", "failure"),
    NetworkRow,
)
_ARTIFACTS = Table(
    "artifacts", ("id", "session_id", "type", "path", "mime_type", "bytes", "width", "height", "name", "ts"), ArtifactRow
)
_LOGS = {"console": _CONSOLE, "network": _NETWORK}  # the tables trimmed to the newest rows
R = TypeVar("R")


class Records:
    def __init__(self, store: Store):
        self.store = store

    # -- writes --------------------------------------------------------------------------

    def action(
        self,
        session_id: str,
        *,
        type: str,
        ts: float,
        success: bool,
        details: dict[str, Any],
        duration_ms: int,
        error: str | None = None,
    ) -> None:
        self.store.enqueue(
            "INSERT INTO actions (session_id, type, ts, success, details, duration_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (session_id, type, ts, int(success), json.dumps(details, default=str), duration_ms, error),
        )

    def console(self, session_id: str, *, ts: float, level: str, message: str, url: str | None) -> None:
        self.store.enqueue(
            "INSERT INTO console (session_id, ts, level, message, url) VALUES (?, ?, ?, ?, ?)",
            (session_id, ts, level, message, url),
        )

    def network(
        self,
        session_id: str,
        *,
        ts: float,
        url: str,
        method: str,
        status: int | None,
        resource_type: str | None,
        duration_ms: int | None,
        size: int | None,
        failure: str | None,
    ) -> None:
        self.store.enqueue(
            "INSERT INTO network (session_id, ts, url, method, status, resource_type, duration_ms, size, failure)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session_id, ts, url, method, status, resource_type, duration_ms, size, failure),
        )

    def trim(self, table: str, session_id: str, keep: int) -> None:
        """Queue deletion of all but the newest ``keep`` rows of one session in ``console`` or ``network``."""
        if table not in _LOGS:
            raise ValueError(table)
        self.store.enqueue(
            f"DELETE FROM {table} WHERE session_id = ? AND id < "
            f"(SELECT id FROM {table} WHERE session_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (session_id, session_id, keep - 1),
        )

    def artifact(
        self,
        *,
        object_id: str,
        session_id: str | None,
        type: str,
        path: str,
        mime_type: str | None,
        size: int,
        ts: float,
        width: int | None = None,
        height: int | None = None,
        name: str | None = None,
    ) -> None:
        self.store.enqueue(
            "INSERT INTO artifacts (id, session_id, type, path, mime_type, bytes, width, height, name, ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (object_id, session_id, type, path, mime_type, size, width, height, name, ts),
        )

    # -- reads ---------------------------------------------------------------------------

    async def actions(self, session_id: str, *, offset: int, limit: int) -> tuple[list[ActionRow], int]:
        return await self._page(_ACTIONS, "session_id = ?", [session_id], offset, limit)

    async def console_entries(
        self, session_id: str, *, levels: tuple[str, ...] | None, offset: int, limit: int
    ) -> tuple[list[ConsoleRow], int]:
        where, params = "session_id = ?", [session_id]
        if levels:
            where += f" AND level IN ({','.join('?' * len(levels))})"
            params.extend(levels)
        return await self._page(_CONSOLE, where, params, offset, limit)

    async def network_entries(
        self, session_id: str, *, url_contains: str | None, failed_only: bool, offset: int, limit: int
    ) -> tuple[list[NetworkRow], int]:
        where, params = "session_id = ?", [session_id]
        if url_contains:
            where += " AND instr(url, ?) > 0"
            params.append(url_contains)
        if failed_only:
            where += " AND (failure IS NOT NULL OR status >= 400)"
        return await self._page(_NETWORK, where, params, offset, limit)

    async def artifacts(self, session_id: str) -> list[ArtifactRow]:
        return await self.store.rows(_ARTIFACTS, "WHERE session_id = ? ORDER BY ts, id", (session_id,))

    async def artifact_by_id(self, object_id: str) -> ArtifactRow | None:
        return await self.store.row(_ARTIFACTS, "WHERE id = ?", (object_id,))

    async def _page(self, table: Table[R], where: str, params: list[Any], offset: int, limit: int) -> tuple[list[R], int]:
        total = await self.store.scalar(f"SELECT COUNT(*) FROM {table.name} WHERE {where}", params)
        rows = await self.store.rows(table, f"WHERE {where} ORDER BY id LIMIT ? OFFSET ?", (*params, limit, offset))
        return rows, int(total or 0)
