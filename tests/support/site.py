"""Local fixture website for browser tests.

A small threaded HTTP server (standard library only) that serves the static
pages in ``tests/site/`` plus a handful of dynamic routes (slow responses,
redirects, arbitrary status codes, downloads, a cookie-based login flow and a
paginated product search).

Usage::

    from tests.support.site import start_site

    with start_site() as site:
        site.url("forms.html")        # -> "http://127.0.0.1:<port>/forms.html"
        site.hits["/forms.html"]      # requests seen for that path

Dynamic routes
--------------
``GET /slow?ms=N&type=html|text|js|img``  sleep N ms (capped at 30 000), then answer.
``GET /redirect?to=X``                   302 to X.
``GET /redirect-chain?n=N``              N redirect responses in total, the last one to /index.html.
``GET /status/<code>``                   that status, body "Status <code>".
``GET /download/report.csv``             CSV served as an attachment.
``GET /data.json`` ``/plain.txt`` ``/doc.pdf`` ``/image.png``  typed resources.
``POST /login``                          form login (ada@example.com / correct horse battery staple).
``GET /logout``                          clears the auth cookie, 303 to /login.html.
``GET /account``                         needs the auth cookie.
``GET /products?q=&page=``               needs the auth cookie; 10 products per page.
``GET /echo-headers``                    request headers as JSON (lower-case names).
``GET /counter``                         HTML page with the number of /counter hits so far.
Anything else maps to a file in ``tests/site/`` (also reachable under ``/site/...``).
"""

from __future__ import annotations

import collections
import html
import json
import math
import secrets
import socket
import struct
import sys
import threading
import traceback
import urllib.parse
import zlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = [
    "FixtureSite",
    "start_site",
    "SITE_DIR",
    "VALID_EMAIL",
    "VALID_PASSWORD",
    "PRODUCTS",
    "PAGE_SIZE",
    "AUTH_COOKIE",
]

SITE_DIR = Path(__file__).resolve().parents[1] / "site"

VALID_EMAIL = "ada@example.com"
VALID_PASSWORD = "correct horse battery staple"
AUTH_COOKIE = "auth"
PAGE_SIZE = 10
SLOW_CAP_MS = 30_000

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".pdf": "application/pdf",
}

_DISCONNECT_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


# ---------------------------------------------------------------------------
# Deterministic content
# ---------------------------------------------------------------------------

_COLORS = ["Blue", "Red", "Green", "Yellow", "Black", "White", "Silver", "Golden", "Purple", "Orange"]
_NOUNS = ["Widget", "Gadget", "Gizmo", "Sprocket", "Doohickey", "Lamp"]


def _build_catalogue() -> list[tuple[str, str]]:
    products = []
    i = 0
    for noun in _NOUNS:
        for color in _COLORS:
            cents = 499 + (i * 1237) % 9500  # deterministic, 4.99 .. 99.98
            cents = cents - cents % 25 + 25 if cents % 25 else cents  # round to quarter dollars
            products.append((f"{color} {noun}", f"${cents // 100}.{cents % 100:02d}"))
            i += 1
    return products


#: The product catalogue: 60 ``(name, price)`` tuples, e.g. ``("Blue Widget", "$5.00")``.
PRODUCTS: list[tuple[str, str]] = _build_catalogue()


