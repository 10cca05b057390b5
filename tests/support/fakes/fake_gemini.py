"""A fake Gemini Developer API (``POST /{version}/models/{model}:generateContent``) for the real ``google-genai`` SDK.

    with FakeGemini(Reply(tool_calls=[ToolCall("click", {"ref": "e3"})])) as fake:
        client = genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=fake.base_url))
        resp = await client.aio.models.generate_content(model="gemini-2.5-flash", contents=[...], config=...)

Any API version prefix is served (google-genai 3.4 defaults to ``v1``; ``v1beta``/``v1alpha`` when
``HttpOptions(api_version=…)`` or ``GOOGLE_GENAI_API_VERSION`` says so). ``:streamGenerateContent``
answers 400 "not supported by fake".

Auth as the real API: key from the ``x-goog-api-key`` header (what the SDK sends) or the ``key``
query parameter. Missing → 403 ``PERMISSION_DENIED``; with ``api_key=`` set, a different key → 400
``INVALID_ARGUMENT`` "API key not valid" with an ``ErrorInfo`` detail ``reason: API_KEY_INVALID``.

Options:
  ``thought_signatures=True``: the first ``functionCall`` part of each reply carries a dummy
      ``thoughtSignature`` (base64), as Gemini 2.5/3 thinking models do.
  ``require_thought_signatures=True`` (implies the above): like Gemini 3, reject (400) a request whose
      current turn contains a model ``functionCall`` step whose first call lacks the signature the fake
      issued, i.e. the caller did not send the model's content back unchanged.
  ``function_call_ids=True``: include generated ``functionCall.id`` values (the real API usually omits ids).
  ``cache_min_tokens=1024``: implicit prompt caching, as Gemini 2.5+ does it: the longest prefix of the
      request (system instruction, tools, then every content part, in order) that an earlier request of the
      same model also had is reported as ``cachedContentTokenCount`` (part of ``promptTokenCount``), when
      it reaches this many tokens. Explicit caches (``cachedContent``) are not served.
  ``strict=True`` (default): reject malformed conversations like the real API (empty ``contents``,
      a function-response turn not right after a function-call turn, or with a different number of parts).
"""

from __future__ import annotations

import re
from typing import Any

from .caching import MIN_CACHE_TOKENS, PrefixCache, prefixes
from .scripted import (
    Failure,
    RecordedRequest,
    Reply,
    Response,
    ScriptedServer,
    ScriptItem,
    b64,
    estimate_tokens,
    ghas,
    gkey,
    random_id,
)

__all__ = ["GOOGLE_STATUS", "FakeGemini"]

GOOGLE_STATUS: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_DEFAULT_MESSAGES: dict[int, str] = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}

_PATH = re.compile(r"^/(?P<version>v1[a-z0-9]*)/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$")

SIGNATURE_PREFIX = b"fake-thought-signature:"


