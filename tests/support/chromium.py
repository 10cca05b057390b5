"""The Chromium of the tests is the one the engine finds (``find_browser``) and launches, with its flags.

No test looks for a browser on its own: a machine on which the tests find Chromium is a machine on
which the server does, and the other way round.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from playwright.async_api import Browser

from tests.support.settings import make_settings
from thinkrun_mcp.browser.engine import BrowserEngine, find_browser


@contextlib.asynccontextmanager
async def launched_chromium(data_dir: Path) -> AsyncIterator[Browser]:
    """A bare Playwright ``Browser`` launched by a ``BrowserEngine`` of its own; closed with it afterwards."""
    engine = BrowserEngine(make_settings(data_dir))
    await engine.start()
    try:
        yield await engine.browser()
    finally:
        await engine.close()


async def chromium_executable(data_dir: Path) -> str:
    """The executable the engine's discovery picks: Playwright's Chromium, else a system Chrome/Chromium."""
    engine = BrowserEngine(make_settings(data_dir))
    await engine.start()
    try:
        location = find_browser(engine.settings, engine.playwright)
    finally:
        await engine.close()
    assert location.path, location
    return location.path
