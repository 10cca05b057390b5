"""The session registry: creates, finds, lists and ends sessions; reaps idle and old ones.

States: ``creating → running → completed | terminated | failed``, and
``orphaned`` when the browser is lost (then ``failed``: a local browser cannot
come back). Ended sessions leave memory but their rows stay in the store, so a
closed session's history is still readable.

Sessions belong to an :class:`~thinkrun_mcp.models.Owner`: looking up another
owner's session is ``session_not_found``, as if it did not exist. Each client of
an owner gets a default session on first use; an owner may have at most
``max_sessions`` open at once.

Only ``browser/`` holds :class:`BrowserSession` objects; everything above it
goes through the id-based :class:`~thinkrun_mcp.browser.service.BrowserService`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Any, Protocol

from playwright.async_api import Error as PlaywrightError

from ..config import Settings
from ..errors import ThinkRunError
from ..ids import new_id
from ..models import Owner, SessionStatus
from ..store.records import Records
from ..store.sessions import SessionRows
from .egress import Egress
from .engine import BrowserEngine
from .errors import first_line
from .policy import UrlPolicy
from .session import BrowserSession

__all__ = ["Ended", "SessionRegistry", "describe_end"]

log = logging.getLogger(__name__)

_ENDED_SECRETS_KEPT = 256  # ended sessions whose secret values are still hidden from late reports


class Ended(Protocol):
    """How a session ended: what a :class:`BrowserSession` and a stored ``SessionRow`` both tell."""

    @property
    def status(self) -> SessionStatus: ...
    @property
    def ended_at(self) -> float | None: ...
    @property
    def end_reason(self) -> str | None: ...


def describe_end(session: Ended) -> str:
    """'ended 2 min ago (idle timeout)' for a closed session (in memory or stored)."""
    ago = ""
    if session.ended_at:
        secs = max(0, int(time.time() - session.ended_at))
        ago = f" {secs} s ago" if secs < 120 else f" {secs // 60} min ago"
    return f"ended{ago} ({session.end_reason or session.status})"


class SessionRegistry:
    def __init__(self, settings: Settings, engine: BrowserEngine, rows: SessionRows, records: Records, egress: Egress):
        self.settings = settings
        self.engine = engine
        self.egress = egress
        self.rows = rows
        self.records = records
        self._sessions: dict[str, BrowserSession] = {}
        self._defaults: dict[str, str] = {}
        self._create_lock = asyncio.Lock()
        self._default_locks: dict[str, asyncio.Lock] = {}
        self._ended_secrets: collections.OrderedDict[str, tuple[str, dict[str, str]]] = collections.OrderedDict()
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
        await self.end_all("server shut down")

    async def end_all(self, reason: str) -> None:
        """End every open session as ``terminated`` with ``reason``."""
        await asyncio.gather(
            *(self.end(s, SessionStatus.TERMINATED, reason) for s in list(self._sessions.values())),
            return_exceptions=True,
        )

    # -- creation ------------------------------------------------------------------------

    def open_sessions(self, owner: Owner | None = None) -> list[BrowserSession]:
        """Open sessions, of one owner or of all."""
        return [s for s in self._sessions.values() if s.is_open and (owner is None or s.owner_id == owner.id)]

    async def create(
        self,
        owner: Owner,
        *,
        viewport: tuple[int, int] | None = None,
        policy: UrlPolicy | None = None,
        options: dict[str, Any] | None = None,
    ) -> BrowserSession:
        """Open a new running session (its context; the first tab opens on first use), enforcing the cap."""
        viewport = viewport or (self.settings.viewport_width, self.settings.viewport_height)
        policy = policy or UrlPolicy.from_settings(self.settings)
        options = {"avoidDomains": list(policy.avoid), "allowDomains": list(policy.allow), **(options or {})}
        async with self._create_lock:
            open_now = [s for s in self.open_sessions(owner) if s.client == owner.default_key]
            if len(open_now) >= self.settings.max_sessions:
                ids = ", ".join(s.id for s in open_now)
                raise ThinkRunError(
                    "browser_session_limit",
                    f"{len(open_now)} sessions are open, the limit is {self.settings.max_sessions} ({ids})",
                    hint="close one with session_close, or raise THINKRUN_MAX_SESSIONS",
                )
            session = BrowserSession(
                session_id=new_id("ses"),
                owner_id=owner.id,
                client=owner.default_key,
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
            owner_id=owner.id,
            status=SessionStatus.CREATING,
            created_at=session.created_at,
            viewport=viewport,
            options=options,
        )
        try:
            session.gate = self.egress.open_gate(lambda: session.policy, session.on_egress)
            context = await self.engine.new_context(
                viewport={"width": viewport[0], "height": viewport[1]},
                accept_downloads=True,
                service_workers="block",
                proxy=session.gate.proxy,  # every connection of the session goes through its gate
            )
            await session.open(context)
        except ThinkRunError as exc:
            await self.end(session, SessionStatus.FAILED, f"could not start: {exc.message}")
            raise
        except PlaywrightError as exc:
            first = first_line(exc)
            await self.end(session, SessionStatus.FAILED, f"could not start: {first}")
            raise ThinkRunError("browser_unavailable", f"could not open a browser context: {first}") from exc
        except BaseException:
            await self.end(session, SessionStatus.FAILED, "creation interrupted")
            raise
        session.status = SessionStatus.RUNNING
        session.touch()
        self.rows.update(session.id, status=SessionStatus.RUNNING)
        return session

    # -- lookup --------------------------------------------------------------------------

    def live(self, session_id: str) -> BrowserSession | None:
        """The session with this id while it is in memory (open, or ending), whoever owns it."""
        return self._sessions.get(session_id)

    def redact(self, owner: Owner, session_id: str, text: str) -> str:
        """``text`` with the secret values of the owner's session replaced, also shortly after it ended."""
        session = self._sessions.get(session_id)
        if session is not None:
            return session.redact(text) if session.owner_id == owner.id else text
        owner_id, secrets = self._ended_secrets.get(session_id, ("", {}))
        if owner_id != owner.id:
            return text
        for value, label in secrets.items():
            text = text.replace(value, label)
        return text

    def busy(self, session_id: str) -> int:
        """Calls or tasks in flight in an open session (0 when it is not open)."""
        session = self._sessions.get(session_id)
        return session.busy if session is not None and session.is_open else 0

    async def get(self, owner: Owner, session_id: str) -> BrowserSession:
        """The owner's open session with this id, or ``session_not_found`` / ``session_closed``."""
        session = self._sessions.get(session_id)
        if session is not None and session.is_open and session.owner_id == owner.id:
            return session
        row = await self.rows.get(session_id)
        if row is None or row.owner_id != owner.id:
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

    async def default(self, owner: Owner) -> BrowserSession:
        """The client's default session, created on first use (and again after it ends)."""
        # One lock per client: two first calls at once must not open two default sessions.
        lock = self._default_locks.setdefault(owner.default_key, asyncio.Lock())
        async with lock:
            sid = self._defaults.get(owner.default_key)
            session = self._sessions.get(sid) if sid else None
            if session is not None and session.is_open:
                return session
            session = await self.create(owner, options={"default": True})
            self._defaults[owner.default_key] = session.id
            return session

    async def resolve(self, owner: Owner, session_id: str | None) -> BrowserSession:
        """``session_id`` of this owner, or the owner's default session when it is None."""
        return await self.get(owner, session_id) if session_id else await self.default(owner)

    # -- ending --------------------------------------------------------------------------

    async def end(self, session: BrowserSession, status: SessionStatus, reason: str) -> None:
        """End a session (idempotent): close its context, record status and reason."""
        if not session.is_open and session.status != SessionStatus.ORPHANED:
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
        if session.secrets:  # an agent task may still report after its session ended: keep hiding its values
            self._ended_secrets[session.id] = (session.owner_id, dict(session.secrets))
            while len(self._ended_secrets) > _ENDED_SECRETS_KEPT:
                self._ended_secrets.popitem(last=False)
        log.info("session %s %s: %s", session.id, status, reason)

    def _browser_lost(self, reason: str) -> None:
        for session in list(self._sessions.values()):
            if not session.is_open:
                continue
            session.status = SessionStatus.ORPHANED
            self.rows.update(session.id, status=SessionStatus.ORPHANED, end_reason=reason)
            # A local browser cannot come back, so the grace period is zero: orphaned → failed.
            asyncio.get_running_loop().create_task(self.end(session, SessionStatus.FAILED, f"orphaned: {reason}"))

    # -- reaper --------------------------------------------------------------------------

    async def reap_once(self) -> list[str]:
        now = time.monotonic()
        wall = time.time()
        ended = []
        for session in list(self._sessions.values()):
            if not session.is_open or session.status == SessionStatus.CREATING:
                continue
            if wall - session.created_at >= self.settings.session_max_seconds:
                await self.end(
                    session, SessionStatus.TERMINATED, f"max lifetime of {self.settings.session_max_seconds:g} s reached"
                )
                ended.append(session.id)
            elif session.busy == 0 and now - session.last_used >= self.settings.session_idle_seconds:
                await self.end(
                    session, SessionStatus.TERMINATED, f"idle timeout ({self.settings.session_idle_seconds:g} s without use)"
                )
                ended.append(session.id)
        return ended

    async def _reap_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reaper_interval_seconds)
            try:
                await self.reap_once()
            except Exception:
                log.exception("session reaper failed")
