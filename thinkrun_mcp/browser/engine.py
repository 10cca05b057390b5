"""The browser engine: one Playwright driver and one shared Chromium.

Discovery, in order: the configured executable path → Playwright's own
Chromium (``python -m playwright install chromium``) → a system Chrome or
Chromium on PATH or in its usual places. Or, with ``browser_endpoint``, a
remote browser: a Playwright server (``ws://…``) or a Chrome DevTools endpoint
(``http://…``). A Playwright server launches the browser itself, with our
``headless``, ``browser_path`` and ``browser_args`` as its launch options (the
last two only if it runs with ``--unsafe``).

The browser is launched on first use. If it goes away (crash, kill, remote
disconnect) the engine tells its listener (the session registry) and launches
a fresh one for the next context.
"""

from __future__ import annotations

import asyncio
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

__all__ = ["LAUNCH_ARGS", "BrowserEngine", "BrowserLocation", "find_browser"]

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
            return f"remote browser at {self.endpoint}"
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
    """Locate a browser or raise ``browser_unavailable`` naming what was tried."""
    if settings.browser_endpoint:
        return BrowserLocation("remote", None, settings.browser_endpoint)
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


class BrowserEngine:
    """Owns the Playwright driver and the shared browser."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self._location: BrowserLocation | None = None
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[str], Any]] = []
        self._closing = False
        self.launches = 0
        self._pid: int | None = None  # the local browser's main process, once launched

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._pw is None:
            self._pw = await async_playwright().start()

    async def close(self) -> None:
        self._closing = True
        browser, self._browser = self._browser, None
        if browser is not None:
            try:
                await asyncio.wait_for(browser.close(), timeout=10)
            except Exception as exc:  # already gone or hung: the driver's exit below takes it down
                log.debug("browser close: %s", exc)
        if self._pw is not None:
            pw, self._pw = self._pw, None
            try:
                await asyncio.wait_for(pw.stop(), timeout=10)
            except Exception as exc:
                log.warning("playwright driver stop failed: %s", exc)

    def on_disconnect(self, callback: Callable[[str], Any]) -> None:
        """Register ``callback(reason)`` for when the browser goes away unexpectedly."""
        self._listeners.append(callback)

    @property
    def playwright(self) -> Playwright:
        if self._pw is None:
            raise RuntimeError("browser engine not started")
        return self._pw

    @property
    def location(self) -> BrowserLocation | None:
        return self._location

    @property
    def connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    @property
    def version(self) -> str | None:
        return self._browser.version if self._browser is not None else None

    # -- the browser ---------------------------------------------------------------------

    async def browser(self) -> Browser:
        """The shared browser, launched (or re-launched after a crash) on demand."""
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._closing:
                raise ThinkRunError("browser_unavailable", "the server is shutting down")
            await self.start()
            location = find_browser(self.settings, self._pw)
            before = {p.pid for p in self._browsers_below_us()} if location.source != "remote" else set()
            browser = await self._open(location)
            browser.on("disconnected", lambda _b: self._disconnected(browser))
            self._browser, self._location = browser, location
            if location.source != "remote":
                # Another engine in this process (tests, benchmarks) has browsers of its own: remember ours.
                fresh = [p.pid for p in self._browsers_below_us(mains_only=True) if p.pid not in before]
                self._pid = fresh[0] if len(fresh) == 1 else None
            self.launches += 1
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
            raise ThinkRunError(
                "browser_unavailable",
                f"could not start or reach the {location.describe()}: {first}",
                hint=REMEDY
                if location.source != "remote"
                else "check THINKRUN_BROWSER_ENDPOINT and that the remote browser is running",
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

    def _disconnected(self, browser: Browser) -> None:
        if self._browser is browser:
            self._browser = None
        if self._closing:
            return
        reason = (
            "the browser process exited unexpectedly"
            if self._location and self._location.source != "remote"
            else "the remote browser disconnected"
        )
        log.warning("%s; sessions on it are lost, the next session launches a new browser", reason)
        for cb in list(self._listeners):
            try:
                cb(reason)
            except Exception:
                log.exception("browser disconnect listener failed")

    async def new_context(self, **options: Any) -> BrowserContext:
        browser = await self.browser()
        try:
            return await browser.new_context(**options)
        except PlaywrightError:
            if not browser.is_connected():
                # It died between the check and the call: one retry on a fresh browser.
                browser = await self.browser()
                return await browser.new_context(**options)
            raise

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
