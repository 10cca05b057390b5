"""browser_navigate, browser_observe, browser_act, browser_extract, browser_screenshot."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from ...browser.actions import ActMethod
from ...models import ActResult, ExtractResult, NavigateResult, Observation, PageEvent, ScreenshotResult
from ..mcp import ThinkRunMCP, camel_case_args, client_key, respond, runtime_of

SessionId = Annotated[str | None, Field(max_length=100)]  # omitted: the default session (see INSTRUCTIONS)
Ref = Annotated[str | None, Field(description='From the observation, e.g. "e12".', max_length=32)]
Selector = Annotated[str | None, Field(description="CSS/Playwright selector.", max_length=2000)]
MaxChars = Annotated[int | None, Field(ge=500, le=200_000)]
Cursor = Annotated[int, Field(ge=0, description="A previous result's cursor, to read on.")]


def _events_text(events: list[PageEvent]) -> str:
    return "".join(f"\n- {e.kind}: {e.message}" for e in events)


def register(server: ThinkRunMCP) -> None:
    @server.tool(
        description=(
            "Open a URL (or go back/forward/reload) and return the page observation: elements with refs for "
            "browser_act. Example: {\"url\": \"https://example.com\"}"
        ),
        annotations=ToolAnnotations(openWorldHint=True, destructiveHint=False),
    )
    @camel_case_args
    async def browser_navigate(
        ctx: Context,
        url: Annotated[str | None, Field(description="Where to go (http/https).", max_length=8192)] = None,
        action: Annotated[Literal["goto", "back", "forward", "reload"], Field(description="goto needs url.")] = "goto",
        session_id: SessionId = None,
        wait_until: Literal["load", "domcontentloaded", "networkidle", "commit"] = "load",
        timeout_ms: Annotated[int | None, Field(ge=1000, le=300_000)] = None,
    ) -> Annotated[CallToolResult, NavigateResult]:
        rt = runtime_of(ctx)
        session = await rt.registry.resolve(client_key(ctx), session_id)
        r = await rt.browser.navigate(session, url=url, action=action, wait_until=wait_until, timeout_ms=timeout_ms)
        status = f" (HTTP {r.status})" if r.status is not None else ""
        text = f"Session {r.session_id}: at {r.url}{status}.{_events_text(r.events)}\n\n{r.observation.text}"
        return respond(r, text)

    @server.tool(
        description=(
            "The page, compactly: URL, title, tabs, events and the elements in view with refs. scope=\"page\" for "
            "all of it; instruction ranks elements. Example: {\"instruction\": \"the login button\"}"
        ),
        annotations=ToolAnnotations(readOnlyHint=True),
    )
    @camel_case_args
    async def browser_observe(
        ctx: Context,
        session_id: SessionId = None,
        scope: Literal["viewport", "page"] = "viewport",
        cursor: Cursor = 0,
        max_chars: MaxChars = None,
        instruction: Annotated[str | None, Field(description="Rank elements for this goal.", max_length=2000)] = None,
    ) -> Annotated[CallToolResult, Observation]:
        rt = runtime_of(ctx)
        session = await rt.registry.resolve(client_key(ctx), session_id)
        obs = await rt.browser.observe(session, scope=scope, max_chars=max_chars, cursor=cursor, instruction=instruction)
        return respond(obs, obs.text)

    @server.tool(
        description=(
            "Act on an element given by ref, selector or plain-words instruction; returns what happened and the new "
            "observation. Example: {\"method\": \"fill\", \"ref\": \"e4\", \"value\": \"ada@example.com\"} or "
            "{\"instruction\": \"click Sign in\"}"
        ),
        annotations=ToolAnnotations(openWorldHint=True, destructiveHint=True),
    )
    @camel_case_args
    async def browser_act(
        ctx: Context,
        method: Annotated[ActMethod | None, Field(description="What to do; may be omitted with instruction.")] = None,
        ref: Ref = None,
        selector: Selector = None,
        value: Annotated[
            str | None,
            Field(
                description='Text to fill/type, key ("Enter"), option, file to upload, wait target ("1500", '
                '"text=Done", "url=/next"), tab number, or "accept"/"dismiss" for a dialog.',
                max_length=100_000,
            ),
        ] = None,
        instruction: Annotated[
            str | None, Field(description='Plain words instead of ref/method: "click Sign in", "type hi into Search".', max_length=2000)
        ] = None,
        session_id: SessionId = None,
        timeout_ms: Annotated[int | None, Field(ge=100, le=120_000)] = None,
    ) -> Annotated[CallToolResult, ActResult]:
        rt = runtime_of(ctx)
        session = await rt.registry.resolve(client_key(ctx), session_id)
        r = await rt.browser.act(
            session, method=method, ref=ref, selector=selector, value=value, instruction=instruction, timeout_ms=timeout_ms
        )
        target = f" on {r.ref}" if r.ref else (f" on {r.selector!r}" if r.selector else "")
        facts = []
        if r.navigated:
            facts.append(f"now at {r.url}")
        if r.tab_changed:
            facts.append(f"active tab is {session.tab_index()} of {len(session.pages)}")
        text = f"{r.method}{target}: done" + (f"; {', '.join(facts)}" if facts else "") + f".{_events_text(r.events)}\n\n{r.observation.text}"
        return respond(r, text)

    @server.tool(
        description=(
            "Read the page or one element (ref/selector) as text, markdown, html, links or table, in parts (cursor). "
            "With instruction/schema an LLM returns validated JSON. Example: {\"format\": \"table\", \"ref\": \"e40\"}"
        ),
        annotations=ToolAnnotations(readOnlyHint=True),
    )
    @camel_case_args
    async def browser_extract(
        ctx: Context,
        format: Literal["text", "markdown", "html", "links", "table"] = "markdown",  # noqa: A002
        ref: Ref = None,
        selector: Selector = None,
        session_id: SessionId = None,
        cursor: Cursor = 0,
        max_chars: MaxChars = None,
        instruction: Annotated[str | None, Field(description="What to extract, in words.", max_length=10_000)] = None,
        schema: Annotated[dict[str, Any] | None, Field(description="JSON Schema the result must match.")] = None,
    ) -> Annotated[CallToolResult, ExtractResult]:
        rt = runtime_of(ctx)
        session = await rt.registry.resolve(client_key(ctx), session_id)
        r = await rt.browser.extract(
            session, format=format, ref=ref, selector=selector, max_chars=max_chars, cursor=cursor,
            instruction=instruction, schema=schema,
        )  # fmt: skip
        more = f"\n[{r.total_chars} chars in all; continue with cursor={r.cursor}]" if r.cursor is not None else ""
        return respond(r, (r.content or "(empty)") + more)

    @server.tool(
        description=(
            "Screenshot the viewport, the full page, or one element (ref/selector); saved as an artifact. "
            "Example: {\"fullPage\": true, \"maxDimension\": 1024}"
        ),
        annotations=ToolAnnotations(readOnlyHint=True),
    )
    @camel_case_args
    async def browser_screenshot(
        ctx: Context,
        session_id: SessionId = None,
        full_page: bool = False,
        ref: Ref = None,
        selector: Selector = None,
        max_dimension: Annotated[int | None, Field(ge=16, le=8192, description="Longest side in pixels.")] = None,
        format: Literal["png", "jpeg"] = "png",
    ) -> Annotated[CallToolResult, ScreenshotResult]:
        rt = runtime_of(ctx)
        session = await rt.registry.resolve(client_key(ctx), session_id)
        r, data = await rt.browser.screenshot(
            session, full_page=full_page, ref=ref, selector=selector, max_dimension=max_dimension, format=format
        )
        text = f"Screenshot {r.object_id}: {r.width}x{r.height} {r.format}, {r.bytes} bytes, saved to {r.path}"
        return respond(r, text, image=(data, f"image/{r.format}"))
