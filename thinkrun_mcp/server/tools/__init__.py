"""MCP tools, one module per family; each module lists its tools in ``TOOLS``."""

from __future__ import annotations

from . import agent, browser, cache, profiles, sessions

__all__ = ["ALL_TOOLS"]

ALL_TOOLS = [*browser.TOOLS, *sessions.TOOLS, *profiles.TOOLS, *cache.TOOLS, *agent.TOOLS]
