"""Self-tests for the fixture web server (no browser; urllib only)."""

from __future__ import annotations

import http.cookiejar
import json
import math
import re
import struct
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

import pytest

from tests.support.site import PAGE_SIZE, PRODUCTS, SITE_DIR, VALID_EMAIL, VALID_PASSWORD, FixtureSite, start_site


@pytest.fixture(scope="module")
def site():
    with start_site() as s:
        yield s


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401
        return None


_no_redirect_opener = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, *, data: bytes | None = None, headers: dict | None = None, follow: bool = False, opener=None):
    """Return (status, headers, body) without raising on HTTP errors."""
    req = urllib.request.Request(url, data=data, headers=headers or {})
    op = opener or (urllib.request.build_opener() if follow else _no_redirect_opener)
    try:
        with op.open(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, e.read()


def login_opener(site: FixtureSite, email: str = VALID_EMAIL, password: str = VALID_PASSWORD):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    body = urllib.parse.urlencode({"email": email, "password": password}).encode()
    status, headers, page = fetch(site.url("/login"), data=body, opener=opener)
    return opener, jar, status, page


def assert_content_length(headers, body: bytes) -> None:
    assert headers["Content-Length"] == str(len(body))


# --- basics -----------------------------------------------------------------


def test_base_url_and_url_helper(site):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", site.base_url)
    assert site.url("forms.html") == site.base_url + "/forms.html"
    assert site.url("/forms.html") == site.base_url + "/forms.html"


def test_index_links_to_every_page(site):
    status, headers, body = fetch(site.url("/"))
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert_content_length(headers, body)
    text = body.decode()
    for page in [
        "forms.html", "login.html", "long-list.html", "table.html", "iframes.html", "shadow.html",
        "dialogs.html", "popup.html", "download.html", "slow.html", "console.html", "scroll.html",
        "injection.html", "big.html",
    ]:
        assert f'href="{page}"' in text, page
        assert (SITE_DIR / page).is_file(), page


def test_static_files_and_site_prefix(site):
    status, headers, body = fetch(site.url("forms.html"))
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert_content_length(headers, body)
    assert body == (SITE_DIR / "forms.html").read_bytes()
    status2, _, body2 = fetch(site.url("site/forms.html"))
    assert status2 == 200 and body2 == body
    status3, headers3, _ = fetch(site.url("site.css"))
    assert status3 == 200 and headers3["Content-Type"].startswith("text/css")


def test_head_request_has_length_but_no_body(site):
    req = urllib.request.Request(site.url("index.html"), method="HEAD")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
        assert int(resp.headers["Content-Length"]) == len((SITE_DIR / "index.html").read_bytes())
        assert resp.read() == b""


def test_unknown_path_is_404(site):
    status, headers, body = fetch(site.url("no-such-page.html"))
    assert status == 404
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert_content_length(headers, body)
    assert b"Not found" in body


def test_path_traversal_is_404(site):
    status, _, _ = fetch(site.url("/../site_server.py"))
    assert status == 404
    status, _, _ = fetch(site.url("/%2e%2e/site_server.py"))
    assert status == 404


def test_post_to_static_path_is_405(site):
    status, headers, _ = fetch(site.url("forms.html"), data=b"x=1")
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"


# --- hits -------------------------------------------------------------------------


def test_hits_are_counted_per_path_without_query(site):
    site.reset_hits()
    assert site.hits["/plain.txt"] == 0
    fetch(site.url("plain.txt"))
    fetch(site.url("plain.txt?x=1"))
    fetch(site.url("forms.html"))
    assert site.hits["/plain.txt"] == 2
    assert site.hits["/forms.html"] == 1
    site.reset_hits()
    assert site.hits["/plain.txt"] == 0
    assert sum(site.hits.values()) == 0


def test_hits_are_thread_safe(site):
    site.reset_hits()

    def worker():
        for _ in range(10):
            fetch(site.url("plain.txt"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert site.hits["/plain.txt"] == 80


def test_counter_reports_hits_so_far(site):
    site.reset_hits()
    _, headers, first = fetch(site.url("counter"))
    _, _, second = fetch(site.url("counter?bust=1"))
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<span id="count">1</span>' in first.decode()
    assert '<span id="count">2</span>' in second.decode()
    assert site.hits["/counter"] == 2


# --- slow ------------------------------------------------------------------------


def test_slow_default_html(site):
    t0 = time.monotonic()
    status, headers, body = fetch(site.url("slow?ms=300"))
    elapsed = time.monotonic() - t0
    assert status == 200
    assert 0.28 <= elapsed < 3
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert_content_length(headers, body)
    assert b"slow done" in body


@pytest.mark.parametrize(
    "kind, ctype, check",
    [
        ("js", "text/javascript; charset=utf-8", lambda b: b == b"window.slowScriptLoaded = true;\n"),
        ("img", "image/png", lambda b: b.startswith(b"\x89PNG\r\n\x1a\n")),
        ("text", "text/plain; charset=utf-8", lambda b: b == b"slow done\n"),
        ("html", "text/html; charset=utf-8", lambda b: b"slow done" in b),
    ],
)
def test_slow_types(site, kind, ctype, check):
    status, headers, body = fetch(site.url(f"slow?ms=10&type={kind}"))
    assert status == 200
    assert headers["Content-Type"] == ctype
    assert_content_length(headers, body)
    assert check(body)


def test_slow_requests_run_concurrently(site):
    results = []

    def worker():
        results.append(fetch(site.url("slow?ms=400&type=text"))[0])

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 5
    assert time.monotonic() - t0 < 1.5


def test_close_is_prompt_with_slow_request_in_flight():
    s = start_site()
    errors = []

    def worker():
        try:
            urllib.request.urlopen(s.url("slow?ms=30000"), timeout=20).read()
        except Exception as e:  # the connection is cut: any error is fine
            errors.append(e)

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    deadline = time.monotonic() + 5
    while s.hits["/slow"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert s.hits["/slow"] == 1
    t0 = time.monotonic()
    s.close()
    assert time.monotonic() - t0 < 1.0
    t.join(timeout=5)
    assert not t.is_alive()
    s.close()  # idempotent
    with pytest.raises(OSError):
        urllib.request.urlopen(s.url("index.html"), timeout=2)


def test_context_manager_closes():
    with start_site() as s:
        assert fetch(s.url("plain.txt"))[0] == 200
    with pytest.raises(OSError):
        urllib.request.urlopen(s.url("plain.txt"), timeout=2)


# --- redirects and status ----------------------------------------------------


def test_redirect(site):
    status, headers, body = fetch(site.url("redirect?to=/forms.html"))
    assert status == 302
    assert headers["Location"] == "/forms.html"
    assert_content_length(headers, body)
    status, _, body = fetch(site.url("redirect?to=/forms.html"), follow=True)
    assert status == 200
    assert b"<title>Forms</title>" in body


def test_redirect_to_absolute_url(site):
    target = site.url("plain.txt")
    status, headers, _ = fetch(site.url("redirect?" + urllib.parse.urlencode({"to": target})))
    assert status == 302
    assert headers["Location"] == target


def test_redirect_chain(site):
    site.reset_hits()
    hops = []
    url = site.url("redirect-chain?n=3")
    for _ in range(10):
        status, headers, _ = fetch(url)
        if status != 302:
            break
        hops.append(headers["Location"])
        url = urllib.parse.urljoin(url, headers["Location"])
    assert hops == ["/redirect-chain?n=2", "/redirect-chain?n=1", "/index.html"]
    assert status == 200
    assert site.hits["/redirect-chain"] == 3
    status, _, body = fetch(site.url("redirect-chain?n=3"), follow=True)
    assert status == 200 and b"<title>Fixture site</title>" in body


@pytest.mark.parametrize("code", [200, 201, 400, 403, 404, 418, 500, 503])
def test_status_codes(site, code):
    status, headers, body = fetch(site.url(f"status/{code}"))
    assert status == code
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert_content_length(headers, body)
    assert f"Status {code}".encode() in body


def test_status_204_has_no_body(site):
    status, headers, body = fetch(site.url("status/204"))
    assert status == 204
    assert body == b""
    assert headers["Content-Length"] == "0"


# --- typed resources ------------------------------------------------------------


def test_download_report_csv(site):
    status, headers, body = fetch(site.url("download/report.csv"))
    assert status == 200
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Content-Disposition"] == 'attachment; filename="report.csv"'
    assert_content_length(headers, body)
    lines = body.decode().splitlines()
    assert lines[0] == "id,name,amount"
    assert lines[1] == "1,Ada Lovelace,120.50"
    assert len(lines) == 4


def test_data_json(site):
    status, headers, body = fetch(site.url("data.json"))
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert_content_length(headers, body)
    data = json.loads(body)
    assert data["name"] == "thinkrun fixture"
    assert [item["id"] for item in data["items"]] == [1, 2, 3]


def test_plain_text(site):
    status, headers, body = fetch(site.url("plain.txt"))
    assert status == 200
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert body == b"Plain text fixture.\nSecond line of plain text.\n"


def test_pdf_is_valid(site):
    status, headers, body = fetch(site.url("doc.pdf"))
    assert status == 200
    assert headers["Content-Type"] == "application/pdf"
    assert_content_length(headers, body)
    assert body.startswith(b"%PDF-1.4")
    assert body.rstrip().endswith(b"%%EOF")
    assert b"Fixture PDF document" in body
    # startxref must point at the xref table, and every xref offset at its object.
    startxref = int(re.search(rb"startxref\n(\d+)\n", body).group(1))
    assert body[startxref:].startswith(b"xref\n")
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n ", body)]
    assert len(offsets) == 5
    for num, off in enumerate(offsets, start=1):
        assert body[off:].startswith(f"{num} 0 obj".encode())


def test_png_is_valid(site):
    status, headers, body = fetch(site.url("image.png"))
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert_content_length(headers, body)
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(body):
        (length,) = struct.unpack(">I", body[pos:pos + 4])
        tag = body[pos + 4:pos + 8]
        data = body[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", body[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + data) & 0xFFFFFFFF
        chunks.append((tag, data))
        pos += 12 + length
    assert [t for t, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert (width, height) == (16, 16)
    assert len(zlib.decompress(chunks[1][1])) == height * (1 + width * 3)


def test_echo_headers(site):
    status, headers, body = fetch(site.url("echo-headers"), headers={"User-Agent": "fixture-test/1.0", "X-Custom": "abc"})
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    data = json.loads(body)
    assert data["user-agent"] == "fixture-test/1.0"
    assert data["x-custom"] == "abc"
    assert data["host"] == site.base_url.removeprefix("http://")


# --- login / account / products -----------------------------------------------


def test_login_success_sets_httponly_cookie_and_redirects(site):
    body = urllib.parse.urlencode({"email": VALID_EMAIL, "password": VALID_PASSWORD}).encode()
    status, headers, _ = fetch(site.url("login"), data=body)
    assert status == 303
    assert headers["Location"] == "/account"
    cookie = headers["Set-Cookie"]
    assert re.match(r"auth=[0-9a-f]{32}; ", cookie)
    assert "HttpOnly" in cookie and "Path=/" in cookie


def test_login_follow_lands_on_account(site):
    opener, jar, status, page = login_opener(site)
    assert status == 200
    assert "Welcome, Ada" in page.decode()
    assert '<a href="/products">Products</a>' in page.decode()
    assert [c.name for c in jar] == ["auth"]


@pytest.mark.parametrize(
    "email, password",
    [(VALID_EMAIL, "wrong"), ("bob@example.com", VALID_PASSWORD), ("", "")],
)
def test_login_failure_rerenders_form(site, email, password):
    body = urllib.parse.urlencode({"email": email, "password": password}).encode()
    status, headers, page = fetch(site.url("login"), data=body)
    assert status == 200
    assert "Set-Cookie" not in headers
    text = page.decode()
    assert "Invalid email or password" in text
    assert 'action="/login"' in text
    assert "Sign in</button>" in text


def test_account_requires_cookie(site):
    status, headers, _ = fetch(site.url("account"))
    assert status == 303
    assert headers["Location"] == "/login.html"
    status, headers, _ = fetch(site.url("account"), headers={"Cookie": "auth=forged"})
    assert status == 303


def test_products_require_cookie(site):
    status, headers, _ = fetch(site.url("products?q=widget"))
    assert status == 303
    assert headers["Location"] == "/login.html"


def test_logout_clears_cookie(site):
    opener, jar, _, _ = login_opener(site)
    status, _, page = fetch(site.url("logout"), opener=opener)
    assert status == 200 and b"<title>Sign in</title>" in page
    status, _, page = fetch(site.url("account"), opener=opener)
    assert b"Welcome, Ada" not in page


def _rows(page: bytes) -> list[tuple[str, str]]:
    return re.findall(r'<td class="name">([^<]*)</td><td class="price">([^<]*)</td>', page.decode())


def test_products_catalogue_is_deterministic():
    assert len(PRODUCTS) == 60
    assert len({name for name, _ in PRODUCTS}) == 60
    assert ("Blue Widget", "$5.00") in PRODUCTS
    assert any(name == "Red Gadget" for name, _ in PRODUCTS)
    for _, price in PRODUCTS:
        assert re.fullmatch(r"\$\d+\.\d\d", price)


def test_products_pagination_math(site):
    opener, *_ = login_opener(site)
    status, headers, page = fetch(site.url("products"), opener=opener)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    text = page.decode()
    total_pages = math.ceil(len(PRODUCTS) / PAGE_SIZE)
    assert total_pages == 6
    assert f"Page 1 of {total_pages}" in text
    assert _rows(page) == PRODUCTS[:10]
    assert ">Previous</a>" not in text
    assert '<a href="/products?page=2" rel="next">Next</a>' in text
    assert '<label for="q">Search products</label>' in text and 'type="search"' in text
    assert '<button type="submit">Search</button>' in text
    assert "<th scope=\"col\">Name</th><th scope=\"col\">Price</th>" in text

    _, _, last = fetch(site.url("products?page=6"), opener=opener)
    assert "Page 6 of 6" in last.decode()
    assert _rows(last) == PRODUCTS[50:60]
    assert ">Next</a>" not in last.decode()
    assert '<a href="/products?page=5" rel="prev">Previous</a>' in last.decode()

    # Out of range pages are clamped.
    _, _, clamped = fetch(site.url("products?page=99"), opener=opener)
    assert "Page 6 of 6" in clamped.decode()
    _, _, clamped = fetch(site.url("products?page=abc"), opener=opener)
    assert "Page 1 of 6" in clamped.decode()


def test_products_search_is_case_insensitive_and_paginated(site):
    opener, *_ = login_opener(site)
    expected = [p for p in PRODUCTS if "widget" in p[0].lower()]
    assert len(expected) == 10
    _, _, page = fetch(site.url("products?q=WIDGET"), opener=opener)
    assert _rows(page) == expected
    assert "Page 1 of 1" in page.decode()
    assert "10 results" in page.decode()

    expected_blue = [p for p in PRODUCTS if "blue" in p[0].lower()]
    assert len(expected_blue) == 6
    _, _, page = fetch(site.url("products?q=blue"), opener=opener)
    assert _rows(page) == expected_blue

    # "e" matches many products: 2+ pages, and Next keeps the query.
    expected_e = [p for p in PRODUCTS if "e" in p[0].lower()]
    pages = math.ceil(len(expected_e) / PAGE_SIZE)
    _, _, page = fetch(site.url("products?q=e"), opener=opener)
    text = page.decode()
    assert f"Page 1 of {pages}" in text
    assert '<a href="/products?q=e&amp;page=2" rel="next">Next</a>' in text
    collected = []
    for n in range(1, pages + 1):
        _, _, p = fetch(site.url(f"products?q=e&page={n}"), opener=opener)
        collected += _rows(p)
    assert collected == expected_e


def test_products_no_results(site):
    opener, *_ = login_opener(site)
    _, _, page = fetch(site.url("products?q=zzz"), opener=opener)
    text = page.decode()
    assert "No products found" in text
    assert "Page 1 of 1" in text
    assert _rows(page) == []
    assert 'value="zzz"' in text


# --- static page content sanity -------------------------------------------------


def test_pages_have_no_external_resources():
    # Other host names of this same server (*.localhost, see cross-host.html) are not external.
    pattern = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//(?![a-z0-9.-]*localhost[:"'/])""", re.I)
    for path in SITE_DIR.glob("*.html"):
        assert not pattern.search(path.read_text("utf-8")), path.name


def test_long_list_and_table_sizes(site):
    _, _, body = fetch(site.url("long-list.html"))
    text = body.decode()
    assert text.count("<li>Item ") == 300
    assert "<li>Item 300</li>" in text
    assert text.count('href="long-list.html#category-') == 40
    _, _, body = fetch(site.url("table.html"))
    text = body.decode()
    assert "<caption>Customers</caption>" in text and "<thead>" in text
    assert text.count("<tr><td>") == 1000
