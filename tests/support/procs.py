"""Real subprocesses for tests: free ports, bounded waits, and cleanup of whole process trees."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil


def server_command() -> list[str]:
    """The installed ``thinkrun-mcp`` console script, or ``python -m thinkrun_mcp``."""
    script = Path(sys.executable).parent / "thinkrun-mcp"
    return [str(script)] if script.exists() else [sys.executable, "-m", "thinkrun_mcp"]


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment (conftest has removed THINKRUN_* and LLM keys) plus a data dir."""
    env = dict(os.environ)
    env["THINKRUN_DATA_DIR"] = str(data_dir)
    env["THINKRUN_LOG_LEVEL"] = "WARNING"
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_for_port(port: int, proc: subprocess.Popen[bytes], *, timeout: float = 30, log: Path | None = None) -> None:
    """Wait until something listens on 127.0.0.1:port; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before listening:\n{_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"nothing listened on port {port} within {timeout} s:\n{_tail(log)}")


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return log.read_text(errors="replace")[-3000:]


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def alive(procs: list[psutil.Process], *, timeout: float = 10) -> list[psutil.Process]:
    """The processes still running after up to ``timeout`` seconds (zombies count as gone)."""
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for p in procs:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    left.append(p)
            except psutil.Error:
                pass
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def kill_tree(proc: subprocess.Popen[bytes], *, grace: float = 10) -> None:
    """Terminate ``proc`` and everything below it; SIGKILL what outlives ``grace``."""
    tree = descendants(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for p in alive(tree, timeout=2):
        with contextlib.suppress(psutil.Error):
            p.kill()


@contextlib.contextmanager
def spawned(
    cmd: list[str], *, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` with stdout and stderr in ``log``; its whole tree is ended afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        try:
            yield proc
        finally:
            kill_tree(proc)
