"""Fixtures that start Chromium: the shared warm runtime, in-process MCP clients, runtimes of a test's own,
a bare Playwright browser for the tests below the tools, and the LLM backends wired to local fakes.

Everything is real: Chromium on pages of the fixture site, SQLite files in temp dirs, the MCP
client talking to the server in-process.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from mcp import Client
from playwright.async_api import Browser
from pydantic import SecretStr

from tests.support.chromium import launched_chromium
from tests.support.fakes import FakeAnthropic, FakeClientModel, FakeGemini, FakeOpenAI
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


# -- LLM backends on local fakes ---------------------------------------------------------------
# The key goes into the environment, for runtimes built during the test, and into the settings of the
# shared runtime, built before; Gemini's and Anthropic's base URLs stay variables their SDKs read themselves.


def _use(monkeypatch: pytest.MonkeyPatch, runtime: Runtime, field: str, key: str, **env: str) -> None:
    monkeypatch.setattr(runtime.settings, field, SecretStr(key))
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def gemini(monkeypatch: pytest.MonkeyPatch, runtime: Runtime) -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        _use(monkeypatch, runtime, "gemini_api_key", "k-gemini", GEMINI_API_KEY="k-gemini", GOOGLE_GEMINI_BASE_URL=fake.base_url)
        yield fake


@pytest.fixture
def claude(monkeypatch: pytest.MonkeyPatch, runtime: Runtime) -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        _use(monkeypatch, runtime, "anthropic_api_key", "k-ant", ANTHROPIC_API_KEY="k-ant", ANTHROPIC_BASE_URL=fake.base_url)
        yield fake


@pytest.fixture
def openai(monkeypatch: pytest.MonkeyPatch, runtime: Runtime) -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="k-openai") as fake:
        _use(monkeypatch, runtime, "openai_api_key", "k-openai", OPENAI_API_KEY="k-openai", OPENAI_BASE_URL=fake.api_base)
        monkeypatch.setattr(runtime.settings, "openai_base_url", fake.api_base)
        yield fake


@pytest.fixture
async def sampling(runtime: Runtime) -> AsyncIterator[FakeClientModel]:
    """The model of an MCP client that supports sampling with tools; ``.client`` is that client (on the shared runtime)."""
    model = FakeClientModel()
    async with held_client(create_server(runtime=runtime), mode="legacy", **model.client_options()) as c:
        model.client = c
        try:
            yield model
        finally:
            await runtime.registry.end_all("test finished")


class Agent(NamedTuple):
    """A backend under test: its name, the fake answering for its model, and the MCP client to call tools with."""

    name: str
    fake: Any
    client: Client


ALL_BACKENDS = ["gemini", "claude", "openai", "sampling"]
HTTP_BACKENDS = ["gemini", "claude", "openai"]  # those that talk to a provider's HTTP API (status codes, retries)


def _agent(request: pytest.FixtureRequest) -> Agent:
    fake = request.getfixturevalue(request.param)
    client = fake.client if request.param == "sampling" else request.getfixturevalue("client")
    return Agent(request.param, fake, client)


@pytest.fixture(params=ALL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> Agent:
    """Each test using it runs once per backend, the calling client's own model (sampling) included."""
    return _agent(request)


@pytest.fixture(params=HTTP_BACKENDS)
def http_backend(request: pytest.FixtureRequest) -> Agent:
    """Each test using it runs once per backend with a provider's HTTP API."""
    return _agent(request)
