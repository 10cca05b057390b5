"""Talking to the server through the real MCP client: a client held open across tasks, tool calls
that must succeed or fail, and readers for what comes back (text, refs, error codes)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from mcp import Client
from mcp.types import CallToolResult

from tests.support.site import VALID_EMAIL, VALID_PASSWORD


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


async def sign_in(client: Client, site: Any, sid: str) -> None:
    """Sign in on the fixture site's login form in session ``sid`` (sets its auth cookie)."""
    text = text_of(await client.call_tool("browser_navigate", {"sessionId": sid, "url": site.url("login.html")}))
    await call(
        client, "browser_act", {"sessionId": sid, "method": "fill", "ref": ref_of(text, "textbox", "Email"), "value": VALID_EMAIL}
    )
    await call(
        client,
        "browser_act",
        {"sessionId": sid, "method": "fill", "ref": ref_of(text, "textbox", "Password"), "value": VALID_PASSWORD},
    )
    await call(client, "browser_act", {"sessionId": sid, "method": "click", "ref": ref_of(text, "button", "Sign in")})
