"""Agent benchmarks: the planner harness on a scripted 10-step task, what a task sends the model, and
act-cache replay.

The model is a local fake (tests/fakes) that answers at once, so what is measured
is our side: observation, browser actions, recording, prompt building, the SDK.
Request sizes are the whole HTTP body the SDK sent (system prompt, tool
declarations, conversation), as the fake received it; cached tokens are what the
fake's model of the provider's prompt cache reports (tokens there are estimated
as a quarter of the characters). Run alone: ``python benchmarks/bench_agent.py``.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import Row, p50_p95
from tests.support.fakes import FakeAnthropic, FakeGemini, Reply, ScriptedServer, ToolCall
from tests.support.fakes.steps import act, done, list_pages, ref_of, sign_in
from tests.support.mcp import held_client
from tests.support.settings import make_settings
from tests.support.site import PRODUCTS, VALID_EMAIL, VALID_PASSWORD
from thinkrun_mcp.models import Owner, TaskRequest
from thinkrun_mcp.runtime import Runtime
from thinkrun_mcp.server.mcp import create_server
from thinkrun_mcp.store.tasks import TaskStepRow

SECTION = "agent"
RUNS = 5
SECRETS = [{"match": "127.0.0.1", "fields": {"email": VALID_EMAIL, "password": VALID_PASSWORD}}]
LISTED_PAGES = 5
SDK_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")


def ten_steps() -> list:
    return [
        *sign_in(),
        act("link", "Products", "click"),
        act("searchbox", "Search products", "fill", "la"),
        act("searchbox", "Search products", "press", "Enter"),
        Reply(tool_calls=[ToolCall("extract", {"format": "table"})]),
        act("link", "Next", "click"),
        Reply(tool_calls=[ToolCall("extract", {"format": "table"})]),
        done("listed"),
    ]


async def run(site) -> list[Row]:
    rows: list[Row] = []
    saved = {k: os.environ.get(k) for k in SDK_VARIABLES}
    with FakeGemini() as fake, FakeAnthropic() as claude, tempfile.TemporaryDirectory() as tmp:
        os.environ.pop("GOOGLE_API_KEY", None)
        os.environ["GEMINI_API_KEY"] = os.environ["ANTHROPIC_API_KEY"] = "bench-key"
        os.environ["GOOGLE_GEMINI_BASE_URL"] = fake.base_url
        os.environ["ANTHROPIC_BASE_URL"] = claude.base_url
        rt = Runtime(make_settings(Path(tmp), log_level="ERROR"))
        await rt.start()
        try:
            await rt.engine.browser()
            rows += await _planner(rt, fake, site)
            rows += await _requests(rt, {"gemini": fake, "claude": claude}, site)
            rows += await _act_cache(rt, fake, site)
        finally:
            await rt.close()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return rows


async def _planner(rt: Runtime, fake: FakeGemini, site) -> list[Row]:
    owner = Owner("bench")
    harness, model = [], []
    fake.clear()
    for _ in range(RUNS):
        fake.push(*ten_steps())
        sub = await rt.tasks.submit(
            owner,
            TaskRequest(instruction="List the products matching 'la'", starting_point=site.url("login.html"), secrets=SECRETS),
        )
        info = await rt.tasks.wait(owner, sub.task_id)
        assert info.status == "completed", info.error
        steps = await rt.tasks.rows.steps(sub.task_id, last=1_000)
        task = await rt.tasks.rows.get(sub.task_id)
        assert task is not None and task.started_at is not None
        # A step's wall time runs from the previous step's record (or the task's start) to its own;
        # the harness time is that minus the model call.
        previous = task.started_at
        by_step: dict[int, list[TaskStepRow]] = {}
        for s in steps:
            by_step.setdefault(s.step, []).append(s)
        for number in sorted(by_step):
            group = by_step[number]
            end = max(s.ts for s in group)
            model_ms = sum(s.model_ms for s in group)
            harness.append((end - previous) * 1000 - model_ms)
            model.append(model_ms)
            previous = end
    bodies = [len(r.text) for r in fake.model_requests]
    first_step_note = "incl. the starting point load in step 1"
    return [
        Row(
            SECTION,
            f"harness time per step, model excluded ({RUNS}×10-step task)",
            p50_p95(harness) + f"; {first_step_note}",
            "p50 ≤ 150 ms",
            statistics.median(harness) <= 150,
        ),
        Row(
            SECTION,
            "request body per model call, the 10-step task (chars, whole body)",
            f"median {statistics.median(bodies):,.0f}, max {max(bodies):,}",
            "median ≤ 12,000",
            statistics.median(bodies) <= 12_000,
        ),
        Row(SECTION, "fake model round trip (SDK + local HTTP)", p50_p95(model)),
    ]


async def _task(rt: Runtime, fake: ScriptedServer, backend: str, script: list, instruction: str, site) -> tuple[object, list]:
    """Run one scripted task on ``backend``; its result and the model requests it made."""
    owner = Owner("bench")
    fake.clear()
    fake.push(*script)
    sub = await rt.tasks.submit(
        owner,
        TaskRequest(instruction=instruction, backend=backend, starting_point=site.url("login.html"), secrets=SECRETS),
    )
    info = await rt.tasks.wait(owner, sub.task_id)
    assert info.status == "completed", info.error
    return info, list(fake.model_requests)


async def _requests(rt: Runtime, fakes: dict[str, ScriptedServer], site) -> list[Row]:
    """What a login task and a 5-page listing task send the model: whole request bodies, and cached tokens."""
    rows: list[Row] = []
    listing = [*sign_in(), act("link", "Products", "click"), *list_pages(LISTED_PAGES)]
    expected = [{"name": n, "price": p} for n, p in PRODUCTS[: LISTED_PAGES * 10]]
    for backend, fake in fakes.items():
        _, login = await _task(rt, fake, backend, [*sign_in(), done("signed in")], "Sign in.", site)
        sizes = [len(r.text) for r in login]
        rows.append(
            Row(
                SECTION,
                f"request body, login task ({backend}, {len(sizes)} calls, chars)",
                f"median {statistics.median(sizes):,.0f}, max {max(sizes):,}",
                "median ≤ 6,000",
                statistics.median(sizes) <= 6_000,
            )
        )
        info, listed = await _task(
            rt, fake, backend, listing, f"Sign in and list the products of the first {LISTED_PAGES} pages with prices.", site
        )
        assert json.loads(info.output) == expected, f"the listing lost rows: {info.output}"
        sizes = [len(r.text) for r in listed]
        rows.append(
            Row(
                SECTION,
                f"request body, {LISTED_PAGES}-page listing task ({backend}, {len(sizes)} calls, chars)",
                f"median {statistics.median(sizes):,.0f}, last {sizes[-1]:,}, max {max(sizes):,}",
                "max ≤ 12,000",
                max(sizes) <= 12_000,
            )
        )
        usage = info.usage
        rows.append(
            Row(
                SECTION,
                f"input tokens read from the prompt cache, listing task ({backend})",
                f"{usage.cached_input_tokens:,} of {usage.input_tokens:,} "
                f"({usage.cached_input_tokens / max(1, usage.input_tokens):.0%})",
            )
        )
    return rows


async def _act_cache(rt: Runtime, fake: FakeGemini, site) -> list[Row]:
    cold, warm = [], []
    fake.clear()
    async with held_client(create_server(runtime=rt)) as c:
        for i in range(10):
            r = await c.call_tool("browser_navigate", {"url": site.url("forms.html")})
            assert not r.is_error
            instruction = f"add item number {i} to the list"
            fake.push(
                lambda req: Reply(tool_calls=[ToolCall("choose", {"ref": ref_of(req, "button", "Add item"), "method": "click"})])
            )
            t0 = time.perf_counter()
            r = await c.call_tool("browser_act", {"instruction": instruction})
            cold.append((time.perf_counter() - t0) * 1000)
            assert not r.is_error, r.content[0].text
            calls = fake.calls
            t0 = time.perf_counter()
            r = await c.call_tool("browser_act", {"instruction": instruction})
            warm.append((time.perf_counter() - t0) * 1000)
            assert not r.is_error and fake.calls == calls, "the second act should be a cache hit"
    return [
        Row(SECTION, "browser_act(instruction), model resolution (fake model)", p50_p95(cold)),
        Row(SECTION, "browser_act(instruction), act-cache hit (no model call)", p50_p95(warm)),
    ]


if __name__ == "__main__":
    from benchmarks.run import main

    main(["agent"])
