"""The planner loop: observe → ask the model → execute its tool calls → record → repeat.

It ends when the model calls ``done(output)`` (the output checked against the
task's outputType) or ``fail(reason)``, or when the step limit or a token
budget runs out; the caller (``tasks.py``) adds the timeout and cancellation.

Every browser action goes through :class:`~thinkrun_mcp.browser.service.BrowserService`,
the same service as the MCP tools, so the URL policy, action log, dialog
handling and redaction all apply. What the model is sent each step, and how it
stays small, is :class:`~thinkrun_mcp.agent.context.Conversation`'s job. Page
content is untrusted: it reaches the model fenced, and the rules that matter
(avoided domains, secrets bound to hosts) are enforced in code, not asked of the model.
"""

from __future__ import annotations

import functools
import logging
import secrets as random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..browser.service import BrowserService
from ..errors import ThinkRunError
from ..models import Owner, TaskRequest, TaskStatus
from ..schema import first_error
from .backends import Backend, ModelReply, ToolCall, ToolResult, Turn
from .context import EXTRACT_KEEP, Conversation
from .output import OutputInvalid, finalize
from .prompts import AGENT_TOOLS, SYSTEM_PROMPT, TOOL_VALIDATORS, TOOLS_BY_NAME, TOOLS_CHARS, fence, neutral, task_message
from .secrets import PLACEHOLDER, Secrets

__all__ = ["AGENT_TOOLS", "ModelCall", "Outcome", "Planner", "StepRecord"]

log = logging.getLogger(__name__)

OBSERVATION_CHARS = 7_000  # per step
EXTRACT_CHARS = 8_000
MAX_MALFORMED = 3  # consecutive turns without a usable tool call
MAX_OUTPUT_RETRIES = 3
MAX_OUTPUT_TOKENS_PER_TURN = 4_096
NUDGE = "Call one of the tools. When the task is complete, call done(output); if it is impossible, call fail(reason)."


@dataclass(slots=True)
class Outcome:
    status: TaskStatus
    output: Any = None
    error: str | None = None


@dataclass(slots=True)
class ModelCall:
    """One request to the model and what it cost."""

    step: int
    model_ms: int
    input_tokens: int  # all of them, cached ones included
    cached_input_tokens: int
    output_tokens: int
    prompt_chars: int
    calls: list[str]  # the tools it called


@dataclass(slots=True)
class StepRecord:
    """One tool call of a step (a step without calls is one record, action ``none``).

    The first record of a step carries its model call's figures; the others carry zeros.
    """

    step: int
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
    cached_input_tokens: int = 0


@dataclass(slots=True)
class _Executed:
    content: str
    summary: str
    is_error: bool = False
    image: bytes | None = None
    url: str | None = None
    shows_page: bool = False
    kept: str | None = None  # data kept in the context once the result is old
    finished: Outcome | None = None


