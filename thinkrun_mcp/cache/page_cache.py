"""The page cache: a URL's rendered HTML, text or screenshot, fetched once and reused.

A request is keyed by its normalized URL, its kind and the options that change
the content (``waitFor``, ``format``, ``fullPage``, ``maxDimension``, the
provider). A fresh enough copy (``maxAge`` seconds, default
``cache_default_max_age``; ``0`` always fetches) is served from SQLite without
touching the browser. Otherwise one fetch runs per key at a time (single
flight: identical concurrent requests wait for it), on the local browser
(:mod:`.render`) or the cloud provider (:mod:`.cloud`). Good answers are kept;
HTTP error pages are returned but not kept.

The cache is capped at ``cache_max_bytes``: least recently used entries are
evicted first, their screenshot files deleted with them. The in-memory index
(key → size, fetch time) decides hits, misses and evictions without a query;
only a hit reads its row.

``sensitive`` requests are never sent to the cloud, never read from or written
to the cache, and their URL appears in no log or error message; concurrent
identical sensitive requests still share one render, keyed by a salted hash
that lives only in this process.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..browser.egress import Egress
from ..browser.engine import BrowserEngine
from ..browser.policy import UrlPolicy
from ..config import Settings
from ..errors import ThinkRunError
from ..models import (
    CacheMetadata,
    CacheOptions,
    PageHtml,
    PageScreenshot,
    PageText,
    ScreenshotCacheOptions,
    TextCacheOptions,
)
from ..store.cache import CacheRows, IndexRow
from ..text import clip
from ..urls import normalize_url
from .cloud import CloudProvider
from .render import TIMEOUT_HINT, Renderer
from .request import CacheRequest, Fetched, Kind, canonical_url, without_password

__all__ = ["PageCache"]

log = logging.getLogger(__name__)

_NOT_CLOUD = frozenset({"provider", "sensitive", "maxAge"})  # options that are ours, not the cloud's


class _State(enum.Enum):
    NEW = "new"
    STARTED = "started"
    CLOSED = "closed"


class PageCache:
    """The page-cache service behind page_cache_html, page_cache_text and page_cache_screenshot.

    Args:
        settings: Cache size, default max age, pool size, cloud URL/key, URL policy settings.
        engine: The shared browser engine renders run on.
        rows: Row access to the ``page_cache`` table.
        egress: The egress every render's connections go through.
    """

    def __init__(self, settings: Settings, engine: BrowserEngine, rows: CacheRows, egress: Egress):
        self.settings = settings
        self.rows = rows
        self.dir: Path = settings.data_dir / "cache"
        self.policy = UrlPolicy.from_settings(settings)
        self.renderer = Renderer(settings, engine, self.policy, egress)
        self.cloud = CloudProvider(settings)
        self._state = _State.NEW
        self._index: OrderedDict[str, IndexRow] = OrderedDict()  # least recently used first
        self._total = 0
        self._flights: dict[str, asyncio.Task[Fetched]] = {}
        self._salt = secrets.token_bytes(32)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the index of cached entries and remove screenshot files no row refers to."""
        if self._state is not _State.NEW:
            raise RuntimeError(f"page cache cannot start from state {self._state.value}")
        self.dir.mkdir(parents=True, exist_ok=True)
        for row in await self.rows.index():
            self._index[row.key] = row
            self._total += row.bytes
        files = {row.file for row in self._index.values() if row.file}
        for path in self.dir.iterdir():
            if path.is_file() and path.name not in files:
                path.unlink(missing_ok=True)  # left by a crash between writing the file and its row
        self.renderer.start()
        self._state = _State.STARTED
        self._evict()  # the cap may have been lowered since the last run

    async def close(self) -> None:
        """Cancel fetches in flight and close the cloud client."""
        self._state = _State.CLOSED
        flights = list(self._flights.values())
        for task in flights:
            task.cancel()
        await asyncio.gather(*flights, return_exceptions=True)
        await self.renderer.close()
        await self.cloud.close()

    @property
    def entries(self) -> int:
        return len(self._index)

    @property
    def total_bytes(self) -> int:
        return self._total

    # -- the three operations ------------------------------------------------------------

    async def html(self, url: str, options: CacheOptions | None = None) -> PageHtml:
        """The rendered HTML of ``url`` (a text or JSON resource comes back as sent)."""
        req = await self._request("html", url, options or CacheOptions())
        fetched, meta = await self._get(req)
        return PageHtml(html=fetched.body or "", metadata=meta)

    async def text(self, url: str, options: TextCacheOptions | None = None) -> PageText:
        """The visible text of ``url`` (``format="markdown"`` for Markdown)."""
        options = options or TextCacheOptions()
        req = await self._request("text", url, options)
        fetched, meta = await self._get(req)
        return PageText(text=fetched.body or "", metadata=meta)

    async def screenshot(self, url: str, options: ScreenshotCacheOptions | None = None) -> tuple[PageScreenshot, bytes | None]:
        """A PNG of ``url`` and where it is kept; no image for URLs that cannot be shown (PDFs, downloads)."""
        req = await self._request("screenshot", url, options or ScreenshotCacheOptions())
        fetched, meta = await self._get(req)
        artifact = (self.dir / fetched.file).resolve().as_uri() if fetched.file else None
        return PageScreenshot(artifact_url=artifact, metadata=meta), fetched.image

    # -- requests ------------------------------------------------------------------------

    async def _request(self, kind: Kind, url: str, options: CacheOptions) -> CacheRequest:
        if self._state is not _State.STARTED:
            if self._state is _State.NEW:
                raise RuntimeError("page cache not started")
            raise ThinkRunError("browser_unavailable", "the server is shutting down")
        sensitive = options.sensitive
        if not url or not url.strip():
            raise ThinkRunError("invalid_input", "url is required", hint='e.g. "https://example.com"')
        try:
            url = canonical_url(normalize_url(url))
        except ValueError as exc:
            raise ThinkRunError("invalid_input", f"the URL cannot be parsed: {exc}") from None
        provider = options.provider or self.settings.cache_provider
        if sensitive and provider == "cloud":
            why = "" if options.provider else " (the server's default, THINKRUN_CACHE_PROVIDER)"
            raise ThinkRunError(
                "sensitive_url",
                f'options.sensitive is true, so the URL must not leave this machine, but the provider is "cloud"{why}',
                hint='pass provider "local" to render it on this machine',
            )
        reason = self.policy.verdict(url)  # an early answer; the egress decides on what is really connected
        if reason:
            shown = "the sensitive URL" if sensitive else clip(url, 200)
            raise ThinkRunError(
                "url_blocked",
                f"{shown} is blocked: {reason}",
                hint="the page cache loads http(s) URLs allowed by THINKRUN_ALLOWED_SCHEMES and THINKRUN_BLOCK_PRIVATE_NETWORKS",
            )
        timeout = options.timeout or self.settings.navigation_timeout_ms
        if isinstance(options.wait_for, int) and options.wait_for >= timeout:
            raise ThinkRunError(
                "invalid_input",
                f"options.waitFor ({options.wait_for} ms) must be shorter than options.timeout ({timeout} ms)",
                hint="shorten waitFor or raise timeout",
            )
        variant: dict[str, Any] = {"waitFor": options.wait_for}
        extra: dict[str, Any] = {}
        if isinstance(options, TextCacheOptions):
            variant["format"] = extra["format"] = options.format
        if isinstance(options, ScreenshotCacheOptions):
            variant["fullPage"] = extra["full_page"] = options.full_page
            variant["maxDimension"] = extra["max_dimension"] = options.max_dimension
        material = json.dumps([kind, provider, url, variant], sort_keys=True, separators=(",", ":")).encode()
        if sensitive:
            key, flight_key = "", "s:" + hmac.new(self._salt, material, hashlib.sha256).hexdigest()
        else:
            key = hashlib.sha256(material).hexdigest()
            flight_key = key
        cloud_options = {k: v for k, v in options.model_dump(by_alias=True, exclude_unset=True).items() if k not in _NOT_CLOUD}
        return CacheRequest(
            kind=kind,
            url=url,
            provider=provider,
            sensitive=sensitive,
            timeout_ms=timeout,
            max_age=self.settings.cache_default_max_age if options.max_age is None else options.max_age,
            wait_for=options.wait_for,
            cloud_options=cloud_options,
            key=key,
            flight_key=flight_key,
            **extra,
        )

    # -- hits, flights, misses -----------------------------------------------------------

    async def _get(self, req: CacheRequest) -> tuple[Fetched, CacheMetadata]:
        started = time.monotonic()
        flight = self._flights.get(req.flight_key)
        if flight is None and not req.sensitive and req.max_age > 0:
            hit = await self._lookup(req)
            if hit is not None:
                log.debug("page cache hit: %s %s", req.kind, without_password(req.url))
                return hit, self._metadata(req, hit, started, cached=True)
            flight = self._flights.get(req.flight_key)  # one may have started while we looked
        if flight is None:
            flight = asyncio.create_task(self._fetch(req), name=f"page-cache-{req.kind}")
            self._flights[req.flight_key] = flight
            flight.add_done_callback(lambda t, k=req.flight_key: self._landed(k, t))
            fetched = await asyncio.shield(flight)  # a caller that gives up leaves the fetch to the others
        else:
            # Joining a fetch someone else started, with its timeout: wait no longer than our own.
            try:
                fetched = await asyncio.wait_for(asyncio.shield(flight), timeout=req.timeout_ms / 1000)
            except TimeoutError:
                raise ThinkRunError(
                    "timeout",
                    f"{req.shown} was not ready within {req.timeout_ms} ms (it was already being fetched)",
                    hint=TIMEOUT_HINT,
                ) from None
        return fetched, self._metadata(req, fetched, started, cached=False)

    def _landed(self, flight_key: str, task: asyncio.Task[Fetched]) -> None:
        if self._flights.get(flight_key) is task:
            del self._flights[flight_key]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have gone

    async def _fetch(self, req: CacheRequest) -> Fetched:
        if req.provider == "cloud":
            fetched = await self.cloud.fetch(req)
        else:
            fetched = await self.renderer.render(req)
        fetched.fetched_at = time.time()
        if req.sensitive:
            log.debug("page cache (sensitive): %s rendered", req.kind)
        else:
            log.debug("page cache miss: %s %s → HTTP %s", req.kind, without_password(req.url), fetched.status)
            if fetched.cacheable:
                await self._save(req, fetched)
            elif fetched.note is None:
                fetched.note = f"HTTP {fetched.status}: returned, not cached"
        return fetched

    async def _lookup(self, req: CacheRequest) -> Fetched | None:
        entry = self._index.get(req.key)
        if entry is None or time.time() - entry.fetched_at > req.max_age:
            return None
        row = await self.rows.get(req.key)
        image = None
        if row is not None and row.file:
            try:
                image = await asyncio.to_thread((self.dir / row.file).read_bytes)
            except OSError:
                row = None
        if row is None:  # deleted behind our back (another process, a cleaned folder)
            self._drop(req.key)
            return None
        now = time.time()
        if req.key in self._index:
            self._index.move_to_end(req.key)
        self.rows.touch(req.key, now)
        return Fetched.restore(row.metadata, body=row.body, image=image, fetched_at=row.fetched_at, file=row.file)

    async def _save(self, req: CacheRequest, fetched: Fetched) -> None:
        size = fetched.size
        if size > self.settings.cache_max_bytes:
            fetched.note = fetched.note or f"{size} bytes is more than the cache holds (THINKRUN_CACHE_MAX_BYTES); not cached"
            return
        file = None
        if fetched.image is not None:
            file = f"{req.key[:40]}.png"
            try:
                await asyncio.to_thread(_write_atomically, self.dir / file, fetched.image)
            except OSError as exc:
                log.warning("page cache: could not write %s: %s", file, exc)
                return
        old = self._index.pop(req.key, None)
        if old is not None:
            self._total -= old.bytes
        self.rows.put(
            key=req.key,
            kind=req.kind,
            provider=req.provider,
            url=without_password(req.url),  # the key (a hash) tells URLs with different passwords apart
            body=fetched.body,
            file=file,
            metadata=fetched.describe(),
            size=size,
            fetched_at=fetched.fetched_at,
        )
        fetched.file = file
        self._index[req.key] = IndexRow(req.key, size, fetched.fetched_at, file)
        self._total += size
        self._evict()

    def _evict(self) -> None:
        gone = []
        while self._total > self.settings.cache_max_bytes and self._index:
            key, entry = self._index.popitem(last=False)
            self._total -= entry.bytes
            gone.append(key)
            if entry.file:
                (self.dir / entry.file).unlink(missing_ok=True)
        if gone:
            self.rows.delete(gone)
            log.debug("page cache: evicted %d entries, %d bytes kept", len(gone), self._total)

    def _drop(self, key: str) -> None:
        entry = self._index.pop(key, None)
        if entry is not None:
            self._total -= entry.bytes
            if entry.file:
                (self.dir / entry.file).unlink(missing_ok=True)
        self.rows.delete([key])

    def _metadata(self, req: CacheRequest, fetched: Fetched, started: float, *, cached: bool) -> CacheMetadata:
        return CacheMetadata(
            url=req.url,
            final_url=fetched.final_url,
            status=fetched.status,
            title=fetched.title,
            content_type=fetched.content_type,
            bytes=fetched.size,
            fetched_at=datetime.fromtimestamp(fetched.fetched_at, UTC),
            cached=cached,
            age_seconds=max(0, int(time.time() - fetched.fetched_at)),
            duration_ms=int((time.monotonic() - started) * 1000),
            provider=req.provider,
            note=fetched.note,
            width=fetched.width,
            height=fetched.height,
        )


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
