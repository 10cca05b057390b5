"""The ``thinkrun-mcp`` command: serve MCP (stdio, SSE, streamable HTTP) or check the setup (``doctor``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import sys
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from . import __version__
from .config import Settings
from .urls import is_loopback_host

if TYPE_CHECKING:
    from .browser.engine import BrowserEngine

__all__ = ["build_parser", "main", "settings_from_args"]

# CLI flag → Settings field. Flags win over THINKRUN_* variables and .env.
_FLAG_FIELDS = {
    "data_dir": "data_dir",
    "browser_path": "browser_path",
    "browser_endpoint": "browser_endpoint",
    "max_sessions": "max_sessions",
    "idle_seconds": "session_idle_seconds",
    "max_seconds": "session_max_seconds",
    "log_level": "log_level",
    "block_private_networks": "block_private_networks",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thinkrun-mcp",
        description="A local MCP server that gives AI agents a real browser. "
        "Settings come from flags, THINKRUN_* environment variables, .env, then defaults (see .env.example).",
    )
    parser.add_argument("--version", action="version", version=f"thinkrun-mcp {__version__}")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "doctor"], help="serve (default) or doctor")
    parser.add_argument("--transport", choices=["stdio", "sse", "streamable-http", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="bind address for sse/streamable-http (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8931, help="port for sse/streamable-http (default 8931)")
    parser.add_argument("--path", default="/mcp", help="streamable-http endpoint path (default /mcp)")
    parser.add_argument("--data-dir", help="database, artifacts and cache (default ~/.thinkrun)")
    parser.add_argument("--browser-path", help="Chrome/Chromium executable")
    parser.add_argument(
        "--browser-endpoint",
        help="remote browsers instead of a local one: ws://… (Playwright server), http://… (CDP); comma separated",
    )
    parser.add_argument("--headed", action="store_true", default=None, help="show the browser window")
    parser.add_argument("--max-sessions", type=int, help="open sessions per client (default 3)")
    parser.add_argument("--idle-seconds", type=float, help="end sessions unused this long (default 300)")
    parser.add_argument("--max-seconds", type=float, help="end sessions this old (default 1200)")
    parser.add_argument(
        "--block-private-networks",
        action="store_true",
        default=None,
        help="refuse connections to loopback/private networks (default: on with HTTP on a non-loopback --host)",
    )
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        field: getattr(args, flag) for flag, field in _FLAG_FIELDS.items() if getattr(args, flag, None) is not None
    }
    if args.headed:
        overrides["headless"] = False
    settings = Settings(**overrides)
    if settings.block_private_networks is None and serves_others(args):
        # Others can reach the server: pages must not reach this machine or its networks unless asked for.
        settings = settings.model_copy(update={"block_private_networks": True})
    return settings


def serves_others(args: argparse.Namespace) -> bool:
    """Whether the server listens where other machines can reach it (HTTP on a non-loopback address)."""
    return args.command == "serve" and args.transport != "stdio" and not is_loopback_host(args.host)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        stream=sys.stderr,  # stdout belongs to the stdio transport
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ValidationError as exc:
        print(f"thinkrun-mcp: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    if args.command == "doctor":
        return asyncio.run(doctor(settings))
    from .errors import ThinkRunError

    try:
        asyncio.run(_open_database(settings))  # before any transport: a stdio client would otherwise wait forever
    except ThinkRunError as exc:
        print(f"thinkrun-mcp: {exc}", file=sys.stderr)
        return 1
    from .server.mcp import create_server

    server = create_server(settings)
    try:
        if args.transport == "stdio":
            server.run()
        elif args.transport == "sse":
            server.run("sse", host=args.host, port=args.port)
        else:
            server.run("streamable-http", host=args.host, port=args.port, streamable_http_path=args.path)
    except KeyboardInterrupt:
        pass
    return 0


async def _open_database(settings: Settings) -> None:
    """Open and close the store: a database that is locked by another process or damaged fails here, within seconds."""
    from .store.db import Store

    store = Store(settings.db_path, lock_wait=settings.db_lock_wait_seconds)
    await store.open()
    await store.close()


async def _check_database(settings: Settings) -> tuple[bool, str]:
    """doctor's database line: can it be opened and locked for writing, and does the full integrity check pass."""
    from .errors import ThinkRunError
    from .store.db import Store

    path = settings.db_path
    if not path.exists():
        return True, f"database: {path} (none yet; created at the first start)"
    store = Store(path, lock_wait=settings.db_lock_wait_seconds)
    try:
        await store.open()
        try:
            problems = await store.integrity_check()
            sessions = await store.scalar("SELECT COUNT(*) FROM sessions")
        finally:
            await store.close()
    except ThinkRunError as exc:
        return False, f"database: {path} — FAILED: {exc}"
    if problems != ["ok"]:
        return False, (
            f"database: {path} — DAMAGED, integrity_check found: {'; '.join(problems[:5])} "
            f"(recover with `sqlite3 {path} .recover | sqlite3 recovered.db`, or move it aside)"
        )
    return True, f"database: {path} (integrity check ok, not locked by another process, {sessions} sessions recorded)"


