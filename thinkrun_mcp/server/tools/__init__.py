"""MCP tools, one module per family."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..mcp import ThinkRunMCP


def register_all(server: ThinkRunMCP) -> None:
    from . import agent, browser, cache, sessions

    browser.register(server)
    sessions.register(server)
    cache.register(server)
    agent.register(server)
