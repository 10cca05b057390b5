"""Page-cache benchmarks: hits inside the server, cold renders, and many distinct pages at once.

Run alone: ``python benchmarks/bench_cache.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.common import Row, measure, p50_p95
from tests.support.mcp import held_client
from tests.support.settings import make_settings
from thinkrun_mcp.runtime import Runtime
from thinkrun_mcp.server.mcp import create_server

SECTION = "cache"
SMALL_PAGES = ["forms.html", "login.html", "dialogs.html", "shadow.html", "popup.html", "scroll.html", "index.html"]
N = 30
AT_ONCE = 50


async def call(c, name: str, args: dict) -> dict:
    r = await c.call_tool(name, args)
    if r.is_error:
        raise RuntimeError(f"{name} failed: {r.content[0].text}")
    return r.structured_content or {}


def fresh_urls(site, n: int) -> list[str]:
    """``n`` small fixture pages under URLs never asked before (distinct cache keys)."""
    run = uuid.uuid4().hex[:8]
    return [site.url(f"{SMALL_PAGES[i % len(SMALL_PAGES)]}?bench={run}-{i}") for i in range(n)]


async def run(site) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        rt = Runtime(make_settings(Path(tmp), log_level="ERROR"))
        await rt.start()
        try:
            await rt.engine.browser()
            async with held_client(create_server(runtime=rt)) as c:
                rows += await _hits(rt, c, site)
                rows += await _cold(c, site)
                rows += await _at_once(rt, c, site)
        finally:
            await rt.close()
    return rows


async def _hits(rt: Runtime, c, site) -> list[Row]:
    url = site.url("forms.html?bench=hit")
    await rt.cache.html(url)  # the miss that fills the entry
    inside = await measure(lambda: rt.cache.html(url), N * 10)
    assert (await rt.cache.html(url)).metadata.cached
    through = await measure(lambda: call(c, "page_cache_html", {"url": url}), N)
    p50 = statistics.median(inside)
    return [
        Row(SECTION, "cache hit inside the server (PageCache.html, forms.html)", p50_p95(inside), "p50 ≤ 5 ms", p50 <= 5),
        Row(SECTION, "cache hit through the in-process MCP client", p50_p95(through)),
    ]


async def _cold(c, site) -> list[Row]:
    html_urls = iter(fresh_urls(site, N + 2))
    html = await measure(lambda: call(c, "page_cache_html", {"url": next(html_urls)}), N)
    text_urls = iter(fresh_urls(site, N + 2))
    text = await measure(lambda: call(c, "page_cache_text", {"url": next(text_urls)}), N)
    shot_urls = iter(fresh_urls(site, N + 2))
    shot = await measure(lambda: call(c, "page_cache_screenshot", {"url": next(shot_urls)}), N)
    return [
        Row(SECTION, "cold render page_cache_html, small fixture pages", p50_p95(html)),
        Row(SECTION, "cold render page_cache_text, small fixture pages", p50_p95(text)),
        Row(SECTION, "cold render page_cache_screenshot 1280x720, small fixture pages", p50_p95(shot)),
    ]


async def _at_once(rt: Runtime, c, site) -> list[Row]:
    urls = fresh_urls(site, AT_ONCE)
    opened = rt.cache.renderer.pool.opened
    t0 = time.perf_counter()
    results = await asyncio.gather(*(call(c, "page_cache_html", {"url": u}) for u in urls))
    elapsed = time.perf_counter() - t0
    assert all(not r["metadata"]["cached"] for r in results)
    rate = AT_ONCE / elapsed
    pool = rt.settings.cache_pool_size
    lanes = rt.cache.renderer.pool.opened - opened
    return [
        Row(
            SECTION,
            f"{AT_ONCE} distinct small pages at once, default pool ({pool} lanes, {lanes} newly opened)",
            f"{rate:.1f} pages/s ({elapsed:.2f} s)",
            "≥ 8 pages/s",
            rate >= 8,
        )
    ]


if __name__ == "__main__":
    from benchmarks.run import main

    main(["cache"])
