"""Which model a task uses, and how its backend is set up: timeouts that hold from the first task, other clients
not held up by a backend's first use, the default backend setting, and the calling client's own model (MCP
sampling) with the clients that cannot offer it. Real Chromium, the real MCP client, the fakes of
``tests/support/fakes``."""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import pytest
from mcp import types

from tests.support.fakes import Delay, Failure, FakeClientModel, Reply, ToolCall
from tests.support.fakes.steps import done
from tests.support.mcp import call, call_error, held_client
from tests.support.wait import wait_until
from thinkrun_mcp.agent.backends import BUILDERS, Backend
from thinkrun_mcp.config import Settings
from thinkrun_mcp.models import Owner, TaskRequest
from thinkrun_mcp.server.mcp import create_server


async def wait_status(client: Any, task_id: str, *statuses: str) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        info = await call(client, "agent_status", {"taskId": task_id})
        return info if info["status"] in statuses else None

    return await wait_until(reached, timeout=60, what=f"task {task_id} to be {' or '.join(statuses)}")


class SlowBuild:
    """A builder that holds its worker thread until released, then builds the real client (an SDK's cold import)."""

    def __init__(self, real: Any):
        self.real = real
        self.started, self.release, self.finished = threading.Event(), threading.Event(), threading.Event()
        self.closed: list[Backend] = []

    def __call__(self, settings: Settings) -> Backend:
        self.started.set()
        self.release.wait(60)
        backend = self.real(settings)
        close = backend.close

        async def tracked_close() -> None:
            self.closed.append(backend)
            await close()

        backend.close = tracked_close  # type: ignore[method-assign]
        self.finished.set()
        return backend


@pytest.fixture
def slow_gemini(monkeypatch: pytest.MonkeyPatch, gemini: Any) -> Any:
    slow = SlowBuild(BUILDERS["gemini"])
    monkeypatch.setitem(BUILDERS, "gemini", slow)
    yield slow
    slow.release.set()


# -- setup inside the timeout, off the event loop --------------------------------------------


async def test_a_task_times_out_on_time_while_its_backend_is_still_being_set_up(runtime, site, slow_gemini):
    request = TaskRequest(instruction="Anything", starting_point=site.url("index.html"))
    # A request refuses less than 30 s; model_copy skips that check, and the timeout machinery is the same.
    submitted = await runtime.tasks.submit(Owner.local(), request.model_copy(update={"timeout_ms": 1500}))

    info = await runtime.tasks.wait(Owner.local(), submitted.task_id)

    assert info.status == "timeout" and "1500 ms" in info.error
    assert slow_gemini.started.is_set() and not slow_gemini.finished.is_set()  # ended while the setup still ran
    slow_gemini.release.set()
    await wait_until(lambda: slow_gemini.closed, what="the client built after the timeout to be closed")


async def test_a_backends_first_use_holds_up_no_other_client(client, runtime, site, slow_gemini):
    submitted = await call(client, "agent_execute", {"instruction": "Say ok", "startingPoint": site.url("index.html")})
    await asyncio.to_thread(slow_gemini.started.wait, 30)

    async with held_client(create_server(runtime=runtime)) as other:
        listed = await call(other, "session_list", {})

    assert not slow_gemini.finished.is_set()  # answered while the backend was still being built
    assert submitted["sessionId"] in [s["sessionId"] for s in listed["sessions"]]
    slow_gemini.release.set()


async def test_the_default_backend_setting_picks_the_backend_of_tasks_that_name_none(client, site, openai, runtime, monkeypatch):
    monkeypatch.setattr(runtime.settings, "default_backend", "openai")
    monkeypatch.setattr(runtime.settings, "openai_model", "llama3.2")
    openai.push(done("from the default"))

    info = await call(client, "agent_execute", {"instruction": "Go", "startingPoint": site.url("index.html"), "wait": True})

    assert (info["status"], info["output"], info["backend"], info["model"]) == (
        "completed",
        "from the default",
        "openai",
        "llama3.2",
    )
    assert openai.last.body["model"] == "llama3.2"


# -- the calling client's own model ------------------------------------------------------------


