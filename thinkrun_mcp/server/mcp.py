"""The MCP front end: the server, its lifespan and its tools, registered from one list.

A thin adapter: each tool (``server/tools/``) validates, calls one service of
the :class:`~thinkrun_mcp.runtime.Runtime` by owner and id, and shapes the reply;
``server/app.py`` holds the plumbing they share.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from mcp.server.mcpserver import MCPServer

from .. import __version__
from ..config import Settings
from ..runtime import Runtime
from .app import ThinkRunMCP
from .tools import ALL_TOOLS

__all__ = ["INSTRUCTIONS", "create_server"]

log = logging.getLogger(__name__)

_CLOSE_SECONDS = 60  # longest a shutdown may take (ending sessions, stopping the browser, flushing the store)

INSTRUCTIONS = """\
thinkrun-mcp drives real, isolated Chromium sessions.
Start with browser_navigate(url); every browser tool works on your default session unless you pass sessionId
(session_create opens more). Observations list the page's elements with refs like e12; pass a ref to browser_act
(method=click|fill|select|press|…). browser_extract reads text/markdown/links/tables. Errors read
"<code>: <message> (hint: …)". agent_execute runs a whole task on its own; page_cache_* fetch a URL without a session."""


def create_server(settings: Settings | None = None, *, runtime: Runtime | None = None) -> ThinkRunMCP:
    """Build the MCP server.

    Args:
        settings: Configuration; read from the environment when omitted.
        runtime: An already started runtime to serve (tests share one); otherwise each
            lifespan (one per process for stdio and HTTP) starts and closes its own.
    """
    settings = settings or (runtime.settings if runtime else Settings())

    @asynccontextmanager
    async def lifespan(_server: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        if runtime is not None:
            yield runtime
            return
        rt = Runtime(settings)
        await rt.start()
        try:
            yield rt
        finally:
            # The transport may end in a cancelled scope (stdin closed, SIGTERM): closing must still run to
            # its end, or sessions stay "running" in the database and browsers are left behind.
            with anyio.move_on_after(_CLOSE_SECONDS, shield=True):
                await rt.close()

    server = ThinkRunMCP(
        "thinkrun-mcp", version=__version__, instructions=INSTRUCTIONS, lifespan=lifespan, log_level=settings.log_level
    )
    server.add_tools(ALL_TOOLS)
    return server
