"""The session registry: creates, finds, lists and ends sessions; reaps idle and old ones.

States: ``creating → running → completed | terminated | failed``, and
``orphaned`` when the browser under a session is lost. A local browser cannot
bring a session back, so its sessions fail at once. A remote endpoint may come
back: its sessions wait for it for ``endpoint_reconnect_seconds`` (WebRun's
reconnection window); a call meanwhile is ``browser_unavailable`` saying so.
If it answers in time, each one is restored on a new context there, with the same
id, settings, URL rules, history and records, and its active tab's last page
reopened; what lived only in the lost browser (cookies, storage, other tabs,
back/forward history, page state) is gone, and the next result tells so. If it
does not, they end ``failed``. Ended sessions leave memory but their rows stay
in the store, so a closed session's history is still readable.

Sessions belong to an :class:`~thinkrun_mcp.models.Owner`: looking up another
owner's session is ``session_not_found``, as if it did not exist. Each client of
an owner gets a default session on first use; an owner may have at most
``max_sessions`` open at once.

Only ``browser/`` holds :class:`BrowserSession` objects; everything above it
goes through the id-based :class:`~thinkrun_mcp.browser.service.BrowserService`.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from playwright.async_api import Error as PlaywrightError

from ..config import Settings
from ..errors import ThinkRunError
from ..ids import new_id
from ..models import BrowserOptions, Owner, RecordOptions, SessionStatus
from ..redact import Redactors
from ..store.records import Records
from ..store.sessions import SessionRows
from ..text import clip
from .egress import Egress
from .engine import BrowserEngine
from .errors import first_line
from .policy import UrlPolicy
from .profiles import checked_state
from .recording import Recording, video_unavailable
from .session import BrowserSession

__all__ = ["Ended", "SessionRegistry", "describe_end"]

log = logging.getLogger(__name__)


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
    def __init__(
        self,
        settings: Settings,
        engine: BrowserEngine,
        rows: SessionRows,
        records: Records,
        redactors: Redactors | None = None,
        *,
        egress: Egress,
    ):
        self.settings = settings
        self.redactors = redactors if redactors is not None else Redactors()
        self.engine = engine
        self.egress = egress
        self.rows = rows
        self.records = records
        self._sessions: dict[str, BrowserSession] = {}
        self._defaults: dict[str, str] = {}
        self._create_lock = asyncio.Lock()
        self._default_locks: dict[str, asyncio.Lock] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # ending or restoring sessions of a lost browser
        self._waiting: set[asyncio.Task[Any]] = set()  # those of them still waiting for their endpoint
        # Called with a session that is ending, before its context closes (a profile written back).
        self.before_close: list[Callable[[BrowserSession], Awaitable[None]]] = []
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
        for wait in list(self._waiting):  # a wait is cut short; an ending or a restore already begun finishes
            wait.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
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
        storage_state: dict[str, Any] | None = None,
        browser: BrowserOptions | None = None,
        record: RecordOptions | None = None,
    ) -> BrowserSession:
        """Open a new running session (its context; the first tab opens on first use), enforcing the cap."""
        extra = self._playwright_options(browser) if browser is not None else {}
        device_viewport = extra.pop("viewport", None)
        if viewport is None and device_viewport:
            viewport = (device_viewport["width"], device_viewport["height"])
        viewport = viewport or (self.settings.viewport_width, self.settings.viewport_height)
        policy = policy or UrlPolicy.from_settings(self.settings)
        options = {"avoidDomains": list(policy.avoid), "allowDomains": list(policy.allow), **(options or {})}
        if browser is not None:
            options["browser"] = _shown_options(browser)
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
                redactor=self.redactors.for_owner(owner.id),
            )
            session.storage_state = storage_state
            session.context_extra = extra
            if (
                record is not None
                and record.video
                and not self.settings.browser_endpoint
                and (why := video_unavailable(self.engine.playwright.chromium.executable_path))
            ):
                raise ThinkRunError(
                    "browser_unavailable",
                    why,
                    hint="run `python -m playwright install ffmpeg`, or record only trace and har",
                )
            if record is not None and (record.trace or record.video or record.har):
                session.recording = Recording(record, session.artifacts_dir / "recording")
                options["record"] = record.model_dump(mode="json", by_alias=True)
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
            context = await self.engine.new_context(**self._context_options(session))
            session.endpoint = self.engine.endpoint_of(context)
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

    def _default_storage_state(self) -> dict[str, Any] | None:
        """The storage state default sessions start with (``--storage-state FILE``), read fresh each time."""
        path = self.settings.storage_state
        if path is None:
            return None
        try:
            return checked_state(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError, ThinkRunError) as exc:
            raise ThinkRunError(
                "invalid_input",
                f"the storage state file {path} cannot be used: {getattr(exc, 'message', exc)}",
                hint="give THINKRUN_STORAGE_STATE a Playwright storage-state JSON file (context.storage_state(path=...))",
            ) from None

    def _playwright_options(self, browser: BrowserOptions) -> dict[str, Any]:
        """The context options of a session's browser options: a device's descriptor, then each option given."""
        out: dict[str, Any] = {}
        if browser.device:
            devices = self.engine.playwright.devices
            if browser.device not in devices:
                close = difflib.get_close_matches(browser.device, list(devices), n=3)
                raise ThinkRunError(
                    "invalid_input",
                    f"there is no device {browser.device[:100]!r}",
                    hint=f"did you mean {', '.join(map(repr, close))}?"
                    if close
                    else 'e.g. "iPhone 15", "Pixel 7", "Desktop Chrome"',
                )
            out.update({k: v for k, v in devices[browser.device].items() if k != "default_browser_type"})
        given = {
            "user_agent": browser.user_agent,
            "locale": browser.locale,
            "timezone_id": browser.timezone_id,
            "color_scheme": browser.color_scheme,
            "extra_http_headers": browser.extra_http_headers,
            "ignore_https_errors": browser.ignore_https_errors,
        }
        out.update({k: v for k, v in given.items() if v is not None})
        if browser.geolocation is not None:
            out["geolocation"] = browser.geolocation.model_dump(by_alias=False)
            out["permissions"] = ["geolocation"]
        return out

    @staticmethod
    def _context_options(session: BrowserSession) -> dict[str, Any]:
        """The options of a session's context: the same when it is created and when it is restored."""
        assert session.gate is not None
        return {
            "viewport": {"width": session.viewport[0], "height": session.viewport[1]},
            "accept_downloads": True,
            "service_workers": "block",
            "proxy_for": session.gate.proxy_for,  # every connection of the session goes through its gate
            "storage_state": session.storage_state,  # the profile it started from (None: empty)
            **session.context_extra,
            **(session.recording.context_options() if session.recording is not None else {}),
        }

    # -- lookup --------------------------------------------------------------------------

    def live(self, session_id: str) -> BrowserSession | None:
        """The session with this id while it is in memory (open, or ending), whoever owns it."""
        return self._sessions.get(session_id)

    def busy(self, session_id: str) -> int:
        """Calls or tasks in flight in an open session (0 when it is not open)."""
        session = self._sessions.get(session_id)
        return session.busy if session is not None and session.is_open else 0

    async def get(self, owner: Owner, session_id: str, *, orphaned: bool = False) -> BrowserSession:
        """The owner's open session with this id, or ``session_not_found`` / ``session_closed``.

        An orphaned session is ``browser_unavailable`` (it may come back), or returned with ``orphaned``.
        """
        session = self._sessions.get(session_id)
        if session is not None and session.owner_id == owner.id:
            if session.is_open or (orphaned and session.status == SessionStatus.ORPHANED):
                return session
            if session.status == SessionStatus.ORPHANED:
                raise self.not_open_error(session)
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
            new = await self.create(owner, options={"default": True}, storage_state=self._default_storage_state())
            self._defaults[owner.default_key] = new.id
            if session is not None and session.status == SessionStatus.ORPHANED:
                new.event("browser", f"this is a new default session: the previous one, {session.id}, {self.orphaned(session)}")
            return new

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
        for hook in self.before_close:
            try:
                await asyncio.wait_for(hook(session), timeout=15)
            except Exception as exc:  # the session ends all the same; the log says what was not done
                log.warning("session %s: before closing: %s", session.id, first_line(exc) if str(exc) else type(exc).__name__)
        await session.close_context()
        self.rows.update(
            session.id,
            status=status,
            end_reason=reason,
            ended_at=session.ended_at,
            action_count=session.action_count,
            navigation_count=session.navigation_count,
            screenshot_count=session.screenshot_count,
            current_url=session.current_url and session.redact(session.current_url),
            title=session.title and session.redact(session.title),
            dropped=session.dropped,
        )
        self._sessions.pop(session.id, None)
        log.info("session %s %s: %s", session.id, status, reason)

    def not_open_error(self, session: BrowserSession, *, doing: str | None = None) -> ThinkRunError:
        """What a call on a session that is not open gets: ``browser_unavailable`` while it is orphaned, else ``session_closed``."""
        during = f" while {doing} was running" if doing else ""
        if session.status == SessionStatus.ORPHANED:
            return ThinkRunError(
                "browser_unavailable",
                f"session {session.id} {self.orphaned(session)}{during}",
                hint="try again once its endpoint is back (session_health shows the endpoints), "
                "or create a new session with session_create (new sessions go to the endpoints that are up)",
            )
        return ThinkRunError(
            "session_closed",
            f"session {session.id} {describe_end(session)}{during}",
            hint="create a new session with session_create",
        )

    def orphaned(self, session: BrowserSession) -> str:
        """'is orphaned: <reason> 3 s ago; it waits 27 s more for the endpoint, then fails'."""
        since = time.monotonic() - (session.orphaned_at or time.monotonic())
        left = max(0.0, self.settings.endpoint_reconnect_seconds - since)
        return (
            f"is orphaned: {session.end_reason or 'its browser was lost'} {since:.0f} s ago; "
            f"it waits {left:.0f} s more for the endpoint to come back, then fails"
        )

    def _browser_lost(self, endpoint: str, reason: str) -> None:
        lost = [s for s in self._sessions.values() if s.is_open and s.endpoint == endpoint]
        window = self.settings.endpoint_reconnect_seconds if self.engine.endpoint(endpoint).remote else 0
        for session in lost:
            session.status = SessionStatus.ORPHANED
            session.end_reason = reason
            session.orphaned_at = time.monotonic()
            self.rows.update(session.id, status=SessionStatus.ORPHANED, end_reason=reason)
        if not lost:
            return
        if window <= 0:  # a local browser cannot come back: orphaned → failed at once
            for session in lost:
                self._background(self.end(session, SessionStatus.FAILED, f"orphaned: {reason}"))
            return
        log.warning("%d sessions orphaned (%s); they wait %g s for it", len(lost), reason, window)
        self._background(self._await_endpoint(endpoint, lost, reason, window))

    def _background(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _await_endpoint(self, endpoint: str, sessions: list[BrowserSession], reason: str, window: float) -> None:
        """Restore the sessions if their endpoint answers within ``window`` seconds, else end them ``failed``."""
        waiting = asyncio.current_task()
        assert waiting is not None  # a task of _background
        self._waiting.add(waiting)
        try:
            back = await self.engine.wait_up(endpoint, window)
        finally:
            self._waiting.discard(waiting)
        for session in sessions:
            if session.status != SessionStatus.ORPHANED:
                continue  # closed meanwhile
            if back:
                await self._restore(session, reason)
            else:
                await self.end(session, SessionStatus.FAILED, f"orphaned: {reason}; it did not come back within {window:g} s")

    async def _restore(self, session: BrowserSession, reason: str) -> None:
        """Put an orphaned session on a new context of its endpoint, and reopen its active tab's last page."""
        async with session.lock:
            if session.status != SessionStatus.ORPHANED or session.endpoint is None:
                return
            url = session.page_url
            try:
                context = await self.engine.new_context(endpoint=session.endpoint, **self._context_options(session))
                if session.status != SessionStatus.ORPHANED:  # closed while the context opened
                    await context.close()
                    return
                await session.reopen(context)
            except (ThinkRunError, PlaywrightError) as exc:
                why = exc.message if isinstance(exc, ThinkRunError) else first_line(exc)
                await self.end(session, SessionStatus.FAILED, f"orphaned: {reason}; could not be restored: {why}")
                return
            away = time.monotonic() - (session.orphaned_at or time.monotonic())
            session.status = SessionStatus.RUNNING
            session.end_reason = None
            session.orphaned_at = None
            session.touch()
            self.rows.update(session.id, status=SessionStatus.RUNNING, end_reason="")  # "": no reason (None keeps it)
            lost = "cookies, storage, other tabs and back/forward history of the old browser are gone"
            reopened = await _reopen_page(session, url) if url else None
            session.event(
                "browser",
                f"{reason} and came back after {away:.0f} s; this session continues in a new browser context ({lost})"
                + (f"; {reopened}" if reopened else ""),
            )
            log.info("session %s restored on %s", session.id, self.engine.shown(session.endpoint))

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


async def _reopen_page(session: BrowserSession, url: str) -> str:
    """Open ``url`` in the first tab of a restored session, as its URL rules allow; what happened, in words."""
    shown = clip(session.redact(url), 200)
    if not url.startswith(("http://", "https://")):
        return "its last page was not reopened"
    try:
        await session.policy.check(url)
        page = await session.page()
        await page.goto(url, wait_until="domcontentloaded", timeout=session.settings.navigation_timeout_ms)
    except (ThinkRunError, PlaywrightError) as exc:
        why = exc.message if isinstance(exc, ThinkRunError) else first_line(exc)
        return f"its last page {shown} could not be reopened: {clip(session.redact(why), 300)}"
    return f"its last page {shown} was reopened"


def _shown_options(browser: BrowserOptions) -> dict[str, Any]:
    """The browser options as session_get shows them: header values masked (they may carry tokens)."""
    shown = browser.model_dump(mode="json", by_alias=True, exclude_none=True)
    if "extraHttpHeaders" in shown:
        shown["extraHttpHeaders"] = dict.fromkeys(shown["extraHttpHeaders"], "***")
    return shown
