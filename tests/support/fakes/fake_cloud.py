"""A fake ThinkRun-compatible page-cache API.

Endpoints (``Authorization: Bearer <key>``, JSON body ``{"url": …, "options": {…}}``)::

    POST /api/cache/html        → {"html": "<html>…</html>", "metadata": {...}}          cost 1
    POST /api/cache/text        → {"text": "…", "metadata": {...}}                        cost 1
    POST /api/cache/screenshot  → {"artifactUrl": "<base_url>/artifacts/<id>.png", "metadata": {...}}  cost 3
    GET  /artifacts/<id>.png    → a real small PNG (no auth)

``metadata`` = ``{"url", "finalUrl", "status": 200, "title", "contentType", "fetchedAt", "provider": "cloud"}``.

Errors are ``{"error": {"code": "<slug>", "message": …}}``:
401 ``invalid_api_key`` (missing/wrong key), 400 ``invalid_request`` (no/bad ``url``),
402 ``insufficient_credits`` (credits < cost), ``fail_status`` → that status with ``internal_error``
(500) / ``service_unavailable`` (503) / ``upstream_error``, 404 ``not_found``.

All knobs are plain attributes and may be changed while running:
``valid_key``, ``credits``, ``delay_seconds`` (sleep before answering any /api/cache call),
``fail_status`` (force that status), ``pages`` (url → html to serve instead of the generated page).
Failed calls cost nothing. The ``x-credits-remaining`` response header reports the balance.
"""

from __future__ import annotations

import html as html_mod
import re
import struct
import zlib
from datetime import UTC, datetime
from typing import Any

from .scripted import RecordedRequest, RecordingServer, Response, random_id

__all__ = ["CACHE_COSTS", "FakeCloud", "png_bytes"]

CACHE_COSTS: dict[str, int] = {"html": 1, "text": 1, "screenshot": 3}

_FAIL_CODES = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout"}


def png_bytes(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """A valid RGB PNG of one colour."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message}})


class FakeCloud(RecordingServer):
    """Constructor: ``FakeCloud(valid_key="test-cloud-key", credits=100, delay_seconds=0.0, fail_status=None)``."""

    def __init__(
        self,
        valid_key: str = "test-cloud-key",
        credits: int = 100,
        delay_seconds: float = 0.0,
        fail_status: int | None = None,
    ) -> None:
        self.valid_key = valid_key
        self.credits = credits
        self.delay_seconds = delay_seconds
        self.fail_status = fail_status
        self.pages: dict[str, str] = {}
        self.artifacts: dict[str, bytes] = {}
        self.credits_used = 0
        super().__init__()

    @property
    def calls(self) -> int:
        """Number of /api/cache/* requests received (any outcome)."""
        return len(self.requests_to("/api/cache/"))

    def page_html(self, url: str) -> str:
        if url in self.pages:
            return self.pages[url]
        u = html_mod.escape(url)
        return (
            f"<!doctype html><html><head><title>Fake page for {u}</title></head>"
            f"<body><h1>Fake page</h1><p>Cached copy of {u} served by FakeCloud.</p>"
            f'<a href="{u}">source</a></body></html>'
        )

    def handle(self, req: RecordedRequest, conn: Any) -> Response | None:
        if req.method == "GET" and req.path.startswith("/artifacts/"):
            art_id = req.path[len("/artifacts/") :].removesuffix(".png")
            data = self.artifacts.get(art_id)
            if data is None:
                return _error(404, "not_found", f"artifact {art_id} not found")
            return Response(200, data, {"Cache-Control": "private, max-age=3600"}, "image/png")
        m = re.fullmatch(r"/api/cache/(html|text|screenshot)", req.path)
        if not m:
            return _error(404, "not_found", f"no route for {req.method} {req.path}")
        if req.method != "POST":
            return _error(405, "method_not_allowed", f"{req.method} not allowed on {req.path}")
        kind = m.group(1)
        auth = req.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not key or key != self.valid_key:
            return _error(401, "invalid_api_key", "Missing or invalid API key." if not key else "Invalid API key.")
        body = req.body
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not re.match(r"^https?://", url):
            return _error(400, "invalid_request", "Body must be JSON with an http(s) `url`.")
        if body.get("options") is not None and not isinstance(body.get("options"), dict):
            return _error(400, "invalid_request", "`options` must be an object.")
        if self.delay_seconds and not conn.wait(self.delay_seconds):
            req.client_disconnected = not self._closing.is_set()
            return None
        if self.fail_status:
            code = _FAIL_CODES.get(self.fail_status, "upstream_error")
            return _error(self.fail_status, code, f"Forced failure ({self.fail_status}) by FakeCloud.")
        cost = CACHE_COSTS[kind]
        with self._lock:
            if self.credits < cost:
                return _error(
                    402, "insufficient_credits", f"Insufficient credits: {kind} costs {cost}, balance is {self.credits}."
                )
            self.credits -= cost
            self.credits_used += cost
            remaining = self.credits
        page = self.page_html(url)
        title_m = re.search(r"<title>(.*?)</title>", page, re.S | re.I)
        title = html_mod.unescape(title_m.group(1).strip()) if title_m else ""
        metadata = {
            "url": url,
            "finalUrl": url,
            "status": 200,
            "title": title,
            "contentType": "text/html",
            "fetchedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "provider": "cloud",
        }
        headers = {"x-credits-remaining": str(remaining)}
        if kind == "html":
            return Response(200, {"html": page, "metadata": metadata}, headers)
        if kind == "text":
            text = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
            text = re.sub(r"<title>.*?</title>", " ", text, flags=re.S | re.I)
            text = html_mod.unescape(re.sub(r"<[^>]+>", " ", text))
            text = re.sub(r"\s+", " ", text).strip()
            return Response(200, {"text": text, "metadata": metadata}, headers)
        art_id = random_id("art_", 16)
        self.artifacts[art_id] = png_bytes()
        return Response(200, {"artifactUrl": f"{self.base_url}/artifacts/{art_id}.png", "metadata": metadata}, headers)
