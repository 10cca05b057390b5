"""Shared fixtures: the fixture site, settings on temp dirs, runtimes, in-process MCP clients.

Everything is real: Chromium on pages served from tests/site by a local server,
SQLite files in temp dirs, the MCP client talking to the server in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from tests.site_server import FixtureSite, start_site
from thinkrun_mcp.config import Settings
from thinkrun_mcp.runtime import Runtime
from thinkrun_mcp.server.mcp import create_server

# Tests never read a developer's .env, THINKRUN_* environment or real LLM keys and endpoints:
# tests that need a model point the SDKs at local fake servers themselves.
_LLM_ENV = (
    "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_CLOUD_PROJECT",
    "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL",
)  # fmt: skip
for _name in [n for n in os.environ if n.startswith("THINKRUN_") or n in _LLM_ENV]:
    del os.environ[_name]


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test: temp data dir, no .env, generous session cap unless overridden."""
    base: dict[str, Any] = {"data_dir": data_dir, "max_sessions": 50, "log_level": "WARNING"}
    base.update(overrides)
    return Settings(_env_file=None, **base)


@pytest.fixture(scope="session")
def site() -> FixtureSite:
    with start_site() as s:
        yield s


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


async def _end_all(rt: Runtime) -> None:
    await rt.registry.end_all("test finished")


@contextlib.asynccontextmanager
async def held_client(target: Any, **kwargs: Any) -> AsyncIterator[Client]:
    """An MCP client whose connection lives in a task of its own.

    pytest-asyncio runs a fixture's setup and teardown in different tasks, but the
    client's anyio task group must be exited by the task that entered it.
    """
    ready: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()

    async def hold() -> None:
        try:
            async with Client(target, **kwargs) as c:
                ready.set_result(c)
                await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    task = asyncio.create_task(hold(), name="mcp-test-client")
    try:
        yield await ready
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[Client]:
    """An in-process MCP client on the shared runtime; sessions the test opened are closed after it."""
    async with held_client(create_server(runtime=runtime)) as c:
        try:
            yield c
        finally:
            await _end_all(runtime)


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


# -- calling tools ------------------------------------------------------------------------


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", None) == "text")


async def call(client: Client, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call a tool that must succeed; returns its structured content."""
    result = await client.call_tool(name, args or {})
    assert not result.is_error, f"{name} failed: {text_of(result)}"
    if result.structured_content is None:
        return json.loads(text_of(result))
    return result.structured_content


async def call_error(client: Client, name: str, args: dict[str, Any] | None = None) -> str:
    """Call a tool that must fail; returns the error text (``"<code>: message (hint: …)"``)."""
    result = await client.call_tool(name, args or {})
    assert result.is_error, f"{name} unexpectedly succeeded: {text_of(result)[:500]}"
    return text_of(result)


def ref_of(text: str, role: str, name: str) -> str:
    """The ref of the element ``role "name"`` in an observation text."""
    m = re.search(rf'- {re.escape(role)} "{re.escape(name)}"[^\n]*?\[ref=([a-z0-9]+)\]', text)
    assert m, f'{role} "{name}" is not in the observation:\n{text[:3000]}'
    return m.group(1)


async def page_text(client: Client, session_id: str | None = None, **args: Any) -> str:
    """The visible text of the active tab (browser_extract format=text), all of it."""
    if session_id:
        args["sessionId"] = session_id
    return (await call(client, "browser_extract", {"format": "text", "maxChars": 200_000, **args}))["content"]


def error_code(text: str) -> str:
    """The code of an error text ``"<code>: message (hint: …)"``."""
    return text.split(":", 1)[0]
