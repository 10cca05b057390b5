"""Agent task rows, their steps, and the act-resolution cache."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..models import LIVE_TASK_STATUSES, TaskStatus
from .db import Store, Table, json_object

__all__ = ["ActCacheRow", "ActCacheRows", "TaskRow", "TaskRows", "TaskStepRow"]

_LIVE = tuple(sorted(s.value for s in LIVE_TASK_STATUSES))


def _json_or_none(text: str | None) -> Any:
    return json.loads(text) if text is not None else None


@dataclass(frozen=True, slots=True)
class TaskRow:
    """A stored task. ``owner_id`` is the ``client_key`` column; ``params`` the request as stored (no secret values)."""

    id: str
    session_id: str | None
    owner_id: str
    status: TaskStatus
    backend: str
    model: str
    instruction: str
    params: dict[str, Any]
    output: Any
    error: str | None
    steps: int
    input_tokens: int
    output_tokens: int
    created_at: float
    started_at: float | None
    completed_at: float | None
    cached_input_tokens: int
    cost_usd: float | None


@dataclass(frozen=True, slots=True)
class TaskStepRow:
    id: int
    task_id: str
    step: int
    ts: float
    action: str
    args: dict[str, Any]
    outcome: str
    success: bool
    url: str | None
    duration_ms: int
    model_ms: int
    input_tokens: int
    output_tokens: int
    prompt_chars: int
    cached_input_tokens: int
    cost_usd: float | None


@dataclass(frozen=True, slots=True)
class ActCacheRow:
    site: str
    instruction: str
    method: str
    role: str
    name: str
    value: str | None
    hits: int
    created_at: float
    used_at: float


_TASKS = Table(
    "tasks",
    (
        "id",
        "session_id",
        "client_key",
        "status",
        "backend",
        "model",
        "instruction",
        "params",
        "output",
        "error",
        "steps",
        "input_tokens",
        "output_tokens",
        "created_at",
        "started_at",
        "completed_at",
        "cached_input_tokens",
        "cost_usd",
    ),
    TaskRow,
    {"status": TaskStatus, "params": json_object, "output": _json_or_none},
)
_STEPS = Table(
    "task_steps",
    (
        "id",
        "task_id",
        "step",
        "ts",
        "action",
        "args",
        "outcome",
        "success",
        "url",
        "duration_ms",
        "model_ms",
        "input_tokens",
        "output_tokens",
        "prompt_chars",
        "cached_input_tokens",
        "cost_usd",
    ),
    TaskStepRow,
    {"args": json_object, "success": bool},
)
_ACT_CACHE = Table(
    "act_cache",
    ("site", "instruction", "method", "role", "name", "value", "hits", "created_at", "used_at"),
    ActCacheRow,
)


class TaskRows:
    def __init__(self, store: Store):
        self.store = store

    async def insert(
        self,
        *,
        task_id: str,
        session_id: str | None,
        owner_id: str,
        status: TaskStatus,
        backend: str,
        model: str,
        instruction: str,
        params: Mapping[str, Any],
        created_at: float,
    ) -> None:
        """Write a new task now (its row must exist before anyone can ask for it)."""
        await self.store.execute(
            "INSERT INTO tasks (id, session_id, client_key, status, backend, model, instruction, params, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                task_id,
                session_id,
                owner_id,
                TaskStatus(status).value,
                backend,
                model,
                instruction,
                json.dumps(dict(params), ensure_ascii=False),
                created_at,
            ),
        )

    def update(
        self,
        task_id: str,
        *,
        status: TaskStatus | None = None,
        started_at: float | None = None,
        completed_at: float | None = None,
        output: Any = None,
        error: str | None = None,
        steps: int | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cached_input_tokens: int | None = None,
        cost_usd: float | None = None,
    ) -> None:
        """Queue an update of the columns given; one left None keeps its value (no column is ever cleared)."""
        self.store.update(
            _TASKS,
            task_id,
            {
                "status": None if status is None else TaskStatus(status).value,
                "started_at": started_at,
                "completed_at": completed_at,
                "output": None if output is None else json.dumps(output, ensure_ascii=False),
                "error": error,
                "steps": steps,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cached_input_tokens": cached_input_tokens,
                "cost_usd": cost_usd,
            },
        )

    def step(
        self,
        task_id: str,
        *,
        step: int,
        ts: float,
        action: str,
        args: Mapping[str, Any],
        outcome: str,
        success: bool,
        url: str | None,
        duration_ms: int,
        model_ms: int,
        input_tokens: int,
        output_tokens: int,
        prompt_chars: int,
        cached_input_tokens: int = 0,
        cost_usd: float | None = None,
    ) -> None:
        self.store.enqueue(
            "INSERT INTO task_steps (task_id, step, ts, action, args, outcome, success, url, duration_ms, model_ms,"
            " input_tokens, output_tokens, prompt_chars, cached_input_tokens, cost_usd)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                task_id,
                step,
                ts,
                action,
                json.dumps(dict(args), ensure_ascii=False, default=str),
                outcome,
                int(success),
                url,
                duration_ms,
                model_ms,
                input_tokens,
                output_tokens,
                prompt_chars,
                cached_input_tokens,
                cost_usd,
            ),
        )

    async def get(self, task_id: str) -> TaskRow | None:
        return await self.store.row(_TASKS, "WHERE id = ?", (task_id,))

    async def steps(self, task_id: str, *, last: int) -> list[TaskStepRow]:
        """The task's ``last`` steps, oldest first."""
        rows = await self.store.fetch(
            f"SELECT {_STEPS.names} FROM ({_STEPS.select} WHERE task_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
            (task_id, last),
        )
        return [_STEPS.read(r) for r in rows]

    async def fail_leftovers(self, reason: str) -> int:
        """Tasks a previous process left unfinished can never resume: they fail."""
        live = f"status IN ({','.join('?' * len(_LIVE))})"
        n = await self.store.scalar(f"SELECT COUNT(*) FROM tasks WHERE {live}", _LIVE)
        if n:
            await self.store.execute(
                f"UPDATE tasks SET status = ?, error = ?, completed_at = ? WHERE {live}",
                (TaskStatus.FAILED.value, reason, time.time(), *_LIVE),
            )
        return int(n or 0)


class ActCacheRows:
    """Resolutions of act instructions per site: (site, instruction) → (method, role, name, value)."""

    def __init__(self, store: Store):
        self.store = store

    async def get(self, site: str, instruction: str) -> ActCacheRow | None:
        return await self.store.row(_ACT_CACHE, "WHERE site = ? AND instruction = ?", (site, instruction))

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
