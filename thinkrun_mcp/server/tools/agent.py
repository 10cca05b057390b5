"""agent_execute, agent_status, agent_cancel."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from ...agent.planner import StepRecord
from ...models import (
    DEFAULT_TIMEOUT_MS,
    BackendName,
    Instruction,
    MaxSteps,
    OutputType,
    SecretSpec,
    TaskInfo,
    TaskRequest,
    TaskUrl,
    TimeoutMs,
    TokenBudget,
)
from ...text import clip, safe_text
from ..app import Ctx, owner_of, redactor_of, respond, runtime_of, terse, tool
from ..params import Domains, OptionalSessionId, TaskId
from ..sampling import ClientSampler

__all__ = ["TOOLS"]


def _task_text(t: TaskInfo) -> str:
    u = t.usage
    cost = f", about ${u.cost_usd:.4f}" if u.cost_usd is not None else ""
    lines = [
        f"Task {t.task_id} ({t.backend}) on session {t.session_id}: {t.status}, {t.steps} steps, "
        f"{u.input_tokens}+{u.output_tokens} tokens ({u.cached_input_tokens} input tokens cached){cost}"
    ]
    if t.error:
        lines.append(f"Error: {t.error}")
    if t.output is not None:
        import json

        out = t.output if isinstance(t.output, str) else json.dumps(t.output, ensure_ascii=False, indent=1)
        lines.append(f"Output:\n{out}")
    if t.last_steps:
        lines.append("Last steps:")
        lines.extend(f"  {s.step}. {s.action}: {s.outcome[:160]}" for s in t.last_steps)
    return "\n".join(lines)


@tool(
    description=(
        "Run a browser task with an LLM: backend gemini, claude, openai (also local OpenAI-compatible servers) or "
        "sampling (your own model, through MCP sampling); default: the server's. Returns a taskId at once (poll agent_status) "
        "or, with wait=true, the result. secrets: [{match: host pattern, fields: {name: value}}] reach pages, "
        "never the model. "
        'Example: {"instruction": "Find the price of Blue Widget", "startingPoint": "https://shop.example"}'
    ),
    annotations=ToolAnnotations(openWorldHint=True, destructiveHint=True),
)
async def agent_execute(
    ctx: Ctx,
    instruction: Instruction,
    backend: BackendName | None = None,
    timeout_ms: TimeoutMs = DEFAULT_TIMEOUT_MS,
    session_id: Annotated[OptionalSessionId, Field(description="Queue in this session.")] = None,
    profile_id: Annotated[str | None, Field(max_length=100, description="A new session's profile.")] = None,
    starting_point: TaskUrl | None = None,
    avoid_domains: Domains = None,
    secrets: Annotated[list[terse(SecretSpec)] | None, Field(max_length=50)] = None,
    output_type: OutputType = "text",
    output_schema: Annotated[dict[str, Any] | None, Field(description="JSON Schema for structured_json.")] = None,
    max_steps: MaxSteps | None = None,
    max_input_tokens: TokenBudget | None = None,
    max_output_tokens: TokenBudget | None = None,
    terminate_on_completion: bool | None = None,
    wait: bool = False,
) -> Annotated[CallToolResult, TaskInfo]:
    rt = runtime_of(ctx)
    # The arguments' limits are TaskRequest's own (the types above); building it runs the checks across fields.
    request = TaskRequest(
        instruction=instruction,
        backend=backend,
        timeout_ms=timeout_ms,
        session_id=session_id,
        profile_id=profile_id,
        starting_point=starting_point,
        avoid_domains=avoid_domains or [],
        secrets=secrets,
        output_type=output_type,
        output_schema=output_schema,
        max_steps=max_steps,
        max_input_tokens=max_input_tokens,
        max_output_tokens=max_output_tokens,
        terminate_on_completion=terminate_on_completion,
    )
    owner = owner_of(ctx)
    submitted = await rt.tasks.submit(owner, request, sampler=ClientSampler(ctx))
    if not wait:
        info = await rt.tasks.status(owner, submitted.task_id)
        text = (
            f"Task {info.task_id} is {info.status} on session {info.session_id} with {info.backend}; "
            "poll agent_status with its taskId."
        )
        return respond(info, text)
    total = float(max_steps or rt.settings.agent_max_steps)
    redactor = redactor_of(ctx)

    async def progress(step: StepRecord) -> None:
        message = clip(redactor.redact(safe_text(f"step {step.step}: {step.action} — {step.outcome}")), 300)
        await ctx.report_progress(step.step, total, message)

    info = await rt.tasks.wait(owner, submitted.task_id, progress)
    return respond(info, _task_text(info))


@tool(
    description="Status of an agent task: status, output, error, steps, token usage and estimated cost, times and the last steps.",
    annotations=ToolAnnotations(readOnlyHint=True),
)
async def agent_status(ctx: Ctx, task_id: TaskId) -> Annotated[CallToolResult, TaskInfo]:
    info = await runtime_of(ctx).tasks.status(owner_of(ctx), task_id)
    return respond(info, _task_text(info))


@tool(description="Cancel a running or queued agent task; its session stays usable.")
async def agent_cancel(ctx: Ctx, task_id: TaskId) -> Annotated[CallToolResult, TaskInfo]:
    info = await runtime_of(ctx).tasks.cancel(owner_of(ctx), task_id)
    return respond(info, _task_text(info))


TOOLS = [agent_execute, agent_status, agent_cancel]