class Planner:
    def __init__(
        self,
        *,
        request: TaskRequest,
        secrets: Secrets,
        max_steps: int,
        backend: Backend,
        browser: BrowserService,
        owner: Owner,
        session_id: str,
        on_step: Callable[[StepRecord], Awaitable[None]] | None = None,
        on_model: Callable[[ModelCall], Awaitable[None]] | None = None,
    ):
        self.request = request
        self.secrets = secrets
        self.max_steps = max_steps
        self.backend = backend
        self.browser = browser
        self.owner = owner
        self.session_id = session_id
        self.on_step = on_step
        self.on_model = on_model
        self.input_tokens = 0
        self.cached_input_tokens = 0
        self.output_tokens = 0
        self.turns_taken = 0
        self.tag = random.token_hex(4)  # names this task's page-data fences; never shown to a page
        self.conversation: Conversation | None = None
        self._output_retries = 0

    def task_message(self) -> str:
        r = self.request
        return task_message(
            r.instruction,
            output_type=r.output_type,
            output_schema=r.output_schema,
            secrets=self.secrets.describe() if self.secrets else "",
            avoid_domains=r.avoid_domains,
        )

    # -- the loop -------------------------------------------------------------------------

    async def run(self) -> Outcome:
        obs = await self.browser.observe(self.owner, self.session_id)
        convo = self.conversation = Conversation(self.task_message(), obs.text, tag=self.tag)
        malformed = 0
        while True:
            if self.turns_taken >= self.max_steps:
                return Outcome(TaskStatus.FAILED, error=f"stopped after the maximum of {self.max_steps} steps without finishing")
            budget = self._token_budget_left()
            if budget is not None:
                return Outcome(TaskStatus.FAILED, error=budget)
            turns = convo.context()
            prompt_chars = len(SYSTEM_PROMPT) + TOOLS_CHARS + sum(_turn_chars(t) for t in turns)
            max_out = MAX_OUTPUT_TOKENS_PER_TURN
            if self.request.max_output_tokens is not None:
                max_out = max(1, min(max_out, self.request.max_output_tokens - self.output_tokens))
            t0 = time.perf_counter()
            reply = await self.backend.complete(system=SYSTEM_PROMPT, turns=turns, tools=AGENT_TOOLS, max_output_tokens=max_out)
            model_ms = int((time.perf_counter() - t0) * 1000)
            self.turns_taken += 1
            self.input_tokens += reply.input_tokens
            self.cached_input_tokens += reply.cached_input_tokens
            self.output_tokens += reply.output_tokens
            step = convo.reply(Turn(role="assistant", text=reply.text, tool_calls=reply.tool_calls, native=reply.native))
            if self.on_model is not None:
                await self.on_model(
                    ModelCall(
                        step=step,
                        model_ms=model_ms,
                        input_tokens=reply.input_tokens,
                        cached_input_tokens=reply.cached_input_tokens,
                        output_tokens=reply.output_tokens,
                        prompt_chars=prompt_chars,
                        calls=[c.name for c in reply.tool_calls],
                    )
                )
            model = _ModelFigures(reply, model_ms, prompt_chars)

            if not reply.tool_calls:
                malformed += 1
                await self._record(step, "none", {}, _Executed("", "the model answered without calling a tool", True), 0, model)
                if malformed >= MAX_MALFORMED:
                    return Outcome(TaskStatus.FAILED, error=f"the model stopped calling tools ({malformed} times in a row)")
                convo.nudge(NUDGE)
                continue

            results: list[ToolResult] = []
            finished: Outcome | None = None
            turn_malformed = False
            for call in reply.tool_calls:
                if finished is not None:
                    results.append(
                        ToolResult(call_id=call.id, name=call.name, content="not run: the task already ended", is_error=True)
                    )
                    continue
                problem = _check_call(call)
                started = time.perf_counter()
                if problem:
                    turn_malformed = True
                    executed = _Executed(problem, problem, is_error=True)
                else:
                    executed = await self._execute(call)
                duration = int((time.perf_counter() - started) * 1000)
                results.append(
                    ToolResult(
                        call_id=call.id,
                        name=call.name,
                        content=executed.content,
                        is_error=executed.is_error,
                        image_png=executed.image,
                    )
                )
                convo.outcome(call.id, executed.summary, kept=executed.kept, shows_page=executed.shows_page)
                args = {} if call.name == "done" else call.args
                await self._record(step, call.name, args, executed, duration if not problem else 0, model)
                model = None  # the step's model figures go with its first call only
                if executed.finished is not None:
                    finished = executed.finished
                    if finished.status == TaskStatus.FAILED and call.name == "done":
                        return finished  # the output kept failing its type
            convo.results(results)
            if finished is not None:
                return finished
            malformed = malformed + 1 if turn_malformed and all(r.is_error for r in results) else 0
            if malformed >= MAX_MALFORMED:
                return Outcome(
                    TaskStatus.FAILED,
                    error=f"the model kept calling tools wrongly ({malformed} turns in a row); last: {results[-1].content}",
                )

    def _token_budget_left(self) -> str | None:
        s = self.request
        if s.max_input_tokens is not None and self.input_tokens >= s.max_input_tokens:
            return f"input token budget exhausted: {self.input_tokens:,} of {s.max_input_tokens:,} used"
        if s.max_output_tokens is not None and self.output_tokens >= s.max_output_tokens:
            return f"output token budget exhausted: {self.output_tokens:,} of {s.max_output_tokens:,} used"
        return None

    async def _record(
        self, step: int, action: str, args: dict[str, Any], executed: _Executed, duration_ms: int, model: _ModelFigures | None
    ) -> None:
        if self.on_step is None:
            return
        await self.on_step(
            StepRecord(
                step=step,
                action=action,
                args=args,
                outcome=self._redact(executed.summary)[:2000],
                success=not executed.is_error,
                url=executed.url,
                duration_ms=duration_ms,
                model_ms=model.model_ms if model else 0,
                input_tokens=model.reply.input_tokens if model else 0,
                output_tokens=model.reply.output_tokens if model else 0,
                prompt_chars=model.prompt_chars if model else 0,
                cached_input_tokens=model.reply.cached_input_tokens if model else 0,
            )
        )

    # -- executing one call ---------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return self.browser.redactor(self.owner).redact(text)

    async def _execute(self, call: ToolCall) -> _Executed:
        a = call.args
        s, b = self.session_id, self.browser
        o = self.owner
        try:
            if call.name in ("done", "fail", "note"):
                return self._own_tool(call)
            if call.name == "navigate":
                r = await b.navigate(o, s, url=str(a["url"]), observe_chars=OBSERVATION_CHARS)
                line = f"navigated to {r.url}" + (f" (HTTP {r.status})" if r.status else "")
                return self._page_result(line, r.events, r.observation.text, r.url)
            if call.name == "go_back":
                r = await b.navigate(o, s, url=None, action="back", observe_chars=OBSERVATION_CHARS)
                return self._page_result(f"went back to {r.url}", r.events, r.observation.text, r.url)
            if call.name == "act":
                method = str(a["method"])
                value = None if a.get("value") is None else str(a["value"])
                fill_in = None
                if value is not None and PLACEHOLDER.search(value):
                    if not a.get("ref"):
                        raise ThinkRunError("invalid_input", "a secret can only be typed into an element given by its ref")
                    # Bound to the host of the field's own document, checked when the value is typed.
                    fill_in = functools.partial(self.secrets.substitute, value)
                r = await b.act(
                    o, s, method=method, ref=a.get("ref"), value=value, value_for=fill_in, observe_chars=OBSERVATION_CHARS
                )
                line = f"{method} on {r.ref or 'the page'} done" + (f"; now at {r.url}" if r.navigated else "")
                return self._page_result(line, r.events, r.observation.text, r.url)
            if call.name == "scroll":
                ref = a.get("ref")
                r = await b.act(
                    o,
                    s,
                    method="scroll",
                    ref=ref,
                    value=None if ref else str(a.get("direction") or "down"),
                    observe_chars=OBSERVATION_CHARS,
                )
                return self._page_result(
                    f"scrolled {'to ' + ref if ref else a.get('direction') or 'down'}", r.events, r.observation.text, r.url
                )
            if call.name == "wait":
                value = f"text={a['text']}" if a.get("text") else str(min(int(a.get("ms") or 1000), 10_000))
                r = await b.act(o, s, method="wait", value=value, observe_chars=OBSERVATION_CHARS)
                return self._page_result("waited", r.events, r.observation.text, r.url)
            if call.name == "switch_tab":
                r = await b.act(o, s, method="switch_tab", value=str(a["tab"]), observe_chars=OBSERVATION_CHARS)
                return self._page_result(f"tab {a['tab']} is active", r.events, r.observation.text, r.url)
            if call.name == "extract":
                r = await b.extract(
                    o, s, format=a["format"], ref=a.get("ref"), cursor=int(a.get("cursor") or 0), max_chars=EXTRACT_CHARS
                )
                more = f"\n[{r.total_chars} chars in all; continue with cursor={r.cursor}]" if r.cursor is not None else ""
                content = r.content or "(empty)"
                kept = content if len(content) <= EXTRACT_KEEP else content[:EXTRACT_KEEP] + f"… [cut; {len(content)} chars]"
                return _Executed(
                    content=f"extracted {r.format}:\n{fence(content, self.tag)}{more}",
                    summary=f"extracted {r.format}",
                    url=r.url,
                    kept=kept,
                )
            if call.name == "observe":
                seen = await b.observe(o, s, scope="page", cursor=int(a.get("cursor") or 0), max_chars=OBSERVATION_CHARS)
                return _Executed(content=fence(seen.text, self.tag), summary="observed the page", url=seen.url, shows_page=True)
            if call.name == "screenshot":
                shot, data = await b.screenshot(o, s, max_dimension=1280)
                return _Executed(
                    content=f"screenshot {shot.width}x{shot.height} attached", summary="took a screenshot", image=data
                )
        except ThinkRunError as exc:
            text = neutral(self._redact(str(exc)))
            return _Executed(content=f"error: {text}", summary=f"error: {text[:300]}", is_error=True)
        raise AssertionError(f"unhandled tool {call.name}")

    def _own_tool(self, call: ToolCall) -> _Executed:
        """The tools that do not touch the browser: note, done, fail."""
        if call.name == "note":
            text = str(call.args.get("text", ""))
            full = self.conversation.note(text) if self.conversation is not None else None
            if full:
                return _Executed(content=f"error: {full}", summary=f"error: {full}", is_error=True)
            return _Executed(content="noted", summary=f"noted ({len(text):,} chars)")
        if call.name == "fail":
            reason = str(call.args.get("reason") or "no reason given")[:2000]
            return _Executed(
                content="ok", summary=reason, finished=Outcome(TaskStatus.FAILED, error=f"the agent gave up: {reason}")
            )
        try:
            output = finalize(self.request.output_type, self.request.output_schema, call.args.get("output"))
        except OutputInvalid as exc:
            self._output_retries += 1
            failed = None
            if self._output_retries >= MAX_OUTPUT_RETRIES:
                failed = Outcome(
                    TaskStatus.FAILED,
                    error=f"the output did not fit outputType {self.request.output_type} after {self._output_retries} attempts: {exc}",
                )
            return _Executed(f"{exc}. Fix the output and call done again.", str(exc), is_error=True, finished=failed)
        return _Executed(content="ok", summary="task completed", finished=Outcome(TaskStatus.COMPLETED, output=output))

    def _page_result(self, line: str, events: list[Any], observation: str, url: str) -> _Executed:
        extra = "".join(f"- {e.kind}: {e.message}\n" for e in events)
        return _Executed(
            content=f"{neutral(line)}\n{fence(extra + observation, self.tag)}",
            summary=line + (f" ({len(events)} events)" if events else ""),
            url=url,
            shows_page=True,
        )


@dataclass(slots=True)
class _ModelFigures:
    reply: ModelReply
    model_ms: int
    prompt_chars: int


def _check_call(call: ToolCall) -> str | None:
    """Why a tool call cannot run (unknown tool, bad arguments), or None."""
    spec = TOOLS_BY_NAME.get(call.name)
    if spec is None:
        return f"unknown tool {call.name!r}; the tools are: {', '.join(TOOLS_BY_NAME)}"
    if call.invalid or not isinstance(call.args, dict):
        return f"arguments of {call.name} must be a JSON object" + (f": {call.invalid}" if call.invalid else "")
    problem = first_error(TOOL_VALIDATORS[call.name], call.args, root="arguments")
    if problem is not None:
        return f"bad arguments for {call.name}: {problem}"
    if call.name == "act" and call.args.get("method") != "press" and not call.args.get("ref"):
        return f"act with method {call.args.get('method')!r} needs a ref from the observation"
    return None


def _turn_chars(turn: Turn) -> int:
    n = len(turn.text)
    n += sum(len(c.name) + len(str(c.args)) for c in turn.tool_calls)
    n += sum(len(r.content) for r in turn.results)
    return n
