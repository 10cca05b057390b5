"""Gemini through the official ``google-genai`` SDK (generateContent, native function calling).

The key is passed in (from Settings); the endpoint comes from the SDK's own
``GOOGLE_GEMINI_BASE_URL``. Model turns are replayed in their native form so
thought signatures survive, as Gemini 3 requires.

Prompt caching is Gemini's implicit caching: a request whose beginning repeats an
earlier one is billed at the cached rate for that part, with no markers. What it
needs is a stable prefix, which the planner keeps (the same system instruction and
tools for every task, a conversation that changes only at its end). Explicit caches
(``caches.create``) are not used: the fixed part is about 1,100 tokens, hardly over
the minimum a cache must hold, and an explicit cache adds a round trip to create it,
a storage fee per hour, and a cache to delete when a task ends (or leak when the
process dies) for the same discount the implicit cache gives.
"""

from __future__ import annotations

import uuid
from typing import Any

from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from ...errors import ThinkRunError
from .base import Backend, ModelReply, RetryableError, ToolCall, ToolSpec, Turn

__all__ = ["GeminiBackend"]


class GeminiBackend(Backend):
    name = "gemini"

    def __init__(self, *, model: str, api_key: str, max_retries: int = 3, **kw: Any):
        super().__init__(model=model, max_retries=max_retries, **kw)
        self._client = genai.Client(api_key=api_key, http_options=types.HttpOptions(timeout=int(self.timeout * 1000)))

    async def close(self) -> None:
        try:
            await self._client.aio.aclose()
        finally:
            self._client.close()

    async def _call(self, *, system: str, turns: list[Turn], tools: list[ToolSpec], max_output_tokens: int) -> ModelReply:
        config = types.GenerateContentConfig(
            system_instruction=system,
            max_output_tokens=max_output_tokens,
            tools=[
                types.Tool(
                    function_declarations=[
                        types.FunctionDeclaration(name=t.name, description=t.description, parameters_json_schema=t.parameters)
                        for t in tools
                    ]
                )
            ],
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )
        response = await self._client.aio.models.generate_content(model=self.model, contents=to_contents(turns), config=config)
        candidate = response.candidates[0] if response.candidates else None
        content = candidate.content if candidate is not None else None
        text_parts, calls = [], []
        for part in content.parts if content and content.parts else []:
            if part.function_call is not None:
                fc = part.function_call
                calls.append(ToolCall(name=fc.name or "", args=dict(fc.args or {}), id=fc.id or f"call_{uuid.uuid4().hex[:12]}"))
            elif part.text and not part.thought:
                text_parts.append(part.text)
        usage = response.usage_metadata
        return ModelReply(
            text="".join(text_parts),
            tool_calls=calls,
            input_tokens=(usage.prompt_token_count or 0) if usage else 0,
            cached_input_tokens=(usage.cached_content_token_count or 0) if usage else 0,
            output_tokens=((usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)) if usage else 0,
            native=content,
            stop_reason=str(candidate.finish_reason) if candidate is not None and candidate.finish_reason else None,
        )

    def _classify(self, exc: Exception) -> Exception:
        if isinstance(exc, genai_errors.APIError):
            status = exc.code or 0
            message = exc.message or str(exc)
            if status in (408, 429) or status >= 500:
                return RetryableError(message, status=status)
            if status in (401, 403) or "API_KEY_INVALID" in str(exc.details):
                return ThinkRunError(
                    "invalid_api_key", f"Gemini refused the API key: {message}", hint="check GEMINI_API_KEY / GOOGLE_API_KEY"
                )
            return ThinkRunError("upstream_error", f"Gemini answered {status}: {message}")
        name = type(exc).__name__
        if "Timeout" in name or "Connect" in name or "Network" in name or isinstance(exc, OSError):
            return RetryableError(f"cannot reach the Gemini API: {name}: {exc}", status=None)
        return ThinkRunError("upstream_error", f"Gemini call failed: {name}: {exc}")


def to_contents(turns: list[Turn]) -> list[types.Content]:
    contents: list[types.Content] = []
    for turn in turns:
        if turn.role == "user":
            contents.append(types.Content(role="user", parts=[types.Part(text=turn.text or "(continue)")]))
        elif turn.role == "assistant":
            if turn.native is not None:
                contents.append(turn.native)
                continue
            parts = [types.Part(text=turn.text)] if turn.text else []
            parts += [types.Part(function_call=types.FunctionCall(name=c.name, args=c.args)) for c in turn.tool_calls]
            contents.append(types.Content(role="model", parts=parts or [types.Part(text="(no reply)")]))
        else:
            parts = []
            for r in turn.results:
                media = None
                if r.image_png:
                    media = [
                        types.FunctionResponsePart(
                            inline_data=types.FunctionResponseBlob(mime_type="image/png", data=r.image_png)
                        )
                    ]
                key = "error" if r.is_error else "output"
                parts.append(
                    types.Part(function_response=types.FunctionResponse(name=r.name, response={key: r.content}, parts=media))
                )
            contents.append(types.Content(role="user", parts=parts))
    return contents
