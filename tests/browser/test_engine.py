"""The browser engine on real browsers: none at the configured path, and remote ones.

Remote browsers are real: a ``playwright run-server`` and a Chromium with a DevTools port,
both started here on 127.0.0.1 and ended with their children.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.support.chromium import chromium_executable
from tests.support.mcp import call, call_error, error_code, held_client, ref_of, text_of
from tests.support.procs import free_port, spawned, wait_for_port
from tests.support.site import FixtureSite
from thinkrun_mcp.browser.engine import LAUNCH_ARGS
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
    port = free_port()
    log = tmp_path / "run-server.log"
    executable = await chromium_executable(tmp_path / "discovery")
    # --unsafe lets the client choose the executable: the server may not have a Chromium of its own.
    cmd = [sys.executable, "-m", "playwright", "run-server", "--port", str(port), "--host", "127.0.0.1", "--unsafe"]
    with spawned(cmd, log=log) as server:
        await wait_for_port(port, server, log=log)
        async with runtime_factory(browser_endpoint=f"ws://127.0.0.1:{port}/", browser_path=executable) as rt:
            async with held_client(create_server(runtime=rt)) as c:
                await call(c, "browser_navigate", {"url": site.url("index.html")})
                observed = await c.call_tool("browser_observe", {})
            location = rt.engine.location

    assert not observed.is_error, text_of(observed)
    assert ref_of(text_of(observed), "link", "Forms")
    assert location is not None and location.source == "remote"


async def test_runtime_drives_a_browser_over_its_devtools_endpoint(runtime_factory, site: FixtureSite, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "chromium.log"
    cmd = [
        await chromium_executable(tmp_path / "discovery"),
        "--headless=new",
        f"--remote-debugging-port={port}",
        "--remote-debugging-address=127.0.0.1",
        f"--user-data-dir={tmp_path / 'profile'}",
        *LAUNCH_ARGS,
        "about:blank",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")
    with spawned(cmd, log=log) as chromium:
        await wait_for_port(port, chromium, log=log)
        async with runtime_factory(browser_endpoint=f"http://127.0.0.1:{port}") as rt:
            async with held_client(create_server(runtime=rt)) as c:
                nav = await call(c, "browser_navigate", {"url": site.url("forms.html")})
            location = rt.engine.location

    assert nav["url"] == site.url("forms.html")
    assert "textbox" in nav["observation"]["text"]
    assert location is not None and location.endpoint == f"http://127.0.0.1:{port}"
