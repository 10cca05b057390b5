"""The session registry: creates, finds, lists and ends sessions; reaps idle and old ones.

States: ``creating → running → completed | terminated | failed``, and
``orphaned`` when the browser is lost (then ``failed``: a local browser cannot
come back). Ended sessions leave memory but their rows stay in the store, so a
closed session's history is still readable.

Each client (an MCP connection; see ``server/mcp.py``) gets a default session on
first use, and may open at most ``max_sessions`` at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from playwright.async_api import Error as PlaywrightError

from ..config import Settings
from ..errors import ThinkRunError
from ..store.records import Records
from ..store.sessions import SessionRows
from .engine import BrowserEngine
from .policy import UrlPolicy
from .session import BrowserSession, new_id

__all__ = ["SessionRegistry", "describe_end"]

log = logging.getLogger(__name__)


def describe_end(row: dict[str, Any]) -> str:
    """'ended 2 min ago (idle timeout)' for a closed session row."""
    ended = row.get("ended_at")
    ago = ""
    if ended:
        secs = max(0, int(time.time() - ended))
        ago = f" {secs} s ago" if secs < 120 else f" {secs // 60} min ago"
    reason = row.get("end_reason") or row.get("status")
    return f"ended{ago} ({reason})"


class SessionRegistry:
    def __init__(self, settings: Settings, engine: BrowserEngine, rows: SessionRows, records: Records):
        self.settings = settings
        self.engine = engine
        self.rows = rows
        self.records = records
        self._sessions: dict[str, BrowserSession] = {}
        self._defaults: dict[str, str] = {}
        self._create_lock = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None
        engine.on_disconnect(self._browser_lost)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_loop(), name="thinkrun-session-reaper")

    async def shutdown(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            try:
                await self._reaper
            except asyncio.CancelledError:
                pass
            self._reaper = None
        await asyncio.gather(
            *(self.end(s, "terminated", "server shut down") for s in list(self._sessions.values())),
            return_exceptions=True,
        )

    # -- creation ------------------------------------------------------------------------

    def open_sessions(self, client_key: str | None = None) -> list[BrowserSession]:
        return [s for s in self._sessions.values() if s.is_open and (client_key is None or s.client_key == client_key)]

    async def create(
        self,
        client_key: str,
        *,
        viewport: tuple[int, int] | None = None,
        avoid_domains: list[str] | None = None,
        allow_domains: list[str] | None = None,
        extra_options: dict[str, Any] | None = None,
    ) -> BrowserSession:
        """Open a new running session (its context and first tab), enforcing the per-client cap."""
        viewport = viewport or (self.settings.viewport_width, self.settings.viewport_height)
        policy = UrlPolicy(
            schemes=self.settings.schemes,
            avoid_domains=avoid_domains or (),
            allow_domains=allow_domains or (),
            block_private=self.settings.block_private_networks,
        )
        options = {"avoidDomains": list(policy.avoid), "allowDomains": list(policy.allow), **(extra_options or {})}
        async with self._create_lock:
            open_now = self.open_sessions(client_key)
            if len(open_now) >= self.settings.max_sessions:
                ids = ", ".join(s.id for s in open_now)
                raise ThinkRunError(
                    "browser_session_limit",
                    f"{len(open_now)} sessions are open, the limit is {self.settings.max_sessions} ({ids})",
                    hint="close one with session_close, or raise THINKRUN_MAX_SESSIONS",
                )
            session = BrowserSession(
                session_id=new_id("ses"),
                client_key=client_key,
                settings=self.settings,
                policy=policy,
                rows=self.rows,
                records=self.records,
                viewport=viewport,
                options=options,
            )
            self._sessions[session.id] = session
        self.rows.insert(
            session_id=session.id,
            client_key=client_key,
            status="creating",
            created_at=session.created_at,
            viewport=viewport,
            options=options,
        )
        try:
            context = await self.engine.new_context(
                viewport={"width": viewport[0], "height": viewport[1]},
                accept_downloads=True,
                service_workers="block",
            )
            await session.open(context)
        except ThinkRunError as exc:
            await self.end(session, "failed", f"could not start: {exc.message}")
            raise
        except PlaywrightError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            await self.end(session, "failed", f"could not start: {first}")
            raise ThinkRunError("browser_unavailable", f"could not open a browser context: {first}") from exc
        except BaseException:
            await self.end(session, "failed", "creation interrupted")
            raise
        session.status = "running"
        session.touch()
        self.rows.update(session.id, status="running")
        return session

    # -- lookup --------------------------------------------------------------------------

    async def get(self, session_id: str) -> BrowserSession:
        """The open session with this id, or ``session_not_found`` / ``session_closed``."""
        session = self._sessions.get(session_id)
        if session is not None and session.is_open:
            return session
        row = await self.rows.get(session_id)
        if row is None:
            raise ThinkRunError(
                "session_not_found",
                f"no session {session_id!r}",
                hint="list sessions with session_list, or create one with session_create",
            )
        raise ThinkRunError(
            "session_closed",
            f"session {session_id} {describe_end(row)}",
            hint="create a new one with session_create (its history stays readable with session_get/session_actions)",
        )

    async def default(self, client_key: str) -> BrowserSession:
        """The client's default session, created on first use (and again after it ends)."""
        sid = self._defaults.get(client_key)
        session = self._sessions.get(sid) if sid else None
        if session is not None and session.is_open:
            return session
        session = await self.create(client_key, extra_options={"default": True})
        self._defaults[client_key] = session.id
        return session

    async def resolve(self, client_key: str, session_id: str | None) -> BrowserSession:
        return await self.get(session_id) if session_id else await self.default(client_key)

    # -- ending --------------------------------------------------------------------------

    async def end(self, session: BrowserSession, status: str, reason: str) -> None:
        """End a session (idempotent): close its context, record status and reason."""
        if not session.is_open and session.status != "orphaned":
            return
        session.status = status
        session.end_reason = reason
        session.ended_at = time.time()
        await session.close_context()
        self.rows.update(
            session.id,
            status=status,
            end_reason=reason,
            ended_at=session.ended_at,
            action_count=session.action_count,
            navigation_count=session.navigation_count,
            screenshot_count=session.screenshot_count,
            current_url=session.current_url,
            title=session.title,
            dropped=session.dropped,
        )
        self._sessions.pop(session.id, None)
        log.info("session %s %s: %s", session.id, status, reason)

    async def end_all(self, reason: str) -> None:
        """End every open session as ``terminated`` with ``reason``."""
        await asyncio.gather(*(self.end(s, "terminated", reason) for s in self.open_sessions()))

    def busy(self, session_id: str) -> int:
        """Tool calls and tasks in flight on an open session; 0 when it is not open."""
        session = self._sessions.get(session_id)
        return session.busy if session is not None and session.is_open else 0

    async def close(self, session_id: str) -> BrowserSession:
        session = await self.get(session_id)
        await self.end(session, "terminated", "closed by client")
        return session

    def _browser_lost(self, reason: str) -> None:
        for session in list(self._sessions.values()):
            if not session.is_open:
                continue
            session.status = "orphaned"
            self.rows.update(session.id, status="orphaned", end_reason=reason)
            # A local browser cannot come back, so the grace period is zero: orphaned → failed.
            asyncio.get_running_loop().create_task(self.end(session, "failed", f"orphaned: {reason}"))

    # -- reaper --------------------------------------------------------------------------

    async def reap_once(self) -> list[str]:
        now = time.monotonic()
        wall = time.time()
        ended = []
        for session in list(self._sessions.values()):
            if not session.is_open or session.status == "creating":
                continue
            if wall - session.created_at >= self.settings.session_max_seconds:
                await self.end(session, "terminated", f"max lifetime of {self.settings.session_max_seconds:g} s reached")
                ended.append(session.id)
            elif session.busy == 0 and now - session.last_used >= self.settings.session_idle_seconds:
                await self.end(session, "terminated", f"idle timeout ({self.settings.session_idle_seconds:g} s without use)")
                ended.append(session.id)
        return ended

    async def _reap_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reaper_interval_seconds)
            try:
                await self.reap_once()
            except Exception:
                log.exception("session reaper failed")
