"""A fake OpenAI Chat Completions API (``POST /v1/chat/completions``, non-streaming) for the real ``openai`` SDK.

    with FakeOpenAI(Reply(tool_calls=[ToolCall("navigate", {"url": "http://x"})])) as fake:
        client = openai.AsyncOpenAI(api_key="test-key", base_url=fake.base_url + "/v1", max_retries=0)
        completion = await client.chat.completions.create(model="gpt-x", messages=[...], tools=[...])

Also what Ollama, vLLM and LM Studio serve: ``require_key=False`` answers requests without an
``Authorization`` header, as those servers do. Wire format as in the API: a ``chat.completion`` with
one choice whose message has ``content`` and ``tool_calls`` (arguments as JSON text), ``finish_reason``
and ``usage`` (``prompt_tokens_details.cached_tokens`` = the ``cached_tokens`` knob, at most the
prompt tokens); errors as ``{"error": {"message", "type", "param", "code"}}``. A ``ToolCall`` whose
``args`` is a string sends that string as the arguments text, unchecked (local models send broken JSON).

With ``strict=True`` (default) malformed conversations are refused with the API's 400 (without
consuming a script item): missing ``model``/``messages``, a ``tool`` message that answers no
``tool_calls`` id of the assistant message before it, an assistant message with ``tool_calls``
not answered by tool messages right after it, image parts outside user messages, functions
without a name, and both ``max_tokens`` and ``max_completion_tokens``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .scripted import (
    Failure,
    RecordedRequest,
    Reply,
    Response,
    ScriptedServer,
    ScriptItem,
    estimate_tokens,
    no_stream,
    random_id,
)

__all__ = ["FakeOpenAI"]

_TYPES: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}

_DEFAULT_MESSAGES: dict[int, str] = {
    400: "Invalid request.",
    401: "Incorrect API key provided.",
    403: "Country, region, or territory not supported",
    404: "The model does not exist or you do not have access to it.",
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request. Sorry about that!",
    503: "The engine is currently overloaded, please try again later",
}


class FakeOpenAI(ScriptedServer):
    """Fake ``POST /v1/chat/completions``. Constructor:
    ``FakeOpenAI(*items, api_key=None, require_key=True, strict=True, cached_tokens=0)``."""

    def __init__(
        self,
        *items: ScriptItem,
        api_key: str | None = None,
        require_key: bool = True,
        strict: bool = True,
        cached_tokens: int = 0,
    ) -> None:
        self.api_key = api_key
        self.require_key = require_key
        self.strict = strict
        self.cached_tokens = cached_tokens
        super().__init__(*items)

    @property
    def api_base(self) -> str:
        """What ``OPENAI_BASE_URL`` is set to: the base URL with the ``/v1`` the SDK expects."""
        return self.base_url + "/v1"

    # -- rendering --

    def error(
        self,
        status: int,
        message: str = "",
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> Response:
        default_type, default_code = _TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
        h = {"x-request-id": random_id("req_", 24)}
        if retry_after is not None:
            h["retry-after"] = str(retry_after)
        h.update(headers or {})
        body = {
            "error": {
                "message": message or _DEFAULT_MESSAGES.get(status, f"HTTP {status}"),
                "type": error_type or default_type,
                "param": None,
                "code": code or default_code,
            }
        }
        return Response(status, body, h)

    def internal_error(self, req: RecordedRequest, message: str) -> Response:
        return self.error(500, message)

    def render(self, req: RecordedRequest, step: Reply | Failure) -> Response:
        if isinstance(step, Failure):
            return self.error(step.status, step.message, step.error_type, step.headers, step.retry_after)
        message: dict[str, Any] = {"role": "assistant", "content": step.text, "refusal": None}
        if step.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id or random_id("call_", 24),
                    "type": "function",
                    # A string is sent as the arguments text as it is (local models do send broken JSON).
                    "function": {
                        "name": call.name,
                        "arguments": call.args if isinstance(call.args, str) else json.dumps(call.args),
                    },
                }
                for call in step.tool_calls
            ]
        body = req.body if isinstance(req.body, dict) else {}
        prompt = step.input_tokens if step.input_tokens is not None else estimate_tokens(req.raw)
        completion = step.output_tokens if step.output_tokens is not None else estimate_tokens(message)
        finish = step.finish_reason or step.stop_reason or ("tool_calls" if step.tool_calls else "stop")
        completion_body = {
            "id": random_id("chatcmpl-", 29),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "gpt-fake"),
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": min(self.cached_tokens, prompt), "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
            },
            "system_fingerprint": "fp_fake",
        }
        return Response(200, completion_body, {"x-request-id": random_id("req_", 24)})

    # -- routing --

    def handle(self, req: RecordedRequest, conn: Any) -> Response | None:
        if req.path.rstrip("/") != "/v1/chat/completions":
            return self.error(404, f"Invalid URL ({req.method} {req.path})", code="unknown_url")
        if req.method != "POST":
            return self.error(405, f"Method {req.method} not allowed")
        auth = req.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if self.require_key and not key:
            return self.error(401, "You didn't provide an API key.", code="missing_api_key")
        if self.api_key is not None and key != self.api_key:
            return self.error(401, f"Incorrect API key provided: {key[:3]}***.")
        return self.answer_model_request(
            req,
            conn,
            not_object="We could not parse the JSON body of your request.",
            checks=[no_stream("FakeOpenAI", "create()"), *([_validate] if self.strict else [])],
            render=lambda step: self.render(req, step),
        )


def _validate(body: dict[str, Any]) -> str | None:
    for name in ("model", "messages"):
        if name not in body:
            return f"Missing required parameter: '{name}'."
    if "max_tokens" in body and "max_completion_tokens" in body:
        return "max_tokens and max_completion_tokens cannot both be set"
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "Invalid 'messages': empty array. Expected an array with minimum length 1."
    for i, tool in enumerate(body.get("tools") or []):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            return f"Missing required parameter: 'tools[{i}].function.name'."
    pending: list[str] = []  # tool_call ids of the last assistant message not answered yet
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("system", "developer", "user", "assistant", "tool"):
            return f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'tool', 'developer'."
        parts = m.get("content") if isinstance(m.get("content"), list) else []
        if role != "user" and any(isinstance(p, dict) and p.get("type") == "image_url" for p in parts):
            return (
                f"Invalid 'messages[{i}]'. Image URLs are only allowed for messages with role 'user', "
                f"but this message with role '{role}' contains an image URL."
            )
        if role == "tool":
            if m.get("tool_call_id") not in pending:
                return (
                    f"Invalid parameter: messages with role 'tool' must be a response to a preceeding message with "
                    f"'tool_calls'. (messages[{i}].tool_call_id {m.get('tool_call_id')!r})"
                )
            pending.remove(m["tool_call_id"])
            continue
        if pending:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(pending)}"
            )
        if role == "assistant":
            pending = [c.get("id") for c in m.get("tool_calls") or [] if isinstance(c, dict)]
            for c in m.get("tool_calls") or []:
                try:
                    json.loads(c["function"]["arguments"])
                except (KeyError, TypeError, ValueError):
                    return f"Invalid 'messages[{i}].tool_calls': function.arguments must be JSON text"
    return None
