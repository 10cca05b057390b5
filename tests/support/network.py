"""Targets that must never be reached, and a DNS of the test's own, for the egress tests.

    with Listener("127.0.0.2") as internal:       # counts every TCP connection it accepts
        internal.url("secret")                     # http://127.0.0.2:<port>/secret, answers SECRET_TEXT
        internal.accepts                           # 0 unless something got through
    with UdpCounter("127.0.0.2") as stun:          # counts datagrams (WebRTC, QUIC)
        stun.port, stun.datagrams
    dns = FakeDns({"public.test": "127.0.0.1", "rebind.test": ["127.0.0.1", "127.0.0.2"]})
    Runtime(settings, resolver=dns)                # names not in the table do not resolve

All of 127.0.0.0/8 reaches this machine on Linux, so 127.0.0.2 and 127.0.0.3 are
"other hosts" a test can block by network (``blocked_networks=["127.0.0.2/32"]``)
while the fixture site stays reachable on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Sequence

__all__ = ["SECRET_TEXT", "FakeDns", "Listener", "UdpCounter"]

SECRET_TEXT = "internal-secret-4f7a"  # what a blocked target answers: must never reach a tool result
_SECRET_BODY = f"<!DOCTYPE html><title>{SECRET_TEXT}</title><p>{SECRET_TEXT}</p>".encode()
_SECRET_PAGE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nAccess-Control-Allow-Origin: *\r\n"
    + f"Content-Length: {len(_SECRET_BODY)}\r\nConnection: close\r\n\r\n".encode()
    + _SECRET_BODY
)


class Listener(contextlib.AbstractContextManager["Listener"]):
    """A TCP server on ``host`` that counts accepted connections and answers any request with a page
    holding :data:`SECRET_TEXT` (``port=0``: a free port). ``answers`` replaces that answer: raw bytes
    per connection, ``None`` for closing without one; the last answer repeats."""

    def __init__(self, host: str = "127.0.0.2", port: int = 0, *, answers: Sequence[bytes | None] = ()):
        self.host = host
        self.answers = list(answers)
        self.accepts = 0
        self.requests: list[bytes] = []  # the first bytes of each connection (a request head)
        self._sock = socket.create_server((host, port))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"listener-{host}", daemon=True)
        self._thread.start()

    def url(self, path: str = "", *, host: str | None = None, scheme: str = "http") -> str:
        return f"{scheme}://{host or self.host}:{self.port}/{path.lstrip('/')}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepts += 1
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    self.requests.append(conn.recv(65536))
                    answer = self.answers[min(self.accepts, len(self.answers)) - 1] if self.answers else _SECRET_PAGE
                    if answer is not None:
                        conn.sendall(answer)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


class UdpCounter(contextlib.AbstractContextManager["UdpCounter"]):
    """A UDP socket on ``host`` that counts the datagrams it receives."""

    def __init__(self, host: str = "127.0.0.2", port: int = 0):
        self.datagrams = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._count, name=f"udp-{host}", daemon=True)
        self._thread.start()

    def _count(self) -> None:
        while not self._stop.is_set():
            try:
                self._sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.datagrams += 1

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


class FakeDns:
    """A resolver for the egress (``Runtime(settings, resolver=dns)``): host → address, or a list of
    addresses given out one per lookup, the last one repeating (DNS rebinding). Counts lookups."""

    def __init__(self, table: dict[str, str | Sequence[str]]):
        self.table = {host: [value] if isinstance(value, str) else list(value) for host, value in table.items()}
        self.lookups: dict[str, int] = {}

    async def __call__(self, host: str, port: int) -> Sequence[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        answers = self.table.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} is not in the test's DNS")
        n = self.lookups.get(host, 0)
        self.lookups[host] = n + 1
        return [ipaddress.ip_address(answers[min(n, len(answers) - 1)])]
