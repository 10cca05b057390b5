"""The browser service: navigate, observe, act, extract, screenshot on a session.

Front ends (MCP tools, the agent planner) call these methods. Each call takes
the session's lock (work inside a session is serialized), marks the session
used, records one action row with its duration and outcome, and turns
Playwright's exceptions into :class:`~thinkrun_mcp.errors.ThinkRunError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from ..config import Settings
from ..errors import ThinkRunError
from ..models import (
    ActResult,
    ElementCandidate,
    ExtractResult,
    NavigateResult,
    Observation,
    PageEvent,
    ScreenshotResult,
    SessionCreated,
    Viewport,
)
from ..urls import normalize_url
from . import actions
from .capture import capture, fit_image
from .extract import ExtractFormat, read_content
from .instruction import Candidate, ParsedInstruction, Resolution, parse_instruction, rank_elements, resolve
from .observe import GEOMETRY_JS, ElementInfo, Geometry, TreeText, paginate, parse_snapshot, render_tree
from .registry import SessionRegistry, describe_end
from .session import BrowserSession, new_id

__all__ = ["BrowserService", "Scope", "normalize_url"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Scope = Literal["viewport", "page"]
WaitUntil = Literal["load", "domcontentloaded", "networkidle", "commit"]
_BIG_SNAPSHOT = 150_000  # chars; parse/render larger snapshots off the event loop


class BrowserService:
    def __init__(self, settings: Settings, registry: SessionRegistry):
        self.settings = settings
        self.registry = registry
        # Set by the agent layer when an LLM backend is configured (see agent/assist.py):
        # resolver(session, page, instruction, method) -> Resolution
        # ranker(session, page, instruction, elements) -> list[ElementCandidate]
        # extractor(session, page, instruction, schema, content) -> Any (validated data)
        self.resolver: Any = None
        self.ranker: Any = None
        self.extractor: Any = None

    # -- the wrapper every operation goes through ----------------------------------------

    async def run(
        self,
        session: BrowserSession,
        type: str,
        details: dict[str, Any],
        fn: Callable[[], Awaitable[T]],
        *,
        record: bool = True,
    ) -> T:
        """Run ``fn`` under the session lock, record the action, translate errors.

        The action is logged under ``details["method"]`` when there is one (act's method is
        known only after an instruction is resolved), else under ``type``.
        """
        session.busy += 1
        try:
            async with session.lock:
                if not session.is_open:
                    raise ThinkRunError(
                        "session_closed",
                        f"session {session.id} {describe_end(_row_of(session))}",
                        hint="create a new session with session_create",
                    )
                session.touch()
                started = time.monotonic()
                try:
                    result = await fn()
                except ThinkRunError as exc:
                    if record:
                        session.record_action(details.get("method") or type, started=started, success=False, details=details, error=str(exc))
                    raise
                except PlaywrightError as exc:
                    err = self._translate(session, exc, type)
                    if record:
                        session.record_action(details.get("method") or type, started=started, success=False, details=details, error=str(err))
                    raise err from exc
                except asyncio.CancelledError:
                    if record:
                        session.record_action(details.get("method") or type, started=started, success=False, details=details, error="cancelled")
                    raise
                if record:
                    if isinstance(result, ActResult | NavigateResult):
                        details = {**details, "url": result.url}
                    session.record_action(details.get("method") or type, started=started, success=True, details=details)
                return result
        finally:
            session.busy -= 1
            session.touch()

    def _translate(self, session: BrowserSession, exc: PlaywrightError, type: str) -> ThinkRunError:
        text = str(exc)
        first = text.strip().splitlines()[0] if text.strip() else type
        first = re.sub(r"^\w+\.\w+: ", "", first)  # "Locator.click: Timeout…" → "Timeout…"
        if not session.is_open:
            return ThinkRunError(
                "session_closed",
                f"session {session.id} {describe_end(_row_of(session))} while {type} was running",
                hint="create a new session with session_create",
            )
        if isinstance(exc, PlaywrightTimeout) or "Timeout" in first and "exceeded" in first:
            return ThinkRunError(
                "timeout",
                f"{type} timed out: {first}",
                hint="the element may be hidden, disabled or covered; observe again, scroll, or wait for it",
            )
        if "ERR_BLOCKED_BY_CLIENT" in text and session.last_block:
            return ThinkRunError("url_blocked", f"blocked by the URL policy: {session.last_block}")
        if "net::ERR_" in text or "NS_ERROR" in text:
            net = re.search(r"net::ERR_[A-Z_]+", text)
            return ThinkRunError(
                "navigation_failed",
                f"the page could not be loaded: {net.group(0) if net else first}",
                hint="check the URL; the site may be down or unreachable from this machine",
            )
        if "has been closed" in text or "Target closed" in text:
            return ThinkRunError("action_failed", f"the tab closed during {type}", hint="observe again to see the active tab")
        if "strict mode violation" in text:
            return ThinkRunError("element_not_found", f"the target matches several elements: {first}", hint="use a ref")
        return ThinkRunError("action_failed", f"{type} failed: {first}")

    # -- observation ---------------------------------------------------------------------

    async def _observation(
        self,
        session: BrowserSession,
        *,
        scope: Scope = "viewport",
        max_chars: int | None = None,
        cursor: int = 0,
        events: list[PageEvent] | None = None,
    ) -> Observation:
        page = await session.page()
        max_chars = max_chars or self.settings.observation_max_chars
        cached = session.last_full
        if cursor and cached and cached[0] == page.url and cached[1] == scope:
            full = cached[2]
            title = session.title or ""
            tree = session.last_tree
        else:
            snap, geo, title = await self._snapshot(page)
            tree = await asyncio.to_thread(_render, snap, geo, scope) if len(snap) > _BIG_SNAPSHOT else _render(snap, geo, scope)
            session.last_tree = tree
            session.title = title
            session.current_url = session.redact(page.url)
            header = self._header(session, page, title, events)
            body = tree.text if tree.text else "(the page shows no content)"
            full = header + "\n" + body + (f"\n{tree.outside}" if tree.outside else "")
            session.last_full = (page.url, scope, full)
        piece, next_cursor = paginate(full, max_chars=max_chars, cursor=cursor)
        if next_cursor is not None:
            note = f"\n[observation continues: call browser_observe with cursor={next_cursor}]"
            if len(piece) + len(note) > max_chars:
                piece, next_cursor = paginate(full, max_chars=max_chars - len(note), cursor=cursor)
                note = f"\n[observation continues: call browser_observe with cursor={next_cursor}]"
            piece += note if next_cursor is not None else ""
        return Observation(
            url=session.redact(page.url),
            title=title,
            text=session.redact(piece),
            scope=scope,
            total_chars=len(full),
            cursor=next_cursor,
            ref_count=len(tree.elements) if tree is not None else 0,
        )

    async def _snapshot(self, page: Page) -> tuple[str, dict[str, Any], str]:
        timeout = self.settings.action_timeout_ms
        for attempt in (1, 2):
            try:
                snap, geo, title = await asyncio.gather(
                    page.aria_snapshot(mode="ai", boxes=True, timeout=timeout),
                    page.evaluate(GEOMETRY_JS),
                    page.title(),
                )
                return snap, geo, title
            except PlaywrightError as exc:
                # The page navigated under us ("Execution context was destroyed"): wait for the new one once.
                if attempt == 2 or page.is_closed() or "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                    raise
                try:
                    await page.wait_for_load_state("domcontentloaded", timeout=timeout)
                except PlaywrightError:
                    pass
        raise AssertionError("unreachable")

    def _header(self, session: BrowserSession, page: Page, title: str, events: list[PageEvent] | None) -> str:
        lines = [f"Page: {title or '(no title)'} — {page.url}"]
        if len(session.pages) > 1:
            tabs = " | ".join(
                f"[{i}{'*' if p is page else ''}] {(p.url or 'about:blank')[:80]}" for i, p in enumerate(session.pages, 1)
            )
            lines.append(f"Tabs ({len(session.pages)}, * = active): {tabs}")
        for ev in events or ():
            lines.append(f"Event: {ev.message}")
        return "\n".join(lines)

    # -- operations ----------------------------------------------------------------------

    async def open_session(
        self,
        client_key: str,
        *,
        starting_point: str | None = None,
        viewport: Viewport | None = None,
        avoid_domains: list[str] | None = None,
        allow_domains: list[str] | None = None,
        extra_options: dict[str, Any] | None = None,
    ) -> tuple[BrowserSession, SessionCreated]:
        """Create a session and, with a starting point, load it (a load failure is reported, not raised)."""
        if starting_point is not None:
            starting_point = normalize_url(starting_point)
            # Fail before creating anything when the starting point breaks the session's own rules.
            from .policy import UrlPolicy

            await UrlPolicy(
                schemes=self.settings.schemes, avoid_domains=avoid_domains or (), allow_domains=allow_domains or (),
                block_private=self.settings.block_private_networks,
            ).check(starting_point)  # fmt: skip
        session = await self.registry.create(
            client_key,
            viewport=(viewport.width, viewport.height) if viewport else None,
            avoid_domains=avoid_domains,
            allow_domains=allow_domains,
            extra_options=extra_options,
        )
        created = SessionCreated(
            session_id=session.id,
            status="running",
            viewport=Viewport(width=session.viewport[0], height=session.viewport[1]),
        )
        if starting_point:
            try:
                nav = await self.navigate(session, url=starting_point)
                created.current_url, created.events, created.observation = nav.url, nav.events, nav.observation
            except ThinkRunError as exc:
                created.events = [PageEvent(kind="navigation", message=f"the starting point did not load: {exc}")]
        return session, created

    async def navigate(
        self,
        session: BrowserSession,
        *,
        url: str | None,
        action: Literal["goto", "back", "forward", "reload"] = "goto",
        wait_until: WaitUntil = "load",
        timeout_ms: int | None = None,
        observe_chars: int | None = None,
    ) -> NavigateResult:
        timeout = timeout_ms or self.settings.navigation_timeout_ms
        if action == "goto":
            if not url or not url.strip():
                raise ThinkRunError("invalid_input", "url is required", hint='e.g. url="https://example.com"')
            url = normalize_url(url)
            await session.policy.check(url)
        details = {"url": url} if action == "goto" else {"action": action}

        async def go() -> NavigateResult:
            page = await session.page()
            session.last_full = None
            watch = session.watch()
            response = None
            try:
                if action == "goto":
                    try:
                        try:
                            response = await page.goto(url, wait_until=wait_until, timeout=timeout)  # type: ignore[arg-type]
                        except PlaywrightError as exc:
                            # A navigation started earlier (an abandoned action, a page script) won the race: once more.
                            if "interrupted by another navigation" not in str(exc):
                                raise
                            response = await page.goto(url, wait_until=wait_until, timeout=timeout)  # type: ignore[arg-type]
                    except PlaywrightError as exc:
                        if "Download is starting" not in str(exc):
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
            obs = await self._observation(session, max_chars=observe_chars)
            return NavigateResult(
                session_id=session.id,
                url=session.redact(page.url),
                status=response.status if response is not None else None,
                title=obs.title,
                events=events,
                observation=obs,
            )

        return await self.run(session, "navigate", details, go)

    async def observe(
        self,
        session: BrowserSession,
        *,
        scope: Scope = "viewport",
        max_chars: int | None = None,
        cursor: int = 0,
        instruction: str | None = None,
    ) -> Observation:
        """The compact observation; with an instruction, also the elements that fit it, best first."""

        async def look() -> Observation:
            obs = await self._observation(
                session, scope=scope, max_chars=max_chars, cursor=cursor, events=session.take_events()
            )
            if instruction:
                page = await session.page()
                elements = list(session.last_tree.all_elements.values()) if session.last_tree else []
                if self.ranker is not None:
                    obs.candidates = await self.ranker(session, page, instruction, elements)
                else:
                    obs.candidates = rank_by_name(instruction, elements)
                if obs.candidates:
                    lines = "\n".join(f'- {c.role} "{c.name}" [ref={c.ref}] score={c.score:g}' for c in obs.candidates)
                    obs.text = f"Best matches for {instruction!r}:\n{lines}\n\n{obs.text}"
                else:
                    obs.text = f"Nothing on the page matches {instruction!r}.\n\n{obs.text}"
            return obs

        details: dict[str, Any] = {"scope": scope, "cursor": cursor}
        if instruction:
            details["instruction"] = instruction
        return await self.run(session, "observe", details, look)

    async def act(
        self,
        session: BrowserSession,
        *,
        method: str | None,
        ref: str | None = None,
        selector: str | None = None,
        value: str | None = None,
        instruction: str | None = None,
        timeout_ms: int | None = None,
        observe_chars: int | None = None,
    ) -> ActResult:
        """Do one method on a target given by ref, selector, or a plain-language instruction."""
        by_instruction = instruction is not None and not (ref or selector)
        if by_instruction:
            parsed = _parse(instruction or "", method, model_reads_it=self.resolver is not None)
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
        details: dict[str, Any] = {"method": method or "act", "ref": ref, "selector": selector, "value": _shown(method, value)}
        if instruction:
            details["instruction"] = instruction

        async def do() -> ActResult:
            nonlocal ref, method, value
            page = await session.page()
            if by_instruction:
                resolution = await self.resolve_instruction(session, page, instruction or "", method)
                ref = resolution.ref
                method = method or resolution.method
                if value is None:
                    value = resolution.value
                actions.check_arguments(method, ref=ref, selector=None, value=value)
                details.update(method=method, resolvedRef=ref, value=_shown(method, value))
            target = await actions.locate(page, ref=ref, selector=selector) if (ref or selector) else None
            session.last_full = None
            before_url, before_page, tabs_before = page.url, page, len(session.pages)
            watch = session.watch()
            try:
                extra = await actions.perform(session, page, method, target, value, timeout_ms=timeout)
                await session.settle(watch, page)
            finally:
                session.unwatch(watch)
            details.update(extra)
            now_page = await session.page()
            events = session.take_events()
            obs = await self._observation(session, max_chars=observe_chars)
            return ActResult(
                session_id=session.id,
                method=method,
                ref=ref,
                selector=selector,
                url=session.redact(now_page.url),
                navigated=watch.navigated or now_page.url != before_url,
                tab_changed=now_page is not before_page or len(session.pages) != tabs_before,
                events=events,
                observation=obs,
            )

        return await self.run(session, "act", details, do)

    async def page_tree(self, page: Page) -> TreeText:
        """The whole page's compact tree (text and elements), not just the viewport."""
        snap, geo, _ = await self._snapshot(page)
        return await asyncio.to_thread(_render, snap, geo, "page") if len(snap) > _BIG_SNAPSHOT else _render(snap, geo, "page")

    async def page_elements(self, page: Page) -> list[ElementInfo]:
        """Every actionable element of the page (whole page, not just the viewport)."""
        return list((await self.page_tree(page)).all_elements.values())

    async def resolve_instruction(self, session: BrowserSession, page: Page, instruction: str, method: str) -> Resolution:
        """The element an instruction means: by the LLM resolver when one is configured, else by name matching."""
        if self.resolver is not None:
            return await self.resolver(session, page, instruction, method)
        return resolve_by_name(instruction, await self.page_elements(page), method)

    async def extract(
        self,
        session: BrowserSession,
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
        if (instruction or schema) and self.extractor is None:
            raise ThinkRunError(
                "backend_unconfigured",
                "extraction with an instruction or schema needs an LLM backend",
                hint="set GEMINI_API_KEY or ANTHROPIC_API_KEY for the server, or use format=text|markdown|links|table",
            )
        max_chars = max_chars or self.settings.extract_max_chars

        async def read() -> ExtractResult:
            page = await session.page()
            target = await actions.locate(page, ref=ref, selector=selector) if (ref or selector) else None
            if instruction or schema:
                content, _ = await read_content(page, target, "markdown")
                data = await self.extractor(session, page, instruction, schema, session.redact(content))
                text = session.redact(json.dumps(data, ensure_ascii=False, indent=1))
                return ExtractResult(
                    session_id=session.id, url=session.redact(page.url), format="json", content=text,
                    total_chars=len(text), cursor=None, data=data,
                )  # fmt: skip
            content, data = await read_content(page, target, format)
            content = session.redact(content)
            piece, next_cursor = paginate(content, max_chars=max_chars, cursor=cursor)
            return ExtractResult(
                session_id=session.id,
                url=session.redact(page.url),
                format=format,
                content=piece,
                total_chars=len(content),
                cursor=next_cursor,
                data=data if (data is not None and cursor == 0 and next_cursor is None) else None,
            )

        details = {"format": format, "ref": ref, "selector": selector, "cursor": cursor}
        if instruction:
            details["instruction"] = instruction
        return await self.run(session, "extract", details, read)

    async def screenshot(
        self,
        session: BrowserSession,
        *,
        full_page: bool = False,
        ref: str | None = None,
        selector: str | None = None,
        max_dimension: int | None = None,
        format: Literal["png", "jpeg"] = "png",
        quality: int = 80,
    ) -> tuple[ScreenshotResult, bytes]:
        if ref and selector:
            raise ThinkRunError("invalid_input", "give either ref or selector, not both")
        if full_page and (ref or selector):
            raise ThinkRunError("invalid_input", "fullPage applies to the page, not to an element")

        async def shoot() -> tuple[ScreenshotResult, bytes]:
            page = await session.page()
            target = await actions.locate(page, ref=ref, selector=selector) if (ref or selector) else None
            raw, clipped = await capture(
                page, target, full_page=full_page, fmt=format, quality=quality, timeout_ms=self.settings.action_timeout_ms
            )
            data, width, height = await asyncio.to_thread(fit_image, raw, max_dimension=max_dimension, fmt=format, quality=quality)
            object_id = new_id("obj")
            path = session.artifact_path(object_id, "png" if format == "png" else "jpg")
            await asyncio.to_thread(path.write_bytes, data)
            session.screenshot_count += 1
            session.records.artifact(
                object_id=object_id, session_id=session.id, type="screenshot", path=str(path),
                mime_type=f"image/{format}", size=len(data), ts=time.time(), width=width, height=height,
            )  # fmt: skip
            if clipped:
                session.event("navigation", "the full-page screenshot was clipped to the first 16,384 pixels")
            result = ScreenshotResult(
                session_id=session.id, object_id=object_id, path=str(path), width=width, height=height,
                bytes=len(data), format=format,
            )  # fmt: skip
            return result, data

        return await self.run(session, "screenshot", {"fullPage": full_page, "ref": ref, "selector": selector}, shoot)


def _render(snap: str, geo: dict[str, Any], scope: Scope) -> Any:
    return render_tree(parse_snapshot(snap), geometry=Geometry.from_js(geo), scope=scope)


def _parse(instruction: str, method: str | None, *, model_reads_it: bool) -> ParsedInstruction | None:
    """The instruction's verb, target and value; None when only a model can read it."""
    if not instruction.strip():
        raise ThinkRunError("invalid_input", "instruction is empty")
    try:
        return parse_instruction(instruction)
    except ValueError as exc:
        if method is not None:  # "the Email field" with method=fill: the instruction names the target
            return ParsedInstruction(method=method, target=instruction.strip(), value=None)
        if model_reads_it:  # "submit the form": the resolver decides (its name matcher says so if it cannot)
            return None
        raise ThinkRunError("invalid_input", str(exc), hint='e.g. "click Sign in", "type hello into Search", "press Enter"') from exc


def rank_by_name(instruction: str, elements: list[ElementInfo], *, limit: int = 8) -> list[ElementCandidate]:
    """Elements whose names fit an instruction, by name matching (no model)."""
    try:
        parsed = parse_instruction(instruction)
        target, method, hint = parsed.target or instruction, parsed.method, parsed.role_hint
    except ValueError:
        target, method, hint = instruction, None, None
    ranked = rank_elements(target, elements, method=method, role_hint=hint)[:limit]
    return [ElementCandidate(ref=c.ref, role=c.role, name=c.name, score=c.score, method=method) for c in ranked]


def _shown(method: str | None, value: str | None) -> str | None:
    """What the action log keeps of a value: typed text only as its length."""
    if value is None or method not in ("fill", "type"):
        return value
    return f"<{len(value)} chars>"


def resolve_by_name(instruction: str, elements: list[ElementInfo], method: str | None) -> Resolution:
    """The no-model resolution, or a coded error listing the candidates."""
    try:
        result = resolve(instruction, elements, method=method)
    except ValueError as exc:
        raise ThinkRunError("invalid_input", str(exc), hint='e.g. "click Sign in", "type hello into Search", "press Enter"') from exc
    if result.ref:
        return result
    raise unresolved(instruction, result.candidates, ambiguous=result.ambiguous)


def unresolved(instruction: str, candidates: list[Candidate], *, ambiguous: bool) -> ThinkRunError:
    cands = "; ".join(f'{c.role} "{c.name}" ref={c.ref}' for c in candidates[:5])
    listed = [{"ref": c.ref, "role": c.role, "name": c.name, "score": c.score} for c in candidates[:5]]
    if ambiguous and candidates:
        return ThinkRunError(
            "ambiguous_instruction",
            f"{instruction!r} matches several elements: {cands}",
            hint="pass the ref of the one you mean",
            details={"candidates": listed},
        )
    return ThinkRunError(
        "element_not_found",
        f"nothing on the page matches {instruction!r}" + (f"; closest: {cands}" if cands else ""),
        hint="observe the page and pass a ref, or rephrase with the element's visible name",
        details={"candidates": listed},
    )


def _row_of(session: BrowserSession) -> dict[str, Any]:
    return {"ended_at": session.ended_at, "end_reason": session.end_reason, "status": session.status}
