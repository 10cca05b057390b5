"""OpenAI and every server that speaks its Chat Completions API, through the official ``openai`` SDK.

That covers api.openai.com and local or self-hosted models: Ollama
(``http://localhost:11434/v1``), vLLM (``http://localhost:8000/v1``), LM Studio
(``http://localhost:1234/v1``) and gateways. The key and base URL come from
Settings (``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` or their ``THINKRUN_`` forms);
a server at a base URL of its own may need no key, and then the SDK is given a
placeholder it sends unchecked.

Chat Completions has no image content in tool messages: a screenshot goes in a
user message right after the tool results, as an ``image_url`` data part. The
limit on output tokens is ``max_completion_tokens`` for OpenAI itself (its
reasoning models refuse ``max_tokens``) and ``max_tokens`` elsewhere, which every
compatible server reads.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlsplit

import openai

from ...errors import ThinkRunError
from .base import Backend, ModelReply, RetryableError, ToolCall, ToolSpec, Turn, retry_after

__all__ = ["KEYLESS", "OpenAIBackend", "to_messages"]

KEYLESS = "unused"  # sent as the bearer token to a base URL given without a key (local servers ignore it)


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, *, model: str, api_key: str | None, base_url: str | None = None, max_retries: int = 3, **kw: Any):
        super().__init__(model=model, max_retries=max_retries, **kw)
        self._official = base_url is None or urlsplit(base_url).hostname == "api.openai.com"
        self._client = openai.AsyncOpenAI(api_key=api_key or KEYLESS, base_url=base_url, max_retries=0, timeout=self.timeout)

    def warm(self) -> None:
        self._client.chat.completions  # noqa: B018 - the SDK imports its resources on first access

    async def close(self) -> None:
        await self._client.close()

    async def _call(self, *, system: str, turns: list[Turn], tools: list[ToolSpec], max_output_tokens: int) -> ModelReply:
        limit = {"max_completion_tokens" if self._official else "max_tokens": max_output_tokens}
        response = await self._client.chat.completions.create(
            model=self.model,
            messages=[{"role": "system", "content": system}, *to_messages(turns)],
            tools=[
                {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
                for t in tools
            ],
            **limit,
        )
        choice = response.choices[0] if response.choices else None
        message = choice.message if choice is not None else None
        calls = [_tool_call(c) for c in (message.tool_calls or [] if message is not None else [])]
        usage = response.usage
        details = usage.prompt_tokens_details if usage is not None else None
        return ModelReply(
            text=(message.content or "") if message is not None else "",
            tool_calls=[c for c in calls if c is not None],
            input_tokens=usage.prompt_tokens if usage is not None else 0,
            output_tokens=usage.completion_tokens if usage is not None else 0,
            cached_input_tokens=(details.cached_tokens or 0) if details is not None else 0,
            stop_reason=choice.finish_reason if choice is not None else None,
        )

    def _classify(self, exc: Exception) -> Exception:
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            message = _message(exc)
            if status in (408, 409, 429) or status >= 500:
                return RetryableError(message, status=status, retry_after=retry_after(exc.response))
            if status in (401, 403):
                return ThinkRunError(
                    "invalid_api_key", f"{self._where()} refused the API key: {message}", hint="check OPENAI_API_KEY"
                )
            hint = "check THINKRUN_OPENAI_MODEL: the server names the models it serves" if status == 404 else None
            return ThinkRunError("upstream_error", f"{self._where()} answered {status}: {message}", hint=hint)
        if isinstance(exc, openai.APIConnectionError):  # includes timeouts
            return RetryableError(f"cannot reach {self._where()}: {exc}", status=None)
        return ThinkRunError("upstream_error", f"{self._where()} call failed: {type(exc).__name__}: {exc}")

    def _where(self) -> str:
        return "the OpenAI API" if self._official else f"the OpenAI-compatible server at {self._client.base_url}"


def to_messages(turns: list[Turn]) -> list[dict[str, Any]]:
    """Neutral turns → Chat Completions messages (without the system message)."""
    messages: list[dict[str, Any]] = []
    for turn in turns:
        if turn.role == "user":
            messages.append({"role": "user", "content": turn.text or "(continue)"})
        elif turn.role == "assistant":
            message: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
            if turn.tool_calls:
                message["tool_calls"] = [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.args)}}
                    for c in turn.tool_calls
                ]
            elif not turn.text:
                message["content"] = "(no reply)"
            messages.append(message)
        else:
            images: list[dict[str, Any]] = []
            for r in turn.results:
                content = r.content or "(empty)"
                if r.is_error and not content.startswith("error"):  # Chat Completions has no error flag on results
                    content = f"error: {content}"
                messages.append({"role": "tool", "tool_call_id": r.call_id, "content": content})
                if r.image_png:
                    url = "data:image/png;base64," + base64.b64encode(r.image_png).decode()
                    images += [
                        {"type": "text", "text": f"The screenshot of tool call {r.call_id}:"},
                        {"type": "image_url", "image_url": {"url": url}},
                    ]
            if images:
                messages.append({"role": "user", "content": images})
    return messages


def _tool_call(call: Any) -> ToolCall | None:
    """A Chat Completions tool call as a ToolCall; arguments that are not a JSON object are reported, not guessed."""
    function = getattr(call, "function", None)
    if function is None:  # a custom (non-function) tool call: not one of ours
        return None
    raw = function.arguments or "{}"
    try:
        args = json.loads(raw)
    except json.JSONDecodeError as exc:
        return ToolCall(name=function.name, args={}, id=call.id, invalid=f"the arguments are not valid JSON ({exc.msg})")
    if not isinstance(args, dict):
        return ToolCall(name=function.name, args={}, id=call.id, invalid="the arguments must be a JSON object")
    return ToolCall(name=function.name, args=args, id=call.id)


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    if isinstance(body, str) and body:
        return body[:500]
    return str(exc.message)
