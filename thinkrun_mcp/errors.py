"""The one error type of thinkrun-mcp and its table of codes.

Every expected failure is a :class:`ThinkRunError` carrying a code from
:data:`CODES`. Services raise it; each front end translates it once:

- MCP: a ``ToolError`` whose text is ``"<code>: <message> (hint: <hint>)"``.
- REST: the code's HTTP status and ``{"error": {"code", "message", "hint"}}``.

Anything else that escapes a service is a bug: the front end logs its
traceback and reports ``internal_error``. Input that fails a pydantic model
becomes ``invalid_input`` naming each bad field (:func:`invalid_input`).

Codes (HTTP status)::

    invalid_input (400)          arguments of the wrong type, range or shape
    url_blocked (400)            the URL policy refused a URL (scheme, domain, private network)
    sensitive_url (400)          a sensitive URL would have left this machine
    invalid_api_key (401)        missing or wrong API key (HTTP front end, cloud provider)
    insufficient_credits (402)   the cloud provider refused for lack of credits
    session_not_found (404)      no session with that id
    task_not_found (404)         no agent task with that id
    element_not_found (404)      a ref, selector or instruction matched nothing
    artifact_not_found (404)     no artifact with that id
    profile_not_found (404)      no profile with that id
    live_view_unavailable (404)  the session has no live view
    session_closed (409)         the session exists but has ended
    profile_in_use (409)         another session will write the profile back when it ends
    ambiguous_instruction (409)  an instruction matched several elements equally well
    action_failed (422)          the element was found but the action could not be done
    browser_session_limit (429)  the cap on concurrently open sessions is reached
    rate_limited (429)           an upstream API kept answering 429
    internal_error (500)         a bug; the traceback is in the server log
    browser_unconfigured (501)   the deployment has no browser configured
    backend_unconfigured (501)   no API key for the requested LLM backend
    cloud_unconfigured (501)     the cloud provider was asked for but has no URL/key
    navigation_failed (502)      the page could not be loaded (DNS, refused, HTTP/2 error…)
    upstream_error (502)         an upstream API (LLM, cloud) failed
    browser_unavailable (503)    no browser could be found, launched or reached
    storage_unavailable (503)    the database is locked by another process or cannot be written (rows are kept)
    storage_corrupt (503)        the database file is damaged or is not a database
    timeout (504)                a navigation, action or wait ran out of time
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .text import clip

__all__ = ["CODES", "ThinkRunError", "http_status", "invalid_input"]


@dataclass(frozen=True, slots=True)
class _Code:
    status: int
    summary: str


CODES: dict[str, _Code] = {
    "invalid_input": _Code(400, "arguments of the wrong type, range or shape"),
    "url_blocked": _Code(400, "the URL policy refused a URL"),
    "sensitive_url": _Code(400, "a sensitive URL would have left this machine"),
    "invalid_api_key": _Code(401, "missing or wrong API key"),
    "insufficient_credits": _Code(402, "the cloud provider refused for lack of credits"),
    "session_not_found": _Code(404, "no session with that id"),
    "task_not_found": _Code(404, "no agent task with that id"),
    "element_not_found": _Code(404, "a ref, selector or instruction matched nothing"),
    "artifact_not_found": _Code(404, "no artifact with that id"),
    "profile_not_found": _Code(404, "no profile with that id"),
    "live_view_unavailable": _Code(404, "the session has no live view"),
    "session_closed": _Code(409, "the session has ended"),
    "profile_in_use": _Code(409, "another session will write the profile back"),
    "ambiguous_instruction": _Code(409, "an instruction matched several elements"),
    "action_failed": _Code(422, "the action could not be done on the element"),
    "browser_session_limit": _Code(429, "the cap on concurrently open sessions is reached"),
    "rate_limited": _Code(429, "an upstream API kept answering 429"),
    "internal_error": _Code(500, "a bug; the traceback is in the server log"),
    "browser_unconfigured": _Code(501, "the deployment has no browser configured"),
    "backend_unconfigured": _Code(501, "no API key for the requested LLM backend"),
    "cloud_unconfigured": _Code(501, "the cloud provider has no URL or API key"),
    "navigation_failed": _Code(502, "the page could not be loaded"),
    "upstream_error": _Code(502, "an upstream API failed"),
    "browser_unavailable": _Code(503, "no browser could be found, launched or reached"),
    "storage_unavailable": _Code(503, "the database is locked by another process or cannot be written"),
    "storage_corrupt": _Code(503, "the database file is damaged or is not a database"),
    "timeout": _Code(504, "a navigation, action or wait ran out of time"),
}


class ThinkRunError(Exception):
    """An expected failure with a code from :data:`CODES`, a message and an optional hint.

    Args:
        code: One of the keys of :data:`CODES`.
        message: What happened, naming the input involved.
        hint: What the caller can do next.
        details: Extra machine-readable data (e.g. candidate elements).
    """

    def __init__(self, code: str, message: str, *, hint: str | None = None, details: dict[str, Any] | None = None):
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.details = details or {}

    @property
    def status(self) -> int:
        return CODES[self.code].status

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def __repr__(self) -> str:
        return f"ThinkRunError({self.code!r}, {self.message!r}, hint={self.hint!r})"

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "hint": self.hint}
        if self.details:
            body["details"] = self.details
        return body


def http_status(code: str) -> int:
    """The HTTP status of an error code (500 for an unknown one)."""
    entry = CODES.get(code)
    return entry.status if entry else 500


_CONCEALED = frozenset({"secrets", "fields", "password", "proxy", "api_key", "apikey"})


def invalid_input(exc: ValidationError, *, hint: str = "see the tool's input schema") -> ThinkRunError:
    """``invalid_input`` naming each field that failed validation, what was wrong and (briefly) what was given."""
    parts = []
    for err in exc.errors()[:8]:
        loc = ".".join(str(p) for p in err["loc"]) or "arguments"
        value = err.get("input")
        if any(str(p).lower() in _CONCEALED for p in err["loc"]):
            shown = type(value).__name__  # a secret (or a field of one) is never echoed back
        else:
            shown = clip(repr(value) if not isinstance(value, (dict, list)) else type(value).__name__, 60)
        parts.append(f"{loc}: {err['msg']} (got {shown})" if err["type"] != "missing" else f"{loc}: required")
    return ThinkRunError("invalid_input", "; ".join(parts), hint=hint)
