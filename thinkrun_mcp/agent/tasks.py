"""Agent tasks: submit, run one at a time per session, report, cancel, persist.

Statuses: ``starting`` (accepted, setting up) → ``pending`` (queued behind
another task of the same session) → ``running`` → ``completed`` | ``failed`` |
``timeout`` | ``cancelled``. A task without a session gets its own, ended when
the task ends (unless ``terminateOnCompletion`` is false); a task given a
session joins that session's FIFO queue and sees the state the previous task
left. Tasks and their steps are stored; tasks a previous process left
unfinished are marked failed on start.

A little over 500 lines on purpose: a task's whole life (submit, queue, run
under its timeout, steps, status, cancel) reads best in one module.

A task arrives as a :class:`~thinkrun_mcp.models.TaskRequest`, which checked
itself when it was built; the manager adds only the checks that need the
server: the backend's readiness and the session. A task on the ``sampling``
backend also brings the calling client's :class:`~thinkrun_mcp.agent.backends.Sampler`.

The task's timeout runs from the moment it starts running and covers everything:
taking the session, building the backend's client (its SDK imported in a worker
thread), the starting point and every model call.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..browser.service import BrowserService
from ..config import Settings
from ..errors import ThinkRunError
from ..ids import new_id
from ..models import (
    InitialTask,
    Owner,
    SessionCreated,
    SessionStatus,
    TaskInfo,
    TaskRequest,
    TaskStatus,
    TaskStep,
    TaskSubmitted,
    TokenUsage,
    Viewport,
    ts,
)
from ..store.tasks import TaskRow, TaskRows, TaskStepRow
from ..urls import normalize_url
from .backends import Backend, Backends, Sampler
from .planner import ModelCall, Outcome, Planner, StepRecord
from .secrets import Secrets

__all__ = ["TaskManager"]

log = logging.getLogger(__name__)

LAST_STEPS = 5
KEEP_FINISHED = 64  # ended tasks kept in memory for quick reads; older ones are read from the store


@dataclass
class _Task:
    id: str
    owner: Owner
    session_id: str
    backend_name: str
    model: str
    request: TaskRequest
    secrets: Secrets
    max_steps: int
    terminate: bool
    created_at: float
    sampler: Sampler | None = None
    status: TaskStatus = TaskStatus.STARTING
    started_at: float | None = None
    completed_at: float | None = None
    output: Any = None
    error: str | None = None
    steps: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    runner: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    listeners: list[Callable[[StepRecord], Any]] = field(default_factory=list)
    recent: list[TaskStep] = field(default_factory=list)


class TaskManager:
    def __init__(
        self,
        settings: Settings,
        rows: TaskRows,
        browser: BrowserService,
        backends: Backends,
    ):
        self.settings = settings
        self.rows = rows
        self.browser = browser
        self.backends = backends
        self._tasks: dict[str, _Task] = {}
        self._finished: collections.deque[str] = collections.deque()
        self._queues: dict[str, tuple[asyncio.Lock, int]] = {}  # session id → (its queue, tasks using it)

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

    def _backend(self, request: TaskRequest, sampler: Sampler | None) -> str:
        """The request's backend (else the default), once it is known to be ready."""
        backend = request.backend or self.settings.default_backend
        self.backends.require(backend, sampler)
        if backend == "sampling" and (request.max_input_tokens or request.max_output_tokens):
            raise ThinkRunError(
                "invalid_input",
                "maxInputTokens and maxOutputTokens cannot be kept on the sampling backend: the client reports no tokens",
                hint="bound the task with maxSteps or timeoutMs instead",
            )
        return backend

    async def submit(self, owner: Owner, request: TaskRequest, *, sampler: Sampler | None = None) -> TaskSubmitted:
        """Start a task in its session (or a new one); it runs when the tasks queued before it in that session end.

        ``sampler``: the calling client's model, for the ``sampling`` backend.
        """
        backend = self._backend(request, sampler)
        secrets = Secrets.parse(request.secrets)  # the request checked them; this builds what the task uses
        model = self.backends.model(backend, sampler)
        starting_point = normalize_url(request.starting_point) if request.starting_point else None

        if request.session_id:
            session_id = request.session_id
            await self.browser.check_open(owner, session_id)
            if starting_point:
                await self.browser.check_url(owner, session_id, starting_point)
            terminate = bool(request.terminate_on_completion)
        else:
            created = await self.browser.create_session(
                owner, avoid_domains=request.avoid_domains or None, options={"task": True}, profile_id=request.profile_id
            )
            session_id = created.session_id
            if starting_point:
                try:
                    await self.browser.check_url(owner, session_id, starting_point)
                except ThinkRunError:
                    await self.browser.end_session(
                        owner, session_id, SessionStatus.FAILED, "the task's starting point is blocked"
                    )
                    raise
            terminate = request.terminate_on_completion is not False
        if secrets:
            self.browser.redactor(owner).add(secrets.redactions())

        task = _Task(
            id=new_id("task"),
            owner=owner,
            session_id=session_id,
            backend_name=backend,
            model=model,
            request=request,
            secrets=secrets,
            max_steps=request.max_steps or self.settings.agent_max_steps,
            terminate=terminate,
            created_at=time.time(),
            sampler=sampler,
        )
        if session_id in self._queues and self._queues[session_id][0].locked():
            task.status = TaskStatus.PENDING
        try:
            await self.rows.insert(
                task_id=task.id,
                session_id=session_id,
                owner_id=owner.id,
                status=task.status,
                backend=backend,
                model=model,
                instruction=request.instruction,
                params={**request.model_dump(by_alias=True, mode="json"), "secrets": secrets.public()},  # no secret values
                created_at=task.created_at,
            )
        except BaseException:
            if not request.session_id:  # the session made for this task would be left open, unused
                await self.browser.end_session(owner, session_id, SessionStatus.FAILED, "its task could not be recorded")
            raise
        # From here to the runner nothing awaits: the queue's count and the task are registered together.
        queue, users = self._queues.get(session_id) or (asyncio.Lock(), 0)
        self._queues[session_id] = (queue, users + 1)
        self._tasks[task.id] = task
        task.runner = asyncio.create_task(self._run(task, queue, starting_point), name=f"thinkrun-{task.id}")
        return TaskSubmitted(task_id=task.id, session_id=session_id, status=TaskStatus.STARTING, backend=backend)

    async def open_with_task(
        self,
        owner: Owner,
        initial: InitialTask,
        *,
        starting_point: str | None,
        viewport: Viewport | None,
        avoid_domains: list[str] | None,
        allow_domains: list[str] | None,
        sampler: Sampler | None = None,
        profile_id: str | None = None,
    ) -> SessionCreated:
        """session_create with an initialTask (WebRun): the session, its starting point, then the task in it."""
        request = initial.to_request()  # checked, with its backend's readiness, before any session exists
        if request is not None:
            self._backend(request, sampler)
        created = await self.browser.create_session(
            owner,
            starting_point=initial.starting_point or starting_point,
            viewport=viewport,
            avoid_domains=[*(avoid_domains or []), *initial.avoid_domains] or None,
            allow_domains=allow_domains,
            profile_id=profile_id,
        )
        if request is not None:
            try:
                submitted = await self.submit(
                    owner, request.model_copy(update={"session_id": created.session_id}), sampler=sampler
                )
            except ThinkRunError:
                await self.browser.end_session(
                    owner, created.session_id, SessionStatus.FAILED, "its initial task could not start"
                )
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
        finally:
            self._release(task)

    def _release(self, task: _Task) -> None:
        """Forget an ended task's queue when no task uses it, and old ended tasks (their rows stay)."""
        queue, users = self._queues.get(task.session_id, (None, 0))
        if users <= 1:
            self._queues.pop(task.session_id, None)
        else:
            self._queues[task.session_id] = (queue, users - 1)  # type: ignore[assignment]
        self._finished.append(task.id)
        while len(self._finished) > KEEP_FINISHED:
            self._tasks.pop(self._finished.popleft(), None)

    @staticmethod
    def _cancelled(task: _Task) -> Outcome:
        # A shutdown sets task.error first: that is a failure, not the client's cancel.
        if task.error:
            return Outcome(TaskStatus.FAILED, error=task.error)
        return Outcome(TaskStatus.CANCELLED, error="cancelled by the client")

    async def _attempt(self, task: _Task, starting_point: str | None) -> Outcome:
        backend: Backend | None = None
        task.status, task.started_at = TaskStatus.RUNNING, time.time()
        self.rows.update(task.id, status=task.status, started_at=task.started_at)
        try:
            async with asyncio.timeout(task.request.timeout_ms / 1000):
                async with self.browser.in_use(task.owner, task.session_id, avoid_domains=task.request.avoid_domains):
                    backend = await self.backends.make(
                        task.backend_name, task.sampler, redactor=self.browser.redactor(task.owner)
                    )
                    if starting_point:
                        await self.browser.navigate(task.owner, task.session_id, url=starting_point)
                    planner = Planner(
                        request=task.request,
                        secrets=task.secrets,
                        max_steps=task.max_steps,
                        backend=backend,
                        browser=self.browser,
                        owner=task.owner,
                        session_id=task.session_id,
                        on_step=lambda step: self._on_step(task, step),
                        on_model=lambda call: self._on_model(task, call),
                    )
                    try:
                        return await planner.run()
                    finally:
                        task.steps = planner.turns_taken
        except TimeoutError:
            return Outcome(TaskStatus.TIMEOUT, error=f"the task ran out of time ({task.request.timeout_ms} ms)")
        except ThinkRunError as exc:
            return Outcome(TaskStatus.FAILED, error=str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("task %s crashed", task.id)
            return Outcome(TaskStatus.FAILED, error=f"internal error: {type(exc).__name__}: {exc}")
        finally:
            if backend is not None:
                try:
                    await backend.close()
                except Exception:
                    log.debug("backend close failed", exc_info=True)

    async def _finish(self, task: _Task, outcome: Outcome) -> None:
        output = outcome.output
        if isinstance(output, str):
            output = self._redact(task, output)
        elif output is not None:
            output = json.loads(self._redact(task, json.dumps(output, ensure_ascii=False)))
        task.status, task.output, task.completed_at = outcome.status, output, time.time()
        task.error = self._redact(task, outcome.error) if outcome.error else None
        self.rows.update(task.id, status=task.status, output=task.output, error=task.error, completed_at=task.completed_at)
        try:
            if task.terminate and outcome.status != TaskStatus.CANCELLED:
                status = SessionStatus.COMPLETED if outcome.status == TaskStatus.COMPLETED else SessionStatus.TERMINATED
                reason = f"task {task.id} ended ({outcome.status}); terminateOnCompletion"
                await self.browser.end_session(task.owner, task.session_id, status, reason)
        finally:
            task.done.set()

    def _redact(self, task: _Task, text: str) -> str:
        return self.browser.redactor(task.owner).redact(text)

    def _usage(self, model: str, input_tokens: int, cached_input_tokens: int, output_tokens: int) -> TokenUsage:
        """Tokens and, when ``model`` has a price in the settings, their estimated cost."""
        price = self.settings.model_prices.get(model)
        cost = None
        if price is not None:
            cost = price.cost(input_tokens=input_tokens, cached_input_tokens=cached_input_tokens, output_tokens=output_tokens)
        return TokenUsage(
            input_tokens=input_tokens, cached_input_tokens=cached_input_tokens, output_tokens=output_tokens, cost_usd=cost
        )

    async def _on_model(self, task: _Task, call: ModelCall) -> None:
        """A model call: the task's totals, and an entry with its cost in the session's action log."""
        usage = self._usage(task.model, call.input_tokens, call.cached_input_tokens, call.output_tokens)
        task.input_tokens += call.input_tokens
        task.cached_input_tokens += call.cached_input_tokens
        task.output_tokens += call.output_tokens
        if usage.cost_usd is not None:
            task.cost_usd = round((task.cost_usd or 0) + usage.cost_usd, 8)
        self.rows.update(
            task.id,
            input_tokens=task.input_tokens,
            cached_input_tokens=task.cached_input_tokens,
            output_tokens=task.output_tokens,
            cost_usd=task.cost_usd,
        )
        details = {"taskId": task.id, "step": call.step, "model": task.model, "calls": call.calls}
        details.update(usage.model_dump(by_alias=True))
        try:
            await self.browser.log_action(task.owner, task.session_id, "model_call", details=details, duration_ms=call.model_ms)
        except ThinkRunError:
            log.debug("model call of task %s not logged: its session ended", task.id)

    async def _on_step(self, task: _Task, step: StepRecord) -> None:
        task.steps = step.step
        args = {k: (self._redact(task, v) if isinstance(v, str) else v) for k, v in step.args.items()}
        now = time.time()
        carries_model = step.input_tokens or step.output_tokens or step.model_ms
        usage = (
            self._usage(task.model, step.input_tokens, step.cached_input_tokens, step.output_tokens) if carries_model else None
        )
        self.rows.step(
            task.id,
            step=step.step,
            ts=now,
            action=step.action,
            args=args,
            outcome=step.outcome,
            success=step.success,
            url=step.url,
            duration_ms=step.duration_ms,
            model_ms=step.model_ms,
            input_tokens=step.input_tokens,
            output_tokens=step.output_tokens,
            prompt_chars=step.prompt_chars,
            cached_input_tokens=step.cached_input_tokens,
            cost_usd=usage.cost_usd if usage else None,
        )
        self.rows.update(task.id, steps=task.steps)
        task.recent.append(
            TaskStep(
                step=step.step,
                action=step.action,
                args=args,
                outcome=step.outcome,
                success=step.success,
                url=step.url,
                timestamp=ts(now),
                duration=step.duration_ms,
                usage=usage,
            )
        )
        del task.recent[:-LAST_STEPS]
        for listener in list(task.listeners):
            try:
                result = listener(step)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.debug("task step listener failed", exc_info=True)

    # -- reading, cancelling, waiting -----------------------------------------------------

    def held(self) -> int:
        """Tasks held in memory: running, queued, and the newest ended ones (the rest are read from the store)."""
        return len(self._tasks)

    def _own(self, owner: Owner, task_id: str) -> _Task | None:
        task = self._tasks.get(task_id)
        return task if task is not None and task.owner.id == owner.id else None

    async def status(self, owner: Owner, task_id: str) -> TaskInfo:
        """A task of this owner (``task_not_found`` for another owner's, as for none)."""
        task = self._own(owner, task_id)
        if task is not None:
            return TaskInfo(
                task_id=task.id,
                session_id=task.session_id,
                status=task.status,
                backend=task.backend_name,
                model=task.model,
                output=task.output,
                output_type=task.request.output_type,
                error=task.error,
                steps=task.steps,
                usage=_usage_of(task),
                created_at=ts(task.created_at),
                started_at=ts(task.started_at),
                completed_at=ts(task.completed_at),
                last_steps=list(task.recent),
            )
        row = await self.rows.get(task_id)
        if row is None or row.owner_id != owner.id:
            raise ThinkRunError("task_not_found", f"no task {task_id!r}", hint="agent_execute returns the taskId")
        steps = await self.rows.steps(task_id, last=LAST_STEPS)
        return TaskInfo(
            task_id=row.id,
            session_id=row.session_id,
            status=row.status,
            backend=row.backend,
            model=row.model,
            output=row.output,
            output_type=row.params.get("outputType", "text"),
            error=row.error,
            steps=row.steps,
            usage=_usage_of(row),
            created_at=ts(row.created_at),
            started_at=ts(row.started_at),
            completed_at=ts(row.completed_at),
            last_steps=[
                TaskStep(
                    step=s.step,
                    action=s.action,
                    args=s.args,
                    outcome=s.outcome,
                    success=s.success,
                    url=s.url,
                    timestamp=ts(s.ts),
                    duration=s.duration_ms,
                    usage=_usage_of(s) if s.input_tokens or s.output_tokens or s.model_ms else None,
                )
                for s in steps
            ],
        )

    async def cancel(self, owner: Owner, task_id: str) -> TaskInfo:
        task = self._own(owner, task_id)
        if task is None:
            await self.status(owner, task_id)  # raises task_not_found for unknown ids
            raise ThinkRunError("invalid_input", f"task {task_id} has already ended", hint="agent_status shows its result")
        if task.status.is_terminal:
            raise ThinkRunError(
                "invalid_input", f"task {task_id} has already ended ({task.status})", hint="agent_status shows its result"
            )
        if task.runner is not None:
            task.runner.cancel()
        await task.done.wait()
        return await self.status(owner, task_id)

    async def wait(self, owner: Owner, task_id: str, on_step: Callable[[StepRecord], Any] | None = None) -> TaskInfo:
        task = self._own(owner, task_id)
        if task is None:
            return await self.status(owner, task_id)
        if on_step is not None:
            task.listeners.append(on_step)
        try:
            await task.done.wait()
        finally:
            if on_step is not None and on_step in task.listeners:
                task.listeners.remove(on_step)
        return await self.status(owner, task_id)


def _usage_of(counted: _Task | TaskRow | TaskStepRow) -> TokenUsage:
    """The tokens and cost a task (in memory or stored) or a stored step carries."""
    return TokenUsage(
        input_tokens=counted.input_tokens,
        cached_input_tokens=counted.cached_input_tokens,
        output_tokens=counted.output_tokens,
        cost_usd=counted.cost_usd,
    )
