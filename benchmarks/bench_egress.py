"""What the egress proxy costs: navigate + observation with every connection through it, and without it.

Three runtimes load the same pages, taking turns: with the proxy on its own thread (what the server
does), with the proxy on the MCP event loop, and with no proxy at all (the browser connects by itself;
this is the route fallback with no rules, so nothing is intercepted either). Run alone:
``python benchmarks/bench_egress.py``.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from starlette.responses import HTMLResponse

from benchmarks.bench_core import PYDOC, STDTYPES, call, serve_dir
from benchmarks.common import Row, percentile, timed
from tests.support.mcp import held_client
from tests.support.settings import make_settings
from thinkrun_mcp.runtime import Runtime
from thinkrun_mcp.server.mcp import create_server

SECTION = "egress"
N = 20
VARIANTS = ("proxy, own thread", "proxy, MCP event loop", "no proxy")
_BIG_ROWS = 40_000  # a 2.5 MB page: what relaying bytes costs


async def run(site) -> list[Row]:
    site.set_route("/egress-big", lambda _r: HTMLResponse(_big_page()))
    pages = [("forms.html", site.url("forms.html")), ("2.5 MB page", site.url("egress-big"))]
    server = None
    if (PYDOC / STDTYPES).exists():
        server, base = serve_dir(PYDOC)
        pages.insert(1, ("python docs stdtypes.html", f"{base}/{STDTYPES}"))
    async with contextlib.AsyncExitStack() as stack:
        if server is not None:
            stack.callback(server.shutdown)
        sessions = [await stack.enter_async_context(_session(variant)) for variant in VARIANTS]
        rows = []
        for name, url in pages:
            times: list[list[float]] = [[] for _ in VARIANTS]
            for i in range(N + 2):  # the variants take turns, so a busy machine slows them alike
                for navigate, out in zip(sessions, times, strict=True):
                    ms, _ = await timed(lambda navigate=navigate, url=url: navigate(url))
                    if i >= 2:
                        out.append(ms)
            cells = [f"{v} {statistics.median(t):.0f} / {percentile(t, 95):.0f}" for v, t in zip(VARIANTS, times, strict=True)]
            rows.append(Row(SECTION, f"navigate + observation, {name} (p50 / p95 ms)", "; ".join(cells)))
    return rows


@contextlib.asynccontextmanager
async def _session(variant: str) -> AsyncIterator[Callable[[str], Awaitable[dict]]]:
    """A runtime of the variant and one of its sessions: yields ``navigate(url)``."""
    with tempfile.TemporaryDirectory() as tmp:
        rt = Runtime(make_settings(Path(tmp), log_level="ERROR"))
        # Benchmark-only switches on the runtime's egress, set before it starts:
        rt.egress._own_thread = variant == "proxy, own thread"
        if variant == "no proxy":
            rt.egress.mode = "route"  # no rules, so no route either: the browser connects directly
        await rt.start()
        try:
            await rt.engine.browser()
            async with held_client(create_server(runtime=rt)) as c:
                sid = (await call(c, "session_create", {}))["sessionId"]
                yield lambda url: call(c, "browser_navigate", {"url": url, "sessionId": sid})
        finally:
            await rt.close()


def _big_page() -> str:
    """2.5 MB to relay, but a small document to observe (the bytes sit in a data block)."""
    data = "".join(f'{{"row": {i}, "value": {i * 7919 % 10007}, "text": "some text in row {i}"}},' for i in range(_BIG_ROWS))
    return f'<!DOCTYPE html><title>Big</title><h1>Big</h1><script type="application/json">[{data}{{}}]</script>'


if __name__ == "__main__":
    import asyncio

    from benchmarks.common import serve_site
    from benchmarks.run import table

    async def _main() -> None:
        with serve_site() as site:
            print(table(await run(site)))

    asyncio.run(_main())
