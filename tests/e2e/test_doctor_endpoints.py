"""``thinkrun-mcp doctor`` with several browser endpoints: one line each (up with its version and cap,
or down with why), credentials masked, and an exit status that says whether sessions can be opened."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.chromium import chromium_executable
from tests.support.procs import free_port, server_command, server_env
from tests.support.remote import playwright_server


def doctor(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*server_command(), "doctor"], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def endpoint_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("browser endpoint")]


async def test_doctor_reports_each_endpoint_up_or_down(tmp_path: Path) -> None:
    executable = await chromium_executable(tmp_path / "discovery")
    dead = f"http://127.0.0.1:{free_port()}"
    async with playwright_server(tmp_path) as (live, _proc):
        endpoints = f'["{live}?token=s3cret", {{"url": "{dead}", "maxSessions": 4}}]'
        env = server_env(
            tmp_path / "data",
            THINKRUN_BROWSER_ENDPOINT=endpoints,
            THINKRUN_BROWSER_PATH=executable,
            THINKRUN_ENDPOINT_MAX_SESSIONS="7",
        )
        done = doctor(env, tmp_path)

    up, down, summary = endpoint_lines(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr  # one endpoint up: sessions can be opened
    assert up.startswith(f"browser endpoint: {live}?token=*** (Playwright server) — up, version ")
    assert up.endswith(", cap 7 sessions")
    assert down.startswith(f"browser endpoint: {dead} (DevTools endpoint) — DOWN: browser_unavailable: could not start or reach")
    assert summary.startswith("browser endpoints: 1 of 2 up")
    assert "s3cret" not in done.stdout + done.stderr


def test_doctor_with_every_endpoint_down_exits_1(tmp_path: Path) -> None:
    env = server_env(tmp_path / "data", THINKRUN_BROWSER_ENDPOINT=f"ws://127.0.0.1:{free_port()}/")

    done = doctor(env, tmp_path)

    assert done.returncode == 1
    assert endpoint_lines(done.stdout)[-1].startswith("browser endpoints: 0 of 1 up")
    assert "data dir:" in done.stdout  # the rest of the report still comes
