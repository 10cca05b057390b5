"""The cloud provider: a ThinkRun-compatible page-cache API.

``POST {cloud_url}/api/cache/{html|text|screenshot}`` with ``Authorization: Bearer
{api_key}`` and the body ``{"url": …, "options": {…}}``; the answer is
``{"html"|"text"|"artifactUrl": …, "metadata": {…}}``. A screenshot's artifact is
downloaded so the caller gets the image itself (the key is only sent to the
API's own origin).

Every call is bounded by the request's timeout and is not retried: errors come
back coded (``invalid_api_key``, ``insufficient_credits``, ``rate_limited``,
``upstream_error``, ``timeout``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import httpx2

from ..browser.capture import fit_image
from ..config import Settings
from ..errors import ThinkRunError
from .request import CacheRequest, Fetched

__all__ = ["CloudProvider"]

_MAX_IMAGE_BYTES = 50 * 1024 * 1024
_LOCAL = 'or use provider "local" (free, on this machine)'


class CloudProvider:
    def __init__(self, settings: Settings):
        self.base_url = settings.cloud_url.rstrip("/") if settings.cloud_url else None
        self._key = settings.api_key
        self._client: httpx2.AsyncClient | None = None
        self.calls = 0

    def check_configured(self) -> None:
        missing = [name for name, value in (("THINKRUN_CLOUD_URL", self.base_url), ("THINKRUN_API_KEY", self._key)) if not value]
        if missing:
            raise ThinkRunError(
                "cloud_unconfigured",
                f'provider "cloud" needs {" and ".join(missing)}, which {"is" if len(missing) == 1 else "are"} not set',
                hint=f"set them to a ThinkRun-compatible API and its key, {_LOCAL}",
            )

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def fetch(self, req: CacheRequest) -> Fetched:
        self.check_configured()
        assert self.base_url is not None and self._key is not None
        if self._client is None:
            self._client = httpx2.AsyncClient(follow_redirects=False)
        deadline = time.monotonic() + req.timeout_ms / 1000
        self.calls += 1
        body = await self._call(req, deadline)
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        fetched = Fetched(
            final_url=str(meta.get("finalUrl") or meta.get("url") or req.url),
            status=meta.get("status") if isinstance(meta.get("status"), int) else None,
            title=str(meta.get("title") or ""),
            content_type=meta.get("contentType") if isinstance(meta.get("contentType"), str) else None,
        )
        field = "artifactUrl" if req.kind == "screenshot" else req.kind
        value = body.get(field)
        if not isinstance(value, str):
            raise ThinkRunError(
                "upstream_error", f"the cloud provider's answer has no {field}", hint=f"try again later, {_LOCAL}"
            )
        if req.kind == "screenshot":
            raw = await self._download(value, deadline)
            try:
                image, width, height = await asyncio.to_thread(fit_image, raw, max_dimension=req.max_dimension, fmt="png")
            except Exception:  # Pillow raises several types for "not an image"
                raise ThinkRunError("upstream_error", "the cloud provider's screenshot is not an image") from None
            fetched.image, fetched.width, fetched.height = image, width, height
        else:
            fetched.body = value
        return fetched

    async def _call(self, req: CacheRequest, deadline: float) -> dict[str, Any]:
        assert self._client is not None and self._key is not None
        url = f"{self.base_url}/api/cache/{req.kind}"
        headers = {"Authorization": f"Bearer {self._key.get_secret_value()}"}
        payload = {"url": req.url, "options": req.cloud_options}
        response = await self._send(
            req, deadline, lambda timeout: self._client.post(url, json=payload, headers=headers, timeout=timeout)
        )  # type: ignore[union-attr]
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            raise _refusal(response.status_code, body, self.base_url or "")
        if not isinstance(body, dict):
            raise ThinkRunError("upstream_error", "the cloud provider answered with something other than a JSON object")
        return body

    async def _download(self, artifact_url: str, deadline: float) -> bytes:
        parts = urlsplit(artifact_url)
        if parts.scheme not in ("http", "https"):
            raise ThinkRunError("upstream_error", f"the cloud provider's artifactUrl is not an http(s) URL: {artifact_url[:200]}")
        same_origin = _origin(artifact_url) == _origin(self.base_url or "")
        headers = {"Authorization": f"Bearer {self._key.get_secret_value()}"} if same_origin and self._key else {}
        response = await self._send(
            None, deadline, lambda timeout: self._client.get(artifact_url, headers=headers, timeout=timeout)
        )  # type: ignore[union-attr]
        if response.status_code >= 400:
            raise ThinkRunError("upstream_error", f"downloading the cloud screenshot failed with HTTP {response.status_code}")
        if len(response.content) > _MAX_IMAGE_BYTES:
            raise ThinkRunError("upstream_error", f"the cloud screenshot is larger than {_MAX_IMAGE_BYTES} bytes")
        return response.content

    async def _send(self, req: CacheRequest | None, deadline: float, send: Any) -> httpx2.Response:
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            async with asyncio.timeout(left):
                return await send(left)
        except (TimeoutError, httpx2.TimeoutException):
            what = "answer" if req is not None else "deliver the screenshot"
            raise ThinkRunError(
                "timeout",
                f"the cloud provider did not {what} in time",
                hint=f"raise options.timeout, try again later, {_LOCAL}",
            ) from None
        except httpx2.HTTPError as exc:
            raise ThinkRunError(
                "upstream_error",
                f"could not reach the cloud provider at {self.base_url}: {type(exc).__name__}",
                hint=f"check THINKRUN_CLOUD_URL and the network, {_LOCAL}",
            ) from None


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _refusal(status: int, body: Any, base_url: str) -> ThinkRunError:
    err = body.get("error") if isinstance(body, dict) else None
    message = err.get("message") if isinstance(err, dict) else None
    said = f": {str(message)[:300]}" if message else ""
    if status in (401, 403):
        return ThinkRunError(
            "invalid_api_key", f"the cloud provider at {base_url} refused the API key{said}", hint="check THINKRUN_API_KEY"
        )
    if status == 402:
        return ThinkRunError(
            "insufficient_credits",
            f"the cloud provider refused for lack of credits{said}",
            hint=f"add credits to the account, {_LOCAL}",
        )
    if status == 429:
        return ThinkRunError("rate_limited", f"the cloud provider is rate limiting{said}", hint=f"wait a little, {_LOCAL}")
    if status in (400, 422):
        return ThinkRunError("invalid_input", f"the cloud provider rejected the request{said}")
    return ThinkRunError("upstream_error", f"the cloud provider answered HTTP {status}{said}", hint=f"try again later, {_LOCAL}")
