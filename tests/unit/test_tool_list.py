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
    assert len(wire) < 18_000, f"tools/list is {len(wire)} characters"  # 24 tools, ~730 characters each


async def test_an_unknown_tool_is_invalid_input_naming_the_closest_tool(tmp_path: Path) -> None:
    async with held_client(create_server(runtime=Runtime(make_settings(tmp_path)))) as client:
        result = await client.call_tool("browser_navigat", {"url": "https://example.com"})
    text = result.content[0].text
    assert result.is_error and text.startswith("invalid_input: there is no tool 'browser_navigat'")
    assert "did you mean 'browser_navigate'?" in text


async def test_arguments_are_checked_before_the_tool_runs(tmp_path: Path) -> None:
    # The runtime is never started: a tool that ran would fail with internal_error, not invalid_input.
    async with held_client(create_server(runtime=Runtime(make_settings(tmp_path)))) as client:
        wrong_type = await client.call_tool("browser_observe", {"maxChars": "lots"})
        unknown = await client.call_tool("browser_observe", {"max_chars": 900})
    assert wrong_type.content[0].text.startswith("invalid_input: maxChars:")
    assert unknown.content[0].text.startswith("invalid_input: browser_observe got unknown argument 'max_chars'")


async def test_a_secret_value_of_the_wrong_type_is_not_echoed_in_the_error(tmp_path: Path) -> None:
    async with held_client(create_server(runtime=Runtime(make_settings(tmp_path)))) as client:
        result = await client.call_tool(
            "agent_execute", {"instruction": "x", "secrets": [{"match": "a.example", "fields": {"password": 987654321}}]}
        )
    text = result.content[0].text
    assert result.is_error and text.startswith("invalid_input:") and "987654321" not in text


async def test_arguments_nested_too_deeply_get_a_coded_answer(tmp_path: Path) -> None:
    deep: dict = {}
    cur = deep
    for _ in range(5000):  # deeper than the interpreter's recursion limit
        cur["a"] = {}
        cur = cur["a"]
    server = create_server(runtime=Runtime(make_settings(tmp_path)))
    result = await server.call_tool("browser_extract", {"schema": deep})
    assert result.is_error and result.content[0].text.startswith("invalid_input: the arguments are nested too deeply")


async def test_unknown_keys_in_nested_objects_are_refused_like_top_level_ones(tmp_path: Path) -> None:
    nested: dict = {"taskDetails": "open the page"}
    cur = nested
    for _ in range(40):
        cur["extra"] = {}
        cur = cur["extra"]
    calls = [
        ("session_create", {"initialTask": nested}, "initialTask.extra"),
        ("session_create", {"viewport": {"width": 800, "height": 600, "depth": 24}}, "viewport.depth"),
        ("agent_execute", {"instruction": "x", "secrets": [{"match": "a.example", "fields": {}, "hint": "pw"}]}, "hint"),
        ("page_cache_html", {"url": "https://example.com", "options": {"waitFor": 0, "bogus": True}}, "bogus"),
    ]
    async with held_client(create_server(runtime=Runtime(make_settings(tmp_path)))) as client:
        for tool, args, named in calls:
            result = await client.call_tool(tool, args)
            text = result.content[0].text
            assert result.is_error and text.startswith("invalid_input:") and named in text, (tool, text)


async def test_an_error_about_the_arguments_hides_the_callers_secret_values(tmp_path: Path) -> None:
    runtime = Runtime(make_settings(tmp_path))
    runtime.redactors.for_owner("local").add({"hunter2-hunter2": "<secret:pw>"})
    async with held_client(create_server(runtime=runtime)) as client:
        unknown = await client.call_tool("hunter2-hunter2", {})
        bad = await client.call_tool("browser_observe", {"hunter2%2Dhunter2": 1})
    for result in (unknown, bad):
        text = result.content[0].text
        assert result.is_error and "<secret:pw>" in text and "hunter2" not in text, text
