"""Does awaiting the commit cost throughput? The same load with and without the tool boundary's sync.

- tool calls: SESSIONS sessions each doing ACTIONS ``browser_act`` scrolls at once, through the in-process
  MCP client on real Chromium: actions/s as shipped (each result waits for its commit) and with
  ``Runtime.sync`` turned into a no-op (the old write-behind: answered before the commit).
- store alone: CALLERS concurrent callers each recording an action and awaiting its commit, against
  recording without waiting; rows/s and how many callers shared each commit.

Rounds alternate (without, with, without, with) so a busy machine weighs on both alike.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from benchmarks.common import Row
from tests.support.mcp import held_client
from tests.support.settings import make_settings
from thinkrun_mcp.runtime import Runtime
from thinkrun_mcp.server.mcp import create_server
from thinkrun_mcp.store.db import Store
from thinkrun_mcp.store.records import Records

SECTION = "store"
SESSIONS, ACTIONS = 20, 50
CALLERS, CALLS = 20, 250
ROUNDS = 2


async def run(site) -> list[Row]:
    rows = await _tool_calls(site)
    rows += await _store_alone()
    return rows


async def _tool_calls(site) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        rt = Runtime(make_settings(Path(tmp), max_sessions=SESSIONS + 5, log_level="ERROR"))
        await rt.start()
        shipped = rt.sync
        try:
            await rt.engine.browser()
            async with held_client(create_server(runtime=rt)) as c:
                ids = [(await c.call_tool("session_create", {})).structured_content["sessionId"] for _ in range(SESSIONS)]
                for sid in ids:
                    await c.call_tool("browser_navigate", {"url": site.url("forms.html"), "sessionId": sid})
                rates: dict[bool, list[float]] = {True: [], False: []}
                for _ in range(ROUNDS):
                    for durable in (False, True):
                        # The comparison only: a benchmark may stub the commit wait; the server never does.
                        rt.sync = shipped if durable else _answer_at_once  # type: ignore[method-assign]
                        rates[durable].append(await _act_round(c, ids))
                rt.sync = shipped  # type: ignore[method-assign]
                for sid in ids:
                    await c.call_tool("session_close", {"sessionId": sid})
        finally:
            await rt.close()
    return [
        Row(
            SECTION,
            f"{SESSIONS} sessions × {ACTIONS} browser_act at once, answered before the commit",
            _rates(rates[False]),
        ),
        Row(
            SECTION,
            f"{SESSIONS} sessions × {ACTIONS} browser_act at once, answered after the commit",
            _rates(rates[True]),
            "≥ 90% of the above",
            max(rates[True]) >= 0.9 * max(rates[False]),
        ),
    ]


async def _answer_at_once() -> None:
    return None


async def _act_round(c, ids: list[str]) -> float:
    async def session(sid: str) -> None:
        for i in range(ACTIONS):
            r = await c.call_tool("browser_act", {"method": "scroll", "value": "bottom" if i % 2 else "top", "sessionId": sid})
            if r.is_error:
                raise RuntimeError(r.content[0].text)

    t0 = time.perf_counter()
    await asyncio.gather(*(session(sid) for sid in ids))
    return SESSIONS * ACTIONS / (time.perf_counter() - t0)


async def _store_alone() -> list[Row]:
    rates: dict[bool, list[float]] = {True: [], False: []}
    shared = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(ROUNDS):
            for durable in (False, True):
                store = Store(Path(tmp) / f"{n}-{durable}.db")
                await store.open()
                try:
                    before = store.writer.commits
                    rate = await _store_round(store, durable)
                    rates[durable].append(rate)
                    if durable:
                        shared = CALLERS * CALLS / max(1, store.writer.commits - before)
                finally:
                    await store.close()
    return [
        Row(SECTION, f"store alone: {CALLERS} callers recording actions, not waiting", _rates(rates[False], "rows")),
        Row(
            SECTION,
            f"store alone: {CALLERS} callers recording actions, each awaiting its commit",
            f"{_rates(rates[True], 'rows')}, {shared:.1f} callers per commit",
        ),
    ]


async def _store_round(store: Store, durable: bool) -> float:
    records = Records(store)

    async def caller(k: int) -> None:
        for i in range(CALLS):
            records.action(f"ses_{k}", type="scroll", ts=time.time(), success=True, details={"i": i}, duration_ms=3)
            if durable:
                await store.sync()
            else:
                await asyncio.sleep(0)

    t0 = time.perf_counter()
    await asyncio.gather(*(caller(k) for k in range(CALLERS)))
    await store.sync()  # both end with everything committed
    return CALLERS * CALLS / (time.perf_counter() - t0)


def _rates(values: list[float], unit: str = "actions") -> str:
    return f"{max(values):.0f} {unit}/s (best of {len(values)}; {', '.join(f'{v:.0f}' for v in values)})"
