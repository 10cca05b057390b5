"""The calling client's own model over the real transports: the ``thinkrun-mcp`` command in a subprocess asks
the client (``sampling/createMessage``) for every step of a task that runs on after ``agent_execute`` returned,
over stdio and over stateful streamable HTTP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mcp import StdioServerParameters

from tests.support.fakes import FakeClientModel, Reply, ToolCall
from tests.support.fakes.steps import done
from tests.support.mcp import call, held_client
from tests.support.procs import free_port, server_command, server_env, spawned, wait_for_port
from tests.support.site import FixtureSite
from tests.support.wait import wait_until


def two_step_model() -> FakeClientModel:
    return FakeClientModel(
        Reply(tool_calls=[ToolCall("scroll", {"direction": "down"})]),
        lambda req: done("title: " + re.search(r"Page: ([^—\n]*)", req.all_text()).group(1).strip()),
    )


async def run_task_on_the_clients_model(client: Any, site: FixtureSite) -> dict[str, Any]:
    submitted = await call(
        client, "agent_execute", {"instruction": "Title?", "backend": "sampling", "startingPoint": site.url("scroll.html")}
    )
    assert submitted["status"] == "starting"  # returned before the first model call

    async def ended() -> dict[str, Any] | None:
        info = await call(client, "agent_status", {"taskId": submitted["taskId"]})
        return info if info["status"] not in ("starting", "pending", "running") else None

    return await wait_until(ended, timeout=90, what="the sampling task to end")


async def test_stdio_server_asks_the_clients_model_after_the_tool_call_returned(tmp_path: Path, site: FixtureSite) -> None:
    model = two_step_model()
    cmd = server_command()
    params = StdioServerParameters(
        command=cmd[0],
        args=[*cmd[1:], "--data-dir", str(tmp_path / "data")],
        env={"THINKRUN_LOG_LEVEL": "WARNING"},
        cwd=str(tmp_path),
    )
    async with held_client(params, mode="legacy", read_timeout_seconds=60, **model.client_options()) as client:
        info = await run_task_on_the_clients_model(client, site)

    assert (info["status"], info["output"], info["steps"]) == ("completed", "title: Scroll", 2), info
    assert info["model"] == "client:fake-client" and model.calls == 2


async def test_streamable_http_server_asks_the_clients_model_after_the_tool_call_returned(
    tmp_path: Path, site: FixtureSite
) -> None:
    model = two_step_model()
    port = free_port()
    cmd = [*server_command(), "--transport", "streamable-http", "--port", str(port)]
    with spawned(cmd, log=tmp_path / "server.log", env=server_env(tmp_path / "data"), cwd=tmp_path) as proc:
        await wait_for_port(port, proc, log=tmp_path / "server.log")
        async with held_client(f"http://127.0.0.1:{port}/mcp", mode="legacy", **model.client_options()) as client:
            info = await run_task_on_the_clients_model(client, site)

    assert (info["status"], info["output"], info["steps"]) == ("completed", "title: Scroll", 2), info
    assert model.calls == 2
