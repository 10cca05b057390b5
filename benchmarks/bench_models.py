"""Model backends: what a backend's first use costs the other clients of the server.

Each backend is measured in a fresh interpreter (its SDK not yet imported), against
its local fake API: the time from asking for a client to the first answer, and the
longest the event loop went without running meanwhile (what any concurrent tool
call waits, at most). For comparison, the same with the client built on the event
loop, as the server did before it built clients in a worker thread.
Run alone: ``python benchmarks/bench_models.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.common import ROOT, Row

SECTION = "models"
STALL_TARGET_MS = 200

_PROBE = """
import asyncio, json, os, sys, time
from tests.support.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, Reply
from thinkrun_mcp.agent.backends import BUILDERS, Backends, Turn
from thinkrun_mcp.config import Settings

name, where = sys.argv[1], sys.argv[2]

async def main():
    fake = {"gemini": FakeGemini, "claude": FakeAnthropic, "openai": FakeOpenAI}[name](Reply(text="hi"))
    os.environ["GOOGLE_GEMINI_BASE_URL"] = os.environ["ANTHROPIC_BASE_URL"] = fake.base_url
    settings = Settings(_env_file=None, gemini_api_key="k", anthropic_api_key="k", openai_api_key="k",
                        openai_base_url=fake.base_url + "/v1")
    worst, running = 0.0, True

    async def ticker():
        nonlocal worst
        last = time.perf_counter()
        while running:
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            worst, last = max(worst, now - last), now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    t0 = time.perf_counter()
    backend = BUILDERS[name](settings) if where == "loop" else await Backends(settings).make(name)
    await backend.complete(system="s", turns=[Turn(role="user", text="hi")], tools=[])
    total = time.perf_counter() - t0
    running = False
    await tick
    await backend.close()
    fake.close()
    print(json.dumps({"total_ms": total * 1000, "stall_ms": worst * 1000}))

asyncio.run(main())
"""


def _probe(name: str, where: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, name, where], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


async def run(site) -> list[Row]:
    rows = []
    for name in ("gemini", "claude", "openai"):
        thread, loop = _probe(name, "thread"), _probe(name, "loop")
        rows.append(
            Row(
                SECTION,
                f"{name}, cold first use: longest event-loop stall (client built on the loop, as before)",
                f"{thread['stall_ms']:,.0f} ms ({loop['stall_ms']:,.0f} ms); first answer after {thread['total_ms']:,.0f} ms",
                f"≤ {STALL_TARGET_MS} ms",
                thread["stall_ms"] <= STALL_TARGET_MS,
            )
        )
    return rows


if __name__ == "__main__":
    from benchmarks.run import main

    main(["models"])
