"""Hostile input over the wire: every request gets an answer, the server never dies.

Raw JSON-RPC to the installed ``thinkrun-mcp`` over stdio (no SDK client in between to clean the
input up): every tool with arguments a confused or hostile model sends — lone surrogates
(``"\\ud800"`` is valid JSON), NUL bytes, huge strings, JSON-looking text, wrong types, unknown keys
at any depth, deep nesting, hostile URLs. Seeded, so a failure replays.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import time
from pathlib import Path
from typing import Any

from tests.support.procs import server_command, server_env

CALLS = int(os.environ.get("FUZZ_CALLS", "400"))
CODED = re.compile(r"^[a-z_]+: \S")  # "<code>: <message>"

STRINGS = [
    "\ud800",
    "a\udfffb",
    "\x00",
    "x" * 200_000,
    "[1]",
    '{"a": 1}',
    "null",
    "‮evil",
    "😀" * 50,
    "<secret:password>",
    "e1",
    "http://127.0.0.1:9/",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "http://[::1",
    "http://%00/",
    "data:text/html,<script>alert(1)</script>",
    "",
    " ",
]


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"k": value}
    return value


def hostile_value(rng: random.Random) -> Any:
    kind = rng.randrange(9)
    if kind < 4:
        return rng.choice(STRINGS)
    return [
        lambda: rng.choice([0, -1, 2**63, 1e308, float("-0.0"), True, None]),
        lambda: [rng.choice(STRINGS) for _ in range(rng.randrange(4))],
        lambda: {rng.choice(STRINGS)[:20] or "k": rng.choice(STRINGS)},
        lambda: _deep(rng.choice([5, 50, 400])),
        lambda: {"unknownKey": {"nested": {"deeper": rng.choice(STRINGS)}}},
    ][kind - 4]()


def hostile_arguments(rng: random.Random, schema: dict[str, Any]) -> dict[str, Any]:
    props = list((schema.get("properties") or {}).keys())
    args: dict[str, Any] = {}
    for name in props:
        if rng.random() < 0.5:
            args[name] = hostile_value(rng)
    if rng.random() < 0.2:
        args[rng.choice(["bogus", "session_id", "URL", "\ud800"])] = hostile_value(rng)
    return args


async def test_fuzzed_calls_each_get_an_answer_and_the_server_survives(tmp_path: Path) -> None:
    rng = random.Random(20261202)
    data_dir = tmp_path / "data"
    cmd = server_command()
    log = (tmp_path / "stderr.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        "--data-dir",
        str(data_dir),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
        env=server_env(data_dir, THINKRUN_NAVIGATION_TIMEOUT_MS="5000", THINKRUN_ACTION_TIMEOUT_MS="2000"),
        cwd=str(tmp_path),
        limit=2**24,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    async def send(message: dict[str, Any]) -> None:
        stdin.write(json.dumps(message, ensure_ascii=True).encode() + b"\n")  # "\ud800" stays an escape: valid JSON
        await stdin.drain()

    async def answer(request_id: int, timeout: float = float(os.environ.get("FUZZ_WAIT", "60"))) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            while True:
                line = await stdout.readline()
                assert line, f"the server closed its output (exit code {proc.returncode}) before answering {request_id}"
                message = json.loads(line)
                if message.get("id") == request_id:
                    return message

        return await asyncio.wait_for(read(), timeout)

    try:
        await send(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "0"}},
            }
        )
        assert "result" in await answer(0)
        await send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        await send({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        tools = (await answer(1))["result"]["tools"]
        assert len(tools) >= 15

        unanswered, uncoded, bugs = [], [], []
        for i in range(CALLS):
            tool = rng.choice(tools)
            args = hostile_arguments(rng, tool["inputSchema"])
            request_id = 100 + i
            await send(
                {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": tool["name"], "arguments": args}}
            )
            started = time.monotonic()
            try:
                reply = await answer(request_id)
                if os.environ.get("FUZZ_TRACE"):
                    print(f"{time.monotonic() - started:6.2f}s {tool['name']} {json.dumps(args)[:150]}")
            except TimeoutError:
                if os.environ.get("FUZZ_TRACE"):
                    print(f"UNANSWERED {tool['name']} {json.dumps(args)[:300]}")
                unanswered.append((tool["name"], json.dumps(args)[:200]))
                continue
            result = reply.get("result")
            if result is not None and result.get("isError"):
                text = result["content"][0]["text"]
                if not CODED.match(text):
                    uncoded.append((tool["name"], text[:200]))
                elif text.startswith("internal_error"):
                    bugs.append((tool["name"], text[:200]))
        assert proc.returncode is None, "the server died"
        assert unanswered == [], unanswered
        assert uncoded == [], uncoded
        assert bugs == [], bugs

        # Still serving: a plain call works after all that.
        await send({"jsonrpc": "2.0", "id": 9999, "method": "tools/call", "params": {"name": "session_list", "arguments": {}}})
        final = await answer(9999)
        assert final["result"].get("isError") is not True, final
    finally:
        if proc.returncode is None:
            stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()
    stderr = (tmp_path / "stderr.log").read_text(errors="replace")
    assert "Traceback" not in stderr, stderr[-3000:]
