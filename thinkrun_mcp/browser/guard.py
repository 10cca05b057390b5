"""Enforcing a :class:`~.policy.UrlPolicy` on every request of a browser context, redirect hops included.

Sessions and page-cache renders both route their contexts through :func:`guard`.
A refused request is aborted (the browser reports ``net::ERR_BLOCKED_BY_CLIENT``)
after the caller's ``refused`` callback has recorded why.

Playwright never routes the hops of a redirect (the browser follows them on its
own), so a redirect could lead to a refused URL. Page and frame loads are
therefore fetched here hop by hop, each target checked before it is requested;
the browser then gets the first response pointed straight at the end of the
chain and loads that itself (so the last hop is fetched twice).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urljoin

from playwright.async_api import BrowserContext, Request, Route
from playwright.async_api import Error as PlaywrightError

from .policy import UrlPolicy

__all__ = ["Refused", "guard"]

log = logging.getLogger(__name__)

# (the request that is aborted, the URL refused, why, the URL that redirected to it or None)
Refused = Callable[[Request, str, str, str | None], None]

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 20


async def guard(route: Route, policy: UrlPolicy, context: BrowserContext, *, refused: Refused, timeout_ms: float) -> None:
    """Let ``route``'s request through if ``policy`` allows it and every redirect hop it leads to."""
    request = route.request
    reason = await policy.averdict(request.url)
    try:
        if reason is not None:
            refused(request, request.url, reason, None)
            await route.abort("blockedbyclient")
        elif request.resource_type == "document" and request.method in ("GET", "POST", "HEAD"):
            await _load_document(route, policy, context, refused, timeout_ms)
        else:
            await route.fallback()
    except PlaywrightError as exc:  # the page or context went away meanwhile
        log.debug("route of %s: %s", request.url[:200], exc)


async def _load_document(route: Route, policy: UrlPolicy, context: BrowserContext, refused: Refused, timeout_ms: float) -> None:
    request = route.request
    try:
        response = await route.fetch(max_redirects=0, timeout=timeout_ms)
    except PlaywrightError:
        await route.fallback()  # unreachable and the like: let the browser fail it its own way
        return
    first, url, method, body = response, request.url, request.method, request.post_data_buffer
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("cookie", "host", "content-length")}
    hops = 0
    while response.status in _REDIRECT_STATUSES and response.headers.get("location") and hops < _MAX_REDIRECTS:
        target = urljoin(url, response.headers["location"])
        reason = await policy.averdict(target)
        if reason is not None:
            refused(request, target, reason, url)
            await route.abort("blockedbyclient")
            return
        if response.status == 303 or (response.status in (301, 302) and method == "POST"):
            method, body = ("HEAD" if method == "HEAD" else "GET"), None
            headers.pop("content-type", None)
        try:
            response = await context.request.fetch(
                target, method=method, headers=headers, data=body, max_redirects=0, timeout=timeout_ms
            )
        except PlaywrightError:
            break  # the browser will meet the same failure and report it
        url, hops = target, hops + 1
    if hops == 0:
        await route.fulfill(response=first)
    else:
        await route.fulfill(response=first, headers={**first.headers, "location": url})
