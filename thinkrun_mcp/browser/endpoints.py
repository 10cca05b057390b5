"""Browser endpoints: the browsers sessions run on, their load, and which one a new context goes to.

An endpoint is one browser the engine launches or connects to: the local Chromium
(the default, when ``THINKRUN_BROWSER_ENDPOINT`` is empty), or each configured remote
browser — a Playwright server (``ws://``) or a Chrome DevTools endpoint (``http://``,
as Browserless or Selenium Grid serve). Its state is ``unused`` until first needed,
then ``up``, or ``down`` after a failed connection or a disconnect.

The load of an endpoint is the number of sessions this server has open on it
(page-cache lanes are counted apart and never refused). A new session goes to the
endpoint with the fewest sessions among those ``up`` or ``unused`` and under their cap
(the configuration order breaks ties); endpoints that are ``down`` are tried only when
no other can take it. The engine probes ``down`` remote endpoints in the background,
so one that comes back takes new sessions again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Literal

from playwright.async_api import Browser, BrowserContext

from ..config import BrowserEndpoint, Settings
from ..errors import ThinkRunError
from ..models import EndpointStatus

__all__ = ["LOCAL", "Endpoint", "Purpose", "candidates", "no_endpoint_error"]

LOCAL = "local"  # the key of the local browser

Purpose = Literal["session", "cache"]


class Endpoint:
    """One browser: how to reach it, its connection, and the contexts this server holds on it."""

    def __init__(self, spec: BrowserEndpoint | None, *, default_cap: int | None, index: int):
        self.spec = spec
        self.key = spec.url if spec is not None else LOCAL  # the raw URL: never shown (see ``shown``)
        self.index = index
        self.max_sessions = (spec.max_sessions if spec is not None else None) or default_cap
        self.browser: Browser | None = None
        self.lock = asyncio.Lock()  # one connection attempt at a time
        self.contexts: dict[BrowserContext, Purpose] = {}
        self.reserved = 0  # sessions whose context is being opened here
        self.error: str | None = None
        self.down_since: float | None = None  # time.monotonic()
        self.version: str | None = None
        self.launches = 0
        self.came_up = asyncio.Event()  # set while up: what orphaned sessions wait for

    @classmethod
    def from_settings(cls, settings: Settings) -> list[Endpoint]:
        specs = settings.browser_endpoint or [None]
        return [cls(spec, default_cap=settings.endpoint_max_sessions, index=i) for i, spec in enumerate(specs)]

    # -- what it is ----------------------------------------------------------------------

    @property
    def remote(self) -> bool:
        return self.spec is not None

    @property
    def shown(self) -> str:
        return self.spec.shown if self.spec is not None else LOCAL

    @property
    def kind(self) -> Literal["local", "playwright", "cdp"]:
        return self.spec.protocol if self.spec is not None else "local"

    @property
    def up(self) -> bool:
        return self.browser is not None and self.browser.is_connected()

    @property
    def state(self) -> Literal["up", "down", "unused"]:
        if self.up:
            return "up"
        return "down" if self.down_since is not None else "unused"

    def count(self, purpose: Purpose) -> int:
        return sum(1 for p in self.contexts.values() if p == purpose)

    @property
    def sessions(self) -> int:
        """Open sessions here, with those being opened."""
        return self.count("session") + self.reserved

    @property
    def full(self) -> bool:
        return self.max_sessions is not None and self.sessions >= self.max_sessions

    # -- changes -------------------------------------------------------------------------

    def connected(self, browser: Browser) -> None:
        self.browser = browser
        self.version = browser.version
        self.error = None
        self.down_since = None
        self.launches += 1
        self.came_up.set()

    def lost(self, reason: str) -> None:
        """Mark it down with ``reason`` (a failed connection, or its browser went away)."""
        self.browser = None
        self.error = reason
        if self.down_since is None:
            self.down_since = time.monotonic()
        self.came_up.clear()

    def track(self, context: BrowserContext, purpose: Purpose) -> None:
        """Count ``context`` here until it closes (also when its browser goes away)."""
        self.contexts[context] = purpose
        context.on("close", lambda c: self.contexts.pop(c, None))

    def status(self) -> EndpointStatus:
        down_for = int((time.monotonic() - self.down_since) * 1000) if self.down_since is not None and not self.up else None
        return EndpointStatus(
            endpoint=self.shown,
            kind=self.kind,
            state=self.state,
            sessions=self.count("session"),
            cache_lanes=self.count("cache"),
            max_sessions=self.max_sessions,
            version=self.version,
            error=self.error if not self.up else None,
            down_for_ms=down_for,
        )

    def describe(self) -> str:
        """'ws://a:3000/ (up, 2 of 10 sessions)' for error messages and logs."""
        cap = f" of {self.max_sessions}" if self.max_sessions is not None else ""
        what = f"{self.state}, {self.sessions}{cap} sessions"
        if self.state == "down" and self.error:
            what += f": {self.error}"
        return f"{self.shown} ({what})"


def candidates(endpoints: Iterable[Endpoint], purpose: Purpose) -> list[Endpoint]:
    """Where a new context may go, best first.

    Up or unused endpoints before down ones (a down local browser is relaunched on
    demand, so it counts as unused); among them, fewest sessions first, then the
    configured order. A session never goes to a full endpoint; a page-cache lane may.
    """
    usable = [e for e in endpoints if purpose == "cache" or not e.full]

    def rank(e: Endpoint) -> tuple[bool, int, int, int]:
        down = e.state == "down" and e.remote
        return (down, e.sessions, len(e.contexts), e.index)

    return sorted(usable, key=rank)


def no_endpoint_error(endpoints: list[Endpoint]) -> ThinkRunError:
    """Why no endpoint could take a new session: all full (``browser_session_limit``) or down (``browser_unavailable``)."""
    described = "; ".join(e.describe() for e in endpoints)
    if any(e.full for e in endpoints):
        return ThinkRunError(
            "browser_session_limit",
            f"every browser endpoint is full or down: {described}",
            hint="close a session with session_close, wait for one to end, or raise THINKRUN_ENDPOINT_MAX_SESSIONS "
            "(or add an endpoint to THINKRUN_BROWSER_ENDPOINT)",
        )
    return ThinkRunError(
        "browser_unavailable",
        f"no browser endpoint can be reached: {described}",
        hint="check THINKRUN_BROWSER_ENDPOINT and that the remote browsers are running; open sessions are not affected",
    )
