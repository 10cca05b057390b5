"""Fixtures that start Chromium: the shared warm runtime, in-process MCP clients, runtimes of a test's own,
and a bare Playwright browser for the tests below the tools.

Everything is real: Chromium on pages of the fixture site, SQLite files in temp dirs, the MCP
client talking to the server in-process.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from mcp import Client
from playwright.async_api import Browser

from tests.support.chromium import launched_chromium
from tests.support.mcp import held_client
from tests.support.runtime import served_runtime, started_runtime
from thinkrun_mcp.runtime import Runtime
from thinkrun_mcp.server.mcp import create_server


@pytest.fixture(scope="session")
async def runtime(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Runtime]:
    """One warm runtime (browser already running) shared by the tests that do not need special settings."""
    async with started_runtime(tmp_path_factory.mktemp("shared-data")) as rt:
        await rt.engine.browser()
        yield rt


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[Client]:
    """An in-process MCP client on the shared runtime; sessions the test opened are closed after it."""
    async with held_client(create_server(runtime=runtime)) as c:
        try:
            yield c
        finally:
            await runtime.registry.end_all("test finished")


@pytest.fixture
def runtime_factory(tmp_path: Path) -> Callable[..., contextlib.AbstractAsyncContextManager[Runtime]]:
    """Start a runtime with its own settings (and data dir) for one test: ``async with runtime_factory(**s) as rt``."""
    return lambda data_dir=tmp_path / "data", **settings: started_runtime(data_dir, **settings)


@pytest.fixture
def own_client(tmp_path: Path) -> Callable[..., contextlib.AbstractAsyncContextManager[tuple[Client, Runtime]]]:
    """An MCP client on a runtime of its own, with the given settings: ``async with own_client(**s) as (c, rt)``."""
    return lambda data_dir=tmp_path / "data", **settings: served_runtime(data_dir, **settings)


@pytest.fixture(scope="module")
async def chromium(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:
    """A bare Playwright ``Browser``, found and launched by the engine as the server would."""
    async with launched_chromium(tmp_path_factory.mktemp("chromium")) as browser:
        yield browser
