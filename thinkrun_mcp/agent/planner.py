"""The planner loop: observe → ask the model → execute its tool calls → record → repeat.

It ends when the model calls ``done(output)`` (the output checked against the
task's outputType) or ``fail(reason)``, or when the step limit or a token
budget runs out; the caller (``tasks.py``) adds the timeout and cancellation.

Every browser action goes through :class:`~thinkrun_mcp.browser.service.BrowserService`,
the same service as the MCP tools, so the URL policy, action log, dialog
handling and redaction all apply. The context stays small: the latest tool
result carries the page observation; older results shrink to their one-line
outcome. Page content is untrusted: the system prompt says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..browser.service import BrowserService
from ..errors import ThinkRunError
from ..models import Owner, TaskRequest, TaskStatus
from ..schema import first_error
from .backends import Backend, ToolCall, ToolResult, Turn
from .output import OutputInvalid, finalize
from .prompts import AGENT_TOOLS, SYSTEM_PROMPT, TOOL_VALIDATORS, TOOLS_BY_NAME
from .secrets import Secrets

__all__ = ["AGENT_TOOLS", "Outcome", "Planner", "StepRecord"]

log = logging.getLogger(__name__)

OBSERVATION_CHARS = 7_000  # per step; the whole prompt stays around 10k characters
EXTRACT_CHARS = 8_000
EXTRACT_KEEP = 1_500  # chars of an older extract result kept in the context
MAX_MALFORMED = 3  # consecutive turns without a usable tool call
MAX_OUTPUT_RETRIES = 3
MAX_OUTPUT_TOKENS_PER_TURN = 4_096


@dataclass(slots=True)
class Outcome:
    status: TaskStatus
    output: Any = None
    error: str | None = None


@dataclass(slots=True)
class StepRecord:
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


@dataclass(slots=True)
class _Executed:
    content: str
    summary: str
    is_error: bool = False
    image: bytes | None = None
    url: str | None = None
    shows_page: bool = False


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
    ):
        self.request = request
        self.secrets = secrets
        self.max_steps = max_steps
        self.backend = backend
        self.browser = browser
        self.owner = owner
        self.session_id = session_id
        self.on_step = on_step
        self.input_tokens = 0
        self.output_tokens = 0
        self.turns_taken = 0
        self.turns: list[Turn] = []
        self._summaries: dict[str, str] = {}
        self._page_calls: set[str] = set()  # calls whose result shows the page (an observation)
        self._initial_summary = ""

    # -- prompt ---------------------------------------------------------------------------

    def system_prompt(self) -> str:
        parts = [SYSTEM_PROMPT]
        t = self.request.output_type
        if t == "structured_json":
            import json

            parts.append(
                "Output: call done with output set to JSON (no prose, no code fences) that matches this JSON Schema:\n"
                + json.dumps(self.request.output_schema, ensure_ascii=False)
            )
        elif t == "structured_csv":
            parts.append("Output: call done with output set to CSV text: a header row, then one row per record.")
        else:
            parts.append("Output: call done with a short plain-text answer that states the result.")
        if self.secrets:
            parts.append(
                "Secrets: type these placeholders as act values where credentials are needed; the real values are filled "
                "in for you and you will never see them:\n" + self.secrets.describe()
            )
        if self.request.avoid_domains:
            parts.append("These domains are blocked for this task: " + ", ".join(self.request.avoid_domains))
        return "\n\n".join(parts)

    def context(self) -> list[Turn]:
        """The conversation as sent: older tool results shrink to their summaries.

        Kept in full: the newest tool turn, and the newest result that shows the page
        (after an extract, the model still needs the refs of the last observation).
        """
        last_tool = max((i for i, t in enumerate(self.turns) if t.role == "tool"), default=-1)
        last_page = next(
            (
                r.call_id
                for t in reversed(self.turns)
                if t.role == "tool"
                for r in reversed(t.results)
                if r.call_id in self._page_calls
            ),
            None,
        )
        out = []
        for i, turn in enumerate(self.turns):
            if i == 0 and last_page is not None and self._initial_summary:
                out.append(Turn(role="user", text=self._initial_summary))
            elif turn.role == "tool" and i != last_tool:
                out.append(
                    Turn(
                        role="tool",
                        results=[
                            r
                            if r.call_id == last_page
                            else ToolResult(
                                call_id=r.call_id,
                                name=r.name,
                                content=self._summaries.get(r.call_id, r.content),
                                is_error=r.is_error,
                            )
                            for r in turn.results
                        ],
                    )
                )
            else:
                out.append(turn)
        return out

    # -- the loop -------------------------------------------------------------------------

    async def run(self) -> Outcome:
        obs = await self.browser.observe(self.owner, self.session_id)
        task = f"Task:\n{self.request.instruction}"
        self.turns.append(Turn(role="user", text=f"{task}\n\nThe browser now shows:\n{obs.text}"))
        self._initial_summary = f"{task}\n\n(The first observation is omitted; see the latest tool result.)"
        malformed = 0
        output_retries = 0
        system = self.system_prompt()
        while True:
            if self.turns_taken >= self.max_steps:
                return Outcome(TaskStatus.FAILED, error=f"stopped after the maximum of {self.max_steps} steps without finishing")
            budget = self._token_budget_left()
            if budget is not None:
                return Outcome(TaskStatus.FAILED, error=budget)
            turns = self.context()
            prompt_chars = len(system) + sum(_turn_chars(t) for t in turns)
            max_out = MAX_OUTPUT_TOKENS_PER_TURN
            if self.request.max_output_tokens is not None:
                max_out = max(1, min(max_out, self.request.max_output_tokens - self.output_tokens))
            t0 = time.perf_counter()
            reply = await self.backend.complete(system=system, turns=turns, tools=AGENT_TOOLS, max_output_tokens=max_out)
            model_ms = int((time.perf_counter() - t0) * 1000)
            self.turns_taken += 1
            self.input_tokens += reply.input_tokens
            self.output_tokens += reply.output_tokens
            step = self.turns_taken
            self.turns.append(Turn(role="assistant", text=reply.text, tool_calls=reply.tool_calls, native=reply.native))

            if not reply.tool_calls:
                malformed += 1
                await self._record(
                    step, "none", {}, "the model answered without calling a tool", False, None, 0, model_ms, reply, prompt_chars
                )
                if malformed >= MAX_MALFORMED:
                    return Outcome(TaskStatus.FAILED, error=f"the model stopped calling tools ({malformed} times in a row)")
                self.turns.append(
                    Turn(
                        role="user",
                        text="Call one of the tools. When the task is complete, call done(output); if it is impossible, call fail(reason).",
                    )
                )
                continue

            results: list[ToolResult] = []
            finished: Outcome | None = None
            turn_malformed = False
            for i, call in enumerate(reply.tool_calls):
                if finished is not None:
                    results.append(
                        ToolResult(call_id=call.id, name=call.name, content="not run: the task already ended", is_error=True)
                    )
                    continue
                problem = _check_call(call)
                if problem:
                    turn_malformed = True
                    results.append(ToolResult(call_id=call.id, name=call.name, content=problem, is_error=True))
                    self._summaries[call.id] = problem
                    await self._record(
                        step,
                        call.name,
                        call.args,
                        problem,
                        False,
                        None,
                        0,
                        model_ms if i == 0 else 0,
                        reply if i == 0 else None,
                        prompt_chars,
                    )
                    continue
                if call.name == "done":
                    try:
                        output = finalize(self.request.output_type, self.request.output_schema, call.args.get("output"))
                    except OutputInvalid as exc:
                        output_retries += 1
                        message = f"{exc}. Fix the output and call done again."
                        results.append(ToolResult(call_id=call.id, name="done", content=message, is_error=True))
                        self._summaries[call.id] = str(exc)
                        await self._record(
                            step,
                            "done",
                            {},
                            str(exc),
                            False,
                            None,
                            0,
                            model_ms if i == 0 else 0,
                            reply if i == 0 else None,
                            prompt_chars,
                        )
                        if output_retries >= MAX_OUTPUT_RETRIES:
                            return Outcome(
                                TaskStatus.FAILED,
                                error=f"the output did not fit outputType {self.request.output_type} after {output_retries} attempts: {exc}",
                            )
                        continue
                    await self._record(
                        step,
                        "done",
                        {},
                        "task completed",
                        True,
                        None,
                        0,
                        model_ms if i == 0 else 0,
                        reply if i == 0 else None,
                        prompt_chars,
                    )
                    finished = Outcome(TaskStatus.COMPLETED, output=output)
                    results.append(ToolResult(call_id=call.id, name="done", content="ok"))
                    continue
                if call.name == "fail":
                    reason = str(call.args.get("reason") or "no reason given")[:2000]
                    await self._record(
                        step,
                        "fail",
                        {"reason": reason},
                        reason,
                        True,
                        None,
                        0,
                        model_ms if i == 0 else 0,
                        reply if i == 0 else None,
                        prompt_chars,
                    )
                    finished = Outcome(TaskStatus.FAILED, error=f"the agent gave up: {reason}")
                    results.append(ToolResult(call_id=call.id, name="fail", content="ok"))
                    continue
                started = time.perf_counter()
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
                self._summaries[call.id] = executed.summary
                if executed.shows_page:
                    self._page_calls.add(call.id)
                await self._record(
                    step,
                    call.name,
                    call.args,
                    executed.summary,
                    not executed.is_error,
                    executed.url,
                    duration,
                    model_ms if i == 0 else 0,
                    reply if i == 0 else None,
                    prompt_chars,
                )
            self.turns.append(Turn(role="tool", results=results))
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
        self,
        step: int,
        action: str,
        args: dict[str, Any],
        outcome: str,
        success: bool,
        url: str | None,
        duration_ms: int,
        model_ms: int,
        reply: Any,
        prompt_chars: int,
    ) -> None:
        if self.on_step is None:
            return
        await self.on_step(
            StepRecord(
                step=step,
                action=action,
                args=args,
                outcome=self._redact(outcome)[:2000],
                success=success,
                url=url,
                duration_ms=duration_ms,
                model_ms=model_ms,
                input_tokens=reply.input_tokens if reply is not None else 0,
                output_tokens=reply.output_tokens if reply is not None else 0,
                prompt_chars=prompt_chars if reply is not None else 0,
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
            if call.name == "navigate":
                r = await b.navigate(o, s, url=str(a["url"]), observe_chars=OBSERVATION_CHARS)
                line = f"navigated to {r.url}" + (f" (HTTP {r.status})" if r.status else "")
                return self._page_result(line, r.events, r.observation.text, r.url)
            if call.name == "go_back":
                r = await b.navigate(o, s, url=None, action="back", observe_chars=OBSERVATION_CHARS)
                return self._page_result(f"went back to {r.url}", r.events, r.observation.text, r.url)
            if call.name == "act":
                method = str(a["method"])
                value = a.get("value")
                if value is not None:
                    value = self.secrets.substitute(str(value), await b.page_url(o, s))
                r = await b.act(o, s, method=method, ref=a.get("ref"), value=value, observe_chars=OBSERVATION_CHARS)
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
                content = (r.content or "(empty)") + more
                # Extracted data stays in the context (bounded); observations are what gets dropped.
                kept = content if len(content) <= EXTRACT_KEEP else content[:EXTRACT_KEEP] + f"… [cut; {len(content)} chars]"
                return _Executed(content=content, summary=f"extracted {r.format}:\n{kept}", url=r.url)
            if call.name == "observe":
                seen = await b.observe(o, s, scope="page", cursor=int(a.get("cursor") or 0), max_chars=OBSERVATION_CHARS)
                return _Executed(content=seen.text, summary="observed the page", url=seen.url, shows_page=True)
            if call.name == "screenshot":
                shot, data = await b.screenshot(o, s, max_dimension=1280)
                return _Executed(
                    content=f"screenshot {shot.width}x{shot.height} attached", summary="took a screenshot", image=data
                )
        except ThinkRunError as exc:
            text = self._redact(str(exc))
            return _Executed(content=f"error: {text}", summary=f"error: {text[:300]}", is_error=True)
        raise AssertionError(f"unhandled tool {call.name}")

    def _page_result(self, line: str, events: list[Any], observation: str, url: str) -> _Executed:
        extra = "".join(f"\n- {e.kind}: {e.message}" for e in events)
        return _Executed(
            content=f"{line}{extra}\n\n{observation}",
            summary=line + (f" ({len(events)} events)" if events else ""),
            url=url,
            shows_page=True,
        )


def _check_call(call: ToolCall) -> str | None:
    """Why a tool call cannot run (unknown tool, bad arguments), or None."""
    spec = TOOLS_BY_NAME.get(call.name)
    if spec is None:
        return f"unknown tool {call.name!r}; the tools are: {', '.join(TOOLS_BY_NAME)}"
    if not isinstance(call.args, dict):
        return f"arguments of {call.name} must be an object"
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
