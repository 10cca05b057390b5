"""The render pool: at most ``cache_pool_size`` page-cache renders at once, each in a lane.

A lane is one ``BrowserContext`` with one page on the shared browser, isolated
from every session and from the other lanes. Opening a context and a page costs
a new renderer process, which on a small machine is most of a render, so a lane
is reused for up to ``cache_context_uses`` renders: between two renders its
cookies and the last origin's storage are cleared, and its HTTP cache is off (a
``maxAge: 0`` fetch really goes to the site). A lane is closed when it is used
up, idle for ``_IDLE_SECONDS``, after any failure, download or popup, and
always after a sensitive render (those get a lane of their own).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from playwright.async_api import BrowserContext, Page, Response
from playwright.async_api import Error as PlaywrightError

from ..browser.egress import Egress, EgressLog, Gate
from ..browser.engine import BrowserEngine
from ..browser.guard import guard
from ..browser.policy import UrlPolicy
from ..config import Settings

__all__ = ["Lane", "LanePool"]

log = logging.getLogger(__name__)

_IDLE_SECONDS = 15.0
_CLOSE_TIMEOUT = 10.0
_CLEAR_STORAGE_JS = "() => { try { localStorage.clear(); sessionStorage.clear(); } catch (e) {} }"


class Lane:
    """One context and its page, with what the current render needs to know about its requests."""

    def __init__(self, context: BrowserContext, page: Page, gate: Gate, egress: EgressLog, *, reusable: bool):
        self.context = context
        self.page = page
        self.gate = gate
        self.egress = egress  # what the egress refused or could not reach, which explains a failed render
        self.reusable = reusable
        self.uses = 0
        self.idle_since = time.monotonic()
        self.started = time.monotonic()
        self.responses: list[Response] = []  # main-frame navigation responses of this render
        page.on("response", self._on_response)

    def begin(self) -> None:
        self.uses += 1
        self.started = time.monotonic()
        self.responses = []

    @property
    def alive(self) -> bool:
        browser = self.context.browser
        return not self.page.is_closed() and (browser is None or browser.is_connected())

    def _on_response(self, response: Response) -> None:
        try:
            if response.request.is_navigation_request() and response.frame == self.page.main_frame:
                self.responses.append(response)
        except PlaywrightError:
            pass

    async def reset(self) -> None:
        """Forget what the last render left: cookies and its origin's storage."""
        await self.page.evaluate(_CLEAR_STORAGE_JS)
        await self.context.clear_cookies()

    async def close(self) -> None:
        await _close(self.context)
        self.gate.close()


async def _close(context: BrowserContext) -> None:
    try:
        async with asyncio.timeout(_CLOSE_TIMEOUT):
            await context.close()
    except (PlaywrightError, TimeoutError):
        pass  # the browser went away or hangs; the engine relaunches it for the next context


class LanePool:
    def __init__(self, settings: Settings, engine: BrowserEngine, policy: UrlPolicy, egress: Egress):
        self.settings = settings
        self.engine = engine
        self.policy = policy
        self.egress = egress
        self.opened = 0  # lanes opened so far
        self._slots = asyncio.Semaphore(settings.cache_pool_size)
        self._idle: list[Lane] = []
        self._reaper: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()  # lanes closing in the background (held so they finish)

    def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap(), name="thinkrun-cache-lanes")

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        idle, self._idle = self._idle, []
        await asyncio.gather(*(lane.close() for lane in idle))

    @contextlib.asynccontextmanager
    async def lane(self, *, private: bool) -> AsyncIterator[Lane]:
        """A lane for one render, waiting for a free slot; ``private`` gets a new lane closed afterwards."""
        async with self._slots:
            lane = None if private else self._take_idle()
            if lane is None:
                lane = await self._open(reusable=not private and self.settings.cache_context_uses > 1)
            lane.begin()
            ok = False
            try:
                yield lane
                ok = True
            finally:
                await self._release(lane, ok)

    def _take_idle(self) -> Lane | None:
        while self._idle:
            lane = self._idle.pop()
            if lane.alive:
                return lane
            closing = asyncio.create_task(lane.close())  # its browser is gone: nothing to wait for
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        return None

    async def _open(self, *, reusable: bool) -> Lane:
        told = EgressLog()
        gate = self.egress.open_gate(lambda: self.policy, told.add)
        try:
            context = await self.engine.new_context(
                purpose="cache",  # counted apart from sessions: the endpoints' session caps do not refuse a render
                proxy_for=gate.proxy_for,  # every connection of the render goes through the lane's gate
                viewport={"width": self.settings.viewport_width, "height": self.settings.viewport_height},
                service_workers="block",
                accept_downloads=False,
            )
        except BaseException:
            gate.close()
            raise
        try:
            page = await context.new_page()
            if reusable:
                try:
                    cdp = await context.new_cdp_session(page)
                    await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
                except PlaywrightError as exc:  # not Chromium over CDP: no way to turn the cache off, so no reuse
                    log.debug("page cache lanes are single-use: %s", exc)
                    reusable = False
            lane = Lane(context, page, gate, told, reusable=reusable)
            if not gate.proxied and self.policy.needs_route:  # no egress proxy: the fallback checks requests
                await context.route("**/*", lambda route: guard(route, gate))
        except BaseException:
            await _close(context)
            gate.close()
            raise
        self.opened += 1
        return lane

    async def _release(self, lane: Lane, ok: bool) -> None:
        keep = ok and lane.reusable and lane.uses < self.settings.cache_context_uses and lane.alive
        if keep and len(lane.context.pages) != 1:
            keep = False  # the page opened popups
        if keep:
            try:
                async with asyncio.timeout(_CLOSE_TIMEOUT):
                    await lane.reset()
            except (PlaywrightError, TimeoutError):
                keep = False
        if keep:
            lane.idle_since = time.monotonic()
            self._idle.append(lane)
        else:
            await lane.close()

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(_IDLE_SECONDS / 3)
            now = time.monotonic()
            stale = [lane for lane in self._idle if now - lane.idle_since > _IDLE_SECONDS]
            if stale:
                self._idle = [lane for lane in self._idle if lane not in stale]
                await asyncio.gather(*(lane.close() for lane in stale))
