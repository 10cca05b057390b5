"""The browser service: the id-based API every front end and the agent use.

Each method takes an :class:`~thinkrun_mcp.models.Owner` and a session id (or
``None``: that owner's default session, created on first use) and returns
models from ``models.py``; no Playwright object leaves ``browser/``. Another
owner's session is ``session_not_found``, exactly as if it did not exist.

Each browser operation takes the session's lock (work inside a session is
serialized), marks the session used, records one action row with its duration
and outcome, and turns Playwright's exceptions into coded errors
(``browser/errors.py``).

One class, a little over 500 lines on purpose: it is the browser layer's whole
id-based API, and its operations share one wrapper (``_run``: lock, action
record, error translation); the observation lives in ``view.py``, element help
in ``help.py``, the actions in ``actions.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeVar

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from ..config import Settings
from ..errors import ThinkRunError
from ..ids import new_id
from ..models import (
    ActResult,
    BrowserOptions,
    ExtractResult,
    NavigateResult,
    Observation,
    Owner,
    PageEvent,
    ProfileInfo,
    RecordOptions,
    ScreenshotResult,
    SessionClosed,
    SessionCreated,
    SessionStatus,
    Viewport,
)
from ..redact import Redactor
from ..text import paginate
from ..urls import normalize_url
from . import actions
from .capture import capture, fit_image
from .errors import is_signal, translate
from .extract import ExtractFormat, read_content
from .help import ModelHelp, parse_act_instruction, rank_by_name, resolve_by_name
from .instruction import Resolution
from .policy import UrlPolicy
from .profiles import Profiles
from .registry import SessionRegistry
from .session import BrowserSession
from .view import Scope, compact_tree, observation

__all__ = ["BrowserService", "Scope", "WaitUntil"]

log = logging.getLogger(__name__)

T = TypeVar("T")
WaitUntil = Literal["load", "domcontentloaded", "networkidle", "commit"]


class BrowserService:
    """Sessions and the five browser operations, addressed by owner and session id.

    Args:
        settings: Server configuration.
        registry: Where sessions live.
        help: Model-backed element help (act by instruction, ranking, extraction);
            without it, the name matcher serves act and observe.
    """

    def __init__(
        self,
        settings: Settings,
        registry: SessionRegistry,
        *,
        help: ModelHelp | None = None,
        profiles: Profiles | None = None,
    ):
        self.settings = settings
        self._registry = registry
        self.help = help
        self.profiles = profiles
        if profiles is not None:
            registry.before_close.append(self._write_back)

    def _model(self) -> ModelHelp | None:
        return self.help if self.help is not None and self.help.available() else None

    # -- sessions ------------------------------------------------------------------------

    async def create_session(
        self,
        owner: Owner,
        *,
        starting_point: str | None = None,
        viewport: Viewport | None = None,
        avoid_domains: list[str] | None = None,
        allow_domains: list[str] | None = None,
        options: dict[str, Any] | None = None,
        profile_id: str | None = None,
        browser: BrowserOptions | None = None,
        save_profile_on_end: bool = False,
        record: RecordOptions | None = None,
    ) -> SessionCreated:
        """Create a session (with a profile's cookies and storage) and, with a starting point, load it
        (a load failure is reported, not raised)."""
        policy = UrlPolicy.from_settings(self.settings, avoid_domains=avoid_domains or (), allow_domains=allow_domains or ())
        if starting_point is not None:
            starting_point = normalize_url(starting_point)
            await policy.check(starting_point)  # before anything is created
        if save_profile_on_end and not profile_id:
            raise ThinkRunError("invalid_input", "saveProfileOnEnd needs a profileId to write back to")
        state = await self._profiles().state(owner, profile_id) if profile_id else None
        if profile_id:
            options = {**(options or {}), "profileId": profile_id, "saveProfileOnEnd": save_profile_on_end}
        session = await self._registry.create(
            owner,
            viewport=(viewport.width, viewport.height) if viewport else None,
            policy=policy,
            options=options,
            storage_state=state,
            browser=browser,
            record=record,
        )
        if save_profile_on_end and profile_id:
            try:
                await self._profiles().claim(owner, profile_id, session.id)
            except ThinkRunError:
                await self._registry.end(session, SessionStatus.FAILED, "its profile is being written back by another session")
                raise
            session.write_back = profile_id
        created = SessionCreated(
            session_id=session.id,
            status=SessionStatus.RUNNING,
            viewport=Viewport(width=session.viewport[0], height=session.viewport[1]),
        )
        if starting_point:
            try:
                nav = await self.navigate(owner, session.id, url=starting_point)
                created.current_url, created.events, created.observation = nav.url, nav.events, nav.observation
            except ThinkRunError as exc:
                created.events = [PageEvent(kind="navigation", message=f"the starting point did not load: {exc}")]
        return created

    async def save_profile(
        self, owner: Owner, session_id: str | None, name: str, *, profile_id: str | None = None
    ) -> ProfileInfo:
        """Save the session's cookies, localStorage and IndexedDB as the owner's profile ``name``."""

        async def take(session: BrowserSession) -> ProfileInfo:
            assert session.context is not None
            state = await session.context.storage_state(indexed_db=True)
            return await self._profiles().save(owner, name, dict(state), profile_id=profile_id)

        return await self._run(owner, session_id, "profile_save", {"name": name}, take)

    async def storage_state(self, owner: Owner, session_id: str | None) -> dict[str, Any]:
        """A live session's cookies, localStorage and IndexedDB in Playwright's storage-state format."""

        async def take(session: BrowserSession) -> dict[str, Any]:
            assert session.context is not None
            return dict(await session.context.storage_state(indexed_db=True))

        return await self._run(owner, session_id, "storage_state", {}, take)

    async def _write_back(self, session: BrowserSession) -> None:
        """An ending session started from a profile with saveProfileOnEnd: its state goes back to the profile."""
        profile_id = session.write_back
        if profile_id is None or self.profiles is None:
            return
        session.write_back = None
        try:
            if session.context is not None:
                state = dict(await session.context.storage_state(indexed_db=True))
                await self.profiles.write_back(Owner(session.owner_id), profile_id, state)
        finally:
            self.profiles.release(profile_id, session.id)

    def _profiles(self) -> Profiles:
        if self.profiles is None:
            raise ThinkRunError("invalid_input", "profiles are not available in this server")
        return self.profiles

    async def close_session(self, owner: Owner, session_id: str) -> SessionClosed:
        """End a session at its owner's request (also an orphaned one); its history stays readable."""
        session = await self._registry.get(owner, session_id, orphaned=True)
        await self._registry.end(session, SessionStatus.TERMINATED, "closed by client")
        return SessionClosed(success=True, message="Session terminated", session_id=session.id, status=session.status)

    async def end_session(self, owner: Owner, session_id: str, status: SessionStatus, reason: str) -> None:
        """End a session with a status and reason (an agent task finishing); nothing when it has ended already."""
        session = self._registry.live(session_id)
        if session is not None and session.owner_id == owner.id:
            await self._registry.end(session, status, reason)

    async def check_open(self, owner: Owner, session_id: str) -> None:
        """``session_not_found`` / ``session_closed`` unless the owner's session is open."""
        await self._registry.get(owner, session_id)

    async def check_url(self, owner: Owner, session_id: str, url: str) -> None:
        """``url_blocked`` when the session's URL rules refuse ``url``."""
        session = await self._registry.get(owner, session_id)
        await session.policy.check(url)

    async def page_url(self, owner: Owner, session_id: str) -> str:
        """The active tab's URL as the page has it (not redacted: for filling secrets in, never for a model)."""
        session = await self._registry.get(owner, session_id)
        return (await session.page()).url

    def redactor(self, owner: Owner) -> Redactor:
        """The owner's secret values (an agent task adds its own): everything its sessions record or return hides them."""
        return self._registry.redactors.for_owner(owner.id)

    async def log_action(self, owner: Owner, session_id: str, type: str, *, details: dict[str, Any], duration_ms: int) -> None:
        """Add an entry to the session's action log for work done for it outside the browser (an agent's model call)."""
        session = await self._registry.get(owner, session_id)
        session.record_action(type, started=time.monotonic() - duration_ms / 1000, success=True, details=details)

    @asynccontextmanager
    async def in_use(self, owner: Owner, session_id: str, *, avoid_domains: Iterable[str] = ()) -> AsyncIterator[None]:
        """Hold a session for a piece of work outside a single call (an agent task).

        The idle reaper leaves it alone meanwhile, and ``avoid_domains`` are added to
        its URL rules until the block ends.
        """
        session = await self._registry.get(owner, session_id)
        avoid = tuple(avoid_domains)
        before = session.policy
        session.busy += 1
        try:
            if avoid and not all(p in before.avoid for p in avoid):
                session.policy = before.with_avoided(avoid)
                await session.ensure_route()
            yield
        finally:
            session.busy -= 1
            session.touch()
            session.policy = before

    # -- the wrapper every operation goes through ----------------------------------------

    async def _run(
        self,
        owner: Owner,
        session_id: str | None,
        type: str,
        details: dict[str, Any],
        fn: Callable[[BrowserSession], Awaitable[T]],
    ) -> T:
        """Find the session, run ``fn`` under its lock, record the action, translate errors.

        The action is logged under ``details["method"]`` when there is one (act's method is
        known only after an instruction is resolved), else under ``type``.
        """
        session = await self._registry.resolve(owner, session_id)
        session.busy += 1
        try:
            async with session.lock:
                if not session.is_open:
                    raise self._registry.not_open_error(session)
                session.touch()
                started = time.monotonic()

                def record(success: bool, error: str | None = None) -> None:
                    session.record_action(
                        details.get("method") or type, started=started, success=success, details=details, error=error
                    )

                try:
                    result = await fn(session)
                except ThinkRunError as exc:
                    record(False, str(exc))
                    raise
                except PlaywrightError as exc:
                    err = self._translate(session, exc, type, started)
                    record(False, str(err))
                    raise err from exc
                except asyncio.CancelledError:
                    record(False, "cancelled")
                    raise
                if isinstance(result, ActResult | NavigateResult):
                    details["url"] = result.url
                record(True)
                return result
        finally:
            session.busy -= 1
            session.touch()

    def _translate(self, session: BrowserSession, exc: PlaywrightError, type: str, started: float) -> ThinkRunError:
        if not session.is_open:
            return self._registry.not_open_error(session, doing=type)
        blocked, failure = session.egress.explain(exc, since=started)
        return translate(exc, what=type, blocked_reason=blocked, failure=failure)

    # -- operations ----------------------------------------------------------------------

    async def navigate(
        self,
        owner: Owner,
        session_id: str | None,
        *,
        url: str | None,
        action: Literal["goto", "back", "forward", "reload"] = "goto",
        wait_until: WaitUntil = "load",
        timeout_ms: int | None = None,
        observe_chars: int | None = None,
    ) -> NavigateResult:
        """Open a URL (or go back/forward/reload) in the active tab and observe the page."""
        timeout = timeout_ms or self.settings.navigation_timeout_ms
        if action == "goto":
            if not url or not url.strip():
                raise ThinkRunError("invalid_input", "url is required", hint='e.g. url="https://example.com"')
            url = normalize_url(url)
        details = {"url": url} if action == "goto" else {"action": action}

        async def go(session: BrowserSession) -> NavigateResult:
            if action == "goto":
                await session.policy.check(url or "")
            page = await session.page()
            session.last_full = None
            watch = session.watch()
            response = None
            try:
                if action == "goto":
                    try:
                        try:
                            response = await page.goto(url or "", wait_until=wait_until, timeout=timeout)
                        except PlaywrightError as exc:
                            # A navigation started earlier (an abandoned action, a page script) won the race: once more.
                            if not is_signal(exc, "navigation_interrupted"):
                                raise
                            response = await page.goto(url or "", wait_until=wait_until, timeout=timeout)
                    except PlaywrightError as exc:
                        if not is_signal(exc, "download_started"):
                            await session.error_page_committed(watch, page, exc)
                            raise
                elif action == "back":
                    response = await page.go_back(wait_until=wait_until, timeout=timeout)
                    if response is None and not watch.navigated:
                        session.event("navigation", "there is no previous page in this tab")
                elif action == "forward":
                    response = await page.go_forward(wait_until=wait_until, timeout=timeout)
                    if response is None and not watch.navigated:
                        session.event("navigation", "there is no next page in this tab")
                else:
                    response = await page.reload(wait_until=wait_until, timeout=timeout)
                await session.settle(watch, page, network_wait=0.3)
            finally:
                session.unwatch(watch)
            page = await session.page()
            events = session.take_events()
            obs = await observation(session, self.settings, max_chars=observe_chars)
            return NavigateResult(
                session_id=session.id,
                url=session.redact(page.url),
                status=response.status if response is not None else None,
                title=obs.title,
                events=events,
                observation=obs,
            )

        return await self._run(owner, session_id, "navigate", details, go)

    async def observe(
        self,
        owner: Owner,
        session_id: str | None,
        *,
        scope: Scope = "viewport",
        max_chars: int | None = None,
        cursor: int = 0,
        instruction: str | None = None,
    ) -> Observation:
        """The compact observation; with an instruction, also the elements that fit it, best first."""

        async def look(session: BrowserSession) -> Observation:
            obs = await observation(
                session, self.settings, scope=scope, max_chars=max_chars, cursor=cursor, events=session.take_events()
            )
            if instruction:
                model = self._model()
                if model is not None:
                    page = await session.page()
                    tree, _ = await compact_tree(page, "page", timeout_ms=self.settings.action_timeout_ms)
                    obs.candidates = await model.rank(
                        url=session.redact(page.url),
                        instruction=instruction,
                        page_text=session.redact(tree.text),
                        elements=session.redact_elements(tree.all_elements),
                    )
                else:
                    elements = session.redact_elements(session.last_tree.all_elements) if session.last_tree else {}
                    obs.candidates = rank_by_name(instruction, list(elements.values()))
                if obs.candidates:
                    lines = "\n".join(f'- {c.role} "{c.name}" [ref={c.ref}] score={c.score:g}' for c in obs.candidates)
                    obs.text = f"Best matches for {instruction!r}:\n{lines}\n\n{obs.text}"
                else:
                    obs.text = f"Nothing on the page matches {instruction!r}.\n\n{obs.text}"
            return obs

        details: dict[str, Any] = {"scope": scope, "cursor": cursor}
        if instruction:
            details["instruction"] = instruction
        return await self._run(owner, session_id, "observe", details, look)

    async def act(
        self,
        owner: Owner,
        session_id: str | None,
        *,
        method: str | None,
        ref: str | None = None,
        selector: str | None = None,
        value: str | None = None,
        instruction: str | None = None,
        timeout_ms: int | None = None,
        observe_chars: int | None = None,
        value_for: Callable[[str], str] | None = None,
    ) -> ActResult:
        """Do one method on a target given by ref, selector, or a plain-language instruction.

        ``value_for``, when given, makes the value used: it is called with the origin of the document
        that holds the target (its frame's, not the tab's), under the session's lock, just before the
        action, and may raise to refuse it. An agent's secrets are bound to hosts this way.
        """
        by_instruction = instruction is not None and not (ref or selector)
        if by_instruction:
            parsed = parse_act_instruction(instruction or "", method, model_reads_it=self._model() is not None)
            if parsed is not None:
                method = method or parsed.method
                if value is None:
                    value = parsed.value
                if method == "clear":
                    method, value = "fill", ""
                by_instruction = parsed.target is not None or actions.needs_target(method)
        if method is None and not by_instruction:
            raise ThinkRunError("invalid_input", "method is required (or an instruction)", hint='e.g. method="click", ref="e12"')
        if not by_instruction:
            actions.check_arguments(method or "", ref=ref, selector=selector, value=value)
        timeout = timeout_ms or self.settings.action_timeout_ms
        # Typed text is recorded as typed, secret values (raw or encoded) as their placeholders: never a length.
        details: dict[str, Any] = {"method": method or "act", "ref": ref, "selector": selector, "value": value}
        if instruction:
            details["instruction"] = instruction

        async def do(session: BrowserSession) -> ActResult:
            nonlocal ref, method, value
            page = await session.page()
            if by_instruction:
                resolution = await self._resolve(session, page, instruction or "", method)
                ref = resolution.ref
                method = method or resolution.method
                if value is None:
                    value = resolution.value
                actions.check_arguments(method, ref=ref, selector=None, value=value)
                details.update(method=method, resolvedRef=ref, value=value)
            target = await actions.locate(page, ref=ref, selector=selector) if (ref or selector) else None
            if value_for is not None:
                value = value_for(await target.evaluate(_ORIGIN) if target is not None else page.url)
            session.last_full = None
            before_url, before_page, tabs_before = page.url, page, len(session.pages)
            watch = session.watch()
            try:
                extra = await actions.perform(session, page, method or "", target, value, timeout_ms=timeout)
                await session.settle(watch, page)
            finally:
                session.unwatch(watch)
            details.update(extra)
            now_page = await session.page()
            events = session.take_events()
            obs = await observation(session, self.settings, max_chars=observe_chars)
            return ActResult(
                session_id=session.id,
                method=method or "",
                ref=ref,
                selector=selector,
                url=session.redact(now_page.url),
                navigated=watch.navigated or now_page.url != before_url,
                tab_changed=now_page is not before_page or len(session.pages) != tabs_before,
                active_tab=session.tab_index(now_page),
                tab_count=len(session.pages),
                events=events,
                observation=obs,
            )

        return await self._run(owner, session_id, "act", details, do)

    async def _resolve(self, session: BrowserSession, page: Page, instruction: str, method: str | None) -> Resolution:
        """The element an instruction means: by the model when one is available, else by name matching."""
        tree, _ = await compact_tree(page, "page", timeout_ms=self.settings.action_timeout_ms)
        model = self._model()
        if model is None:
            return resolve_by_name(instruction, list(session.redact_elements(tree.all_elements).values()), method)
        return await model.choose(
            url=session.redact(page.url),
            instruction=instruction,
            method=method,
            page_text=session.redact(tree.text),
            elements=session.redact_elements(tree.all_elements),
        )

    async def extract(
        self,
        owner: Owner,
        session_id: str | None,
        *,
        format: ExtractFormat = "markdown",
        ref: str | None = None,
        selector: str | None = None,
        max_chars: int | None = None,
        cursor: int = 0,
        instruction: str | None = None,
        schema: dict[str, Any] | None = None,
    ) -> ExtractResult:
        """Content of the page or one element; with instruction/schema, structured data read by the model."""
        if ref and selector:
            raise ThinkRunError("invalid_input", "give either ref or selector, not both")
        model = self._model()
        if (instruction or schema) and model is None:
            raise ThinkRunError(
                "backend_unconfigured",
                "extraction with an instruction or schema needs an LLM backend",
                hint="set GEMINI_API_KEY or ANTHROPIC_API_KEY for the server, or use format=text|markdown|links|table",
            )
        max_chars = max_chars or self.settings.extract_max_chars

        async def read(session: BrowserSession) -> ExtractResult:
            page = await session.page()
            target = await actions.locate(page, ref=ref, selector=selector) if (ref or selector) else None
            url = session.redact(page.url)
            if model is not None and (instruction or schema):
                content, _ = await read_content(page, target, "markdown")
                data = await model.extract(url=url, instruction=instruction, schema=schema, content=session.redact(content))
                text = session.redact(json.dumps(data, ensure_ascii=False, indent=1))
                return ExtractResult(
                    session_id=session.id,
                    url=url,
                    format="json",
                    content=text,
                    total_chars=len(text),
                    cursor=None,
                    data=session.redact_data(data),
                )
            content, data = await read_content(page, target, format)
            content = session.redact(content)
            piece, next_cursor = paginate(content, max_chars=max_chars, cursor=cursor)
            return ExtractResult(
                session_id=session.id,
                url=url,
                format=format,
                content=piece,
                total_chars=len(content),
                cursor=next_cursor,
                data=session.redact_data(data) if (data is not None and cursor == 0 and next_cursor is None) else None,
            )

        details = {"format": format, "ref": ref, "selector": selector, "cursor": cursor}
        if instruction:
            details["instruction"] = instruction
        return await self._run(owner, session_id, "extract", details, read)

    async def screenshot(
        self,
        owner: Owner,
        session_id: str | None,
        *,
        full_page: bool = False,
        ref: str | None = None,
        selector: str | None = None,
        max_dimension: int | None = None,
        format: Literal["png", "jpeg"] = "png",
        quality: int = 80,
    ) -> tuple[ScreenshotResult, bytes]:
        """A screenshot of the viewport, the full page or one element, saved as an artifact; with the image bytes."""
        if ref and selector:
            raise ThinkRunError("invalid_input", "give either ref or selector, not both")
        if full_page and (ref or selector):
            raise ThinkRunError("invalid_input", "fullPage applies to the page, not to an element")

        async def shoot(session: BrowserSession) -> tuple[ScreenshotResult, bytes]:
            page = await session.page()
            target = await actions.locate(page, ref=ref, selector=selector) if (ref or selector) else None
            raw, clipped = await capture(
                page, target, full_page=full_page, fmt=format, quality=quality, timeout_ms=self.settings.action_timeout_ms
            )
            data, width, height = await asyncio.to_thread(
                fit_image, raw, max_dimension=max_dimension, fmt=format, quality=quality
            )
            object_id = new_id("obj")
            path = session.artifact_path(object_id, "png" if format == "png" else "jpg")
            await asyncio.to_thread(path.write_bytes, data)
            session.screenshot_count += 1
            session.records.artifact(
                object_id=object_id,
                session_id=session.id,
                type="screenshot",
                path=str(path),
                mime_type=f"image/{format}",
                size=len(data),
                ts=time.time(),
                width=width,
                height=height,
            )
            if clipped:
                session.event("navigation", "the full-page screenshot was clipped to the first 16,384 pixels")
            result = ScreenshotResult(
                session_id=session.id,
                object_id=object_id,
                path=str(path),
                width=width,
                height=height,
                bytes=len(data),
                format=format,
            )
            return result, data

        return await self._run(owner, session_id, "screenshot", {"fullPage": full_page, "ref": ref, "selector": selector}, shoot)


# The origin of an element's document: a frame's own, or the one it inherits (about:blank, srcdoc); "null" when opaque.
_ORIGIN = "el => { const w = el.ownerDocument.defaultView; return w ? w.origin : 'null'; }"
