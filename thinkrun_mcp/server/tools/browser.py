"""browser_navigate, browser_observe, browser_act, browser_extract, browser_screenshot."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from ...browser.actions import ActMethod
from ...models import ActResult, ExtractResult, NavigateResult, Observation, PageEvent, ScreenshotResult
from ..app import Ctx, owner_of, respond, runtime_of, tool
from ..params import Cursor, MaxChars, OptionalSessionId, Ref, Selector

__all__ = ["TOOLS"]


def _events_text(events: list[PageEvent]) -> str:
    return "".join(f"\n- {e.kind}: {e.message}" for e in events)


@tool(
    description=(
        "Open a URL (or go back/forward/reload) and return the page observation: elements with refs for "
        'browser_act. Example: {"url": "https://example.com"}'
    ),
    annotations=ToolAnnotations(openWorldHint=True, destructiveHint=False),
)
async def browser_navigate(
    ctx: Ctx,
    url: Annotated[str | None, Field(description="Where to go (http/https).", max_length=8192)] = None,
    action: Annotated[Literal["goto", "back", "forward", "reload"], Field(description="goto needs url.")] = "goto",
    session_id: OptionalSessionId = None,
    wait_until: Literal["load", "domcontentloaded", "networkidle", "commit"] = "load",
    timeout_ms: Annotated[int | None, Field(ge=1000, le=300_000)] = None,
) -> Annotated[CallToolResult, NavigateResult]:
    r = await runtime_of(ctx).browser.navigate(
        owner_of(ctx), session_id, url=url, action=action, wait_until=wait_until, timeout_ms=timeout_ms
    )
    status = f" (HTTP {r.status})" if r.status is not None else ""
    text = f"Session {r.session_id}: at {r.url}{status}.{_events_text(r.events)}\n\n{r.observation.text}"
    return respond(r, text)


@tool(
    description=(
        'The page, compactly: URL, title, tabs, events and the elements in view with refs. scope="page" for '
        'all of it; instruction ranks elements. Example: {"instruction": "the login button"}'
    ),
    annotations=ToolAnnotations(readOnlyHint=True),
)
async def browser_observe(
    ctx: Ctx,
    session_id: OptionalSessionId = None,
    scope: Literal["viewport", "page"] = "viewport",
    cursor: Cursor = 0,
    max_chars: MaxChars = None,
    instruction: Annotated[str | None, Field(description="Rank elements for this goal.", max_length=2000)] = None,
) -> Annotated[CallToolResult, Observation]:
    obs = await runtime_of(ctx).browser.observe(
        owner_of(ctx), session_id, scope=scope, max_chars=max_chars, cursor=cursor, instruction=instruction
    )
    return respond(obs, obs.text)


@tool(
    description=(
        "Act on an element given by ref, selector or plain-words instruction; returns what happened and the new "
        'observation. Example: {"method": "fill", "ref": "e4", "value": "ada@example.com"} or '
        '{"instruction": "click Sign in"}'
    ),
    annotations=ToolAnnotations(openWorldHint=True, destructiveHint=True),
)
async def browser_act(
    ctx: Ctx,
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
        str | None,
        Field(description='Plain words instead of ref/method: "click Sign in", "type hi into Search".', max_length=2000),
    ] = None,
    session_id: OptionalSessionId = None,
    timeout_ms: Annotated[int | None, Field(ge=100, le=120_000)] = None,
) -> Annotated[CallToolResult, ActResult]:
    r = await runtime_of(ctx).browser.act(
        owner_of(ctx),
        session_id,
        method=method,
        ref=ref,
        selector=selector,
        value=value,
        instruction=instruction,
        timeout_ms=timeout_ms,
    )
    target = f" on {r.ref}" if r.ref else (f" on {r.selector!r}" if r.selector else "")
    facts = []
    if r.navigated:
        facts.append(f"now at {r.url}")
    if r.tab_changed:
        facts.append(f"active tab is {r.active_tab} of {r.tab_count}")
    done = f"{r.method}{target}: done" + (f"; {', '.join(facts)}" if facts else "")
    return respond(r, f"{done}.{_events_text(r.events)}\n\n{r.observation.text}")


@tool(
    description=(
        "Read the page or one element (ref/selector) as text, markdown, html, links or table, in parts (cursor). "
        'With instruction/schema an LLM returns validated JSON. Example: {"format": "table", "ref": "e40"}'
    ),
    annotations=ToolAnnotations(readOnlyHint=True),
)
async def browser_extract(
    ctx: Ctx,
    format: Literal["text", "markdown", "html", "links", "table"] = "markdown",
    ref: Ref = None,
    selector: Selector = None,
    session_id: OptionalSessionId = None,
    cursor: Cursor = 0,
    max_chars: MaxChars = None,
    instruction: Annotated[str | None, Field(description="What to extract, in words.", max_length=10_000)] = None,
    schema: Annotated[dict[str, Any] | None, Field(description="JSON Schema the result must match.")] = None,
) -> Annotated[CallToolResult, ExtractResult]:
    r = await runtime_of(ctx).browser.extract(
        owner_of(ctx),
        session_id,
        format=format,
        ref=ref,
        selector=selector,
        max_chars=max_chars,
        cursor=cursor,
        instruction=instruction,
        schema=schema,
    )
    more = f"\n[{r.total_chars} chars in all; continue with cursor={r.cursor}]" if r.cursor is not None else ""
    return respond(r, (r.content or "(empty)") + more)


@tool(
    description=(
        "Screenshot the viewport, the full page, or one element (ref/selector); saved as an artifact. "
        'Example: {"fullPage": true, "maxDimension": 1024}'
    ),
    annotations=ToolAnnotations(readOnlyHint=True),
)
async def browser_screenshot(
    ctx: Ctx,
    session_id: OptionalSessionId = None,
    full_page: bool = False,
    ref: Ref = None,
    selector: Selector = None,
    max_dimension: Annotated[int | None, Field(ge=16, le=8192, description="Longest side in pixels.")] = None,
    format: Literal["png", "jpeg"] = "png",
) -> Annotated[CallToolResult, ScreenshotResult]:
    r, data = await runtime_of(ctx).browser.screenshot(
        owner_of(ctx), session_id, full_page=full_page, ref=ref, selector=selector, max_dimension=max_dimension, format=format
    )
    text = f"Screenshot {r.object_id}: {r.width}x{r.height} {r.format}, {r.bytes} bytes, saved to {r.path}"
    return respond(r, text, image=(data, f"image/{r.format}"))


TOOLS = [browser_navigate, browser_observe, browser_act, browser_extract, browser_screenshot]
