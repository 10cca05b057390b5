"""Acknowledged means durable, against the installed ``thinkrun-mcp`` in real processes: every action a
call acknowledged survives SIGKILL of the server; a locked or damaged database stops ``serve`` within
seconds with the file, the cause and the remedy; ``doctor`` reports the database.
"""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import psutil
from mcp import Client

from tests.e2e.test_transports import run_cli, server_of, stdio_params
from tests.support.locks import EXCLUSIVE_MODE, lock_held, write_garbage
from tests.support.mcp import call
from tests.support.procs import alive, descendants, kill_tree, server_command, server_env
from tests.support.site import FixtureSite
from thinkrun_mcp.store.db import Store

CALLS = 36  # acknowledged browser_navigate / browser_act calls before the kill (the drill's figure)
FAST = 5.0  # seconds within which a server on a locked or damaged database must have failed


def _next_call(i: int, site: FixtureSite, session_id: str) -> tuple[str, dict[str, object], str]:
    """(tool, arguments, the action type it records) of the i-th call: a navigation, then two scrolls."""
    if i % 3 == 0:
        return "browser_navigate", {"url": site.url("forms.html" if i % 2 else "index.html"), "sessionId": session_id}, "navigate"
    return "browser_act", {"method": "scroll", "value": "bottom" if i % 2 else "top", "sessionId": session_id}, "scroll"


async def test_every_acknowledged_action_is_in_the_database_after_the_server_is_killed(tmp_path: Path, site: FixtureSite):
    data_dir = tmp_path / "data"
    acknowledged: list[str] = []
    browsers: list[psutil.Process] = []
    with contextlib.suppress(Exception):  # the client's transport breaks when its server is killed under it
        async with Client(stdio_params(data_dir), read_timeout_seconds=60) as c:
            session_id = (await call(c, "session_create", {}))["sessionId"]
            for i in range(CALLS):
                tool, args, recorded = _next_call(i, site, session_id)
                await call(c, tool, args)
                acknowledged.append(recorded)
            server = server_of(data_dir)
            browsers = descendants(server.pid)
            server.kill()  # SIGKILL right after the last acknowledgement: no flush interval, no shutdown
            server.wait(10)
    for p in alive(browsers, timeout=0):
        p.kill()
    assert len(acknowledged) == CALLS

    async with Client(stdio_params(data_dir), read_timeout_seconds=60) as c:
        logged = await call(c, "session_actions", {"sessionId": session_id, "limit": 100})

    assert logged["total"] == CALLS
    assert [a["type"] for a in logged["actions"]] == acknowledged
    assert all(a["success"] for a in logged["actions"])


def _serve(data_dir: Path, cwd: Path) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``thinkrun-mcp`` over stdio, its stdin kept open as a client keeps it.

    A server that has not exited within ``FAST`` seconds fails the test (it would have hung).
    """
    out, err = cwd / "serve.out", cwd / "serve.err"
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen(
            server_command(),
            stdin=subprocess.PIPE,
            stdout=o,
            stderr=e,
            env=server_env(data_dir, THINKRUN_DB_LOCK_WAIT_SECONDS="1"),
            cwd=cwd,
        )
        try:
            code = proc.wait(FAST)
        finally:
            kill_tree(proc, grace=1)
            if proc.stdin:
                proc.stdin.close()
    return code, out.read_text(), err.read_text()


async def _database(data_dir: Path) -> Path:
    """A healthy database, made and closed by the store."""
    store = Store(data_dir / "thinkrun.db")
    await store.open()
    await store.close()
    return store.path


async def test_serve_on_a_database_another_process_holds_exits_within_seconds_naming_it(tmp_path: Path):
    path = await _database(tmp_path / "data")
    with lock_held(path, EXCLUSIVE_MODE):
        code, out, err = _serve(tmp_path / "data", tmp_path)

    assert code == 1, err
    assert f"storage_unavailable: cannot open the database: {path} is locked by another process" in err
    assert "fuser" in err
    assert out == ""  # nothing on the JSON-RPC channel


def test_serve_on_a_file_that_is_not_a_database_exits_within_seconds_naming_it(tmp_path: Path):
    path = tmp_path / "data" / "thinkrun.db"
    write_garbage(path)

    code, _, err = _serve(tmp_path / "data", tmp_path)

    assert code == 1, err
    assert f"storage_corrupt: cannot open the database: {path} is damaged (file is not a database)" in err
    assert ".recover" in err


def _doctor_database_line(data_dir: Path, cwd: Path) -> tuple[int, str]:
    # No browser to launch (the database line is what is tested; the browser line then fails fast).
    env = server_env(data_dir, THINKRUN_BROWSER_PATH=str(cwd / "no-browser"), THINKRUN_DB_LOCK_WAIT_SECONDS="1")
    done = run_cli("doctor", env=env, cwd=cwd)
    return done.returncode, next(line for line in done.stdout.splitlines() if line.startswith("database:"))


async def test_doctor_reports_a_healthy_database(tmp_path: Path):
    path = await _database(tmp_path / "data")

    _, line = _doctor_database_line(tmp_path / "data", tmp_path)

    assert line == f"database: {path} (integrity check ok, not locked by another process, 0 sessions recorded)"


async def test_doctor_reports_a_database_another_process_holds(tmp_path: Path):
    path = await _database(tmp_path / "data")
    with lock_held(path, EXCLUSIVE_MODE):
        code, line = _doctor_database_line(tmp_path / "data", tmp_path)

    assert code == 1
    assert line.startswith(f"database: {path} — FAILED: storage_unavailable: cannot open the database: {path} is locked")


def test_doctor_reports_a_file_that_is_not_a_database(tmp_path: Path):
    path = tmp_path / "data" / "thinkrun.db"
    write_garbage(path)

    code, line = _doctor_database_line(tmp_path / "data", tmp_path)

    assert code == 1
    assert line.startswith(f"database: {path} — FAILED: storage_corrupt: cannot open the database: {path} is damaged")
