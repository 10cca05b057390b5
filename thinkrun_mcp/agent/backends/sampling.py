"""The calling MCP client's own model, asked through ``sampling/createMessage`` with tools.

No key lives in the server: the client chooses the model, may show the request to
its user, and answers with text and ``tool_use`` blocks. The agent layer does not
know the MCP server: the tool that starts the task hands it a :class:`Sampler`
(built from the request's session), which outlives the tool call, because the task
runs on after ``agent_execute`` returns.

Only connections made with the initialize handshake (protocol 2025-11-25 and
older) carry server→client requests; the 2026-07-28 protocol allows none outside a
tool call's own exchange, so a task cannot sample there (``Sampler.unavailable``
says so before the task starts). The client reports no token usage: the task's
token counts stay 0, and a task on this backend refuses token budgets.
"""

from __future__ import annotations

import base64
from typing import Any, Protocol

import anyio
from mcp.shared.exceptions import MCPError, NoBackChannelError
from mcp.types import (
    CONNECTION_CLOSED,
    CreateMessageRequestParams,
    CreateMessageResultWithTools,
    ImageContent,
    SamplingMessage,
    SamplingMessageContentBlock,
    TextContent,
    Tool,
    ToolResultContent,
    ToolUseContent,
)
from pydantic import ValidationError

from ...errors import ThinkRunError
from .base import Backend, ModelReply, ToolCall, ToolSpec, Turn

__all__ = ["Sampler", "SamplingBackend", "to_messages"]

OTHER_BACKENDS = "choose backend gemini, claude or openai (with its key in the server's environment or .env)"


class Sampler(Protocol):
    """The calling client's model, as the server layer hands it down."""

    @property
    def client_name(self) -> str:
        """The client, as it named itself (shown as the task's model)."""
        ...

    def unavailable(self) -> str | None:
        """Why this client's model cannot be asked, or None when it can."""
        ...

    async def create_message(self, params: CreateMessageRequestParams) -> CreateMessageResultWithTools:
        """One ``sampling/createMessage`` round trip; raises the client's MCP error, or why it could not be sent."""
        ...


class SamplingBackend(Backend):
    name = "sampling"

    def __init__(self, *, sampler: Sampler, max_retries: int = 3, **kw: Any):
        super().__init__(model=f"client:{sampler.client_name}", max_retries=max_retries, **kw)
        self._sampler = sampler

    async def _call(self, *, system: str, turns: list[Turn], tools: list[ToolSpec], max_output_tokens: int) -> ModelReply:
        params = CreateMessageRequestParams(
            messages=to_messages(turns),
            system_prompt=system,
            max_tokens=max_output_tokens,
            tools=[Tool(name=t.name, description=t.description, input_schema=t.parameters) for t in tools],
        )
        result = await self._sampler.create_message(params)
        text_parts, calls = [], []
        for block in result.content_as_list:
            if isinstance(block, TextContent):
                text_parts.append(block.text)
            elif isinstance(block, ToolUseContent):
                calls.append(ToolCall(name=block.name, args=dict(block.input), id=block.id))
        return ModelReply(
            text="".join(text_parts),
            tool_calls=calls,
            input_tokens=0,  # sampling results carry no usage
            output_tokens=0,
            stop_reason=result.stop_reason,
        )

    def _classify(self, exc: Exception) -> Exception:
        if isinstance(exc, NoBackChannelError):
            return ThinkRunError(
                "backend_unconfigured",
                "the client's connection carries no requests from the server, so its model cannot be asked",
                hint=OTHER_BACKENDS,
            )
        gone = isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED
        if gone or isinstance(exc, anyio.ClosedResourceError | anyio.BrokenResourceError | anyio.EndOfStream):
            return ThinkRunError("upstream_error", "the client that lends its model to this task has disconnected")
        if isinstance(exc, MCPError):
            return ThinkRunError("upstream_error", f"the client's model answered an error: {exc.message}")
        if isinstance(exc, ValidationError):
            return ThinkRunError("upstream_error", f"the client answered sampling with a malformed result: {exc}")
        return ThinkRunError("upstream_error", f"sampling failed: {type(exc).__name__}: {exc}")


def to_messages(turns: list[Turn]) -> list[SamplingMessage]:
    """Neutral turns → sampling messages: tool results alone in a user message, right after their tool uses."""
    messages: list[SamplingMessage] = []
    for turn in turns:
        blocks: list[SamplingMessageContentBlock]
        if turn.role == "user":
            messages.append(SamplingMessage(role="user", content=TextContent(type="text", text=turn.text or "(continue)")))
        elif turn.role == "assistant":
            blocks = [TextContent(type="text", text=turn.text)] if turn.text else []
            blocks += [ToolUseContent(type="tool_use", id=c.id, name=c.name, input=c.args) for c in turn.tool_calls]
            messages.append(SamplingMessage(role="assistant", content=blocks or [TextContent(type="text", text="(no reply)")]))
        else:
            blocks = []
            for r in turn.results:
                content: list[Any] = [TextContent(type="text", text=r.content or "(empty)")]
                if r.image_png:
                    content.append(ImageContent(type="image", data=base64.b64encode(r.image_png).decode(), mime_type="image/png"))
                blocks.append(ToolResultContent(type="tool_result", tool_use_id=r.call_id, content=content, is_error=r.is_error))
            messages.append(SamplingMessage(role="user", content=blocks))
    return messages