async def test_a_sampling_task_goes_on_asking_the_client_after_agent_execute_returned(site, sampling):
    sampling.push(
        Reply(tool_calls=[ToolCall("scroll", {"direction": "down"})]),
        lambda req: done("title: " + re.search(r"Page: ([^—\n]*)", req.all_text()).group(1).strip()),
    )
    client = sampling.client
    submitted = await call(
        client, "agent_execute", {"instruction": "Title?", "backend": "sampling", "startingPoint": site.url("scroll.html")}
    )
    assert submitted["status"] == "starting"  # the tool call has returned; the task asks the client from here on

    info = await wait_status(client, submitted["taskId"], "completed", "failed")

    assert (info["status"], info["output"], info["steps"]) == ("completed", "title: Scroll", 2)
    assert (info["backend"], info["model"]) == ("sampling", "client:fake-client")
    first = sampling.model_requests[0].body
    assert "untrusted data" in first["systemPrompt"] and {t["name"] for t in first["tools"]} >= {"act", "done", "fail"}


async def test_session_create_runs_an_initial_task_on_the_clients_model(site, sampling):
    sampling.push(done("initial on the client's model"))
    created = await call(
        sampling.client,
        "session_create",
        {"initialTask": {"taskDetails": "Say so", "startingPoint": site.url("index.html"), "backend": "sampling"}},
    )

    info = await wait_status(sampling.client, created["taskId"], "completed", "failed")

    assert info["output"] == "initial on the client's model"


async def test_the_clients_refusal_fails_the_task_with_its_message(site, sampling):
    sampling.push(Failure(403, message="the user declined the sampling request"))

    info = await call(
        sampling.client,
        "agent_execute",
        {"instruction": "Go", "backend": "sampling", "startingPoint": site.url("index.html"), "wait": True},
    )

    assert info["status"] == "failed"
    assert "upstream_error" in info["error"] and "the user declined the sampling request" in info["error"]


async def test_a_client_that_leaves_mid_task_fails_its_sampling_task(runtime, site):
    model = FakeClientModel(Reply(tool_calls=[ToolCall("scroll", {})]), Delay(30, then=done("never")))
    async with held_client(create_server(runtime=runtime), mode="legacy", **model.client_options()) as c:
        submitted = await call(
            c, "agent_execute", {"instruction": "Go", "backend": "sampling", "startingPoint": site.url("scroll.html")}
        )
        await wait_until(lambda: len(model.requests) == 2, what="the task to wait for the client's second answer")

    info = await runtime.tasks.wait(Owner.local(), submitted["taskId"])

    assert info.status == "failed"
    assert "upstream_error: the client that lends its model to this task has disconnected" in info.error
    await runtime.registry.end_all("test finished")


@pytest.mark.parametrize("budget", ["maxInputTokens", "maxOutputTokens"])
async def test_token_budgets_are_refused_on_the_clients_model_which_reports_no_tokens(sampling, budget):
    error = await call_error(sampling.client, "agent_execute", {"instruction": "x", "backend": "sampling", budget: 5_000})

    assert error.startswith("invalid_input:") and "reports no tokens" in error and "maxSteps" in error
    assert sampling.calls == 0


@pytest.mark.parametrize(
    ("capabilities", "reason"),
    [
        ({}, "fake-client does not support sampling"),
        (
            {"sampling_capabilities": types.SamplingCapability(), "sampling_callback": FakeClientModel().callback},
            "fake-client supports sampling, but not with tools",
        ),
    ],
    ids=["no-sampling", "sampling-without-tools"],
)
async def test_a_client_without_sampling_with_tools_gets_backend_unconfigured_with_the_alternatives(
    runtime, gemini, capabilities, reason
):
    info = types.Implementation(name="fake-client", version="1")
    async with held_client(create_server(runtime=runtime), mode="legacy", client_info=info, **capabilities) as c:
        before = len((await call(c, "session_list", {}))["sessions"])
        error = await call_error(c, "agent_execute", {"instruction": "x", "backend": "sampling"})
        after = len((await call(c, "session_list", {}))["sessions"])

    assert error.startswith("backend_unconfigured:") and reason in error
    assert "choose backend gemini, which is ready" in error
    assert after == before  # refused before any session was opened


async def test_a_client_on_the_2026_protocol_cannot_lend_its_model_to_a_task(runtime):
    model = FakeClientModel()
    async with held_client(create_server(runtime=runtime), **model.client_options()) as c:  # mode "auto": 2026-07-28
        error = await call_error(c, "agent_execute", {"instruction": "x", "backend": "sampling"})

    assert error.startswith("backend_unconfigured:")
    assert "connected with protocol 2026-07-28, which allows no requests from the server" in error
    assert "set GEMINI_API_KEY, ANTHROPIC_API_KEY or OPENAI_API_KEY" in error
