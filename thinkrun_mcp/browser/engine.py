"""The browser engine: one Playwright driver, and the browsers sessions run on.

Discovery, in order: the configured executable path → Playwright's own
Chromium (``python -m playwright install chromium``) → a system Chrome or
Chromium on PATH or in its usual places. Or, with ``browser_endpoint``, one or
several remote browsers: Playwright servers (``ws://…``) and Chrome DevTools
endpoints (``http://…``). A Playwright server launches the browser itself, with
our ``headless``, ``browser_path`` and ``browser_args`` as its launch options
(the last two only if it runs with ``--unsafe``).

Each browser is an :class:`~thinkrun_mcp.browser.endpoints.Endpoint`; new
contexts are spread over them by load (``endpoints.py``). A browser is launched
or connected on first use. If it goes away (crash, kill, remote disconnect) the
engine tells its listener (the session registry) which endpoint was lost; a
local browser is launched afresh for the next context, and a lost remote
endpoint is probed in the background until it answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psutil
from playwright.async_api import Browser, BrowserContext, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from ..config import Settings
from ..errors import ThinkRunError
from ..models import EndpointStatus
from ..urls import redact_url
from .endpoints import Endpoint, Purpose, candidates, no_endpoint_error

__all__ = ["LAUNCH_ARGS", "BrowserEngine", "BrowserLocation", "find_browser"]

# Given the chosen endpoint's URL (None: the local browser), a context's ``proxy`` option (browser/egress.py).
ProxyFor = Callable[[str | None], dict[str, str] | None]

log = logging.getLogger(__name__)

LAUNCH_ARGS = (
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    # Pages reach the network only through their context's egress proxy (browser/egress.py): WebRTC may not
    # send UDP around it (Chrome reads the first flag, headless shell the second), and QUIC (UDP) is off.
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-quic",
)

_SYSTEM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "microsoft-edge")
_SYSTEM_PATHS = {
    "linux": (
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
        "/usr/bin/google-chrome-stable",
        "/snap/bin/chromium",
        "/opt/google/chrome/chrome",
    ),
    "darwin": (
        "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
        "/Applications/Chromium.app/Contents/MacOS/Chromium",
        "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
    ),
    "win32": (
        r"C:\Program Files\Google\Chrome\Application\chrome.exe",
        r"C:\Program Files (x86)\Google\Chrome\Application\chrome.exe",
        r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
    ),
}

REMEDY = (
    "run `python -m playwright install chromium` (or `uvx --from thinkrun-mcp playwright install chromium`), "
    "install Chrome/Chromium, or set THINKRUN_BROWSER_PATH to a Chrome/Chromium executable"
)


@dataclass(frozen=True, slots=True)
class BrowserLocation:
    """Where the browser comes from. ``path`` is None for Playwright's own build and for remote browsers."""

    source: Literal["setting", "playwright", "system", "remote"]
    path: str | None
    endpoint: str | None = None

    def describe(self) -> str:
        if self.source == "remote":
            return f"remote browser at {redact_url(self.endpoint or '')}"
        if self.source == "playwright":
            return f"Playwright's Chromium ({self.path})"
        return f"{self.source} browser {self.path}"


def _playwright_chromium(pw: Playwright | None) -> str | None:
    if pw is None:
        return None
    try:
        path = pw.chromium.executable_path
    except Exception:  # Playwright raises if its registry is odd; treat as not installed
        return None
    if path and Path(path).exists():
        return path
    return None


