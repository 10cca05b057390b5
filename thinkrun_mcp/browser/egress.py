"""Egress: the one choke point between the browser and the network, where the URL policy is enforced.

Every browser context the server creates (sessions and page-cache lanes) gets a
:class:`Gate`: a listening socket of its own on the egress proxy, given to
Playwright as the context's proxy (``new_context(proxy=gate.proxy)``, with
``bypass="<-loopback>"`` so that loopback goes through it too). The proxy knows
from the port which context, hence which :class:`~.policy.UrlPolicy`, a
connection belongs to. Chromium sends everything a page does through it:
documents and every redirect hop, popups, subresources, fetch/XHR, WebSockets
(CONNECT), workers, pings, downloads. Launch flags (:data:`~.engine.LAUNCH_ARGS`)
keep WebRTC from sending UDP around it and QUIC off.

For each connection (:mod:`.proxy` speaks the HTTP) the egress (:meth:`Egress.judge`):

1. refuses the host name by the policy's domain rules, and a host written as a
   blocked address, without DNS;
2. resolves the host itself (an injectable :data:`Resolver`) and refuses if any
   address it gets is in a blocked network;
3. connects to exactly the addresses it checked, so a DNS answer that changes
   (rebinding) or a URL that another parser reads differently cannot change
   the outcome. A refused connection opens no TCP connection anywhere.

Refusals and connection failures are reported to the gate's owner (the session
or the lane) on the owner's event loop, so a tool answers ``url_blocked`` with
the real reason instead of Chromium's ``net::ERR_EMPTY_RESPONSE`` (a refused
plain-HTTP request is closed without an answer) or
``ERR_TUNNEL_CONNECTION_FAILED`` (a refused CONNECT gets a 403).

The proxy runs on an event loop in a thread of its own: relaying bytes never
waits for the MCP loop, and a busy tool call never stalls the browser's network.

Remote browsers. A browser on another machine cannot reach 127.0.0.1: with
``egress_host`` the proxy listens on that address instead, and each gate then
also asks for a username and password of its own (Playwright answers the 407
challenge; it intercepts every request to do so, which turns the browser's
HTTP cache off for those contexts). A remote browser on another machine
without ``egress_host`` gets the fallback: every request Playwright can route is
checked (with DNS) before it leaves, but redirect hops and the address really
connected to are not — ``doctor`` says so, and so does the log at start.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from ..config import Settings
from ..urls import is_loopback_host
from .errors import is_signal
from .policy import IPAddress, UrlPolicy, ip_of_host

__all__ = ["Egress", "EgressEvent", "EgressLog", "Gate", "Judgement", "Resolver", "system_resolver"]

log = logging.getLogger(__name__)

#: ``await resolver(host, port)`` → the addresses of a host name (never called for an address literal).
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
_LOCALHOST = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


@dataclass(frozen=True, slots=True)
class EgressEvent:
    """A connection the egress refused, or could not make, for one gate."""

    kind: Literal["refused", "failed"]
    target: str  # the URL of a plain HTTP request, host:port of a CONNECT tunnel
    host: str
    port: int
    reason: str  # why it was refused / what went wrong
    net_error: str | None = None  # failed: Chromium's name for it had the browser connected itself

    def matches(self, url: str) -> bool:
        """Whether a request for ``url`` went to this event's host and port (what a refusal depends on)."""
        try:
            parts = urlsplit(url)
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
        except ValueError:
            return False
        return (parts.hostname or "") == self.host.strip("[]").lower() and port == self.port


Report = Callable[[EgressEvent], None]


class EgressLog:
    """What the egress reported to one owner, newest last (bounded): explains the owner's failed loads."""

    def __init__(self, keep: int = 200):
        self._events: deque[tuple[float, EgressEvent]] = deque(maxlen=keep)

    def add(self, event: EgressEvent) -> None:
        self._events.append((time.monotonic(), event))

    def about(self, url: str, *, since: float) -> EgressEvent | None:
        """The newest event since ``since`` (monotonic) about the host and port of ``url``."""
        return next((e for t, e in reversed(self._events) if t >= since and e.matches(url)), None)

    def explain(self, failure: BaseException | str, *, since: float) -> tuple[str | None, str | None]:
        """For a load that failed with ``failure`` during work started at ``since``: (why the URL policy
        refused it, what the egress failed to reach), either ``None``. Only failures the egress causes count."""
        if not is_signal(failure, "egress_answer"):
            return None, None
        recent = [e for t, e in reversed(self._events) if t >= since]
        refused = next((e for e in recent if e.kind == "refused"), None)
        if refused is not None:
            return refused.reason, None
        failed = next((e for e in recent if e.kind == "failed"), None)
        return None, (f"{failed.net_error or 'net::ERR_CONNECTION_FAILED'} ({failed.reason})" if failed else None)


