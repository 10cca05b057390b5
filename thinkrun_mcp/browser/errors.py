"""The one table from Playwright's errors to thinkrun error codes.

Playwright raises one exception type (``Error``, with ``TimeoutError`` as its
only subclass) and says what went wrong in the message. :data:`RULES` reads
those messages, first match wins; :func:`translate` builds the coded error.
Callers name the operation (``"navigate"``, ``"loading https://…"``) and may
give their own hints; the patterns live here only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from ..errors import ThinkRunError

__all__ = ["RULES", "SIGNALS", "Rule", "first_line", "is_signal", "kind_of", "translate"]

_NET_ERROR = re.compile(r"net::ERR_[A-Z_0-9]+|NS_ERROR_[A-Z_]+")
_API_PREFIX = re.compile(r"^\w+\.\w+: ")  # "Locator.click: Timeout…" → "Timeout…"


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of Playwright failure: how to recognise it and what it means."""

    kind: str
    code: str
    pattern: re.Pattern[str] | None  # matched against the whole message; None: by exception type only
    message: str  # format string: {what} the operation, {detail} the relevant part of the message
    hint: str | None


# One rule a line reads as a table: the formatter leaves it as laid out.
# fmt: off
RULES: tuple[Rule, ...] = (
    Rule("timeout", "timeout", re.compile(r"Timeout \d+ms exceeded|Timeout.*exceeded"), "{what} timed out: {detail}",
         "the element may be hidden, disabled or covered; observe again, scroll, or wait for it"),
    Rule("blocked", "url_blocked", re.compile(r"ERR_BLOCKED_BY_CLIENT"), "blocked by the URL policy: {detail}", None),
    Rule("network", "navigation_failed", _NET_ERROR, "the page could not be loaded: {detail}",
         "check the URL; the site may be down or unreachable from this machine"),
    Rule("closed", "action_failed", re.compile(r"has been closed|Target closed"), "the tab closed during {what}",
         "observe again to see the active tab"),
    Rule("ambiguous", "element_not_found", re.compile(r"strict mode violation"),
         "the target matches several elements: {detail}", "use a ref"),
)
# fmt: on
_OTHER = Rule("other", "action_failed", None, "{what} failed: {detail}", None)
_BY_KIND = {rule.kind: rule for rule in (*RULES, _OTHER)}


# What some Playwright messages tell a caller that handles them itself (retry, read on, explain):
# the same table idea, for messages that are not failures to report as they are.
SIGNALS: dict[str, re.Pattern[str]] = {
    "download_started": re.compile(r"Download is starting"),  # a navigation turned into a download
    # how Chromium reports a load the egress refused or could not connect (see browser/proxy.py), or a route aborted
    "egress_answer": re.compile(r"ERR_EMPTY_RESPONSE|ERR_TUNNEL_CONNECTION_FAILED|ERR_BLOCKED_BY_CLIENT"),
    "navigation_interrupted": re.compile(r"interrupted by another navigation"),
    "error_page": re.compile(r"net::ERR_(?!ABORTED\b)[A-Z_0-9]+"),  # a failed load Chromium shows its error page for
    "context_destroyed": re.compile(r"context was destroyed|navigat", re.IGNORECASE),  # the page navigated meanwhile
    "unknown_key": re.compile(r"Unknown key"),
    "not_a_select": re.compile(r"not a <select>"),
    "bad_selector": re.compile(r"selector|unexpected token|parsing", re.IGNORECASE),
}


def is_signal(exc: BaseException | str, name: str) -> bool:
    """Whether Playwright's message says what :data:`SIGNALS` calls ``name``."""
    return bool(SIGNALS[name].search(str(exc)))


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message without Playwright's ``Class.method:`` prefix."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return _API_PREFIX.sub("", line)[:300]


def kind_of(exc: PlaywrightError) -> str:
    """The :data:`RULES` kind of a Playwright error (``"other"`` when none matches)."""
    if isinstance(exc, PlaywrightTimeout):
        return "timeout"
    text = str(exc)
    return next((rule.kind for rule in RULES if rule.pattern is not None and rule.pattern.search(text)), "other")


def translate(
    exc: PlaywrightError,
    *,
    what: str,
    blocked_reason: str | None = None,
    messages: dict[str, str] | None = None,
    hints: dict[str, str | None] | None = None,
    codes: dict[str, str] | None = None,
    detail: str | None = None,
    failure: str | None = None,
) -> ThinkRunError:
    """The coded error for a Playwright failure during ``what``.

    Args:
        exc: What Playwright raised.
        what: The operation, as a caller would name it ("navigate", "loading https://…").
        blocked_reason: Why the URL policy refused the request, when it did (then a
            failure the egress causes is ``url_blocked``); a ``ERR_BLOCKED_BY_CLIENT``
            without one is an ordinary network failure.
        messages: Per-kind message formats replacing the table's (same fields).
        hints: Per-kind hints replacing the table's.
        codes: Per-kind codes replacing the table's.
        detail: Replaces the message's first line in the text (e.g. when the message
            names a URL that must not be shown).
        failure: What really failed, when the egress knows better than Chromium
            (``net::ERR_CONNECTION_REFUSED (127.0.0.1:9 refused the connection)``).
    """
    kind = kind_of(exc)
    if kind == "network" and blocked_reason and is_signal(exc, "egress_answer"):
        kind = "blocked"
    if kind == "blocked" and not blocked_reason:
        kind = "network"
    rule = _BY_KIND[kind]
    if kind == "blocked":
        shown = blocked_reason or ""
    elif kind == "network":
        net = _NET_ERROR.search(str(exc))
        shown = failure or (net.group(0) if net else (detail or first_line(exc)))
    else:
        shown = detail or first_line(exc)
    message = ((messages or {}).get(kind) or rule.message).format(what=what, detail=shown)
    hint = (hints or {}).get(kind, rule.hint)
    return ThinkRunError((codes or {}).get(kind, rule.code), message, hint=hint)
