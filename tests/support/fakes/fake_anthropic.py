"""A fake Anthropic Messages API (``POST /v1/messages``, non-streaming) for the real ``anthropic`` SDK.

    with FakeAnthropic(Reply(tool_calls=[ToolCall("navigate", {"url": "http://x"})])) as fake:
        client = anthropic.AsyncAnthropic(api_key="test-key", base_url=fake.base_url, max_retries=0)
        msg = await client.messages.create(model="claude-x", max_tokens=100, messages=[...], tools=[...])

Wire format as in the Messages API: a ``message`` object with ``text`` / ``tool_use`` content blocks,
``stop_reason`` and ``usage``; errors as ``{"type": "error", "error": {"type", "message"}, "request_id"}``.

Prompt caching: blocks marked ``cache_control: {"type": "ephemeral"}`` (tools, system blocks, message
content blocks) are breakpoints. The usage reports ``cache_read_input_tokens`` for the longest prefix an
earlier request wrote (at a breakpoint of this one or up to 20 blocks before it),
``cache_creation_input_tokens`` for the rest up to the last breakpoint, and ``input_tokens`` for what
follows, as the API does (their sum is the whole prompt). Without markers nothing is cached; prefixes
under ``cache_min_tokens`` (default 1,024) are not cached either. More than 4 breakpoints is a 400.

Auth: the anthropic SDK 2.x sends the key as ``Authorization: Bearer <key>`` (not ``x-api-key``); the
fake accepts either. Missing → 401 ``authentication_error``; with ``api_key=`` set, a different key →
401 too.

With ``strict=True`` (default) malformed conversations are rejected with the real API's 400
``invalid_request_error`` (without consuming a script item): missing ``model``/``max_tokens``/
``messages``, ``tool_result`` blocks whose ``tool_use_id`` is not in the previous assistant message,
``tool_use`` blocks not answered by ``tool_result`` blocks in the next message, and custom tools
without ``input_schema``.
"""

from __future__ import annotations

from typing import Any

from .caching import LOOKBACK_BLOCKS, MIN_CACHE_TOKENS, PrefixCache, prefixes
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

__all__ = ["ANTHROPIC_ERROR_TYPES", "FakeAnthropic"]

ANTHROPIC_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

_DEFAULT_MESSAGES: dict[int, str] = {
    400: "Invalid request",
    401: "invalid x-api-key",
    402: "Your credit balance is too low to access the Anthropic API.",
    403: "Your API key does not have permission to use the specified resource.",
    404: "Not found",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "This request would exceed the rate limit for your organization. Please try again later.",
    500: "Internal server error",
    529: "Overloaded",
}


