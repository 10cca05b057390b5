"""Runtimes for tests: started on settings of their own, closed afterwards, and served to an in-process client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from mcp import Client

from tests.support.mcp import held_client
from tests.support.settings import make_settings
from thinkrun_mcp.browser.egress import Resolver
from thinkrun_mcp.runtime import Runtime
from thinkrun_mcp.server.mcp import create_server


@contextlib.asynccontextmanager
async def started_runtime(data_dir: Path, *, resolver: Resolver | None = None, **overrides: Any) -> AsyncIterator[Runtime]:
    """A runtime on ``make_settings(data_dir, **overrides)`` (and the egress ``resolver``), started, and closed afterwards."""
    rt = Runtime(make_settings(data_dir, **overrides), resolver=resolver)
    await rt.start()
    try:
        yield rt
    finally:
        await rt.close()


@contextlib.asynccontextmanager
async def served_runtime(data_dir: Path, **overrides: Any) -> AsyncIterator[tuple[Client, Runtime]]:
    """:func:`started_runtime` and an in-process MCP client on it: ``async with served_runtime(d) as (c, rt)``."""
    async with started_runtime(data_dir, **overrides) as rt, held_client(create_server(runtime=rt)) as c:
        yield c, rt
