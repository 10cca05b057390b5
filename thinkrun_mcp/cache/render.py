"""Local renders: load a URL in a lane of the render pool (:mod:`.pool`), wait, read what was asked.

What comes back depends on the response's content type: HTML pages are
rendered; text and JSON are returned as they were sent; images are shown by
the browser (screenshots work, HTML/text get a note); PDFs and file downloads
get a note saying what the URL is instead of an empty page.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Literal

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Response
from playwright.async_api import TimeoutError as PlaywrightTimeout

from ..browser.capture import MAX_FULL_PAGE_HEIGHT, capture, fit_image
from ..browser.egress import Egress
from ..browser.engine import BrowserEngine
from ..browser.errors import first_line, is_signal, translate
from ..browser.extract import read_content
from ..browser.policy import UrlPolicy
from ..config import Settings
from ..errors import ThinkRunError
from .pool import Lane, LanePool
from .request import CacheRequest, Fetched

__all__ = ["Renderer", "content_class"]

ContentClass = Literal["html", "textual", "image", "pdf", "binary"]

_TEXTUAL = re.compile(
    r"^(text/|application/(json|xml|javascript|x-javascript|ecmascript|x-ndjson|yaml|x-yaml|toml)\b"
    r"|[\w.-]+/[\w.-]+\+(json|xml)\b)"
)
_GRACE_SECONDS = 10.0
_LOAD_STATES = ("load", "domcontentloaded", "networkidle")  # no element is named so: waitFor means the load state


def content_class(content_type: str | None) -> ContentClass:
    """How a response of this ``Content-Type`` is handled (a missing type is sniffed by the browser as HTML)."""
    ct = (content_type or "").split(";", 1)[0].strip().lower()
    if not ct or ct in ("text/html", "application/xhtml+xml"):
        return "html"
    if _TEXTUAL.match(ct):
        return "textual"
    if ct.startswith("image/"):
        return "image"
    if ct == "application/pdf":
        return "pdf"
    return "binary"


class Renderer:
    """Renders page-cache requests in the local browser. ``renders`` counts the loads started."""

    def __init__(self, settings: Settings, engine: BrowserEngine, policy: UrlPolicy, egress: Egress):
        self.pool = LanePool(settings, engine, policy, egress)
        self.renders = 0

    def start(self) -> None:
        self.pool.start()

    async def close(self) -> None:
        await self.pool.close()

    async def render(self, req: CacheRequest) -> Fetched:
        """Render ``req``; its timeout counts from when a lane is free, not while waiting for one."""
        async with self.pool.lane(private=req.sensitive) as lane:
            self.renders += 1
            deadline = time.monotonic() + req.timeout_ms / 1000
            try:
                # The per-step timeouts below do the work; this only catches a hung browser.
                async with asyncio.timeout(req.timeout_ms / 1000 + _GRACE_SECONDS):
                    return await _Render(req, lane, deadline).run()
            except TimeoutError:
                raise ThinkRunError(
                    "timeout", f"rendering {req.shown} took longer than {req.timeout_ms} ms", hint=TIMEOUT_HINT
                ) from None


TIMEOUT_HINT = "raise options.timeout (up to 300000 ms) or check that the site answers"


class _Render:
    """One render in one context: load, wait, read."""

    def __init__(self, req: CacheRequest, lane: Lane, deadline: float):
        self.req = req
        self.lane = lane
        self.deadline = deadline

    def remaining_ms(self) -> float:
        left = (self.deadline - time.monotonic()) * 1000
        if left <= 0:
            raise ThinkRunError(
                "timeout", f"rendering {self.req.shown} took longer than {self.req.timeout_ms} ms", hint=TIMEOUT_HINT
            )
        return left

    async def run(self) -> Fetched:
        req, page = self.req, self.lane.page
        downloaded = False
        try:
            response = await page.goto(req.url, wait_until="load", timeout=self.remaining_ms())
        except PlaywrightError as exc:
            if not is_signal(exc, "download_started"):
                raise self._failure(exc) from None
            response, downloaded = None, True
            self.lane.reusable = False
        main = response or (self.lane.responses[-1] if self.lane.responses else None)
        status = main.status if main is not None else None
        content_type = main.headers.get("content-type") if main is not None else None
        final_url = main.url if downloaded and main is not None else page.url
        fetched = Fetched(final_url=final_url, status=status, content_type=content_type)
        if downloaded:
            fetched.note = _download_note(main)
            return fetched
        cls = content_class(content_type)
        if cls == "pdf":
            fetched.note = await _pdf_note(main)
            return fetched
        if req.wait_for is not None:
            await self._wait(page)
        fetched.title = await page.title()
        if req.kind == "screenshot":
            await self._screenshot(page, fetched)
        elif cls == "image":
            fetched.note = f"this URL is an image ({content_type}{', ' + fetched.title if fetched.title else ''}), not a page; use page_cache_screenshot to see it"
            fetched.body = ""
        elif cls == "textual" and main is not None:
            fetched.body = await self._raw_text(main, page)
        elif cls == "binary":  # the browser showed it without downloading (rare): say what it is
            fetched.note = f"this URL is a {content_type} file, not a page"
            fetched.body = ""
        elif req.kind == "html":
            fetched.body = await page.content()
        else:
            fetched.body, _ = await read_content(page, None, req.format)
        return fetched

    # -- steps ---------------------------------------------------------------------------

    async def _wait(self, page: Page) -> None:
        target = self.req.wait_for
        if isinstance(target, int):
            if target > 0:
                await asyncio.sleep(min(target, self.remaining_ms()) / 1000)
            return
        try:
            if target in _LOAD_STATES:
                await page.wait_for_load_state(target, timeout=self.remaining_ms())  # type: ignore[arg-type]
            else:
                await page.locator(target).first.wait_for(state="attached", timeout=self.remaining_ms())
        except PlaywrightTimeout:
            raise ThinkRunError(
                "timeout",
                f"waitFor {target!r} did not appear on {self.req.shown} within {self.req.timeout_ms} ms",
                hint="check the selector (CSS, or text=… for visible text), or raise options.timeout",
            ) from None
        except PlaywrightError as exc:
            first = first_line(exc)
            if is_signal(first, "bad_selector"):
                raise ThinkRunError(
                    "invalid_input",
                    f"waitFor {target!r} is not a valid selector: {first}",
                    hint='use a CSS selector like "#content", text like "text=Welcome", or milliseconds like 1500',
                ) from None
            raise self._failure(exc) from None

    async def _screenshot(self, page: Page, fetched: Fetched) -> None:
        raw, clipped = await capture(
            page, None, full_page=self.req.full_page, fmt="png", quality=80, timeout_ms=int(self.remaining_ms())
        )
        image, width, height = await asyncio.to_thread(fit_image, raw, max_dimension=self.req.max_dimension, fmt="png")
        fetched.image, fetched.width, fetched.height = image, width, height
        if clipped:
            fetched.note = f"the page is taller than {MAX_FULL_PAGE_HEIGHT} px; the full-page capture stops there"

    async def _raw_text(self, main: Response, page: Page) -> str:
        try:
            text = await main.text()
        except (PlaywrightError, UnicodeDecodeError):
            text, _ = await read_content(page, None, "text")
        if self.req.kind == "text" and self.req.format == "markdown":
            lang = _fence_language(main.headers.get("content-type"))
            if lang:
                if lang == "json":
                    try:
                        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
                    except ValueError:
                        pass
                text = f"```{lang}\n{text.rstrip()}\n```"
        return text

    def _failure(self, exc: PlaywrightError) -> ThinkRunError:
        shown = self.req.shown.replace("{", "{{").replace("}", "}}")
        rendered = f"{shown} could not be rendered: {{detail}}"
        blocked, failure = self.lane.egress.explain(exc, since=self.lane.started)
        return translate(
            exc,
            what=f"loading {self.req.shown}",
            blocked_reason=blocked,
            failure=None if self.req.sensitive else failure,
            messages={
                "timeout": f"loading {shown} took longer than {self.req.timeout_ms} ms",
                "blocked": f"loading {shown} was blocked: {{detail}}",
                "network": f"{shown} could not be loaded: {{detail}}",
                "closed": rendered,
                "ambiguous": rendered,
                "other": rendered,
            },
            hints={"timeout": TIMEOUT_HINT, "closed": None, "ambiguous": None},
            codes={"closed": "navigation_failed", "ambiguous": "navigation_failed", "other": "navigation_failed"},
            # Playwright's message names the URL; a sensitive one must not reach logs.
            detail=type(exc).__name__ if self.req.sensitive else None,
        )


def _fence_language(content_type: str | None) -> str | None:
    ct = (content_type or "").split(";", 1)[0].strip().lower()
    if ct.endswith("json"):
        return "json"
    if ct.endswith("xml"):
        return "xml"
    if ct.endswith(("javascript", "ecmascript")):
        return "javascript"
    return None


def _download_note(main: Response | None) -> str:
    if main is None:
        return "this URL starts a file download; there is no page to render"
    kind = (main.headers.get("content-type") or "unknown type").split(";", 1)[0]
    name = re.search(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)', main.headers.get("content-disposition", ""), re.I)
    size = main.headers.get("content-length")
    facts = ", ".join(x for x in (kind, name and name.group(1), size and f"{size} bytes") if x)
    return f"this URL is a file download ({facts}); there is no page to render — fetch the file directly"


async def _pdf_note(main: Response | None) -> str:
    size = main.headers.get("content-length") if main is not None else None
    if size is None and main is not None:
        try:
            size = str(len(await main.body()))
        except PlaywrightError:
            size = None
    facts = f" ({size} bytes)" if size else ""
    return (
        f"this URL is a PDF document{facts}; the browser does not render PDFs to HTML, text or images here — "
        "fetch the file directly to read it"
    )
