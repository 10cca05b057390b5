"""Agent task rows, their steps, and the act-resolution cache."""

from __future__ import annotations

import json
import time
from typing import Any

from .db import Store

__all__ = ["TaskRows", "ActCacheRows"]

_LIVE = ("starting", "pending", "running")


def _decode(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["params"] = json.loads(data.get("params") or "{}")
    out = data.get("output")
    data["output"] = json.loads(out) if out is not None else None
    return data


class TaskRows:
    def __init__(self, store: Store):
        self.store = store

    async def insert(self, **row: Any) -> None:
        row["params"] = json.dumps(row.get("params") or {})
        cols = ", ".join(row)
        await self.store.execute(f"INSERT INTO tasks ({cols}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))

    def update(self, task_id: str, **fields: Any) -> None:
        if "output" in fields:
            fields["output"] = json.dumps(fields["output"], ensure_ascii=False) if fields["output"] is not None else None
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.store.enqueue(f"UPDATE tasks SET {cols} WHERE id = ?", (*fields.values(), task_id))

    def step(self, task_id: str, **row: Any) -> None:
        row["args"] = json.dumps(row.get("args") or {}, ensure_ascii=False, default=str)
        row["success"] = int(bool(row.get("success")))
        cols = ", ".join(row)
        self.store.enqueue(
            f"INSERT INTO task_steps (task_id, {cols}) VALUES (?, {', '.join('?' * len(row))})", (task_id, *row.values())
        )

    async def get(self, task_id: str) -> dict[str, Any] | None:
        row = await self.store.fetch_one("SELECT * FROM tasks WHERE id = ?", (task_id,))
        return _decode(row) if row else None

    async def steps(self, task_id: str, *, last: int) -> list[dict[str, Any]]:
        rows = await self.store.fetch(
            "SELECT * FROM (SELECT * FROM task_steps WHERE task_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id", (task_id, last)
        )
        out = []
        for r in rows:
            d = dict(r)
            d["args"] = json.loads(d["args"] or "{}")
            d["success"] = bool(d["success"])
            out.append(d)
        return out

    async def fail_leftovers(self, reason: str) -> int:
        """Tasks a previous process left unfinished can never resume: they fail."""
        n = await self.store.scalar(f"SELECT COUNT(*) FROM tasks WHERE status IN ({','.join('?' * len(_LIVE))})", _LIVE)
        if n:
            await self.store.execute(
                f"UPDATE tasks SET status = 'failed', error = ?, completed_at = ? WHERE status IN ({','.join('?' * len(_LIVE))})",
                (reason, time.time(), *_LIVE),
            )
        return int(n or 0)


class ActCacheRows:
    """Resolutions of act instructions per site: (site, instruction) → (method, role, name, value)."""

    def __init__(self, store: Store):
        self.store = store

    async def get(self, site: str, instruction: str) -> dict[str, Any] | None:
        row = await self.store.fetch_one("SELECT * FROM act_cache WHERE site = ? AND instruction = ?", (site, instruction))
        return dict(row) if row else None

    def put(self, site: str, instruction: str, *, method: str, role: str, name: str, value: str | None) -> None:
        now = time.time()
        self.store.enqueue(
            "INSERT INTO act_cache (site, instruction, method, role, name, value, hits, created_at, used_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT(site, instruction) DO UPDATE SET"
            " method = excluded.method, role = excluded.role, name = excluded.name, value = excluded.value,"
            " used_at = excluded.used_at",
            (site, instruction, method, role, name, value, now, now),
        )

    def hit(self, site: str, instruction: str) -> None:
        self.store.enqueue(
            "UPDATE act_cache SET hits = hits + 1, used_at = ? WHERE site = ? AND instruction = ?",
            (time.time(), site, instruction),
        )
