"""Session rows: one per browser session, kept after the session ends."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..models import OPEN_STATUSES, SessionStatus
from .db import Store, Table, json_object

__all__ = ["SessionRow", "SessionRows"]

_OPEN = tuple(sorted(s.value for s in OPEN_STATUSES))
_LEFTOVER = (*_OPEN, SessionStatus.ORPHANED.value)  # states a previous process may have left a session in


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A stored session. ``owner_id`` is the ``client_key`` column (the :class:`~thinkrun_mcp.models.Owner` id)."""

    id: str
    owner_id: str
    status: SessionStatus
    created_at: float
    ended_at: float | None
    end_reason: str | None
    current_url: str | None
    title: str | None
    viewport_width: int
    viewport_height: int
    options: dict[str, Any]
    action_count: int
    navigation_count: int
    screenshot_count: int
    dropped: dict[str, int]


_SESSIONS = Table(
    "sessions",
    (
        "id",
        "client_key",
        "status",
        "created_at",
        "ended_at",
        "end_reason",
        "current_url",
        "title",
        "viewport_width",
        "viewport_height",
        "options",
        "action_count",
        "navigation_count",
        "screenshot_count",
        "dropped",
    ),
    SessionRow,
    {"status": SessionStatus, "options": json_object, "dropped": json_object},
)


class SessionRows:
    def __init__(self, store: Store):
        self.store = store

    def insert(
        self,
        *,
        session_id: str,
        owner_id: str,
        status: SessionStatus,
        created_at: float,
        viewport: tuple[int, int],
        options: Mapping[str, Any],
    ) -> None:
        self.store.enqueue(
            "INSERT INTO sessions (id, client_key, status, created_at, viewport_width, viewport_height, options)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (session_id, owner_id, SessionStatus(status).value, created_at, viewport[0], viewport[1], json.dumps(options)),
        )

    def update(
        self,
        session_id: str,
        *,
        status: SessionStatus | None = None,
        end_reason: str | None = None,
        ended_at: float | None = None,
        current_url: str | None = None,
        title: str | None = None,
        action_count: int | None = None,
        navigation_count: int | None = None,
        screenshot_count: int | None = None,
        dropped: Mapping[str, int] | None = None,
    ) -> None:
        """Queue an update of the columns given; one left None keeps its value (no column is ever cleared)."""
        self.store.update(
            _SESSIONS,
            session_id,
            {
                "status": None if status is None else SessionStatus(status).value,
                "end_reason": end_reason,
                "ended_at": ended_at,
                "current_url": current_url,
                "title": title,
                "action_count": action_count,
                "navigation_count": navigation_count,
                "screenshot_count": screenshot_count,
                "dropped": None if dropped is None else json.dumps(dict(dropped)),
            },
        )

    async def get(self, session_id: str) -> SessionRow | None:
        return await self.store.row(_SESSIONS, "WHERE id = ?", (session_id,))

    async def list(
        self, *, owner_id: str | None, include_terminated: bool, limit: int, offset: int
    ) -> tuple[list[SessionRow], int]:
        where: list[str] = []
        params: list[Any] = []
        if owner_id is not None:
            where.append("client_key = ?")
            params.append(owner_id)
        if not include_terminated:  # open or orphaned (which may come back)
            where.append(f"status IN ({', '.join('?' * len(_LEFTOVER))})")
            params.extend(_LEFTOVER)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        total = await self.store.scalar(f"SELECT COUNT(*) FROM sessions{clause}", params)
        rows = await self.store.rows(
            _SESSIONS, f"{clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?", (*params, limit, offset)
        )
        return rows, int(total or 0)

    async def fail_leftovers(self, reason: str) -> int:
        """Sessions a previous process left open can never resume: end them as failed."""
        states = f"status IN ({', '.join('?' * len(_LEFTOVER))})"
        n = await self.store.scalar(f"SELECT COUNT(*) FROM sessions WHERE {states}", _LEFTOVER)
        if n:
            await self.store.execute(
                f"UPDATE sessions SET status = ?, end_reason = ?, ended_at = ? WHERE {states}",
                (SessionStatus.FAILED.value, reason, time.time(), *_LEFTOVER),
            )
        return int(n or 0)
