"""What the model sees of a session's page: the observation (header, compact tree, outside summary), in parts.

The compact tree comes from Playwright's aria snapshot of the page plus the
geometry of the viewport (``browser/observe/``); the observation is that tree
under a header (URL, title, tabs, events), cut to a character budget with a
cursor to read on. The full text is kept on the session so that reading on
with a cursor costs nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from ..config import Settings
from ..models import Observation, PageEvent
from ..text import clip
from .errors import is_signal
from .observe import GEOMETRY_JS, Geometry, TreeText, paginate, parse_snapshot, render_tree
from .session import BrowserSession

__all__ = ["Scope", "compact_tree", "observation"]

Scope = Literal["viewport", "page"]
_BIG_SNAPSHOT = 150_000  # chars; parse/render larger snapshots off the event loop


async def observation(
    session: BrowserSession,
    settings: Settings,
    *,
    scope: Scope = "viewport",
    max_chars: int | None = None,
    cursor: int = 0,
    events: list[PageEvent] | None = None,
) -> Observation:
    """The observation of the session's active tab, from ``cursor`` on, at most ``max_chars`` long."""
    page = await session.page()
    max_chars = max_chars or settings.observation_max_chars
    cached = session.last_full
    if cursor and cached and cached[0] == page.url and cached[1] == scope:
        full = cached[2]
        title = session.title or ""
        tree = session.last_tree
    else:
        tree, title = await compact_tree(page, scope, timeout_ms=settings.action_timeout_ms)
        title = session.redact(title)
        session.last_tree = tree
        session.title = title
        session.page_url, session.current_url = page.url, session.redact(page.url)
        header = _header(session, page, title, events)
        body = tree.text if tree.text else "(the page shows no content)"
        # Redacted whole, before it is cut into pieces: a cut must not leave half a secret value in view.
        full = session.redact(header + "\n" + body + (f"\n{tree.outside}" if tree.outside else ""))
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
        text=piece,  # cut from the redacted whole (the tool boundary redacts values added since)
        scope=scope,
        total_chars=len(full),
        cursor=next_cursor,
        ref_count=len(tree.elements) if tree is not None else 0,
    )


async def compact_tree(page: Page, scope: Scope, *, timeout_ms: int) -> tuple[TreeText, str]:
    """The compact tree of the page (``scope="page"``) or of what is in view, and the title."""
    for attempt in (1, 2):
        try:
            snap, geo, title = await asyncio.gather(
                page.aria_snapshot(mode="ai", boxes=True, timeout=timeout_ms),
                page.evaluate(GEOMETRY_JS),
                page.title(),
            )
            break
        except PlaywrightError as exc:
            # The page navigated under us ("Execution context was destroyed"): wait for the new one once.
            if attempt == 2 or page.is_closed() or not is_signal(exc, "context_destroyed"):
                raise
            try:
                await page.wait_for_load_state("domcontentloaded", timeout=timeout_ms)
            except PlaywrightError:
                pass
    tree = await asyncio.to_thread(_render, snap, geo, scope) if len(snap) > _BIG_SNAPSHOT else _render(snap, geo, scope)
    return tree, title


def _header(session: BrowserSession, page: Page, title: str, events: list[PageEvent] | None) -> str:
    lines = [f"Page: {title or '(no title)'} — {page.url}"]
    if len(session.pages) > 1:
        tabs = " | ".join(
            f"[{i}{'*' if p is page else ''}] {clip(session.redact(p.url or 'about:blank'), 80)}"
            for i, p in enumerate(session.pages, 1)
        )
        lines.append(f"Tabs ({len(session.pages)}, * = active): {tabs}")
    for ev in events or ():
        lines.append(f"Event: {ev.message}")
    return "\n".join(lines)


def _render(snap: str, geo: dict[str, Any], scope: Scope) -> TreeText:
    return render_tree(parse_snapshot(snap), geometry=Geometry.from_js(geo), scope=scope)
