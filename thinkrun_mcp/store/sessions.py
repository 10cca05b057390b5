"""Session rows: one per browser session, kept after the session ends."""

from __future__ import annotations

import json
import time
from typing import Any

from .db import Store

__all__ = ["SessionRows"]

_OPEN = ("creating", "running")


class SessionRows:
    def __init__(self, store: Store):
        self.store = store

    def insert(
        self,
        *,
        session_id: str,
        client_key: str,
        status: str,
        created_at: float,
        viewport: tuple[int, int],
        options: dict[str, Any],
    ) -> None:
        self.store.enqueue(
            "INSERT INTO sessions (id, client_key, status, created_at, viewport_width, viewport_height, options)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (session_id, client_key, status, created_at, viewport[0], viewport[1], json.dumps(options)),
        )

    def update(self, session_id: str, **fields: Any) -> None:
        """Queue an update of some columns (``dropped`` may be given as a dict)."""
        if not fields:
            return
        if isinstance(fields.get("dropped"), dict):
            fields["dropped"] = json.dumps(fields["dropped"])
        cols = ", ".join(f"{name} = ?" for name in fields)
        self.store.enqueue(f"UPDATE sessions SET {cols} WHERE id = ?", (*fields.values(), session_id))

    async def get(self, session_id: str) -> dict[str, Any] | None:
        row = await self.store.fetch_one("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return _decode(row) if row else None

    async def list(
        self, *, client_key: str | None, include_terminated: bool, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        where, params = [], []
        if client_key is not None:
            where.append("client_key = ?")
            params.append(client_key)
        if not include_terminated:
            where.append("status IN (?, ?)")
            params.extend(_OPEN)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        total = await self.store.scalar(f"SELECT COUNT(*) FROM sessions{clause}", params)
        rows = await self.store.fetch(
            f"SELECT * FROM sessions{clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?", (*params, limit, offset)
        )
        return [_decode(r) for r in rows], int(total or 0)

    async def fail_leftovers(self, reason: str) -> int:
        """Sessions a previous process left open can never resume: end them as failed."""
        n = await self.store.scalar("SELECT COUNT(*) FROM sessions WHERE status IN (?, ?, 'orphaned')", _OPEN)
        if n:
            await self.store.execute(
                "UPDATE sessions SET status = 'failed', end_reason = ?, ended_at = ?"
                " WHERE status IN (?, ?, 'orphaned')",
                (reason, time.time(), *_OPEN),
            )
        return int(n or 0)


def _decode(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["options"] = json.loads(data.get("options") or "{}")
    data["dropped"] = json.loads(data.get("dropped") or "{}")
    return data
