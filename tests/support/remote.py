"""Remote browsers for tests, started here on 127.0.0.1: Playwright servers and Chromium DevTools endpoints.

A Playwright server launches the browser itself. Here it may have no Chromium of its own (Playwright's
build is often not installed), so it runs with ``--unsafe``, which lets the client name the executable:
the runtime under test gets ``browser_path`` = the Chromium the engine's discovery finds.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psutil

from tests.support.procs import descendants, free_port, spawned, wait_for_port
from tests.support.wait import wait_until
from thinkrun_mcp.browser.engine import LAUNCH_ARGS

_runs = itertools.count(1)


@contextlib.asynccontextmanager
async def playwright_server(log_dir: Path, *, port: int | None = None) -> AsyncIterator[tuple[str, subprocess.Popen[bytes]]]:
    """``playwright run-server`` on ``port`` (a free one by default): yields its ws:// URL and process."""
    port = port or free_port()
    log = log_dir / f"run-server-{port}-{next(_runs)}.log"
    cmd = [sys.executable, "-m", "playwright", "run-server", "--port", str(port), "--host", "127.0.0.1", "--unsafe"]
    with spawned(cmd, log=log) as proc:
        await wait_for_port(port, proc, log=log)
        yield f"ws://127.0.0.1:{port}/", proc


@contextlib.asynccontextmanager
async def devtools_chromium(executable: str, data_dir: Path) -> AsyncIterator[tuple[str, subprocess.Popen[bytes]]]:
    """A headless Chromium with a DevTools port of its choosing: yields its http:// URL and process."""
    profile = data_dir / f"profile-{next(_runs)}"
    cmd = [
        executable,
        "--headless=new",
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
        f"--user-data-dir={profile}",
        *LAUNCH_ARGS,
        "about:blank",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")
    active = profile / "DevToolsActivePort"  # Chromium writes the port it took here
    with spawned(cmd, log=data_dir / f"chromium-{next(_runs)}.log") as proc:
        first = await wait_until(lambda: active.exists() and active.read_text().split("\n", 1)[0], what="a DevTools port")
        port = int(first)
        await wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}", proc


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``proc`` and everything below it at once, as when its machine goes away."""
    for p in [psutil.Process(proc.pid), *descendants(proc.pid)]:
        with contextlib.suppress(psutil.Error):
            p.kill()
    proc.wait(10)
