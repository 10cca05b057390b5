"""Claude through the official ``anthropic`` SDK (Messages API, native tool use).

The key is passed in (from Settings); the endpoint comes from the SDK's own
``ANTHROPIC_BASE_URL``. The SDK's retries are off because :class:`Backend`
retries with its own bounded policy.

Prompt caching: two ``cache_control`` breakpoints. One on the system prompt, which
caches the tools and the system prompt (the same for every task and step); one on
the last turn the planner marks ``cache_point`` (the part of the conversation the
next step repeats), so each step reads what the previous one wrote and writes only
the turns it added. Prefixes under the model's minimum are not cached by the API;
the markers cost nothing then.
"""

from __future__ import annotations

import base64
from typing import Any

import anthropic

from ...errors import ThinkRunError
from .base import Backend, ModelReply, RetryableError, ToolCall, ToolSpec, Turn, retry_after

__all__ = ["ClaudeBackend"]

_EPHEMERAL = {"type": "ephemeral"}


class ClaudeBackend(Backend):
    name = "claude"

    def __init__(self, *, model: str, api_key: str, max_retries: int = 3, **kw: Any):
        super().__init__(model=model, max_retries=max_retries, **kw)
        self._client = anthropic.AsyncAnthropic(api_key=api_key, max_retries=0, timeout=self.timeout)

    def warm(self) -> None:
        self._client.messages  # noqa: B018 - the SDK imports its resources on first access

    async def close(self) -> None:
        await self._client.close()

    async def _call(self, *, system: str, turns: list[Turn], tools: list[ToolSpec], max_output_tokens: int) -> ModelReply:
        response = await self._client.messages.create(
            model=self.model,
            max_tokens=max_output_tokens,
            system=[{"type": "text", "text": system, "cache_control": _EPHEMERAL}],
            tools=[{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools],
            messages=to_messages(turns),
        )
        text_parts, calls = [], []
        for block in response.content:
            if block.type == "text":
                text_parts.append(block.text)
            elif block.type == "tool_use":
                calls.append(ToolCall(name=block.name, args=dict(block.input or {}), id=block.id))
        usage = response.usage
        read = usage.cache_read_input_tokens or 0
        return ModelReply(
            text="".join(text_parts),
            tool_calls=calls,
            # The API counts the input in three parts: after the cache, read from it, written to it.
            input_tokens=usage.input_tokens + read + (usage.cache_creation_input_tokens or 0),
            cached_input_tokens=read,
            output_tokens=usage.output_tokens,
            stop_reason=response.stop_reason,
        )

    def _classify(self, exc: Exception) -> Exception:
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            message = _message(exc)
            if status == 429 or status == 529 or status >= 500 or status == 408:
                return RetryableError(message, status=status, retry_after=retry_after(exc.response))
            if status in (401, 403):
                return ThinkRunError(
                    "invalid_api_key", f"Anthropic refused the API key: {message}", hint="check ANTHROPIC_API_KEY"
                )
            return ThinkRunError("upstream_error", f"Anthropic answered {status}: {message}")
        if isinstance(exc, anthropic.APIConnectionError):  # includes timeouts
            return RetryableError(f"cannot reach the Anthropic API: {exc}", status=None)
        return ThinkRunError("upstream_error", f"Anthropic call failed: {type(exc).__name__}: {exc}")


def to_messages(turns: list[Turn]) -> list[dict[str, Any]]:
    """Neutral turns → Messages API messages (consecutive same-role content merged, as the API requires).

    The last block of the last turn marked ``cache_point`` carries a cache breakpoint.
    """
    messages: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})

    cache_turn = next((t for t in reversed(turns) if t.cache_point), None)
    for turn in turns:
        if turn.role == "user":
            add("user", [{"type": "text", "text": turn.text or "(continue)"}])
        elif turn.role == "assistant":
            blocks: list[dict[str, Any]] = []
            if turn.text:
                blocks.append({"type": "text", "text": turn.text})
            blocks.extend({"type": "tool_use", "id": c.id, "name": c.name, "input": c.args} for c in turn.tool_calls)
            add("assistant", blocks or [{"type": "text", "text": "(no reply)"}])
        else:
            results = []
            for r in turn.results:
                content: list[dict[str, Any]] = [{"type": "text", "text": r.content or "(empty)"}]
                if r.image_png:
                    content.append(
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": "image/png",
                                "data": base64.b64encode(r.image_png).decode(),
                            },
                        }
                    )
                results.append({"type": "tool_result", "tool_use_id": r.call_id, "content": content, "is_error": r.is_error})
            add("user", results)
        if turn is cache_turn:
            messages[-1]["content"][-1]["cache_control"] = _EPHEMERAL
    return messages


def _message(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(exc.message if hasattr(exc, "message") else exc)
