"""The egress proxy's HTTP side: the connections of one gate, as an HTTP/1.1 forward proxy.

Two kinds of request arrive from Chromium: ``CONNECT host:port`` (https, wss and
ws) and absolute-form plain HTTP (``GET http://host:port/path``). Each is judged
by :meth:`~.egress.Egress.judge` before anything is connected:

- CONNECT: on success a ``200`` and then bytes both ways, untouched, to the
  address that was checked; refused → ``403``, unreachable → ``502`` (Chromium:
  ``ERR_TUNNEL_CONNECTION_FAILED``).
- Plain HTTP: the request goes to the checked address with ``Connection: close``
  and the answer comes back re-framed; refused or unreachable → the connection is
  closed without an answer (Chromium: ``ERR_EMPTY_RESPONSE``), so a page never
  mistakes a refusal for the site's own answer.

h11 reads every request, so each request on a kept-alive connection is judged
on its own and nothing is ever relayed blindly to an earlier request's server.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import hmac
import logging
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import h11

from .egress import Egress, EgressEvent, Gate

__all__ = ["serve_gate"]

log = logging.getLogger(__name__)

_MAX_HEAD = 256 * 1024  # request or response head (long cookies, many headers)
_CHUNK = 64 * 1024
_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer"}
    | {b"upgrade", b"expect"}
)
_ENDED = (OSError, asyncio.IncompleteReadError, h11.ProtocolError, TimeoutError)

Headers = list[tuple[bytes, bytes]]
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def serve_gate(egress: Egress, gate: Gate, sock: socket.socket) -> None:
    """Accept ``gate``'s connections on ``sock`` until the gate is closed."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            gate.tasks.add(task)
        try:
            await _Exchange(egress, gate, reader, writer).run()
        except _ENDED as exc:
            log.debug("egress connection of gate %d ended: %r", gate.port, exc)
        except asyncio.CancelledError:
            pass  # the gate closed: this connection's task ends here (asyncio's stream callback would log it)
        except Exception:
            log.exception("egress connection of gate %d failed", gate.port)
        finally:
            writer.transport.abort()
            if task is not None:
                gate.tasks.discard(task)

    server = await asyncio.start_server(client, sock=sock, limit=_CHUNK)
    gate.server = server
    if gate.closed:
        server.close()
        return
    try:
        await server.serve_forever()
    except asyncio.CancelledError:
        pass
    finally:
        server.close()


