"""Running the server: the ``thinkrun-mcp`` command over stdio, streamable HTTP and SSE,
``doctor`` and ``--version``.

Every server here is the installed console script in a real subprocess, talking to a real
MCP client on 127.0.0.1; every process a test starts is ended (with its children) by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from starlette.responses import HTMLResponse

from tests.support.mcp import call, call_error, error_code, held_client, ref_of, text_of
from tests.support.procs import alive, descendants, free_port, server_command, server_env, spawned, wait_for_port
from tests.support.site import FixtureSite
from thinkrun_mcp import __version__

CORE_TOOLS = {"browser_navigate", "browser_observe", "browser_act", "browser_extract", "browser_screenshot"}


def chromiums(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if "chrom" in p.name().lower():
                out.append(p)
        except psutil.Error:
            pass
    return out


def stdio_params(data_dir: Path, *extra_args: str) -> StdioServerParameters:
    cmd = server_command()
    return StdioServerParameters(
        command=cmd[0],
        args=[*cmd[1:], "--data-dir", str(data_dir), *extra_args],
        env={"THINKRUN_LOG_LEVEL": "WARNING"},
        cwd=str(data_dir.parent),  # no developer .env
    )


def server_of(data_dir: Path) -> psutil.Process:
    """The server process started by this test (the one given ``data_dir`` on its command line)."""
    for p in psutil.Process().children(recursive=True):
        try:
            if str(data_dir) in p.cmdline():
                return p
        except psutil.Error:
            continue
    raise AssertionError(f"no server process with --data-dir {data_dir}")


# -- stdio ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def stdio_client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    data_dir = tmp_path_factory.mktemp("stdio") / "data"
    async with held_client(stdio_params(data_dir), read_timeout_seconds=60) as c:
        yield c


async def test_stdio_server_lists_the_browser_tools(stdio_client: Client) -> None:
    names = {t.name for t in (await stdio_client.list_tools()).tools}

    assert names >= CORE_TOOLS
    assert {"session_create", "page_cache_text", "agent_execute"} <= names


async def test_stdio_navigate_returns_the_fixture_page_observation(stdio_client: Client, site: FixtureSite) -> None:
    result = await stdio_client.call_tool("browser_navigate", {"url": site.url("index.html")})

    assert not result.is_error, text_of(result)
    text = text_of(result)
    assert site.url("index.html") in text
    assert "Fixture site" in text
    assert ref_of(text, "link", "Forms")
    assert result.structured_content["url"] == site.url("index.html")


async def test_stdio_tool_error_reads_code_message_and_hint(stdio_client: Client, site: FixtureSite) -> None:
    text = await call_error(stdio_client, "browser_navigate", {"url": site.url("index.html"), "bogus": 1})

    assert error_code(text) == "invalid_input"
    assert "'bogus'" in text
    assert "(hint: arguments are: " in text and "sessionId" in text


_LONE_SURROGATES = """<!doctype html><title>start</title><p id="p">text</p><script>
document.title = "title \\ud800 end";
document.getElementById("p").textContent = "lone \\udc00 here";
console.error("console \\ud800");
</script>"""


async def test_a_page_holding_lone_surrogates_cannot_stop_the_stdio_server(stdio_client: Client, site: FixtureSite) -> None:
    site.set_route("/surrogates.html", lambda _request: HTMLResponse(_LONE_SURROGATES))
    nav = await call(stdio_client, "browser_navigate", {"url": site.url("surrogates.html")})
    assert nav["title"] == "title \ufffd end"
    text = await call(stdio_client, "browser_extract", {"format": "text", "sessionId": nav["sessionId"]})
    assert "lone \ufffd here" in text["content"]
    logs = await call(stdio_client, "session_console", {"sessionId": nav["sessionId"], "level": "error"})
    assert any("console \ufffd" in e["message"] for e in logs["logs"])  # stored too
    shot = await stdio_client.call_tool("browser_screenshot", {"sessionId": nav["sessionId"]})
    assert not shot.is_error  # the server still answers


async def test_stdio_server_exits_after_client_disconnects_leaving_no_browser(tmp_path: Path, site: FixtureSite) -> None:
    data_dir = tmp_path / "data"
    async with Client(stdio_params(data_dir), read_timeout_seconds=60) as c:
        await call(c, "browser_navigate", {"url": site.url("index.html")})
        server = server_of(data_dir)
        tree = descendants(server.pid)
        assert chromiums(tree), "the server should be running a browser by now"

    assert alive([server], timeout=10) == []
    assert alive(tree, timeout=10) == []


def _rpc(msg_id: int | None, method: str, params: dict | None = None) -> bytes:
    msg: dict = {"jsonrpc": "2.0", "method": method}
    if msg_id is not None:
        msg["id"] = msg_id
    if params is not None:
        msg["params"] = params
    return (json.dumps(msg) + "\n").encode()


def ended_sessions(data_dir: Path) -> list[tuple[str, str | None]]:
    """(status, end reason) of every session the server recorded."""
    with contextlib.closing(sqlite3.connect(data_dir / "thinkrun.db")) as db:
        return db.execute("SELECT status, end_reason FROM sessions").fetchall()


@dataclass
class ServerRun:
    """What one server process did from start to exit."""

    data_dir: Path
    output: list[bytes]  # stdout lines (stdio) or observation text (HTTP)
    log: str
    exit_code: int
    browsers: list[psutil.Process]  # the browser processes it ran


@pytest.fixture(scope="module")
async def raw_stdio_run(tmp_path_factory: pytest.TempPathFactory, site_server: FixtureSite) -> AsyncIterator[ServerRun]:
    """JSON-RPC by hand over the pipes: initialize, navigate (INFO logs on), then close stdin."""
    tmp = tmp_path_factory.mktemp("raw-stdio")
    data_dir = tmp / "data"
    proc = await asyncio.create_subprocess_exec(
        *server_command(),
        "--data-dir",
        str(data_dir),
        "--log-level",
        "INFO",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env(data_dir),
        cwd=tmp,
    )
    lines: list[bytes] = []
    browsers: list[psutil.Process] = []
    try:
        assert proc.stdin and proc.stdout and proc.stderr
        stderr = asyncio.create_task(proc.stderr.read())
        proc.stdin.write(
            _rpc(
                1,
                "initialize",
                {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "raw-test", "version": "0"},
                },
            )
        )
        proc.stdin.write(_rpc(None, "notifications/initialized"))
        proc.stdin.write(_rpc(2, "tools/call", {"name": "browser_navigate", "arguments": {"url": site_server.url("index.html")}}))
        await proc.stdin.drain()
        async with asyncio.timeout(60):
            while b'"id":2' not in (lines[-1].replace(b" ", b"") if lines else b""):
                line = await proc.stdout.readline()
                assert line, "stdout closed before the navigate result"
                lines.append(line)
        browsers = chromiums(descendants(proc.pid))
        proc.stdin.close()
        async with asyncio.timeout(20):
            lines.extend(line for line in (await proc.stdout.read()).splitlines(keepends=True) if line.strip())
            code = await proc.wait()
            log = (await stderr).decode(errors="replace")
        yield ServerRun(data_dir, lines, log, code, browsers)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for p in alive(browsers, timeout=0):
            p.kill()


def test_stdio_writes_only_json_rpc_to_stdout_and_logs_to_stderr(raw_stdio_run: ServerRun) -> None:
    messages = [json.loads(line) for line in raw_stdio_run.output]

    assert all(m.get("jsonrpc") == "2.0" for m in messages), raw_stdio_run.output
    assert [m.get("id") for m in messages if "id" in m] == [1, 2]
    assert "browser ready" in raw_stdio_run.log  # the INFO log went to stderr


def test_stdio_server_shuts_down_on_stdin_eof_ending_its_sessions(raw_stdio_run: ServerRun) -> None:
    assert raw_stdio_run.exit_code == 0, raw_stdio_run.log[-2000:]
    assert ended_sessions(raw_stdio_run.data_dir) == [("terminated", "server shut down")]


def test_stdio_server_stops_its_browser_on_stdin_eof(raw_stdio_run: ServerRun) -> None:
    assert raw_stdio_run.browsers
    assert alive(raw_stdio_run.browsers, timeout=10) == []


# -- streamable HTTP and SSE ----------------------------------------------------------------


async def _navigate_and_observe(client: Client, site: FixtureSite) -> str:
    nav = await call(client, "browser_navigate", {"url": site.url("forms.html")})
    assert nav["url"] == site.url("forms.html")
    result = await client.call_tool("browser_observe", {})
    assert not result.is_error, text_of(result)
    return text_of(result)


@pytest.fixture(scope="module")
async def http_run(tmp_path_factory: pytest.TempPathFactory, site_server: FixtureSite) -> ServerRun:
    """A streamable-HTTP server: navigate and observe through it, then SIGTERM it."""
    tmp = tmp_path_factory.mktemp("http")
    port = free_port()
    log = tmp / "server.log"
    cmd = [*server_command(), "--transport", "streamable-http", "--port", str(port)]
    with spawned(cmd, log=log, env=server_env(tmp / "data"), cwd=tmp) as proc:
        await wait_for_port(port, proc, log=log)
        async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=60) as c:
            text = await _navigate_and_observe(c, site_server)
        browsers = chromiums(descendants(proc.pid))
        proc.terminate()
        code = await asyncio.to_thread(proc.wait, 20)
    return ServerRun(tmp / "data", [text.encode()], log.read_text(errors="replace"), code, browsers)


def test_streamable_http_server_serves_navigate_and_observe(http_run: ServerRun, site: FixtureSite) -> None:
    text = http_run.output[0].decode()

    assert site.url("forms.html") in text
    assert "textbox" in text and "[ref=" in text


def test_streamable_http_server_shuts_down_gracefully_on_sigterm(http_run: ServerRun) -> None:
    # uvicorn re-raises the SIGTERM it handled once shutdown is done, hence -15 rather than 0.
    assert http_run.exit_code in (0, -signal.SIGTERM), http_run.log[-2000:]
    assert ended_sessions(http_run.data_dir) == [("terminated", "server shut down")]
    assert http_run.browsers
    assert alive(http_run.browsers, timeout=10) == []


async def test_sse_server_serves_navigate_and_observe(tmp_path: Path, site: FixtureSite) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    cmd = [*server_command(), "--transport", "sse", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    with spawned(cmd, log=log, env=server_env(tmp_path / "elsewhere"), cwd=tmp_path) as proc:
        await wait_for_port(port, proc, log=log)
        async with Client(sse_client(f"http://127.0.0.1:{port}/sse"), read_timeout_seconds=60) as c:
            text = await _navigate_and_observe(c, site)

    assert site.url("forms.html") in text
    assert "[ref=" in text
    assert (tmp_path / "data" / "thinkrun.db").exists()  # --data-dir won over THINKRUN_DATA_DIR


# -- doctor and --version -------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*server_command(), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_version_flag_prints_the_package_version(tmp_path: Path) -> None:
    done = run_cli("--version", env=server_env(tmp_path / "data"), cwd=tmp_path)

    assert done.returncode == 0
    assert done.stdout.strip() == f"thinkrun-mcp {__version__}"


def test_doctor_reports_python_playwright_browser_data_dir_and_llm_keys(tmp_path: Path) -> None:
    from importlib.metadata import version

    data_dir = tmp_path / "data"
    (tmp_path / ".env").write_text("ANTHROPIC_API_KEY=sk-ant-dotenv-secret-456\n")
    done = run_cli("doctor", env=server_env(data_dir, GEMINI_API_KEY="sk-doctor-secret-123"), cwd=tmp_path)

    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert f"Python {sys.version.split()[0]}" in out
    assert f"playwright {version('playwright')}" in out
    browser_line = next(line for line in out.splitlines() if line.startswith("browser:"))
    assert "launched" in browser_line
    assert any(Path(word.strip("()")).is_file() for word in browser_line.split() if word.strip("(").startswith("/"))
    assert f"data dir: {data_dir}" in out
    assert "URL rules: egress proxy on 127.0.0.1" in out
    assert "LLM gemini: ready — key set" in out  # from the environment
    assert "LLM claude: ready — key set" in out  # from .env in the working directory
    assert "LLM openai: not ready — set OPENAI_API_KEY, or OPENAI_BASE_URL" in out
    assert "LLM sampling: per client — no key needed" in out
    assert "sk-doctor-secret-123" not in out + done.stderr
    assert "sk-ant-dotenv-secret-456" not in out + done.stderr


def test_doctor_without_a_browser_says_why_and_how_to_fix_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-chrome"
    done = run_cli("doctor", env=server_env(tmp_path / "data", THINKRUN_BROWSER_PATH=str(missing)), cwd=tmp_path)

    assert done.returncode == 1
    browser_line = next(line for line in done.stdout.splitlines() if line.startswith("browser:"))
    assert "browser_unavailable" in browser_line
    assert f"{missing} is not an executable file" in browser_line
    assert "python -m playwright install chromium" in browser_line
    assert "Chrome/Chromium" in browser_line
    assert f"data dir: {tmp_path / 'data'}" in done.stdout  # the rest of the report still comes
    assert "LLM gemini: not ready — set GEMINI_API_KEY or GOOGLE_API_KEY" in done.stdout
