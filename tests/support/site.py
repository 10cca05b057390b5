"""The fixture site: the files of ``tests/site/`` and a few dynamic routes, served by a small Starlette
app that uvicorn runs in a background thread; tests add routes of their own.

    with serve_site() as site:
        site.url("forms.html")                    # http://127.0.0.1:<port>/forms.html
        site.hits["/counter"]                     # requests for that path so far (query ignored)
        site.set_route("/teapot", lambda request: Response(status_code=418))
        site.set_redirect("/old", "/forms.html")
        site.reset()                              # the ``site`` fixture does this after each test

Built-in routes
---------------
``GET /slow?ms=N&type=html|text|js|img``  answer after N ms (at most 30 000); other requests go on meanwhile.
``GET /redirect?to=X``                   302 to X.
``GET|POST /status/<code>``              that status, body "Status <code>".
``GET /download/report.csv``             ``report.csv`` as an attachment.
``POST /login``                          form login (``VALID_EMAIL`` / ``VALID_PASSWORD``): sets the auth cookie.
``GET /logout``                          clears the auth cookie, 303 to /login.html.
``GET /account``, ``GET /products?q=&page=``  need the auth cookie; ``PRODUCTS``, ``PAGE_SIZE`` to a page.
``GET /echo-headers``                    the request headers as JSON (lower-case names).
``GET /counter``                         a page saying how many times /counter was asked for.
Anything else is a file of ``tests/site/`` (``/`` is ``index.html``). Nothing is answered from a cache.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import html
import inspect
import math
import secrets
import socket
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

__all__ = ["PAGE_SIZE", "PRODUCTS", "SITE_DIR", "VALID_EMAIL", "VALID_PASSWORD", "FixtureSite", "serve_site"]

SITE_DIR = Path(__file__).resolve().parents[1] / "site"
VALID_EMAIL = "ada@example.com"
VALID_PASSWORD = "correct horse battery staple"
AUTH_COOKIE = "auth"
PAGE_SIZE = 10
SLOW_CAP_MS = 30_000

Handler = Callable[[Request], Response | Awaitable[Response]]


def _catalogue() -> list[tuple[str, str]]:
    colors = ["Blue", "Red", "Green", "Yellow", "Black", "White", "Silver", "Golden", "Purple", "Orange"]
    nouns = ["Widget", "Gadget", "Gizmo", "Sprocket", "Doohickey", "Lamp"]
    products = []
    for i, (noun, color) in enumerate((n, c) for n in nouns for c in colors):
        cents = 499 + (i * 1237) % 9500  # deterministic, 4.99 .. 99.98, rounded up to quarter dollars
        cents = cents - cents % 25 + 25 if cents % 25 else cents
        products.append((f"{color} {noun}", f"${cents // 100}.{cents % 100:02d}"))
    return products


#: The product catalogue: 60 ``(name, price)`` tuples, e.g. ``("Blue Widget", "$5.00")``.
PRODUCTS: list[tuple[str, str]] = _catalogue()


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n<link rel="stylesheet" href="/site.css">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _number(text: str | None, default: int) -> int:
    try:
        return int(float(text)) if text else default
    except ValueError:
        return default


# -- built-in routes --------------------------------------------------------------------------------


async def slow(request: Request) -> Response:
    ms = max(0, min(_number(request.query_params.get("ms"), 1000), SLOW_CAP_MS))
    deadline = time.monotonic() + ms / 1000
    while (left := deadline - time.monotonic()) > 0 and not request.app.state.site.closing:
        await asyncio.sleep(min(left, 0.1))  # an asyncio sleep: the other requests go on meanwhile
    kind = request.query_params.get("type", "html")
    if kind == "js":
        return Response("window.slowScriptLoaded = true;\n", media_type="text/javascript")
    if kind in ("img", "png", "image"):
        return FileResponse(SITE_DIR / "image.png")
    if kind == "text":
        return PlainTextResponse("slow done\n")
    return HTMLResponse(_page("Slow response", f"<h1>Slow response</h1><p>slow done</p><p>Waited {ms} ms</p>"))


async def redirect(request: Request) -> Response:
    return RedirectResponse(request.query_params.get("to") or "/index.html", status_code=302)


async def status(request: Request) -> Response:
    code: int = request.path_params["code"]
    if not 200 <= code <= 599:
        return HTMLResponse(_page("Not found", "<h1>Not found</h1>"), status_code=404)
    if code in (204, 304):
        return Response(status_code=code)
    return HTMLResponse(_page(f"Status {code}", f"<h1>Status {code}</h1>"), status_code=code)


async def download_report(request: Request) -> Response:
    return FileResponse(SITE_DIR / "report.csv", media_type="text/csv", filename="report.csv")


async def echo_headers(request: Request) -> Response:
    return JSONResponse({name: ", ".join(request.headers.getlist(name)) for name in request.headers})


async def counter(request: Request) -> Response:
    count = request.app.state.site.hits["/counter"]
    return HTMLResponse(_page("Counter", f'<h1>Counter</h1><p>Count: <span id="count">{count}</span></p>'))


async def login(request: Request) -> Response:
    form = await request.form()
    email, password = str(form.get("email", "")).strip(), str(form.get("password", ""))
    if email.lower() != VALID_EMAIL or password != VALID_PASSWORD:
        page = (SITE_DIR / "login.html").read_text("utf-8")
        page = page.replace("<!--LOGIN_ERROR-->", '<p id="login-error" class="error" role="alert">Invalid email or password</p>')
        return HTMLResponse(page.replace('name="email" value=""', f'name="email" value="{html.escape(email)}"'))
    token = secrets.token_hex(16)
    request.app.state.site.tokens.add(token)
    response = RedirectResponse("/account", status_code=303)
    response.set_cookie(AUTH_COOKIE, token, path="/", httponly=True, samesite="lax")
    return response


async def logout(request: Request) -> Response:
    response = RedirectResponse("/login.html", status_code=303)
    response.delete_cookie(AUTH_COOKIE, path="/", httponly=True, samesite="lax")
    return response


def _signed_in(request: Request) -> bool:
    return request.cookies.get(AUTH_COOKIE) in request.app.state.site.tokens


async def account(request: Request) -> Response:
    if not _signed_in(request):
        return RedirectResponse("/login.html", status_code=303)
    return HTMLResponse(
        _page(
            "Account",
            (
                "<header><h1>Your account</h1></header>\n<main>\n"
                '<p id="welcome">Welcome, Ada</p>\n<p>Signed in as ada@example.com.</p>\n'
                '<nav aria-label="Account"><ul>\n<li><a href="/products">Products</a></li>\n'
                '<li><a href="/logout">Sign out</a></li>\n</ul></nav>\n</main>'
            ),
        )
    )


async def products(request: Request) -> Response:
    if not _signed_in(request):
        return RedirectResponse("/login.html", status_code=303)
    q = request.query_params.get("q", "").strip()
    matches = [p for p in PRODUCTS if q.lower() in p[0].lower()]
    pages = max(1, math.ceil(len(matches) / PAGE_SIZE))
    page = min(max(_number(request.query_params.get("page"), 1), 1), pages)
    shown = matches[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]

    def link(p: int) -> str:
        return html.escape("/products?" + urllib.parse.urlencode({"q": q, "page": p} if q else {"page": p}))

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
        parts.append('<thead><tr><th scope="col">Name</th><th scope="col">Price</th></tr></thead>\n<tbody>')
        parts += [f'<tr><td class="name">{html.escape(name)}</td><td class="price">{price}</td></tr>' for name, price in shown]
        parts.append("</tbody>\n</table>")
    else:
        parts.append('<p id="no-results">No products found</p>')
    parts.append('<nav aria-label="Pagination" class="pagination">')
    if page > 1:
        parts.append(f'<a href="{link(page - 1)}" rel="prev">Previous</a>')
    parts.append(f'<span id="page-info">Page {page} of {pages}</span>')
    if page < pages:
        parts.append(f'<a href="{link(page + 1)}" rel="next">Next</a>')
    parts.append("</nav>\n</main>")
    return HTMLResponse(_page("Products" + (f" - {q}" if q else ""), "\n".join(parts)))


ROUTES = [
    Route("/slow", slow),
    Route("/redirect", redirect),
    Route("/status/{code:int}", status, methods=["GET", "POST"]),
    Route("/download/report.csv", download_report),
    Route("/echo-headers", echo_headers),
    Route("/counter", counter),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout),
    Route("/account", account),
    Route("/products", products),
    Mount("/", StaticFiles(directory=SITE_DIR, html=True)),
]


# -- the server -------------------------------------------------------------------------------------


class FixtureSite:
    """The running site (start it with :func:`serve_site`): an ASGI app that counts every request, answers
    from the routes a test set if one matches, and from the built-in routes otherwise."""

    def __init__(self) -> None:
        self.hits: collections.Counter[str] = collections.Counter()
        self.tokens: set[str] = set()  # auth cookies handed out by /login
        self.closing = False  # ends the waits of /slow
        self._routes: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._app = Starlette(routes=ROUTES)
        self._app.state.site = self
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self, log_config=None, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=5
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="fixture-site", daemon=True
        )

    def url(self, path: str = "") -> str:
        """``url("forms.html")`` → ``base_url + "/forms.html"``."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def set_route(self, path: str, handler: Handler) -> None:
        """Answer ``path`` (any method) with ``handler(request)``, sync or async, until :meth:`reset`."""
        self._routes[path] = handler

    def set_redirect(self, from_path: str, to: str) -> None:
        """Answer ``from_path`` with a 302 to ``to``, until :meth:`reset`."""
        self.set_route(from_path, lambda _request: RedirectResponse(to, status_code=302))

    def reset(self) -> None:
        """Forget the routes tests set and the hits counted so far."""
        self._routes.clear()
        with self._lock:
            self.hits.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self._lock:
            self.hits[scope["path"]] += 1

        async def send_uncached(message: Message) -> None:
            # no-cache without validators: a browser asks again for everything and always gets a 200, so
            # hits count every load. (With no-store, Chromium never reports a fetch whose body the page
            # leaves unread as finished, and the session's network log would miss it.)
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k not in (b"etag", b"last-modified")]
                message["headers"] = [*headers, (b"cache-control", b"no-cache")]
            await send(message)

        handler = self._routes.get(scope["path"])
        if handler is None:
            await self._app(scope, receive, send_uncached)
            return
        response = handler(Request(scope, receive))
        if inspect.isawaitable(response):
            response = await response
        await response(scope, receive, send_uncached)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the fixture site did not start on port {self.port}")
            time.sleep(0.01)

    def close(self) -> None:
        """Stop; a /slow request in flight is answered at once."""
        self.closing = self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __repr__(self) -> str:
        return f"FixtureSite({self.base_url!r})"


@contextlib.contextmanager
def serve_site() -> Iterator[FixtureSite]:
    """Run the fixture site on a free port of 127.0.0.1 for the ``with`` block."""
    site = FixtureSite()
    site.start()
    try:
        yield site
    finally:
        site.close()