def find_browser(settings: Settings, pw: Playwright | None = None) -> BrowserLocation:
    """Locate the local browser or raise ``browser_unavailable`` naming what was tried."""
    if settings.browser_path:
        p = Path(settings.browser_path).expanduser()
        if p.is_file() and os.access(p, os.X_OK):
            return BrowserLocation("setting", str(p))
        raise ThinkRunError(
            "browser_unavailable",
            f"THINKRUN_BROWSER_PATH={settings.browser_path} is not an executable file",
            hint="point it at a Chrome/Chromium executable, or unset it to use discovery after running "
            "`python -m playwright install chromium` or installing Chrome/Chromium",
        )
    own = _playwright_chromium(pw)
    if own:
        return BrowserLocation("playwright", own)
    for name in _SYSTEM_NAMES:
        found = shutil.which(name)
        if found:
            return BrowserLocation("system", found)
    for candidate in _SYSTEM_PATHS.get(sys.platform, ()):
        if Path(candidate).is_file():
            return BrowserLocation("system", candidate)
    raise ThinkRunError(
        "browser_unavailable",
        "no Chromium or Chrome browser was found (checked the setting, Playwright's browsers and system locations)",
        hint=REMEDY,
    )


_PROBE_SECONDS = 1.0  # how often a lost remote endpoint is tried again


def _remote_hint(failure: str) -> str:
    hint = "check THINKRUN_BROWSER_ENDPOINT and that the remote browser is running"
    if "Executable doesn't exist" in failure:
        hint += "; a Playwright server uses THINKRUN_BROWSER_PATH only when started with --unsafe"
    return hint


