"""page_cache_html, page_cache_text, page_cache_screenshot: a URL's content without a session."""

from __future__ import annotations

from typing import Annotated

from mcp.types import CallToolResult, ToolAnnotations

from ...models import CacheMetadata, CacheOptions, PageHtml, PageScreenshot, PageText, ScreenshotCacheOptions, TextCacheOptions
from ..app import Ctx, respond, runtime_of, terse, tool
from ..params import Url

__all__ = ["TOOLS"]

_READS = ToolAnnotations(readOnlyHint=True)


HtmlOptions = terse(CacheOptions)
TextOptions = terse(TextCacheOptions)
ShotOptions = terse(ScreenshotCacheOptions)


def _header(m: CacheMetadata) -> str:
    """One line the model reads before the content: where, what, how fresh."""
    facts = [f"HTTP {m.status}" if m.status is not None else "no HTTP status"]
    if m.title:
        facts.append(f"title {m.title!r}")
    if m.content_type:
        facts.append(m.content_type.split(";", 1)[0])
    facts.append(f"{m.bytes} bytes")
    facts.append(f"cached {m.age_seconds} s ago" if m.cached else "fetched now")
    line = f"{m.final_url} ({', '.join(facts)}; {m.provider}, {m.duration_ms} ms)"
    return line + (f"\nNote: {m.note}" if m.note else "")


@tool(
    description=(
        "Rendered HTML of a URL (no session), cached. options: provider, sensitive (stays local, unstored), "
        'waitFor (CSS, "text=…" or ms), timeout ms, maxAge s (0: fetch anew). '
        'Example: {"url": "https://example.com", "options": {"waitFor": "#main"}}'
    ),
    annotations=_READS,
)
async def page_cache_html(ctx: Ctx, url: Url, options: HtmlOptions | None = None) -> Annotated[CallToolResult, PageHtml]:
    r = await runtime_of(ctx).cache.html(url, options)
    return respond(r, f"{_header(r.metadata)}\n\n{r.html}")


@tool(
    description=(
        "Visible text or Markdown of a URL (no session), cached. options as page_cache_html, plus format. "
        'Example: {"url": "https://example.com", "options": {"format": "markdown"}}'
    ),
    annotations=_READS,
)
async def page_cache_text(ctx: Ctx, url: Url, options: TextOptions | None = None) -> Annotated[CallToolResult, PageText]:
    r = await runtime_of(ctx).cache.text(url, options)
    return respond(r, f"{_header(r.metadata)}\n\n{r.text}")


@tool(
    description=(
        "PNG of a URL (no session), cached. options as page_cache_html, plus fullPage, maxDimension px. "
        'Example: {"url": "https://example.com", "options": {"fullPage": true}}'
    ),
    annotations=_READS,
)
async def page_cache_screenshot(
    ctx: Ctx, url: Url, options: ShotOptions | None = None
) -> Annotated[CallToolResult, PageScreenshot]:
    r, image = await runtime_of(ctx).cache.screenshot(url, options)
    m = r.metadata
    text = _header(m)
    if image is not None:
        text += f"\nScreenshot {m.width}x{m.height}" + (f", kept at {r.artifact_url}" if r.artifact_url else "")
    return respond(r, text, image=(image, "image/png") if image is not None else None)


TOOLS = [page_cache_html, page_cache_text, page_cache_screenshot]