class _Exchange:
    """One client connection: its requests, one after the other."""

    def __init__(self, egress: Egress, gate: Gate, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.egress = egress
        self.gate = gate
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)

    async def run(self) -> None:
        while True:
            request = await self._next()
            if not isinstance(request, h11.Request):
                return
            if not self._authorized(request):
                await self._answer(407, [(b"proxy-authenticate", b'Basic realm="thinkrun egress"')])
                return
            if request.method == b"CONNECT":
                await self._tunnel(request)
                return
            if not await self._forward(request):
                return
            if self.conn.our_state is not h11.DONE or self.conn.their_state is not h11.DONE:
                return
            self.conn.start_next_cycle()

    # -- the two kinds of request --------------------------------------------------------

    async def _tunnel(self, request: h11.Request) -> None:
        authority = request.target.decode("ascii", "replace")
        host, _, port_text = authority.rpartition(":")
        if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            await self._answer(400)
            return
        if not isinstance(await self._next(), h11.EndOfMessage):
            return
        port = int(port_text)
        upstream = await self._open(authority, host.strip("[]"), port)
        if isinstance(upstream, str):
            await self._answer(403 if upstream == "refused" else 502)
            return
        up_writer = upstream[1]
        try:
            self._send(h11.Response(status_code=200, reason=b"Connection established", headers=[]))
            early, _ = self.conn.trailing_data
            if early:
                up_writer.write(early)
            await _splice((self.reader, self.writer), upstream)
        finally:
            up_writer.transport.abort()

    async def _forward(self, request: h11.Request) -> bool:
        """Forward one plain HTTP request; ``False`` when the client connection must end."""
        url = request.target.decode("ascii", "replace")
        try:
            parts = urlsplit(url)
            host, port = (parts.hostname if parts.scheme == "http" else None), parts.port or 80
        except ValueError:
            host, port = None, 0
        if not host:
            await self._answer(400)
            return False
        upstream = await self._open(url, host, port)
        if isinstance(upstream, str):
            return False  # closed without an answer: the browser fails the request
        up_reader, up_writer = upstream
        try:
            client = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            authority = parts.netloc.rpartition("@")[2]
            headers = [(b"host", authority.encode("ascii")), *_end_to_end(request.headers, b"host"), (b"connection", b"close")]
            up_writer.write(client.send(h11.Request(method=request.method, target=path.encode("ascii"), headers=headers)))
            if self.conn.they_are_waiting_for_100_continue:
                self._send(h11.InformationalResponse(status_code=100, headers=[]))
            while True:  # the request body
                event = await self._next()
                if not isinstance(event, h11.Data | h11.EndOfMessage):
                    return False
                up_writer.write(client.send(h11.EndOfMessage() if isinstance(event, h11.EndOfMessage) else event) or b"")
                await up_writer.drain()
                if isinstance(event, h11.EndOfMessage):
                    break
            while True:  # the answer
                event = client.next_event()
                if event is h11.NEED_DATA:
                    client.receive_data(await up_reader.read(_CHUNK))
                elif isinstance(event, h11.InformationalResponse):
                    continue  # 100 was answered here; early hints are dropped
                elif isinstance(event, h11.Response):
                    headers = _end_to_end(event.headers)
                    self._send(h11.Response(status_code=event.status_code, reason=event.reason, headers=headers))
                elif isinstance(event, h11.Data):
                    self._send(event)
                    await self.writer.drain()
                elif isinstance(event, h11.EndOfMessage):
                    self._send(h11.EndOfMessage())
                    await self.writer.drain()
                    return True
                else:  # the server closed before the end of its answer
                    return False
        finally:
            up_writer.transport.abort()

    # -- the decision and the connection -------------------------------------------------

    async def _open(self, target: str, host: str, port: int) -> Stream | str:
        """A connection to ``host:port`` if the gate's rules allow it, else ``"refused"`` or ``"failed"``."""
        judgement = await self.egress.judge(self.gate.policy(), host, port)
        if judgement.refused:
            log.debug("egress refused %s:%d: %s", host, port, judgement.refused)  # never the URL: it may be sensitive
            self.gate.tell(EgressEvent("refused", target, host, port, judgement.refused))
            return "refused"
        failure = (judgement.net_error, judgement.failed)
        for ip in judgement.addresses:
            try:
                async with asyncio.timeout(self.egress.connect_timeout):
                    stream = await asyncio.open_connection(str(ip), port, limit=_CHUNK)
                self.gate.admitted += 1
                return stream
            except TimeoutError:
                failure = ("net::ERR_CONNECTION_TIMED_OUT", f"{_at(ip, port)} did not answer")
            except OSError as exc:
                failure = _net_error(exc, _at(ip, port))
        net_error, reason = failure
        self.gate.tell(EgressEvent("failed", target, host, port, reason or "no address", net_error))
        return "failed"

    def _authorized(self, request: h11.Request) -> bool:
        if not self.gate.password:
            return True
        expected = f"{self.gate.username}:{self.gate.password}".encode()
        for name, value in request.headers:
            scheme, _, token = value.partition(b" ")
            if name == b"proxy-authorization" and scheme.lower() == b"basic":
                try:
                    return hmac.compare_digest(base64.b64decode(token.strip(), validate=True), expected)
                except (binascii.Error, ValueError):
                    return False
        return False

    # -- h11 plumbing --------------------------------------------------------------------

    async def _next(self) -> object:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            self.conn.receive_data(await self.reader.read(_CHUNK))

    def _send(self, event: h11.Event) -> None:
        data = self.conn.send(event)
        if data:
            self.writer.write(data)

    async def _answer(self, status: int, headers: Headers | None = None) -> None:
        self._send(
            h11.Response(status_code=status, headers=[*(headers or []), (b"content-length", b"0"), (b"connection", b"close")])
        )
        self._send(h11.EndOfMessage())
        await self.writer.drain()


def _end_to_end(headers: Iterable[tuple[bytes, bytes]], *also: bytes) -> Headers:
    """The headers a proxy passes on: without hop-by-hop ones, those the Connection header names, and ``also``."""
    headers = list(headers)
    named = {t.strip().lower() for name, value in headers if name == b"connection" for t in value.split(b",")}
    return [(name, value) for name, value in headers if name not in _HOP_BY_HOP and name not in named and name not in also]


def _at(ip: object, port: int) -> str:
    text = str(ip)
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


def _net_error(exc: OSError, where: str) -> tuple[str, str]:
    """Chromium's name for a failed connection, and what happened."""
    if isinstance(exc, ConnectionRefusedError):
        return "net::ERR_CONNECTION_REFUSED", f"{where} refused the connection"
    if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "net::ERR_ADDRESS_UNREACHABLE", f"{where} is unreachable"
    if isinstance(exc, ConnectionResetError):
        return "net::ERR_CONNECTION_RESET", f"{where} reset the connection"
    return "net::ERR_CONNECTION_FAILED", f"{where}: {exc.strerror or exc}"


async def _splice(client: Stream, upstream: Stream) -> None:
    """Copy bytes both ways until both sides are done; a broken side ends both."""

    async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(_CHUNK):
                sink.write(data)
                await sink.drain()
            if sink.can_write_eof():
                sink.write_eof()
        except OSError:
            client[1].transport.abort()
            upstream[1].transport.abort()

    await asyncio.gather(pump(client[0], upstream[1]), pump(upstream[0], client[1]))
