"""The tool list a client reads on connecting, through the real in-process MCP client.

Listing tools touches no browser, so the runtime behind the server is never started.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.mcp import held_client
from tests.support.settings import make_settings
from thinkrun_mcp.runtime import Runtime
from thinkrun_mcp.server.mcp import create_server


async def test_tool_list_is_compact_and_every_tool_is_described(tmp_path: Path) -> None:
    async with held_client(create_server(runtime=Runtime(make_settings(tmp_path)))) as client:
        tools = (await client.list_tools()).tools
    wire = json.dumps([t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in tools], separators=(",", ":"))

    assert all(t.description and t.description.strip() for t in tools), [t.name for t in tools if not t.description]
    assert all(t.input_schema.get("type") == "object" for t in tools)
    assert len(wire) < 15_000, f"tools/list is {len(wire)} characters"
