"""Fixtures that start Chromium: the shared warm runtime, in-process MCP clients, runtimes of a test's own,
and a bare Playwright browser for the tests below the tools.

Everything is real: Chromium on pages of the fixture site, SQLite files in temp dirs, the MCP
client talking to the server in-process.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from playwright.async_api import Browser

from tests.support.chromium import launched_chromium
from tests.support.mcp import held_client
from tests.support.settings import make_settings
from thinkrun_mcp.runtime import Runtime
from thinkrun_mcp.server.mcp import create_server


@pytest.fixture(scope="session")
async def runtime(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Runtime]:
    """One warm runtime (browser already running) shared by the tests that do not need special settings."""
    rt = Runtime(make_settings(tmp_path_factory.mktemp("shared-data")))
    await rt.start()
    await rt.engine.browser()
    try:
        yield rt
    finally:
        await rt.close()


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
    """Start a runtime with its own settings (and data dir) for one test; closed afterwards."""

    @contextlib.asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[Runtime]:
        data_dir = overrides.pop("data_dir", tmp_path / "data")
        rt = Runtime(make_settings(data_dir, **overrides))
        await rt.start()
        try:
            yield rt
        finally:
            await rt.close()

    return factory


@pytest.fixture
def own_client(runtime_factory: Callable[..., Any]) -> Callable[..., contextlib.AbstractAsyncContextManager[tuple[Client, Runtime]]]:
    """An MCP client on a runtime of its own, with the given settings: ``async with own_client(**s) as (c, rt)``."""

    @contextlib.asynccontextmanager
    async def opened(**settings: Any) -> AsyncIterator[tuple[Client, Runtime]]:
        async with runtime_factory(**settings) as rt, held_client(create_server(runtime=rt)) as c:
            yield c, rt

    return opened


@pytest.fixture(scope="module")
async def chromium(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:
    """A bare Playwright ``Browser``, found and launched by the engine as the server would."""
    async with launched_chromium(tmp_path_factory.mktemp("chromium")) as browser:
        yield browser