def _fmt_seconds(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{float(v):.3f}".rstrip("0").rstrip(".")


class FakeGemini(ScriptedServer):
    """Fake ``generateContent``. Constructor:
    ``FakeGemini(*items, api_key=None, strict=True, thought_signatures=False, require_thought_signatures=False,
    function_call_ids=False, cache_min_tokens=1024)``."""

    def __init__(
        self,
        *items: ScriptItem,
        api_key: str | None = None,
        strict: bool = True,
        thought_signatures: bool = False,
        require_thought_signatures: bool = False,
        function_call_ids: bool = False,
        cache_min_tokens: int = MIN_CACHE_TOKENS,
    ) -> None:
        self.api_key = api_key
        self.strict = strict
        self.thought_signatures = thought_signatures or require_thought_signatures
        self.require_thought_signatures = require_thought_signatures
        self.function_call_ids = function_call_ids
        self.issued_signatures: set[str] = set()
        self.cache = PrefixCache(cache_min_tokens)
        super().__init__(*items)

    # -- rendering --

    def error(
        self,
        status: int,
        message: str = "",
        google_status: str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> Response:
        err: dict[str, Any] = {
            "code": status,
            "message": message or _DEFAULT_MESSAGES.get(status, f"HTTP {status}"),
            "status": google_status or GOOGLE_STATUS.get(status) or ("INTERNAL" if status >= 500 else "FAILED_PRECONDITION"),
        }
        details = list(details or [])
        h: dict[str, str] = {}
        if retry_after is not None:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": _fmt_seconds(retry_after) + "s"})
            h["retry-after"] = _fmt_seconds(retry_after)
        if details:
            err["details"] = details
        h.update(headers or {})
        return Response(status, {"error": err}, h, "application/json; charset=UTF-8")

    def internal_error(self, req: RecordedRequest, message: str) -> Response:
        return self.error(500, message)

    def render(self, req: RecordedRequest, step: Reply | Failure, model: str) -> Response:
        if isinstance(step, Failure):
            return self.error(step.status, step.message, step.error_type, step.headers, step.retry_after)
        parts: list[dict[str, Any]] = []
        if step.text is not None:
            parts.append({"text": step.text})
        for i, call in enumerate(step.tool_calls):
            fc: dict[str, Any] = {"name": call.name, "args": dict(call.args)}
            if call.id is not None or self.function_call_ids:
                fc["id"] = call.id or random_id("", 8).lower()
            part: dict[str, Any] = {"functionCall": fc}
            if self.thought_signatures and i == 0:
                sig = b64(SIGNATURE_PREFIX + random_id("", 16).encode())
                with self._lock:
                    self.issued_signatures.add(sig)
                part["thoughtSignature"] = sig
            parts.append(part)
        content: dict[str, Any] = {"role": "model"}
        if parts:
            content["parts"] = parts
        prompt = step.input_tokens if step.input_tokens is not None else estimate_tokens(req.raw)
        out = step.output_tokens if step.output_tokens is not None else estimate_tokens(parts)
        cached = 0 if step.input_tokens is not None else self._cached(req.body, model, prompt)
        body = {
            "candidates": [{"content": content, "finishReason": step.finish_reason or "STOP", "index": 0}],
            "usageMetadata": {
                "promptTokenCount": prompt,
                "candidatesTokenCount": out,
                "totalTokenCount": prompt + out,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
                **(
                    {"cachedContentTokenCount": cached, "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": cached}]}
                    if cached
                    else {}
                ),
            },
            "modelVersion": model,
            "responseId": random_id("", 22),
        }
        return Response(200, body, {}, "application/json; charset=UTF-8")

    def _cached(self, body: Any, model: str, prompt: int) -> int:
        """Tokens of the longest prefix an earlier request of ``model`` had (implicit caching); remembers this one's."""
        body = body if isinstance(body, dict) else {}
        blocks: list[Any] = [gkey(body, "systemInstruction"), gkey(body, "tools"), gkey(body, "toolConfig")]
        for c in body.get("contents") or []:
            if isinstance(c, dict):
                blocks += [{"role": c.get("role"), **p} for p in c.get("parts") or [] if isinstance(p, dict)]
        ends = prefixes(blocks, namespace=model)
        cached = self.cache.longest(ends)
        self.cache.write(ends)
        return min(cached, prompt)

    # -- routing --

    def handle(self, req: RecordedRequest, conn: Any) -> Response | None:
        m = _PATH.match(req.path)
        if not m:
            return self.error(
                404, f"Not found: {req.method} {req.path} (FakeGemini serves POST /<version>/models/<model>:generateContent)"
            )
        if req.method != "POST":
            return self.error(404, f"Method {req.method} not found for {req.path}", "NOT_FOUND")
        key = req.headers.get("x-goog-api-key") or req.query.get("key")
        if not key:
            return self.error(
                403,
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )
        if self.api_key is not None and key != self.api_key:
            return self.error(
                400,
                "API key not valid. Please pass a valid API key.",
                details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    }
                ],
            )
        method = m.group("method")
        if method == "streamGenerateContent":
            return self.error(400, "streamGenerateContent is not supported by fake (FakeGemini); use generate_content()")
        if method != "generateContent":
            return self.error(404, f"Method {method} is not supported by fake (FakeGemini)", "NOT_FOUND")
        checks = [_no_explicit_cache, *([_validate] if self.strict else [])]
        if self.require_thought_signatures:
            checks.append(self._check_signatures)
        return self.answer_model_request(
            req,
            conn,
            not_object="Invalid JSON payload received.",
            checks=checks,
            render=lambda step: self.render(req, step, m.group("model")),
        )

    def _check_signatures(self, body: dict[str, Any]) -> str | None:
        contents = [c for c in body.get("contents") or [] if isinstance(c, dict)]
        # The current turn starts after the last user content that has a text part (not only function responses).
        start = 0
        for i, c in enumerate(contents):
            if c.get("role") != "model" and any(isinstance(p, dict) and "text" in p for p in c.get("parts") or []):
                start = i + 1
        for i in range(start, len(contents)):
            c = contents[i]
            if c.get("role") != "model":
                continue
            parts = [p for p in c.get("parts") or [] if isinstance(p, dict)]
            calls = [p for p in parts if ghas(p, "functionCall")]
            if not calls:
                continue
            first = calls[0]
            sig = gkey(first, "thoughtSignature")
            if sig not in self.issued_signatures:
                name = (gkey(first, "functionCall") or {}).get("name")
                what = "is missing a thought_signature" if not sig else "has a thought_signature the model did not issue"
                return (
                    f"Function call {what} in functionCall parts. This is required for tools to work correctly. "
                    f"Additional data, function call `default_api:{name}` , position {i + 1}. "
                    "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
                )
        return None


def _no_explicit_cache(body: dict[str, Any]) -> str | None:
    return "explicit caches (cachedContent) are not supported by fake (FakeGemini)" if ghas(body, "cachedContent") else None


def _validate(body: dict[str, Any]) -> str | None:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for i, c in enumerate(contents):
        if not isinstance(c, dict) or not c.get("parts"):
            return f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty."
        if c.get("role") not in (None, "user", "model", "function", "tool"):
            return f"* GenerateContentRequest.contents[{i}].role: Please use a valid role: user, model."
    for i, c in enumerate(contents):
        responses = [p for p in c["parts"] if ghas(p, "functionResponse")]
        if not responses:
            continue
        prev = contents[i - 1] if i > 0 else None
        calls = [p for p in (prev or {}).get("parts") or [] if ghas(p, "functionCall")]
        if not prev or prev.get("role") != "model" or not calls:
            return "Please ensure that function response turn comes immediately after a function call turn."
        if len(calls) != len(responses):
            return (
                "Please ensure that the number of function response parts is equal to the number of function "
                "call parts of the function call turn."
            )
    for t, tool in enumerate(body.get("tools") or []):
        for d, decl in enumerate(gkey(tool, "functionDeclarations") or []):
            if not isinstance(decl, dict) or not decl.get("name"):
                return f"* GenerateContentRequest.tools[{t}].function_declarations[{d}].name: Name cannot be empty."
    return None