def _png_bytes(width: int = 16, height: int = 16) -> bytes:
    """A small valid RGB PNG (a blue/orange checkerboard)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows.extend((30, 90, 200) if (x // 4 + y // 4) % 2 == 0 else (240, 150, 30))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b"")


def _pdf_bytes() -> bytes:
    """A tiny valid one-page PDF saying "Fixture PDF document" (correct xref offsets)."""
    stream = b"BT /F1 24 Tf 72 720 Td (Fixture PDF document) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{num} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode()
    out += b"0000000000 65535 f \n"
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n".encode()
    return bytes(out)


PNG_BYTES = _png_bytes()
PDF_BYTES = _pdf_bytes()

REPORT_CSV = (
    "id,name,amount\r\n"
    "1,Ada Lovelace,120.50\r\n"
    "2,Alan Turing,99.00\r\n"
    "3,Grace Hopper,42.75\r\n"
)

DATA_JSON = {
    "name": "thinkrun fixture",
    "version": 1,
    "items": [
        {"id": 1, "title": "First item", "tags": ["alpha", "beta"]},
        {"id": 2, "title": "Second item", "tags": []},
        {"id": 3, "title": "Third item", "tags": ["gamma"]},
    ],
    "nested": {"ok": True, "value": None, "ratio": 0.5},
}

PLAIN_TEXT = "Plain text fixture.\nSecond line of plain text.\n"

_HEAD = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    '<link rel="icon" href="data:,">\n<link rel="stylesheet" href="/site.css">\n'
    "<title>{title}</title>\n</head>\n<body>\n"
)
_FOOT = "\n</body>\n</html>\n"


def _page(title: str, body: str) -> str:
    return _HEAD.format(title=html.escape(title)) + body + _FOOT


# ---------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], site: "FixtureSite") -> None:
        self.site = site
        self.stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(addr, _Handler)

    # Track live connections so close() can cut keep-alive / in-flight ones.
    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, *_DISCONNECT_ERRORS)) or self.stopping.is_set():
            return
        traceback.print_exc(file=sys.stderr)  # a real bug in the handler: keep it visible (stderr only)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FixtureSite/1.0"
    sys_version = ""
    server: _Server

    # -- plumbing ---------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence access log
        return

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def handle(self) -> None:
        try:
            super().handle()
        except _DISCONNECT_ERRORS:
            self.close_connection = True
        except OSError:
            self.close_connection = True

    def _parsed(self) -> tuple[str, dict[str, str]]:
        parsed = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parsed.path) or "/"
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        return path, query

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        status: int,
        body: bytes | str = b"",
        content_type: str = "text/html; charset=utf-8",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        if isinstance(body, str):
            body = body.encode("utf-8")
        no_body_status = status in (204, 304) or status < 200
        if no_body_status:
            body = b""
        self.send_response(status)
        if not no_body_status:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        for name, value in headers or []:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _redirect(self, location: str, status: int = 302, headers: list[tuple[str, str]] | None = None) -> None:
        body = _page("Redirect", f'<p>Redirecting to <a href="{html.escape(location)}">{html.escape(location)}</a></p>')
        self._send(status, body, headers=[("Location", location), *(headers or [])])

    def _not_found(self) -> None:
        self._send(404, _page("Not found", "<h1>Not found</h1><p>Status 404</p>"))

    def _authed(self) -> bool:
        raw = self.headers.get("Cookie")
        if not raw:
            return False
        for part in raw.split(";"):
            name, _, value = part.strip().partition("=")
            if name == AUTH_COOKIE and value in self.server.site._tokens:
                return True
        return False

    # -- dispatch -----------------------------------------------------------

    def do_GET(self) -> None:
        path, query = self._parsed()
        self.server.site._hit(path)
        self._read_body()
        route = _GET_ROUTES.get(path)
        if route is not None:
            route(self, query)
        elif path.startswith("/status/"):
            self._status(path[len("/status/"):])
        else:
            self._static(path)

    do_HEAD = do_GET

    def do_POST(self) -> None:
        path, query = self._parsed()
        self.server.site._hit(path)
        body = self._read_body()
        if path == "/login":
            self._login(body)
        elif path.startswith("/status/"):
            self._status(path[len("/status/"):])
        else:
            self._send(405, _page("Method not allowed", "<h1>Method not allowed</h1>"), headers=[("Allow", "GET, HEAD")])

    # -- routes ---------------------------------------------------------------

    def _static(self, path: str) -> None:
        rel = path[len("/site/"):] if path.startswith("/site/") else path.lstrip("/")
        if rel in ("", "site", "site/"):
            rel = "index.html"
        root = SITE_DIR
        target = (root / rel).resolve()
        if target.is_dir():
            target = target / "index.html"
        if root not in target.parents or not target.is_file():
            self._not_found()
            return
        ctype = _CONTENT_TYPES.get(target.suffix.lower(), "application/octet-stream")
        self._send(200, target.read_bytes(), ctype)

    def _slow(self, query: dict[str, str]) -> None:
        try:
            ms = int(float(query.get("ms", "1000")))
        except ValueError:
            ms = 1000
        ms = max(0, min(ms, SLOW_CAP_MS))
        if self.server.stopping.wait(ms / 1000):
            self.close_connection = True
            return
        kind = query.get("type", "html")
        if kind == "js":
            self._send(200, "window.slowScriptLoaded = true;\n", "text/javascript; charset=utf-8")
        elif kind in ("img", "png", "image"):
            self._send(200, PNG_BYTES, "image/png")
        elif kind == "text":
            self._send(200, "slow done\n", "text/plain; charset=utf-8")
        else:
            self._send(200, _page("Slow response", f"<h1>Slow response</h1><p>slow done</p><p>Waited {ms} ms</p>"))

    def _redirect_route(self, query: dict[str, str]) -> None:
        target = (query.get("to") or "/index.html").replace("\r", "").replace("\n", "")
        self._redirect(target, 302)

    def _redirect_chain(self, query: dict[str, str]) -> None:
        try:
            n = int(query.get("n", "3"))
        except ValueError:
            n = 3
        if n > 1:
            self._redirect(f"/redirect-chain?n={n - 1}", 302)
        else:
            self._redirect("/index.html", 302)

    def _status(self, code_text: str) -> None:
        try:
            code = int(code_text)
        except ValueError:
            self._not_found()
            return
        if not 200 <= code <= 599:
            self._not_found()
            return
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = ""
        body = _page(f"Status {code}", f"<h1>Status {code}</h1><p>{html.escape(phrase)}</p>")
        self._send(code, body)

    def _download_report(self, query: dict[str, str]) -> None:
        self._send(
            200,
            REPORT_CSV,
            "text/csv; charset=utf-8",
            headers=[("Content-Disposition", 'attachment; filename="report.csv"')],
        )

    def _data_json(self, query: dict[str, str]) -> None:
        self._send(200, json.dumps(DATA_JSON, indent=2), "application/json")

    def _plain(self, query: dict[str, str]) -> None:
        self._send(200, PLAIN_TEXT, "text/plain; charset=utf-8")

    def _pdf(self, query: dict[str, str]) -> None:
        self._send(200, PDF_BYTES, "application/pdf")

    def _png(self, query: dict[str, str]) -> None:
        self._send(200, PNG_BYTES, "image/png")

    def _echo_headers(self, query: dict[str, str]) -> None:
        data: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            data[key] = f"{data[key]}, {value}" if key in data else value
        self._send(200, json.dumps(data, indent=2, sort_keys=True), "application/json")

    def _counter(self, query: dict[str, str]) -> None:
        count = self.server.site.hits["/counter"]
        body = _page("Counter", f'<h1>Counter</h1><p>Count: <span id="count">{count}</span></p>')
        self._send(200, body)

    def _login(self, body: bytes) -> None:
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        email = form.get("email", "").strip()
        password = form.get("password", "")
        if email.lower() == VALID_EMAIL and password == VALID_PASSWORD:
            token = secrets.token_hex(16)
            self.server.site._tokens.add(token)
            self._redirect(
                "/account",
                303,
                headers=[("Set-Cookie", f"{AUTH_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax")],
            )
            return
        self._send(200, _login_page(error="Invalid email or password", email=email))

    def _logout(self, query: dict[str, str]) -> None:
        self._redirect(
            "/login.html",
            303,
            headers=[("Set-Cookie", f"{AUTH_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")],
        )

    def _account(self, query: dict[str, str]) -> None:
        if not self._authed():
            self._redirect("/login.html", 303)
            return
        body = (
            "<header><h1>Your account</h1></header>\n<main>\n"
            "<p id=\"welcome\">Welcome, Ada</p>\n"
            "<p>Signed in as ada@example.com.</p>\n"
            "<nav aria-label=\"Account\"><ul>\n"
            '<li><a href="/products">Products</a></li>\n'
            '<li><a href="/logout">Sign out</a></li>\n'
            "</ul></nav>\n</main>"
        )
        self._send(200, _page("Account", body))

    def _products(self, query: dict[str, str]) -> None:
        if not self._authed():
            self._redirect("/login.html", 303)
            return
        q = query.get("q", "").strip()
        matches = [p for p in PRODUCTS if q.lower() in p[0].lower()]
        pages = max(1, math.ceil(len(matches) / PAGE_SIZE))
        try:
            page = int(query.get("page", "1"))
        except ValueError:
            page = 1
        page = min(max(page, 1), pages)
        shown = matches[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]

        def link(p: int) -> str:
            params = {"page": str(p)}
            if q:
                params = {"q": q, "page": str(p)}
            return "/products?" + urllib.parse.urlencode(params)

        parts = [
            "<header><h1>Products</h1>",
            '<nav aria-label="Account"><a href="/account">Account</a> | <a href="/logout">Sign out</a></nav></header>',
            "<main>",
            '<form role="search" method="get" action="/products">',
            '<label for="q">Search products</label>',
            f'<input type="search" id="q" name="q" value="{html.escape(q)}">',
            '<button type="submit">Search</button>',
            "</form>",
            f'<p id="summary">{len(matches)} result{"" if len(matches) == 1 else "s"}'
            + (f" for &quot;{html.escape(q)}&quot;" if q else "")
            + "</p>",
        ]
        if shown:
            parts.append('<table id="products">\n<caption>Products</caption>')
            parts.append("<thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Price</th></tr></thead>\n<tbody>")
            for name, price in shown:
                parts.append(f'<tr><td class="name">{html.escape(name)}</td><td class="price">{price}</td></tr>')
            parts.append("</tbody>\n</table>")
        else:
            parts.append('<p id="no-results">No products found</p>')
        parts.append('<nav aria-label="Pagination" class="pagination">')
        if page > 1:
            parts.append(f'<a href="{html.escape(link(page - 1))}" rel="prev">Previous</a>')
        parts.append(f'<span id="page-info">Page {page} of {pages}</span>')
        if page < pages:
            parts.append(f'<a href="{html.escape(link(page + 1))}" rel="next">Next</a>')
        parts.append("</nav>\n</main>")
        self._send(200, _page("Products" + (f" - {q}" if q else ""), "\n".join(parts)))


def _login_page(error: str = "", email: str = "") -> str:
    """Render login.html, optionally with an error message and a pre-filled email."""
    text = (SITE_DIR / "login.html").read_text("utf-8")
    if error:
        text = text.replace(
            "<!--LOGIN_ERROR-->",
            f'<p id="login-error" class="error" role="alert">{html.escape(error)}</p>',
        )
    if email:
        text = text.replace('name="email" value=""', f'name="email" value="{html.escape(email)}"')
    return text


_GET_ROUTES = {
    "/slow": _Handler._slow,
    "/redirect": _Handler._redirect_route,
    "/redirect-chain": _Handler._redirect_chain,
    "/download/report.csv": _Handler._download_report,
    "/data.json": _Handler._data_json,
    "/plain.txt": _Handler._plain,
    "/doc.pdf": _Handler._pdf,
    "/image.png": _Handler._png,
    "/echo-headers": _Handler._echo_headers,
    "/counter": _Handler._counter,
    "/account": _Handler._account,
    "/products": _Handler._products,
    "/logout": _Handler._logout,
}


class FixtureSite:
    """A running fixture server. Create it with :func:`start_site`."""

    base_url: str
    hits: collections.Counter[str]

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.hits = collections.Counter()
        self._hits_lock = threading.Lock()
        self._tokens: set[str] = set()
        self._server = _Server((host, port), self)
        bound_host, bound_port = self._server.server_address[:2]
        self.host = host
        self.port = int(bound_port)
        self.base_url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fixture-site-{self.port}",
            daemon=True,
        )
        self._closed = False
        self._thread.start()

    def url(self, path: str = "") -> str:
        """``url("forms.html")`` -> ``base_url + "/forms.html"``; absolute URLs are returned unchanged."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _hit(self, path: str) -> None:
        with self._hits_lock:
            self.hits[path] += 1

    def reset_hits(self) -> None:
        with self._hits_lock:
            self.hits.clear()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._server.stopping.set()  # wakes /slow sleepers
        self._server.shutdown()  # stops serve_forever (poll interval 50 ms)
        self._server.server_close()
        self._server.close_connections()  # cut keep-alive and in-flight connections
        self._thread.join(timeout=5)

    def __enter__(self) -> "FixtureSite":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FixtureSite({self.base_url!r})"


def start_site(host: str = "127.0.0.1", port: int = 0) -> FixtureSite:
    """Start the fixture site in a daemon thread; returns once the socket is listening."""
    return FixtureSite(host, port)


if __name__ == "__main__":  # pragma: no cover - manual use: python -m tests.support.site [port]
    import time

    site = start_site(port=int(sys.argv[1]) if len(sys.argv) > 1 else 8765)
    print(f"Serving {SITE_DIR} at {site.base_url}", file=sys.stderr)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        site.close()