async def doctor(settings: Settings) -> int:
    """Print what a person needs to know to get the server working; exit 1 if it cannot browse."""
    from importlib.metadata import version as pkg_version

    from .agent.backends import Backends
    from .browser.egress import Egress
    from .browser.engine import BrowserEngine, find_browser
    from .errors import ThinkRunError

    ok = True
    out = [f"thinkrun-mcp {__version__} on Python {platform.python_version()} ({sys.executable})"]
    out.append(f"playwright {pkg_version('playwright')}, mcp {pkg_version('mcp')}")
    engine = BrowserEngine(settings)
    try:
        await engine.start()
        if settings.browser_endpoint:
            ok = await _doctor_endpoints(engine, out)
        else:
            location = find_browser(settings, engine.playwright)
            try:
                browser = await asyncio.wait_for(engine.browser(), timeout=60)
                out.append(f"browser: {location.describe()} — launched, version {browser.version}")
            except (ThinkRunError, TimeoutError) as exc:
                ok = False
                out.append(f"browser: {location.describe()} — FAILED to start: {str(exc) or 'no answer within 60 s'}")
    except ThinkRunError as exc:
        ok = False
        out.append(f"browser: none — {exc}")
    finally:
        await engine.close()
    private = (
        "blocked"
        if settings.block_private_networks
        else "allowed (blocked when serving HTTP on a non-loopback --host, or with THINKRUN_BLOCK_PRIVATE_NETWORKS=true)"
    )
    out.append(f"URL rules: {Egress(settings).describe()}; private networks {private}")
    data = settings.data_dir
    try:
        data.mkdir(parents=True, exist_ok=True)
        probe = data / ".write-test"
        probe.write_text("ok")
        probe.unlink()
        out.append(f"data dir: {data} (writable)")
    except OSError as exc:
        ok = False
        out.append(f"data dir: {data} — NOT writable: {exc}")
    db_ok, line = await _check_database(settings)
    ok = ok and db_ok
    out.append(line)
    how = (
        "encrypted with THINKRUN_PROFILE_KEY"
        if settings.profile_key
        else "owner-only files, NOT encrypted (set THINKRUN_PROFILE_KEY)"
    )
    out.append(f"profiles: {settings.profiles_dir} — {how}")
    for name, readiness in Backends(settings).status().items():
        where = " (in the environment or .env)" if readiness.state == "not ready" else ""
        out.append(f"LLM {name}: {readiness.state} — {readiness.detail}{where}")
    if settings.cloud_url and settings.api_key:
        out.append(f"page cache cloud provider: {settings.cloud_url}")
    else:
        out.append("page cache cloud provider: not configured (THINKRUN_CLOUD_URL, THINKRUN_API_KEY); local works")
    print("\n".join(out))
    return 0 if ok else 1


async def _doctor_endpoints(engine: BrowserEngine, out: list[str]) -> bool:
    """One line per remote browser endpoint (reached at once); True when at least one is up."""
    from .errors import ThinkRunError

    async def reach(key: str) -> str | None:
        try:
            await asyncio.wait_for(engine.browser(key), timeout=60)
        except (ThinkRunError, TimeoutError) as exc:
            return str(exc) or "no answer within 60 s"
        return None

    failures = await asyncio.gather(*(reach(e.key) for e in engine.endpoints))
    kinds = {"playwright": "Playwright server", "cdp": "DevTools endpoint", "local": "local"}
    for endpoint, failure in zip(engine.endpoints, failures, strict=True):
        cap = f"cap {endpoint.max_sessions} sessions" if endpoint.max_sessions else "no session cap"
        state = f"DOWN: {failure}" if failure else f"up, version {endpoint.version}, {cap}"
        out.append(f"browser endpoint: {endpoint.shown} ({kinds[endpoint.kind]}) — {state}")
    up = sum(1 for f in failures if f is None)
    out.append(
        f"browser endpoints: {up} of {len(failures)} up; new sessions go to the least loaded one that is up "
        f"(open sessions per endpoint: session_health of the running server)"
    )
    return up > 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
