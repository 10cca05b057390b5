"""What the rest of the suite relies on in the fixture site (its pages and routes are exercised by the
browser tests): hits per path, per-test routes, no answers from a cache, slow answers that block nothing."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from email.message import Message

from starlette.responses import PlainTextResponse

from tests.support.site import SITE_DIR, FixtureSite, serve_site


def fetch(url: str) -> tuple[int, Message, bytes]:
    """``(status, headers, body)`` of a GET, without following redirects or raising on errors."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object) -> None:
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(url, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, e.read()


def test_files_of_the_site_folder_are_served_and_never_from_a_cache(site: FixtureSite) -> None:
    status, headers, body = fetch(site.url("/"))

    assert status == 200 and body == (SITE_DIR / "index.html").read_bytes()
    assert headers["content-type"] == "text/html; charset=utf-8"
    # A browser asks again each time and cannot get a 304: hits count every load, statuses stay 200.
    assert headers["cache-control"] == "no-cache" and "etag" not in headers and "last-modified" not in headers


def test_hits_are_counted_per_path_whatever_the_query_and_reset_forgets_them(site: FixtureSite) -> None:
    for path in ("plain.txt", "plain.txt?x=1", "counter"):
        fetch(site.url(path))

    assert (site.hits["/plain.txt"], site.hits["/counter"]) == (2, 1)
    assert b'<span id="count">2</span>' in fetch(site.url("counter"))[2]
    site.reset()
    assert sum(site.hits.values()) == 0


def test_routes_set_by_a_test_answer_until_reset(site: FixtureSite) -> None:
    site.set_route("/teapot", lambda request: PlainTextResponse("short and stout", status_code=418))
    site.set_redirect("/old", "/forms.html")

    assert fetch(site.url("teapot"))[::2] == (418, b"short and stout")
    status, headers, _ = fetch(site.url("old"))
    assert (status, headers["location"]) == (302, "/forms.html")
    site.reset()
    assert fetch(site.url("teapot"))[0] == 404


def test_a_slow_answer_holds_up_neither_other_requests_nor_closing() -> None:
    with ThreadPoolExecutor(1) as pool, serve_site() as site:
        slow = pool.submit(fetch, site.url("slow?ms=30000&type=text"))
        while site.hits["/slow"] == 0:
            assert not slow.done(), slow.result()
            time.sleep(0.01)
        assert fetch(site.url("plain.txt"))[0] == 200
        assert not slow.done()
    assert slow.result()[::2] == (200, b"slow done\n")  # answered when the site closed


def test_pages_have_no_external_resources() -> None:
    # Other host names of this same server (*.localhost, see cross-host.html) are not external.
    pattern = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//(?![a-z0-9.-]*localhost[:"'/])""", re.I)
    for path in SITE_DIR.glob("*.html"):
        assert not pattern.search(path.read_text("utf-8")), path.name
