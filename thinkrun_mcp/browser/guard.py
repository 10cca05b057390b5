"""The fallback for a browser the egress proxy cannot serve: a context route that checks each request.

Used only when :class:`~.egress.Egress` runs in ``route`` mode (a remote browser on
another machine and no ``egress_host``). Every request Playwright can route
(documents, frames, subresources, fetch/XHR) is judged like a proxy connection —
domain rules, then the host's addresses — and aborted when refused (the browser
reports ``net::ERR_BLOCKED_BY_CLIENT``), the refusal reported to the gate's owner.

What it cannot see: redirect hops (the browser follows them on its own),
WebSockets, and the address the browser finally connects to (its own DNS
lookup). ``doctor`` and the log at start say so; the egress proxy has none of
these gaps.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Route

from .egress import EgressEvent, Gate

__all__ = ["guard"]

log = logging.getLogger(__name__)

_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


async def guard(route: Route, gate: Gate) -> None:
    """Let ``route``'s request through if the gate's rules allow its URL and the host's addresses."""
    url = route.request.url
    policy = gate.policy()
    reason = policy.verdict(url)
    host, port = "", 0
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or _PORTS.get(parts.scheme, 0)
    except ValueError:
        pass
    if reason is None and host and port:
        reason = (await gate.egress.judge(policy, host, port)).refused
    try:
        if reason is not None:
            gate.report(EgressEvent("refused", url, host, port, reason))
            await route.abort("blockedbyclient")
        else:
            await route.fallback()
    except PlaywrightError as exc:  # the page or context went away meanwhile
        log.debug("route of %s: %s", url[:200], exc)