@dataclass(frozen=True, slots=True)
class Judgement:
    """The egress's decision on one destination: addresses to connect to, or why not."""

    addresses: tuple[IPAddress, ...] = ()
    refused: str | None = None
    failed: str | None = None
    net_error: str | None = None


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


async def system_resolver(host: str, port: int) -> Sequence[IPAddress]:
    """The host's addresses from the system resolver; ``localhost`` and ``*.localhost`` are loopback, as in browsers."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return _LOCALHOST
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: dict[IPAddress, None] = {}
    for info in infos:
        found.setdefault(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]), None)
    return tuple(found)


class Gate:
    """One context's way out: a port of the proxy, the context's rules, and who hears about refusals.

    ``proxy`` is the ``proxy=`` option of ``new_context`` (``None`` in the fallback, where the
    owner routes requests through :meth:`Egress.judge` itself). Close it with the context.
    """

    def __init__(self, egress: Egress, policy: Callable[[], UrlPolicy], report: Report):
        self.egress = egress
        self.policy = policy
        self.report = report
        self.port = 0
        self.username: str | None = None
        self.password: str | None = None
        self.admitted = 0  # connections and requests let through so far
        self.refused = 0
        self.proxied = False  # whether the owner's current context uses the proxy (else: the fallback)
        self.closed = False
        self._owner_loop = asyncio.get_running_loop()
        self.server: asyncio.AbstractServer | None = None
        self.tasks: set[asyncio.Task[Any]] = set()

    @property
    def proxy(self) -> dict[str, str] | None:
        if not self.port:
            return None
        address = f"[{self.egress.address}]" if ":" in self.egress.address else self.egress.address
        proxy = {"server": f"http://{address}:{self.port}", "bypass": "<-loopback>"}
        if self.username and self.password:
            proxy |= {"username": self.username, "password": self.password}
        return proxy

    def proxy_for(self, endpoint: str | None) -> dict[str, str] | None:
        """The ``proxy`` option of a context on ``endpoint`` (a URL; None: the local browser), or ``None``
        when that browser cannot reach the proxy and the owner must fall back to checking requests."""
        proxy = self.proxy if self.egress.serves(endpoint) else None
        self.proxied = proxy is not None
        return proxy

    def tell(self, event: EgressEvent) -> None:
        """Report ``event`` to the owner, on the owner's loop (called from the proxy's loop)."""
        if event.kind == "refused":
            self.refused += 1
        if self.closed:
            return
        try:
            self._owner_loop.call_soon_threadsafe(self._deliver, event)
        except RuntimeError:  # the owner's loop is closed: nobody to tell
            pass

    def _deliver(self, event: EgressEvent) -> None:
        try:
            self.report(event)
        except Exception:
            log.exception("egress report failed")

    def close(self) -> None:
        """Stop accepting and end this gate's open connections (idempotent, any thread)."""
        if not self.closed:
            self.closed = True
            self.egress.shut(self)


