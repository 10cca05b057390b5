"""Core benchmarks: tool latencies through the in-process MCP client, observation sizes, memory.

Run alone: ``python benchmarks/bench_core.py``.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import statistics
import tempfile
import threading
from pathlib import Path

import psutil

from benchmarks.common import Row, measure, p50_p95
from tests.support.mcp import held_client
from tests.support.settings import make_settings
from thinkrun_mcp.models import Owner
from thinkrun_mcp.runtime import Runtime
from thinkrun_mcp.server.mcp import create_server

SECTION = "core"
SMALL_PAGES = ["forms.html", "login.html", "dialogs.html", "shadow.html", "iframes.html", "popup.html", "scroll.html"]
SIZE_PAGES = [*SMALL_PAGES, "long-list.html", "table.html", "big.html", "console.html", "index.html"]
PYDOC = Path("/usr/share/doc/python3/html")
STDTYPES = "library/stdtypes.html"
N = 30


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def serve_dir(path: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def memory_mb(rt: Runtime) -> float:
    """Proportional set size of this process and the browser's processes (RSS where PSS is unavailable)."""
    total = 0
    for p in [psutil.Process(), *rt.engine.browser_processes()]:
        try:
            info = p.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except psutil.Error:
            continue
    return total / 2**20


async def call(c, name: str, args: dict) -> dict:
    r = await c.call_tool(name, args)
    if r.is_error:
        raise RuntimeError(f"{name} failed: {r.content[0].text}")
    return r.structured_content or {}


async def run(site) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        rt = Runtime(make_settings(Path(tmp), max_sessions=30, log_level="ERROR"))
        await rt.start()
        try:
            await rt.engine.browser()
            async with held_client(create_server(runtime=rt)) as c:
                rows += await _latencies(c, site)
                rows += await _sizes(c, site)
            rows += await _memory(rt, site)
        finally:
            await rt.close()
    return rows


async def _latencies(c, site) -> list[Row]:
    rows = []
    sid = (await call(c, "session_create", {}))["sessionId"]
    pages = iter(SMALL_PAGES * (N // len(SMALL_PAGES) + 2))
    nav = await measure(lambda: call(c, "browser_navigate", {"url": site.url(next(pages)), "sessionId": sid}), N)
    ok = statistics.median(nav) <= 150
    rows.append(Row(SECTION, "navigate + observation, small fixture pages", p50_p95(nav), "p50 ≤ 150 ms", ok))

    await call(c, "browser_navigate", {"url": site.url("forms.html"), "sessionId": sid})
    obs = await measure(lambda: call(c, "browser_observe", {"sessionId": sid}), N)
    rows.append(Row(SECTION, "observe (forms.html)", p50_p95(obs)))

    add = (await call(c, "browser_observe", {"sessionId": sid, "scope": "page"}))["text"]
    ref = add.split('button "Add item" [ref=', 1)[1].split("]", 1)[0]
    act = await measure(lambda: call(c, "browser_act", {"method": "click", "ref": ref, "sessionId": sid}), N)
    rows.append(Row(SECTION, "act click + observation (forms.html)", p50_p95(act)))

    shot = await measure(lambda: call(c, "browser_screenshot", {"sessionId": sid}), N)
    rows.append(Row(SECTION, "screenshot 1280x720 png", p50_p95(shot), "p50 ≤ 100 ms", statistics.median(shot) <= 100))

    created: list[str] = []

    async def create() -> None:
        created.append((await call(c, "session_create", {}))["sessionId"])
        if len(created) > 10:
            await call(c, "session_close", {"sessionId": created.pop(0)})

    times = []
    for _ in range(N):
        await create()
    for _ in range(N):
        t0 = asyncio.get_running_loop().time()
        created.append((await call(c, "session_create", {}))["sessionId"])
        times.append((asyncio.get_running_loop().time() - t0) * 1000)
        await call(c, "session_close", {"sessionId": created.pop(0)})
    rows.append(Row(SECTION, "session_create, warm browser", p50_p95(times), "p50 ≤ 150 ms", statistics.median(times) <= 150))
    for s in [*created, sid]:
        await call(c, "session_close", {"sessionId": s})
    return rows


async def _sizes(c, site) -> list[Row]:
    rows = []
    sid = (await call(c, "session_create", {}))["sessionId"]
    targets = [(p, site.url(p)) for p in SIZE_PAGES]
    server = None
    if (PYDOC / STDTYPES).exists():
        server, base = serve_dir(PYDOC)
        targets.append(("python docs stdtypes.html", f"{base}/{STDTYPES}"))
    try:
        largest = ("", 0)
        for name, url in targets:
            r = await call(c, "browser_navigate", {"url": url, "sessionId": sid})
            n = len(r["observation"]["text"])
            if n > largest[1]:
                largest = (name, n)
            if name.startswith("python docs"):
                page = await call(c, "browser_observe", {"sessionId": sid, "scope": "page"})
                note = f"{n:,} (scope=page: {page['totalChars']:,} in parts of ≤ {len(page['text']):,})"
                rows.append(Row(SECTION, f"observation chars: {name}", note, "≤ 12,000", n <= 12_000))
            elif name in ("big.html", "table.html", "long-list.html"):
                rows.append(Row(SECTION, f"observation chars: {name}", f"{n:,}", "≤ 12,000", n <= 12_000))
        rows.append(
            Row(SECTION, "largest observation, all pages", f"{largest[1]:,} ({largest[0]})", "≤ 12,000", largest[1] <= 12_000)
        )
        if server is None:
            rows.append(Row(SECTION, "observation chars: python docs stdtypes.html", "skipped: install python3-doc"))
    finally:
        if server is not None:
            server.shutdown()
        await call(c, "session_close", {"sessionId": sid})
    return rows


async def _memory(rt: Runtime, site) -> list[Row]:
    """Memory with 1 and 20 open sessions: idle (created, no tab opened yet), then each on a small page."""
    owner = Owner("bench")
    sessions = [(await rt.browser.create_session(owner)).session_id]
    await asyncio.sleep(1)
    one = memory_mb(rt)
    for _ in range(19):
        sessions.append((await rt.browser.create_session(owner)).session_id)
    await asyncio.sleep(2)
    twenty = memory_mb(rt)
    per = (twenty - one) / 19
    for sid in sessions:
        await rt.browser.navigate(owner, sid, url=site.url("forms.html"))
    await asyncio.sleep(2)
    loaded = memory_mb(rt)
    for sid in sessions:
        await rt.browser.close_session(owner, sid)
    return [
        Row(SECTION, "memory (server + browser, PSS), 1 open session", f"{one:.0f} MB"),
        Row(SECTION, "memory (server + browser, PSS), 20 open idle sessions", f"{twenty:.0f} MB"),
        Row(SECTION, "extra memory per idle session", f"{per:.1f} MB", "≤ 40 MB", per <= 40),
        Row(
            SECTION,
            "memory with the 20 sessions each on forms.html",
            f"{loaded:.0f} MB ({(loaded - one) / 20:.0f} MB per loaded tab)",
        ),
    ]


if __name__ == "__main__":
    from benchmarks.run import main

    main(["core"])