def _fmt_seconds(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


class FakeAnthropic(ScriptedServer):
    """Fake ``POST /v1/messages``. Constructor: ``FakeAnthropic(*items, api_key=None, strict=True, cache_min_tokens=1024)``."""

    def __init__(
        self, *items: ScriptItem, api_key: str | None = None, strict: bool = True, cache_min_tokens: int = MIN_CACHE_TOKENS
    ) -> None:
        self.api_key = api_key
        self.strict = strict
        self.cache = PrefixCache(cache_min_tokens)
        super().__init__(*items)

    # -- rendering --

    def error(
        self,
        status: int,
        message: str = "",
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> Response:
        etype = error_type or ANTHROPIC_ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
        request_id = random_id("req_011C", 20)
        h = {"request-id": request_id}
        if retry_after is not None:
            h["retry-after"] = _fmt_seconds(retry_after)
        h.update(headers or {})
        body = {
            "type": "error",
            "error": {"type": etype, "message": message or _DEFAULT_MESSAGES.get(status, f"HTTP {status}")},
            "request_id": request_id,
        }
        return Response(status, body, h)

    def internal_error(self, req: RecordedRequest, message: str) -> Response:
        return self.error(500, message)

    def render(self, req: RecordedRequest, step: Reply | Failure) -> Response:
        if isinstance(step, Failure):
            return self.error(step.status, step.message, step.error_type, step.headers, step.retry_after)
        content: list[dict[str, Any]] = []
        if step.text is not None:
            content.append({"type": "text", "text": step.text})
        for call in step.tool_calls:
            content.append(
                {"type": "tool_use", "id": call.id or random_id("toolu_01", 22), "name": call.name, "input": dict(call.args)}
            )
        stop_reason = step.stop_reason or ("tool_use" if step.tool_calls else "end_turn")
        body = req.body if isinstance(req.body, dict) else {}
        if step.input_tokens is not None:
            fresh, written, read = step.input_tokens, 0, 0
        else:
            fresh, written, read = self._cached(body, estimate_tokens(req.raw))
        message = {
            "id": random_id("msg_01", 22),
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude-fake"),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": fresh,
                "output_tokens": step.output_tokens if step.output_tokens is not None else estimate_tokens(content),
                "cache_creation_input_tokens": written,
                "cache_read_input_tokens": read,
                "service_tier": "standard",
            },
        }
        return Response(200, message, {"request-id": random_id("req_011C", 20)})

    def _cached(self, body: dict[str, Any], total: int) -> tuple[int, int, int]:
        """(input_tokens, cache_creation_input_tokens, cache_read_input_tokens) of a prompt of ``total`` tokens."""
        blocks, marks = cache_blocks(body)
        if not marks:
            return total, 0, 0
        ends = prefixes(blocks, namespace=str(body.get("model")))
        read = self.cache.longest([ends[j] for m in marks for j in range(max(0, m - LOOKBACK_BLOCKS), m + 1)])
        last = ends[marks[-1]].tokens
        written = last - read if last >= self.cache.min_tokens else 0
        self.cache.write([ends[m] for m in marks])
        read, written = min(read, total), min(written, max(0, total - read))
        return total - read - written, written, read

    # -- routing --

    def handle(self, req: RecordedRequest, conn: Any) -> Response | None:
        if req.path.rstrip("/") != "/v1/messages":
            return self.error(
                404, f"Not found: {req.method} {req.path} (FakeAnthropic serves POST /v1/messages only)", "not_found_error"
            )
        if req.method != "POST":
            return self.error(405, f"Method {req.method} not allowed", "invalid_request_error")
        key = req.headers.get("x-api-key")
        auth = req.headers.get("authorization", "")
        if not key and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if not key:
            return self.error(401, "x-api-key header is required", "authentication_error")
        if self.api_key is not None and key != self.api_key:
            return self.error(401, "invalid x-api-key", "authentication_error")
        return self.answer_model_request(
            req,
            conn,
            not_object="There was an issue with your request body: expected a JSON object",
            checks=[no_stream("FakeAnthropic", "messages.create()"), *([_validate] if self.strict else [])],
            render=lambda step: self.render(req, step),
        )


def cache_blocks(body: dict[str, Any]) -> tuple[list[Any], list[int]]:
    """The prompt as the cache sees it (tools, system, message content blocks, markers removed) and the
    indexes of the blocks that carried ``cache_control``."""
    blocks: list[Any] = []
    marks: list[int] = []

    def add(block: Any, role: str | None = None) -> None:
        if isinstance(block, dict):
            if "cache_control" in block:
                marks.append(len(blocks))
            block = {k: v for k, v in block.items() if k != "cache_control"}
            if role is not None:
                block["role"] = role
        blocks.append(block)

    for tool in body.get("tools") or []:
        add(tool)
    system = body.get("system")
    for block in [{"type": "text", "text": system}] if isinstance(system, str) else system or []:
        add(block)
    for m in body.get("messages") or []:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        for block in [{"type": "text", "text": content}] if isinstance(content, str) else content or []:
            add(block, str(m.get("role")))
    return blocks, marks


def _validate(body: dict[str, Any]) -> str | None:
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            return f"{name}: Field required"
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        return "max_tokens: Input should be a valid positive integer"
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for i, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict) or "name" not in tool:
            return f"tools.{i}.name: Field required"
        if ("type" not in tool or tool.get("type") == "custom") and "input_schema" not in tool:
            return f"tools.{i}.custom.input_schema: Field required"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        if "content" not in m:
            return f"messages.{i}.content: Field required"
    _, marks = cache_blocks(body)
    if len(marks) > 4:
        return f"A maximum of 4 blocks with cache_control may be provided. Found {len(marks)}."
    # Pass 1: every tool_result must answer a tool_use of the previous assistant message.
    for i, m in enumerate(messages):
        if m["role"] != "user" or not isinstance(m["content"], list):
            continue
        prev = messages[i - 1] if i > 0 else None
        prev_ids = set()
        if prev and prev.get("role") == "assistant" and isinstance(prev.get("content"), list):
            prev_ids = {b.get("id") for b in prev["content"] if isinstance(b, dict) and b.get("type") == "tool_use"}
        for j, b in enumerate(m["content"]):
            if isinstance(b, dict) and b.get("type") == "tool_result" and b.get("tool_use_id") not in prev_ids:
                return (
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{b.get('tool_use_id')}. Each `tool_result` block must have a corresponding `tool_use` "
                    "block in the previous message."
                )
    # Pass 2: every tool_use (not in a trailing assistant prefill) must be answered in the next message.
    for i, m in enumerate(messages):
        if m["role"] != "assistant" or not isinstance(m["content"], list) or i + 1 >= len(messages):
            continue
        ids = [b.get("id") for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_use"]
        if not ids:
            continue
        nxt = messages[i + 1]
        answered = set()
        if nxt.get("role") == "user" and isinstance(nxt.get("content"), list):
            answered = {b.get("tool_use_id") for b in nxt["content"] if isinstance(b, dict) and b.get("type") == "tool_result"}
        missing = [x for x in ids if x not in answered]
        if missing:
            return (
                f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                f"{', '.join(str(x) for x in missing)}. Each `tool_use` block must have a corresponding "
                "`tool_result` block in the next message."
            )
    return None
