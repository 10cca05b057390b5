"""Agent tasks: submit, run one at a time per session, report, cancel, persist.

Statuses: ``starting`` (accepted, setting up) → ``pending`` (queued behind
another task of the same session) → ``running`` → ``completed`` | ``failed`` |
``timeout`` | ``cancelled``. A task without a session gets its own, ended when
the task ends (unless ``terminateOnCompletion`` is false); a task given a
session joins that session's FIFO queue and sees the state the previous task
left. Tasks and their steps are stored; tasks a previous process left
unfinished are marked failed on start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..browser.history import ts
from ..browser.registry import SessionRegistry
from ..browser.service import BrowserService, normalize_url
from ..browser.session import BrowserSession, new_id
from ..config import Settings
from ..errors import ThinkRunError
from ..models import (
    TERMINAL_TASK_STATUSES,
    InitialTask,
    SessionCreated,
    TaskInfo,
    TaskStep,
    TaskSubmitted,
    TokenUsage,
    Viewport,
)
from ..store.tasks import TaskRows
from .backends import Backend, Backends
from .output import check_schema
from .planner import Outcome, Planner, StepRecord, TaskSpec
from .secrets import Secrets

__all__ = ["TaskManager", "TaskParams", "MIN_TIMEOUT_MS", "MAX_TIMEOUT_MS", "DEFAULT_TIMEOUT_MS"]

log = logging.getLogger(__name__)

MIN_TIMEOUT_MS, MAX_TIMEOUT_MS, DEFAULT_TIMEOUT_MS = 30_000, 600_000, 300_000
LAST_STEPS = 5


@dataclass
class TaskParams:
    instruction: str
    backend: str | None = None
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    session_id: str | None = None
    starting_point: str | None = None
    avoid_domains: list[str] = field(default_factory=list)
    secrets: list[dict[str, Any]] | None = None
    output_type: str = "text"
    output_schema: dict[str, Any] | None = None
    max_steps: int | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    terminate_on_completion: bool | None = None


@dataclass
class _Task:
    id: str
    session: BrowserSession
    backend_name: str
    model: str
    params: TaskParams
    spec: TaskSpec
    terminate: bool
    created_at: float
    status: str = "starting"
    started_at: float | None = None
    completed_at: float | None = None
    output: Any = None
    error: str | None = None
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    runner: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    listeners: list[Callable[[StepRecord], Any]] = field(default_factory=list)
    recent: list[TaskStep] = field(default_factory=list)


class TaskManager:
    def __init__(
        self,
        settings: Settings,
        rows: TaskRows,
        registry: SessionRegistry,
        browser: BrowserService,
        *,
        backends: Backends | None = None,
    ):
        self.settings = settings
        self.rows = rows
        self.registry = registry
        self.browser = browser
        self.backends = backends or Backends(settings)
        self._tasks: dict[str, _Task] = {}
        self._queues: dict[str, asyncio.Lock] = {}

    async def start(self) -> None:
        n = await self.rows.fail_leftovers("interrupted by server restart")
        if n:
            log.info("marked %d tasks left unfinished by a previous process as failed", n)

    async def shutdown(self) -> None:
        live = [t for t in self._tasks.values() if t.runner is not None and not t.runner.done()]
        for t in live:
            t.error = "interrupted by server shutdown"
            t.runner.cancel()  # type: ignore[union-attr]
        if live:
            await asyncio.gather(*(t.runner for t in live), return_exceptions=True)  # type: ignore[misc]

    # -- submit ---------------------------------------------------------------------------

    def validate(self, params: TaskParams) -> tuple[str, Secrets]:
        """Check a task before anything is created: backend key, limits, schema, secrets."""
        backend = params.backend or self.settings.default_backend
        if backend not in ("gemini", "claude"):
            raise ThinkRunError("invalid_input", f"unknown backend {backend!r}", hint="use gemini or claude")
        self.backends.require(backend)
        if not params.instruction.strip():
            raise ThinkRunError("invalid_input", "instruction is empty", hint="say what the agent should do")
        if not MIN_TIMEOUT_MS <= params.timeout_ms <= MAX_TIMEOUT_MS:
            raise ThinkRunError("invalid_input", f"timeoutMs must be between {MIN_TIMEOUT_MS} and {MAX_TIMEOUT_MS}")
        check_schema(params.output_type, params.output_schema)
        return backend, Secrets.parse(params.secrets)

    async def submit(self, client_key: str, params: TaskParams) -> TaskSubmitted:
        backend, secrets = self.validate(params)
        model = self.settings.claude_model if backend == "claude" else self.settings.gemini_model
        starting_point = normalize_url(params.starting_point) if params.starting_point else None

        if params.session_id:
            session = await self.registry.get(params.session_id)
            if starting_point:
                await session.policy.check(starting_point)
            terminate = bool(params.terminate_on_completion)
        else:
            session, _ = await self.browser.open_session(
                client_key, avoid_domains=params.avoid_domains or None, extra_options={"task": True}
            )
            if starting_point:
                try:
                    await session.policy.check(starting_point)
                except ThinkRunError:
                    await self.registry.end(session, "failed", "the task's starting point is blocked")
                    raise
            terminate = params.terminate_on_completion is not False
        if secrets:
            session.add_redactions(secrets.redactions())

        spec = TaskSpec(
            instruction=params.instruction,
            output_type=params.output_type,
            output_schema=params.output_schema,
            max_steps=params.max_steps or self.settings.agent_max_steps,
            max_input_tokens=params.max_input_tokens,
            max_output_tokens=params.max_output_tokens,
            secrets=secrets,
            avoid_domains=tuple(params.avoid_domains),
        )
        task = _Task(
            id=new_id("task"), session=session, backend_name=backend, model=model, params=params, spec=spec,
            terminate=terminate, created_at=time.time(),
        )  # fmt: skip
        queue = self._queues.setdefault(session.id, asyncio.Lock())
        if queue.locked():
            task.status = "pending"
        stored = {
            "timeoutMs": params.timeout_ms, "startingPoint": starting_point, "avoidDomains": params.avoid_domains,
            "secrets": secrets.public(), "outputType": params.output_type, "outputSchema": params.output_schema,
            "maxSteps": spec.max_steps, "maxInputTokens": params.max_input_tokens,
            "maxOutputTokens": params.max_output_tokens, "terminateOnCompletion": terminate,
        }  # fmt: skip
        await self.rows.insert(
            id=task.id, session_id=session.id, client_key=client_key, status=task.status, backend=backend, model=model,
            instruction=params.instruction, params=stored, created_at=task.created_at,
        )  # fmt: skip
        self._tasks[task.id] = task
        task.runner = asyncio.create_task(self._run(task, queue, starting_point), name=f"thinkrun-{task.id}")
        return TaskSubmitted(task_id=task.id, session_id=session.id, status="starting", backend=backend)

    async def open_with_task(
        self,
        client_key: str,
        initial: InitialTask,
        *,
        starting_point: str | None,
        viewport: Viewport | None,
        avoid_domains: list[str] | None,
        allow_domains: list[str] | None,
    ) -> SessionCreated:
        """session_create with an initialTask (WebRun): the session, its starting point, then the task in it."""
        params = TaskParams(
            instruction=initial.task_details, backend=initial.backend, timeout_ms=initial.max_duration,
            avoid_domains=list(initial.avoid_domains),
            secrets=[s.model_dump() for s in initial.secrets] if initial.secrets else None,
            output_type=initial.output_type, output_schema=initial.output_schema,
            max_input_tokens=initial.max_input_tokens, max_output_tokens=initial.max_output_tokens,
            terminate_on_completion=initial.terminate_on_completion,
        )  # fmt: skip
        has_task = bool(initial.task_details.strip())
        if has_task:
            self.validate(params)  # before any session exists
        session, created = await self.browser.open_session(
            client_key,
            starting_point=initial.starting_point or starting_point,
            viewport=viewport,
            avoid_domains=[*(avoid_domains or []), *initial.avoid_domains] or None,
            allow_domains=allow_domains,
        )
        if has_task:
            params.session_id = session.id
            try:
                submitted = await self.submit(client_key, params)
            except ThinkRunError:
                await self.registry.end(session, "failed", "its initial task could not start")
                raise
            created.task_id = submitted.task_id
        return created

    # -- running --------------------------------------------------------------------------

    async def _run(self, task: _Task, queue: asyncio.Lock, starting_point: str | None) -> None:
        """Wait for the session's queue, run, and record the end — all before the next task may start."""
        try:
            async with queue:
                try:
                    outcome = await self._attempt(task, starting_point)
                except asyncio.CancelledError:
                    await self._finish(task, self._cancelled(task))
                    raise
                await self._finish(task, outcome)
        except asyncio.CancelledError:
            if not task.done.is_set():  # cancelled while still waiting in the queue
                await self._finish(task, self._cancelled(task))

    @staticmethod
    def _cancelled(task: _Task) -> Outcome:
        # A shutdown sets task.error first: that is a failure, not the client's cancel.
        return Outcome("failed", error=task.error) if task.error else Outcome("cancelled", error="cancelled by the client")

    async def _attempt(self, task: _Task, starting_point: str | None) -> Outcome:
        session = task.session
        backend: Backend | None = None
        restore_policy = None
        self._set(task, status="running", started_at=time.time())
        session.busy += 1
        try:
            if not session.is_open:
                raise ThinkRunError("session_closed", f"session {session.id} ended before the task could start")
            restore_policy = await self._apply_avoid(session, task.spec.avoid_domains)
            backend = self.backends.make(task.backend_name)
            async with asyncio.timeout(task.params.timeout_ms / 1000):
                if starting_point:
                    await self.browser.navigate(session, url=starting_point)
                planner = Planner(
                    spec=task.spec, backend=backend, browser=self.browser, session=session,
                    on_step=lambda step: self._on_step(task, step),
                )  # fmt: skip
                try:
                    return await planner.run()
                finally:
                    task.input_tokens, task.output_tokens = planner.input_tokens, planner.output_tokens
                    task.steps = planner.turns_taken
        except TimeoutError:
            return Outcome("timeout", error=f"the task ran out of time ({task.params.timeout_ms} ms)")
        except ThinkRunError as exc:
            return Outcome("failed", error=str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("task %s crashed", task.id)
            return Outcome("failed", error=f"internal error: {type(exc).__name__}: {exc}")
        finally:
            session.busy -= 1
            session.touch()
            if restore_policy is not None:
                restore_policy()
            if backend is not None:
                try:
                    await backend.close()
                except Exception:
                    log.debug("backend close failed", exc_info=True)

    async def _finish(self, task: _Task, outcome: Outcome) -> None:
        session = task.session
        output = outcome.output
        if isinstance(output, str):
            output = session.redact(output)
        elif output is not None:
            output = json.loads(session.redact(json.dumps(output, ensure_ascii=False)))
        self._set(
            task, status=outcome.status, output=output, error=session.redact(outcome.error) if outcome.error else None,
            completed_at=time.time(),
        )  # fmt: skip
        try:
            if task.terminate and session.is_open and outcome.status != "cancelled":
                status = "completed" if outcome.status == "completed" else "terminated"
                await self.registry.end(session, status, f"task {task.id} ended ({outcome.status}); terminateOnCompletion")
        finally:
            task.done.set()

    async def _apply_avoid(self, session: BrowserSession, avoid: tuple[str, ...]) -> Callable[[], None] | None:
        """Add the task's avoided domains to a joined session's policy for the task's duration."""
        if not avoid or all(p in session.policy.avoid for p in avoid):
            return None
        from ..browser.policy import UrlPolicy

        before = session.policy
        session.policy = UrlPolicy(
            schemes=before.schemes, avoid_domains=(*before.avoid, *avoid), allow_domains=before.allow,
            block_private=before.block_private,
        )  # fmt: skip
        await session.ensure_route()

        def restore() -> None:
            session.policy = before

        return restore

    async def _on_step(self, task: _Task, step: StepRecord) -> None:
        task.steps = step.step
        args = {k: (task.session.redact(v) if isinstance(v, str) else v) for k, v in step.args.items()}
        now = time.time()
        self.rows.step(
            task.id, step=step.step, ts=now, action=step.action, args=args, outcome=step.outcome, success=step.success,
            url=step.url, duration_ms=step.duration_ms, model_ms=step.model_ms, input_tokens=step.input_tokens,
            output_tokens=step.output_tokens, prompt_chars=step.prompt_chars,
        )  # fmt: skip
        task.input_tokens += step.input_tokens
        task.output_tokens += step.output_tokens
        self.rows.update(task.id, steps=task.steps, input_tokens=task.input_tokens, output_tokens=task.output_tokens)
        task.recent.append(
            TaskStep(step=step.step, action=step.action, args=args, outcome=step.outcome, success=step.success,
                     url=step.url, timestamp=ts(now), duration=step.duration_ms)  # fmt: skip
        )
        del task.recent[:-LAST_STEPS]
        for listener in list(task.listeners):
            try:
                result = listener(step)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.debug("task step listener failed", exc_info=True)

    def _set(self, task: _Task, **fields: Any) -> None:
        for k, v in fields.items():
            setattr(task, k, v)
        self.rows.update(task.id, **fields)

    # -- reading, cancelling, waiting -----------------------------------------------------

    async def status(self, task_id: str) -> TaskInfo:
        task = self._tasks.get(task_id)
        if task is not None:
            return TaskInfo(
                task_id=task.id, session_id=task.session.id, status=task.status, backend=task.backend_name,
                model=task.model, output=task.output, output_type=task.params.output_type, error=task.error,
                steps=task.steps, usage=TokenUsage(input_tokens=task.input_tokens, output_tokens=task.output_tokens),
                created_at=ts(task.created_at), started_at=ts(task.started_at), completed_at=ts(task.completed_at),
                last_steps=list(task.recent),
            )  # fmt: skip
        row = await self.rows.get(task_id)
        if row is None:
            raise ThinkRunError("task_not_found", f"no task {task_id!r}", hint="agent_execute returns the taskId")
        steps = await self.rows.steps(task_id, last=LAST_STEPS)
        return TaskInfo(
            task_id=row["id"], session_id=row["session_id"], status=row["status"], backend=row["backend"], model=row["model"],
            output=row["output"], output_type=row["params"].get("outputType", "text"), error=row["error"], steps=row["steps"],
            usage=TokenUsage(input_tokens=row["input_tokens"], output_tokens=row["output_tokens"]),
            created_at=ts(row["created_at"]), started_at=ts(row["started_at"]), completed_at=ts(row["completed_at"]),
            last_steps=[
                TaskStep(step=s["step"], action=s["action"], args=s["args"], outcome=s["outcome"], success=s["success"],
                         url=s["url"], timestamp=ts(s["ts"]), duration=s["duration_ms"])  # fmt: skip
                for s in steps
            ],
        )  # fmt: skip

    async def cancel(self, task_id: str) -> TaskInfo:
        task = self._tasks.get(task_id)
        if task is None:
            await self.status(task_id)  # raises task_not_found for unknown ids
            raise ThinkRunError("invalid_input", f"task {task_id} has already ended", hint="agent_status shows its result")
        if task.status in TERMINAL_TASK_STATUSES:
            raise ThinkRunError("invalid_input", f"task {task_id} has already ended ({task.status})", hint="agent_status shows its result")
        if task.runner is not None:
            task.runner.cancel()
        await task.done.wait()
        return await self.status(task_id)

    async def wait(self, task_id: str, on_step: Callable[[StepRecord], Any] | None = None) -> TaskInfo:
        task = self._tasks.get(task_id)
        if task is None:
            return await self.status(task_id)
        if on_step is not None:
            task.listeners.append(on_step)
        try:
            await task.done.wait()
        finally:
            if on_step is not None and on_step in task.listeners:
                task.listeners.remove(on_step)
        return await self.status(task_id)