class Egress:
    """The egress proxy (or, for a remote browser it cannot serve, the fallback) for one runtime."""

    def __init__(self, settings: Settings, *, resolver: Resolver | None = None, own_thread: bool = True):
        self.settings = settings
        self.resolver = resolver or system_resolver
        self.connect_timeout = settings.navigation_timeout_ms / 1000
        endpoints = [e.url for e in settings.browser_endpoint] or [None]
        self._served = {e for e in endpoints if settings.egress_host or e is None or is_loopback_host(_host(e))}
        self._unserved = [e for e in settings.browser_endpoint if e.url not in self._served]
        # proxy: every browser reaches the proxy; route: none does (the fallback everywhere); mixed: some do.
        self.mode: Literal["proxy", "route", "mixed"] = (
            "proxy" if not self._unserved else "route" if not self._served else "mixed"
        )
        self.address = settings.egress_host or "127.0.0.1"
        self.require_auth = not is_loopback_host(self.address)
        self._own_thread = own_thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._gates: set[Gate] = set()
        self._ports: set[int] = set()

    def serves(self, endpoint: str | None) -> bool:
        """Whether a browser at ``endpoint`` (a URL; None: the local browser) reaches the proxy."""
        return self.mode == "proxy" or (self.mode == "mixed" and endpoint in self._served)

    def describe(self) -> str:
        """One line for ``doctor`` and the log: how the URL policy is enforced."""
        auth = ", a password per context" if self.require_auth else ""
        proxy = f"egress proxy on {self.address} (a port per browser context{auth}): every connection is checked"
        if self.mode == "proxy":
            return proxy
        unserved = ", ".join(e.shown for e in self._unserved) or "a remote browser"
        fallback = (
            f"request interception only for {unserved}, which cannot reach an egress proxy on 127.0.0.1: redirect "
            "hops and the addresses really connected to are not checked there; set THINKRUN_EGRESS_HOST to an "
            "address of this machine those browsers can reach"
        )
        return fallback if self.mode == "route" else f"{proxy}; {fallback}"

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self.mode == "route" or self._loop is not None:
            return
        if not self._own_thread:
            self._loop = asyncio.get_running_loop()
            return
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._loop, ready), name="thinkrun-egress", daemon=True)
        self._thread.start()
        ready.wait(10)

    def _run(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def close(self) -> None:
        gates = list(self._gates)
        for gate in gates:
            gate.close()
        loop, self._loop = self._loop, None
        if loop is None or not self._own_thread:
            if loop is not None:
                await self._end_connections(gates)
            return
        done: Future[None] = asyncio.run_coroutine_threadsafe(self._end_connections(gates), loop)
        try:
            await asyncio.wait_for(asyncio.wrap_future(done), timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                await asyncio.to_thread(self._thread.join, 10)

    @staticmethod
    async def _end_connections(gates: list[Gate]) -> None:
        tasks = [t for g in gates for t in g.tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- gates ---------------------------------------------------------------------------

    def open_gate(self, policy: Callable[[], UrlPolicy], report: Report) -> Gate:
        """A gate for a new context: ``policy()`` gives its current rules, ``report`` hears about refusals.

        Call it on the owner's event loop; the port is listening when it returns.
        """
        gate = Gate(self, policy, report)
        if self.mode == "route":
            return gate
        if self._loop is None:
            raise RuntimeError("egress not started")
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.bind((self.address, 0))
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        gate.port = sock.getsockname()[1]
        if self.require_auth:
            gate.username, gate.password = f"ctx{gate.port}", secrets.token_urlsafe(18)
        self._gates.add(gate)
        self._ports.add(gate.port)
        self._loop.call_soon_threadsafe(self._serve, gate, sock)
        return gate

    def _serve(self, gate: Gate, sock: socket.socket) -> None:
        from .proxy import serve_gate  # the HTTP side; imported here to keep the two modules' roles apart

        if gate.closed:
            sock.close()
            return
        task = asyncio.get_running_loop().create_task(serve_gate(self, gate, sock))
        gate.tasks.add(task)
        task.add_done_callback(gate.tasks.discard)

    def shut(self, gate: Gate) -> None:
        self._gates.discard(gate)
        self._ports.discard(gate.port)
        loop = self._loop
        if loop is None or not gate.port:
            return
        try:
            loop.call_soon_threadsafe(self._shut, gate)
        except RuntimeError:  # the proxy's loop has stopped
            pass

    @staticmethod
    def _shut(gate: Gate) -> None:
        if gate.server is not None:
            gate.server.close()
        for task in list(gate.tasks):
            task.cancel()

    # -- the decision --------------------------------------------------------------------

    async def judge(self, policy: UrlPolicy, host: str, port: int) -> Judgement:
        """Where a connection to ``host:port`` may go under ``policy``: the checked addresses, or why not."""
        host = host.lower().rstrip(".")
        reason = policy.host_verdict(host)
        if reason:
            return Judgement(refused=reason)
        literal = ip_of_host(host)
        if literal is not None:
            addresses: Sequence[IPAddress] = (literal,)
        else:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    addresses = await self.resolver(host, port)
            except (OSError, UnicodeError, ValueError, TimeoutError) as exc:
                return Judgement(failed=f"{host} could not be resolved ({exc})", net_error="net::ERR_NAME_NOT_RESOLVED")
            if not addresses:
                return Judgement(failed=f"{host} has no address", net_error="net::ERR_NAME_NOT_RESOLVED")
        for ip in addresses:
            shown = f"{host} resolves to {ip}, which" if literal is None else None
            reason = policy.address_verdict(ip, shown=shown)
            if reason:
                return Judgement(refused=reason)
            if port in self._ports and (ip.is_loopback or str(ip) == self.address):
                return Judgement(refused=f"{host}:{port} is the egress proxy itself")
        return Judgement(addresses=tuple(addresses))
