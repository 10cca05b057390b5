"""One browser session: an isolated BrowserContext, its tabs, and what it records.

A session owns a Playwright ``BrowserContext`` (no shared cookies or storage),
keeps the list of its tabs and which one is active, handles dialogs by policy,
saves downloads as artifacts, and records console entries and network requests
through the store's batched writer. Things the model should hear about
(a dialog, a new tab, a download, console errors, blocked requests) are queued
as :class:`~thinkrun_mcp.models.PageEvent` and reported by the next tool result.

Work inside a session is serialized by :attr:`BrowserSession.lock`; the
service layer (``service.py``) takes it around each tool call.

A little over 500 lines on purpose: tabs, events, the network log and the
recording all read and write one session's state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright.async_api import BrowserContext, ConsoleMessage, Dialog, Download, Frame, Page, Request, Response, Route
from playwright.async_api import Error as PlaywrightError

from ..errors import ThinkRunError
from ..ids import new_id
from ..models import OPEN_STATUSES, PageEvent, SessionStatus
from ..redact import Redactor
from ..text import clip
from .egress import EgressEvent, EgressLog, Gate
from .errors import is_signal
from .guard import guard
from .observe import ElementInfo
from .policy import UrlPolicy
from .recording import Recording

if TYPE_CHECKING:
    from ..config import Settings
    from ..store.records import Records
    from ..store.sessions import SessionRows

__all__ = ["ActionWatch", "BrowserSession"]

log = logging.getLogger(__name__)

_MAX_EVENTS = 50
_MAX_TEXT = 2_000  # longest console message / URL stored
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_ERROR_PAGE = "chrome-error://"
_ERROR_PAGE_WAIT = 2.0  # seconds: Chromium commits its error page a moment after the load has failed


def _clip(text: str, limit: int = _MAX_TEXT) -> str:
    return clip(text, limit)


def _navigation_of(request: Request) -> tuple[bool, bool]:
    """(is it a top-level navigation, is it the first one of a tab still opening: a popup)."""
    if not request.is_navigation_request():
        return False, False
    try:
        return request.frame.parent_frame is None, False
    except PlaywrightError:  # a popup's first request comes before its frame exists
        return True, True


@dataclass
class ActionWatch:
    """What happened while one action ran: requests it started, navigations, tabs, downloads."""

    started: float = field(default_factory=time.monotonic)
    inflight: set[int] = field(default_factory=set)
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    navigated: bool = False
    new_pages: list[Page] = field(default_factory=list)
    downloads: list[asyncio.Task[Any]] = field(default_factory=list)
    requests: int = 0
    aborted_navigation: bool = False  # a page navigation ended in net::ERR_ABORTED, as one that turns into a download does
    error_page: asyncio.Event = field(default_factory=asyncio.Event)  # a tab committed Chromium's error page
    popup_coming: bool = False  # a tab is opening (its page object comes a moment later)

    def __post_init__(self) -> None:
        self.idle.set()


class BrowserSession:
    """State and event capture of one session. Created and ended by the registry."""

    def __init__(
        self,
        *,
        session_id: str,
        owner_id: str,
        client: str = "",
        settings: Settings,
        policy: UrlPolicy,
        rows: SessionRows,
        records: Records,
        viewport: tuple[int, int],
        options: dict[str, Any],
        redactor: Redactor | None = None,
    ):
        self.id = session_id
        self.owner_id = owner_id
        self.client = client or owner_id  # the owner's client that created it: the per-client cap counts by it
        self.endpoint: str | None = None  # the key of the browser endpoint its context is on
        self.orphaned_at: float | None = None  # time.monotonic() when its browser was lost
        self.page_url: str | None = None  # current_url unredacted: what a restored session reopens
        self.settings = settings
        self.policy = policy
        self.rows = rows
        self.records = records
        self.viewport = viewport
        self.options = options
        self.status = SessionStatus.CREATING
        self.end_reason: str | None = None
        self.created_at = time.time()
        self.ended_at: float | None = None
        self.last_used = time.monotonic()
        self.busy = 0  # tool calls or tasks in flight; the idle reaper leaves a busy session alone
        self.lock = asyncio.Lock()
        self.context: BrowserContext | None = None
        self.pages: list[Page] = []
        self.active: Page | None = None
        self.events: list[PageEvent] = []
        self.action_count = 0
        self.navigation_count = 0
        self.screenshot_count = 0
        self.current_url: str | None = None
        self.title: str | None = None
        self.dropped: dict[str, int] = {"console": 0, "network": 0, "events": 0}
        self.next_dialog: tuple[str, str | None] | None = None  # one-shot ("accept"|"dismiss", prompt text)
        # The owner's secret values (agent tasks), replaced by placeholders in everything recorded or returned.
        self.redactor = redactor if redactor is not None else Redactor()
        self.storage_state: dict[str, Any] | None = None  # cookies and storage it starts with (a profile)
        self.write_back: str | None = None  # the profile its state goes back to when it ends
        self.recording: Recording | None = None  # trace, video, HAR (opt-in)
        self.secret_typed = False  # a secret value was typed into one of its pages (a video of it is discarded)
        self.context_extra: dict[str, Any] = {}  # Playwright context options of its browser options (device, locale…)
        self.last_tree: Any = None  # TreeText of the latest observation (refs shown to the model)
        self.last_full: tuple[str, str, str] | None = None  # (url, scope, full observation text) for cursors
        self.gate: Gate | None = None  # the context's way out (see egress.py), set before the context opens
        self.egress = EgressLog()  # what the egress refused or could not reach for this session
        self._log_counts = {"console": 0, "network": 0}
        self._requests: dict[int, tuple[float, Request]] = {}
        self._responses: dict[int, Response] = {}
        self._watches: list[ActionWatch] = []
        self._downloads: set[asyncio.Task[Any]] = set()
        self._opening_page = False
        self._routed = False
        self.artifacts_dir = settings.artifacts_dir / session_id

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    async def open(self, context: BrowserContext) -> None:
        """Take over a fresh context (made with :attr:`gate`'s proxy). Its first tab opens on first use (see
        :meth:`page`): an unused session then holds no renderer process, which is most of a session's memory
        and start-up time."""
        self.context = context
        context.set_default_timeout(self.settings.action_timeout_ms)
        context.set_default_navigation_timeout(self.settings.navigation_timeout_ms)
        context.on("page", self._on_page)
        context.on("request", self._on_request)
        context.on("response", self._on_response)
        context.on("requestfinished", self._on_request_finished)
        context.on("requestfailed", self._on_request_failed)
        context.on("close", lambda _c: self._on_context_closed())
        await self.ensure_route()
        if self.recording is not None:
            await self.recording.start(context)

    async def ensure_route(self) -> None:
        """Without an egress proxy (the fallback), check every request once the policy can refuse http(s) URLs."""
        if self.gate is None or self.gate.proxied or self.context is None:
            return
        if self.policy.needs_route and not self._routed:
            await self.context.route("**/*", self._route)
            self._routed = True

    def on_egress(self, event: EgressEvent) -> None:
        """The egress refused a connection of this session, or could not make it."""
        self.egress.add(event)
        if event.kind == "refused":
            message = f"blocked connection to {_clip(self.redact(event.target), 200)}: {event.reason}"
            if not any(e.kind == "blocked" and e.message == message for e in self.events[-5:]):  # the browser retries once
                self.event("blocked", message)

    async def close_context(self) -> None:
        context, self.context = self.context, None
        for task in list(self._downloads):
            task.cancel()
        if context is not None:
            if self.recording is not None:
                await self.recording.before_close(context)
            try:
                await asyncio.wait_for(context.close(), timeout=10)
            except Exception as exc:  # the browser may be gone already
                log.debug("context close for %s: %s", self.id, exc)
            if self.recording is not None:
                await self.recording.after_close(self)
        if self.gate is not None:
            self.gate.close()
        self.pages.clear()
        self.active = None

    def _on_context_closed(self) -> None:
        self.pages.clear()
        self.active = None

    async def reopen(self, context: BrowserContext) -> None:
        """Take over a new context after the last one was lost with its browser (see the registry)."""
        self.pages.clear()
        self.active = None
        self._routed = False
        self._requests.clear()
        self._responses.clear()
        self.last_tree = self.last_full = None
        self.events = [e for e in self.events if e.kind != "tab_closed"]  # the tabs went with the browser
        await self.open(context)

    def touch(self) -> None:
        self.last_used = time.monotonic()

    # -- tabs ----------------------------------------------------------------------------

    async def page(self) -> Page:
        """The active tab; opens a blank one if every tab was closed."""
        if self.active is not None and not self.active.is_closed():
            return self.active
        live = [p for p in self.pages if not p.is_closed()]
        if live:
            self.active = live[-1]
            return self.active
        if self.context is None:
            raise ThinkRunError("session_closed", f"session {self.id} has no browser context")
        self._opening_page = True
        try:
            page = await self.context.new_page()
        finally:
            self._opening_page = False
        if page not in self.pages:
            self._adopt(page)
        self.active = page
        return page

    def tab_index(self, page: Page | None = None) -> int:
        page = page or self.active
        return self.pages.index(page) + 1 if page in self.pages else 0

    def _adopt(self, page: Page) -> None:
        self.pages.append(page)
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("dialog", self._on_dialog)
        page.on("download", self._on_download)
        page.on("framenavigated", self._on_frame_navigated)
        page.on("close", self._on_page_closed)

    def _on_page(self, page: Page) -> None:
        if page in self.pages:
            return
        self._adopt(page)
        if self._opening_page:
            return
        # A popup or target=_blank tab: it becomes the active tab, as it would for a person.
        self.active = page
        for w in self._watches:
            w.new_pages.append(page)
        self.event("popup", f"new tab {len(self.pages)} opened ({_clip(page.url, 200) or 'about:blank'}) and is now active")

    def _on_page_closed(self, page: Page) -> None:
        if page in self.pages:
            idx = self.pages.index(page) + 1
            self.pages.remove(page)
            if self.is_open and self.context is not None:
                self.event("tab_closed", f"tab {idx} closed")
        if self.active is page:
            self.active = self.pages[-1] if self.pages else None

    # -- events --------------------------------------------------------------------------

    def event(self, kind: str, message: str) -> None:
        if len(self.events) >= _MAX_EVENTS:
            self.events.pop(0)
            self.dropped["events"] += 1
        self.events.append(PageEvent(kind=kind, message=self.redact(message)))  # type: ignore[arg-type]

    def take_events(self) -> list[PageEvent]:
        events, self.events = self.events, []
        return events

    def redact(self, text: str) -> str:
        """``text`` with the owner's secret values (raw or encoded) replaced by their placeholders."""
        return self.redactor.redact(text)

    def redact_data(self, data: Any) -> Any:
        """JSON-like ``data`` (extracted links, tables) with secret values replaced, at any depth."""
        return self.redactor.redact_data(data)

    def redact_elements(self, elements: Mapping[str, ElementInfo]) -> Mapping[str, ElementInfo]:
        """Elements whose names and texts show no secret value (what element help may see)."""
        if not self.redactor:
            return elements
        return {ref: dataclasses.replace(e, name=self.redact(e.name), text=self.redact(e.text)) for ref, e in elements.items()}

    def _on_console(self, msg: ConsoleMessage) -> None:
        level = msg.type
        text = _clip(self.redact(msg.text))
        url = None
        try:
            url = msg.location.get("url") or None
        except Exception:
            pass
        self._log("console", level=level if level != "warning" else "warn", message=text, url=url and self.redact(url))
        if level == "error":
            self.event("console_error", f"console error: {_clip(text, 300)}")

    def _on_page_error(self, error: Exception) -> None:
        text = _clip(self.redact(str(error)))
        self._log("console", level="error", message=f"Uncaught {text}", url=None)
        self.event("page_error", f"uncaught page error: {_clip(text, 300)}")

    async def _on_dialog(self, dialog: Dialog) -> None:
        kind, message = dialog.type, _clip(dialog.message, 500)
        if kind == "beforeunload":
            action, text = "accept", None  # leaving the page is what the tool asked for
        elif self.next_dialog is not None:
            (action, text), self.next_dialog = self.next_dialog, None
        else:
            action, text = self.settings.dialog_policy, None
        try:
            if action == "accept":
                await dialog.accept(text if text is not None else (dialog.default_value if kind == "prompt" else None) or "")
            else:
                await dialog.dismiss()
        except PlaywrightError as exc:  # the page navigated away first
            log.debug("dialog handling: %s", exc)
        verb = "accepted" if action == "accept" else "dismissed"
        shown = f' "{message}"' if message else ""
        extra = f' with "{text}"' if (kind == "prompt" and action == "accept" and text) else ""
        self.event("dialog", f"{kind}{shown} was {verb}{extra} (set the response with method=dialog before the action)")
        self._log("console", level="dialog", message=f"{kind}: {message} → {verb}", url=None)

    def _on_download(self, download: Download) -> None:
        task = asyncio.create_task(self._save_download(download))
        self._downloads.add(task)
        task.add_done_callback(self._downloads.discard)
        for w in self._watches:
            w.downloads.append(task)

    async def _save_download(self, download: Download) -> None:
        object_id = new_id("obj")
        name = _SAFE_NAME.sub("_", download.suggested_filename or "download")[:120] or "download"
        path = self.artifacts_dir / f"{object_id}_{name}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            await download.save_as(path)
        except Exception as exc:
            failure = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.event("download", f"download of {name} failed: {failure}")
            return
        size = path.stat().st_size
        self.records.artifact(
            object_id=object_id,
            session_id=self.id,
            type="download",
            path=str(path),
            mime_type=None,
            size=size,
            ts=time.time(),
            name=name,
        )
        self.event("download", f"downloaded {name} ({size} bytes) to {path} [objectId={object_id}]")

    def _on_frame_navigated(self, frame: Frame) -> None:
        if frame.parent_frame is not None:
            return
        if frame.url.startswith(_ERROR_PAGE):
            for w in self._watches:
                w.error_page.set()
        page = frame.page
        if frame.url in ("about:blank", "") and self.navigation_count == 0:
            return
        self.navigation_count += 1
        for w in self._watches:
            w.navigated = True
        if page is self.active:
            self.page_url, self.current_url = frame.url, self.redact(frame.url)

    # -- network -------------------------------------------------------------------------

    def _on_request(self, request: Request) -> None:
        key = id(request)
        self._requests[key] = (time.monotonic(), request)
        top_level, popup = _navigation_of(request) if self._watches else (False, False)
        for w in self._watches:
            w.inflight.add(key)
            w.requests += 1
            w.idle.clear()
            w.navigated = w.navigated or top_level
            w.popup_coming = w.popup_coming or popup

    def _on_response(self, response: Response) -> None:
        self._responses[id(response.request)] = response

    def _on_request_finished(self, request: Request) -> None:
        self._finish(request, None)

    def _on_request_failed(self, request: Request) -> None:
        self._finish(request, request.failure or "failed")

    def _finish(self, request: Request, failure: str | None) -> None:
        key = id(request)
        started, _ = self._requests.pop(key, (time.monotonic(), request))
        response = self._responses.pop(key, None)
        for w in self._watches:
            if key in w.inflight:
                w.inflight.discard(key)
                if failure and "ERR_ABORTED" in failure and request.is_navigation_request():
                    w.aborted_navigation = True
                if not w.inflight:
                    w.idle.set()
        duration = None
        try:
            timing = request.timing
            if timing and timing.get("responseEnd", -1) >= 0:
                duration = int(timing["responseEnd"])
        except Exception:
            pass
        if duration is None:
            duration = int((time.monotonic() - started) * 1000)
        size = None
        status = None
        if response is not None:
            status = response.status
            length = response.headers.get("content-length")
            if length and length.isdigit():
                size = int(length)
        if failure and is_signal(failure, "egress_answer"):
            # The egress reported it first (it answers the browser only after telling us).
            told = self.egress.about(request.url, since=started - 1.0)
            if told is not None and told.kind == "refused":
                failure = f"blocked by URL policy: {told.reason}"
            elif told is not None:
                failure = f"{told.net_error or failure} ({told.reason})"
        self._log(
            "network",
            url=_clip(self.redact(request.url)),
            method=request.method,
            status=status,
            resource_type=request.resource_type,
            duration_ms=duration,
            size=size,
            failure=failure and self.redact(failure),
        )

    async def _route(self, route: Route) -> None:
        if self.gate is not None:
            await guard(route, self.gate)

    # -- recording -----------------------------------------------------------------------

    def _log(self, kind: str, **row: Any) -> None:
        now = time.time()
        if kind == "console":
            self.records.console(self.id, ts=now, **row)
        else:
            self.records.network(self.id, ts=now, **row)
        count = self._log_counts[kind] + 1
        limit = self.settings.record_max_rows
        # Trim in steps of 10% so the delete runs once per many inserts, not per row.
        if count > limit + max(1, limit // 10):
            self.records.trim(kind, self.id, limit)
            self.dropped[kind] += count - limit
            count = limit
            self.rows.update(self.id, dropped=self.dropped)
        self._log_counts[kind] = count

    def record_action(
        self, type: str, *, started: float, success: bool, details: dict[str, Any], error: str | None = None
    ) -> None:
        self.action_count += 1
        details = {k: (_clip(self.redact(v)) if isinstance(v, str) else v) for k, v in details.items()}
        self.records.action(
            self.id,
            type=type,
            ts=time.time() - (time.monotonic() - started),
            success=success,
            details=details,
            duration_ms=int((time.monotonic() - started) * 1000),
            error=self.redact(error) if error else None,
        )
        self.rows.update(
            self.id,
            action_count=self.action_count,
            navigation_count=self.navigation_count,
            screenshot_count=self.screenshot_count,
            current_url=self.current_url,
            title=self.title and self.redact(self.title),
        )

    # -- watching an action --------------------------------------------------------------

    def watch(self) -> ActionWatch:
        w = ActionWatch()
        self._watches.append(w)
        return w

    async def settle(self, w: ActionWatch, page: Page, *, network_wait: float = 1.0, download_wait: float = 10.0) -> None:
        """Let the effects of an action land: navigation load, the requests it started, downloads."""
        try:
            if w.navigated and not page.is_closed():
                try:
                    await page.wait_for_load_state("domcontentloaded", timeout=self.settings.navigation_timeout_ms)
                except PlaywrightError as exc:
                    self.event("navigation", f"the page did not finish loading: {str(exc).splitlines()[0]}")
            if w.inflight:
                try:
                    await asyncio.wait_for(w.idle.wait(), timeout=network_wait)
                except TimeoutError:
                    pass
            # Playwright reports the aborted navigation a moment before the download it became, and a popup's
            # first request before its page: wait for them.
            for _ in range(20 if w.aborted_navigation else 0):
                if w.downloads:
                    break
                await asyncio.sleep(0.05)
            for _ in range(40 if w.popup_coming else 0):
                if w.new_pages:
                    break
                await asyncio.sleep(0.05)
            if w.downloads:
                _done, pending = await asyncio.wait(w.downloads, timeout=download_wait)
                if pending:
                    self.event("download", f"{len(pending)} download(s) still in progress; they will be saved as artifacts")
        finally:
            if w in self._watches:
                self._watches.remove(w)

    async def error_page_committed(self, w: ActionWatch, page: Page, failure: PlaywrightError) -> None:
        """After a load of ``page`` failed with a network error: wait (briefly) for Chromium's error page.

        Chromium commits it a moment after Playwright reports the failure (for every network error
        but ``ERR_ABORTED``); a navigation started before that would be "interrupted by another
        navigation" to the error page.
        """
        if not is_signal(failure, "error_page") or page.is_closed() or page.url.startswith(_ERROR_PAGE):
            return
        try:
            await asyncio.wait_for(w.error_page.wait(), timeout=_ERROR_PAGE_WAIT)
        except TimeoutError:
            pass

    def unwatch(self, w: ActionWatch) -> None:
        if w in self._watches:
            self._watches.remove(w)

    # -- misc ----------------------------------------------------------------------------

    def artifact_path(self, object_id: str, suffix: str) -> Path:
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        return self.artifacts_dir / f"{object_id}.{suffix}"

    def add_redactions(self, redactions: dict[str, str]) -> None:
        """Show ``label`` instead of ``value`` in everything this session (and its owner) records or returns, from now on."""
        self.redactor.add(redactions)
