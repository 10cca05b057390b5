"""The browser engine on real browsers: none at the configured path, and remote ones.

Remote browsers are real: a ``playwright run-server`` and a Chromium with a DevTools port,
both started here on 127.0.0.1 and ended with their children (``tests/support/remote.py``).
"""

from __future__ import annotations

from pathlib import Path

from tests.support.chromium import chromium_executable
from tests.support.mcp import call, call_error, error_code, held_client, ref_of, text_of
from tests.support.remote import devtools_chromium, playwright_server
from tests.support.site import FixtureSite
from thinkrun_mcp.server.mcp import create_server

# -- no browser ------------------------------------------------------------------------------


async def test_tool_call_without_a_browser_reports_browser_unavailable(
    runtime_factory, site: FixtureSite, tmp_path: Path
) -> None:
    async with (
        runtime_factory(browser_path=str(tmp_path / "no-such-chrome")) as rt,
        held_client(create_server(runtime=rt)) as c,
    ):
        text = await call_error(c, "browser_navigate", {"url": site.url("index.html")})

    assert error_code(text) == "browser_unavailable", text
    assert "not an executable file" in text
    assert "(hint: " in text and "playwright install chromium" in text


# -- remote browsers ------------------------------------------------------------------------


async def test_runtime_drives_a_browser_launched_by_playwright_run_server(
    runtime_factory, site: FixtureSite, tmp_path: Path
) -> None:
    executable = await chromium_executable(tmp_path / "discovery")
    # The server runs with --unsafe so the client may choose the executable: it may not have a Chromium of its own.
    async with (
        playwright_server(tmp_path) as (url, _server),
        runtime_factory(browser_endpoint=url, browser_path=executable) as rt,
    ):
        async with held_client(create_server(runtime=rt)) as c:
            await call(c, "browser_navigate", {"url": site.url("index.html")})
            observed = await c.call_tool("browser_observe", {})
        location = rt.engine.location

    assert not observed.is_error, text_of(observed)
    assert ref_of(text_of(observed), "link", "Forms")
    assert location is not None and location.source == "remote"


async def test_runtime_drives_a_browser_over_its_devtools_endpoint(runtime_factory, site: FixtureSite, tmp_path: Path) -> None:
    executable = await chromium_executable(tmp_path / "discovery")
    async with devtools_chromium(executable, tmp_path) as (url, _chromium), runtime_factory(browser_endpoint=url) as rt:
        async with held_client(create_server(runtime=rt)) as c:
            nav = await call(c, "browser_navigate", {"url": site.url("forms.html")})
        location = rt.engine.location

    assert nav["url"] == site.url("forms.html")
    assert "textbox" in nav["observation"]["text"]
    assert location is not None and location.endpoint == url