class BrowserEngine:
    """Owns the Playwright driver and the browsers: the local one, or the remote endpoints."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._pw: Playwright | None = None
        self.endpoints = Endpoint.from_settings(settings)
        self._by_key = {e.key: e for e in self.endpoints}
        self._locations: dict[str, BrowserLocation] = {}
        self._listeners: list[Callable[[str, str], Any]] = []
        self._closing = False
        self._prober: asyncio.Task[None] | None = None
        self._pid: int | None = None  # the local browser's main process, once launched

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._pw is None:
            self._pw = await async_playwright().start()

    async def close(self) -> None:
        self._closing = True
        if self._prober is not None:
            self._prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prober
        await asyncio.gather(*(self._close_browser(e) for e in self.endpoints))
        if self._pw is not None:
            pw, self._pw = self._pw, None
            try:
                await asyncio.wait_for(pw.stop(), timeout=10)
            except Exception as exc:
                log.warning("playwright driver stop failed: %s", exc)

    @staticmethod
    async def _close_browser(endpoint: Endpoint) -> None:
        browser, endpoint.browser = endpoint.browser, None
        if browser is not None:
            try:
                await asyncio.wait_for(browser.close(), timeout=10)
            except Exception as exc:  # already gone or hung: the driver's exit takes it down
                log.debug("browser close: %s", exc)

    def on_disconnect(self, callback: Callable[[str, str], Any]) -> None:
        """Register ``callback(endpoint, reason)`` for when a browser goes away unexpectedly."""
        self._listeners.append(callback)

    @property
    def playwright(self) -> Playwright:
        if self._pw is None:
            raise RuntimeError("browser engine not started")
        return self._pw

    @property
    def location(self) -> BrowserLocation | None:
        """Where the first endpoint's browser comes from, once it was reached."""
        return self._locations.get(self.endpoints[0].key)

    @property
    def connected(self) -> bool:
        return self.endpoints[0].up

    @property
    def version(self) -> str | None:
        return self.endpoints[0].version

    @property
    def launches(self) -> int:
        return sum(e.launches for e in self.endpoints)

    # -- endpoints -----------------------------------------------------------------------

    def endpoint(self, key: str | None = None) -> Endpoint:
        """The endpoint with this key (``"local"`` or its URL); the first one when None."""
        return self._by_key[key] if key is not None else self.endpoints[0]

    def endpoint_of(self, context: BrowserContext) -> str | None:
        """The key of the endpoint ``context`` was opened on."""
        return next((e.key for e in self.endpoints if context in e.contexts), None)

    def is_up(self, key: str | None) -> bool:
        return key in self._by_key and self._by_key[key].up

    def shown(self, key: str | None) -> str | None:
        """The endpoint's URL fit to show (credentials masked), or ``"local"``."""
        return self._by_key[key].shown if key in self._by_key else None

    def status(self) -> list[EndpointStatus]:
        return [e.status() for e in self.endpoints]

    async def wait_up(self, key: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a lost endpoint to answer again (the prober reconnects it)."""
        endpoint = self._by_key[key]
        self._probe()
        try:
            await asyncio.wait_for(endpoint.came_up.wait(), timeout=timeout)
        except TimeoutError:
            return False
        return endpoint.up

    # -- the browsers --------------------------------------------------------------------

    async def browser(self, key: str | None = None) -> Browser:
        """The browser of an endpoint (the first by default), launched or connected on demand."""
        return await self._connect(self.endpoint(key))

    async def _connect(self, endpoint: Endpoint) -> Browser:
        if endpoint.browser is not None and endpoint.browser.is_connected():
            return endpoint.browser
        async with endpoint.lock:
            if endpoint.browser is not None and endpoint.browser.is_connected():
                return endpoint.browser
            if self._closing:
                raise ThinkRunError("browser_unavailable", "the server is shutting down")
            await self.start()
            try:
                location = (
                    BrowserLocation("remote", None, endpoint.key) if endpoint.remote else find_browser(self.settings, self._pw)
                )
                before = {p.pid for p in self._browsers_below_us()} if not endpoint.remote else set()
                browser = await self._open(location)
            except ThinkRunError as exc:
                endpoint.lost(exc.message)
                if endpoint.remote:
                    self._probe()
                raise
            browser.on("disconnected", lambda _b: self._disconnected(endpoint, browser))
            endpoint.connected(browser)
            self._locations[endpoint.key] = location
            if not endpoint.remote:
                # Another engine in this process (tests, benchmarks) has browsers of its own: remember ours.
                fresh = [p.pid for p in self._browsers_below_us(mains_only=True) if p.pid not in before]
                self._pid = fresh[0] if len(fresh) == 1 else None
            log.info("browser ready: %s, version %s", location.describe(), browser.version)
            return browser

    async def _open(self, location: BrowserLocation) -> Browser:
        pw = self.playwright
        try:
            if location.source == "remote":
                endpoint = location.endpoint or ""
                if endpoint.startswith(("ws://", "wss://")):
                    return await pw.chromium.connect(endpoint, timeout=30_000, headers=self._remote_launch_headers())
                return await pw.chromium.connect_over_cdp(endpoint, timeout=30_000)
            args = list(LAUNCH_ARGS)
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                args.append("--no-sandbox")
            args.extend(self.settings.browser_args)
            return await pw.chromium.launch(
                executable_path=location.path if location.source != "playwright" else None,
                headless=self.settings.headless,
                args=args,
                timeout=60_000,
            )
        except PlaywrightError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if location.endpoint:
                first = first.replace(location.endpoint, redact_url(location.endpoint))
            raise ThinkRunError(
                "browser_unavailable",
                f"could not start or reach the {location.describe()}: {first}",
                hint=REMEDY if location.source != "remote" else _remote_hint(first),
            ) from exc

    def _remote_launch_headers(self) -> dict[str, str]:
        """Launch options for a Playwright server (``playwright run-server``), which launches the browser itself.

        ``browser_path`` and ``browser_args`` then name an executable and flags on the server's machine;
        a Playwright server honours those two only when started with ``--unsafe``.
        """
        options: dict[str, Any] = {"headless": self.settings.headless}
        if self.settings.browser_path:
            options["executablePath"] = self.settings.browser_path
        if self.settings.browser_args:
            options["args"] = list(self.settings.browser_args)
        return {"x-playwright-launch-options": json.dumps(options)}

    def _disconnected(self, endpoint: Endpoint, browser: Browser) -> None:
        if endpoint.browser is not browser:
            return
        if endpoint.remote:
            reason = f"the remote browser {endpoint.shown} disconnected"
        else:
            reason = "the browser process exited unexpectedly"
        endpoint.lost(reason)
        if self._closing:
            return
        log.warning("%s; sessions on it are lost or wait for it, new sessions go elsewhere", reason)
        if endpoint.remote:
            self._probe()
        for cb in list(self._listeners):
            try:
                cb(endpoint.key, reason)
            except Exception:
                log.exception("browser disconnect listener failed")

    async def new_context(
        self,
        *,
        purpose: Purpose = "session",
        endpoint: str | None = None,
        proxy_for: ProxyFor | None = None,
        **options: Any,
    ) -> BrowserContext:
        """A new context on the least loaded endpoint that takes it (on ``endpoint`` when given, cap or not).

        ``proxy_for(endpoint URL, None for the local browser)`` gives the context's ``proxy`` option once
        the endpoint is chosen (the egress gate: browser/egress.py). Raises ``browser_session_limit`` when
        every endpoint is full, ``browser_unavailable`` when none can be reached (with one endpoint: why
        it could not).
        """
        if endpoint is not None:
            return await self._context_on(self._by_key[endpoint], purpose, options, proxy_for)
        tried: set[str] = set()
        while True:
            choice = next((e for e in candidates(self.endpoints, purpose) if e.key not in tried), None)
            if choice is None:
                raise no_endpoint_error(self.endpoints)
            if purpose == "session":
                choice.reserved += 1  # before the first await: concurrent creations see it
            try:
                return await self._context_on(choice, purpose, options, proxy_for)
            except ThinkRunError:
                if len(self.endpoints) == 1:
                    raise  # one browser: its own error says best what is wrong
                tried.add(choice.key)
            finally:
                if purpose == "session":
                    choice.reserved -= 1

    async def _context_on(
        self, endpoint: Endpoint, purpose: Purpose, options: dict[str, Any], proxy_for: ProxyFor | None = None
    ) -> BrowserContext:
        if proxy_for is not None:
            options = {**options, "proxy": proxy_for(endpoint.spec.url if endpoint.spec is not None else None)}
        browser = await self._connect(endpoint)
        try:
            context = await browser.new_context(**options)
        except PlaywrightError:
            if browser.is_connected():
                raise
            # It died between the check and the call: one retry on a fresh browser.
            browser = await self._connect(endpoint)
            context = await browser.new_context(**options)
        endpoint.track(context, purpose)
        return context

    def _probe(self) -> None:
        """Keep trying lost remote endpoints in the background until each answers again."""
        if self._prober is None or self._prober.done():
            self._prober = asyncio.get_running_loop().create_task(self._probe_loop(), name="thinkrun-endpoint-probe")

    async def _probe_loop(self) -> None:
        while not self._closing:
            down = [e for e in self.endpoints if e.remote and e.state == "down"]
            if not down:
                return
            await asyncio.sleep(_PROBE_SECONDS)
            for endpoint in down:
                if self._closing:
                    return
                try:
                    await asyncio.wait_for(self._connect(endpoint), timeout=30)
                    log.info("browser endpoint %s is back", endpoint.shown)
                except (ThinkRunError, TimeoutError) as exc:
                    log.debug("browser endpoint %s still down: %s", endpoint.shown, exc)

    # -- processes (doctor, benchmarks, crash tests) ------------------------------------

    def browser_processes(self) -> list[psutil.Process]:
        """The local browser's processes (main process first): this engine's own browser when
        its process is known, else every browser found below this process."""
        if self._pid is not None:
            try:
                main = psutil.Process(self._pid)
                return [main, *main.children(recursive=True)]
            except psutil.Error:  # it has exited
                return []
        return self._browsers_below_us()

    def _browsers_below_us(self, *, mains_only: bool = False) -> list[psutil.Process]:
        try:
            me = psutil.Process()
            procs = me.children(recursive=True)
        except psutil.Error:
            return []
        browsers = []
        for p in procs:
            try:
                name = p.name().lower()
                if "chrom" in name or "msedge" in name or "headless_shell" in name:
                    browsers.append(p)
            except psutil.Error:
                continue
        pids = {p.pid for p in browsers}
        mains = []
        for p in browsers:
            try:
                if p.ppid() not in pids:
                    mains.append(p)
            except psutil.Error:
                continue
        return mains if mains_only else mains + [p for p in browsers if p not in mains]

    def browser_pid(self) -> int | None:
        procs = self.browser_processes()
        return procs[0].pid if procs else None
