"""The egress proxy without a browser: raw HTTP and CONNECT against real sockets on 127.0.0.x.

The browser's side of the story (every kind of request a page makes reaching the proxy, and the
attacks of issue 14) is in ``tests/browser/test_egress.py``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.support.network import SECRET_TEXT, FakeDns, Listener
from tests.support.settings import make_settings
from thinkrun_mcp.browser.egress import Egress, EgressEvent, Gate, system_resolver
from thinkrun_mcp.browser.policy import UrlPolicy

BLOCKED = ["127.0.0.2/32"]


@pytest.fixture
def internal():
    with Listener("127.0.0.2") as listener:
        yield listener


@pytest.fixture
def public():
    with Listener("127.0.0.1") as listener:
        yield listener


@contextlib.asynccontextmanager
async def egress_gate(
    tmp_path: Path, policy: UrlPolicy, *, dns: FakeDns | None = None, **settings: object
) -> AsyncIterator[tuple[Gate, list[EgressEvent]]]:
    """A started egress with one gate under ``policy``; the events it reported are collected."""
    egress = Egress(make_settings(tmp_path, **settings), resolver=dns)
    egress.start()
    events: list[EgressEvent] = []
    gate = egress.open_gate(lambda: policy, events.append)
    try:
        yield gate, events
    finally:
        await egress.close()


async def exchange(port: int, request: bytes, *, read_until_closed: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        if read_until_closed:
            return await asyncio.wait_for(reader.read(-1), timeout=10)
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    finally:
        writer.close()


def private_policy(**rules: object) -> UrlPolicy:
    return UrlPolicy(block_private=True, blocked_networks=BLOCKED, **rules)  # type: ignore[arg-type]


async def settle() -> None:
    """Let the reports the proxy's thread sent to this loop arrive."""
    for _ in range(20):
        await asyncio.sleep(0.01)


# -- the decision ------------------------------------------------------------------------------


async def test_an_avoided_name_is_refused_without_a_dns_lookup(tmp_path):
    dns = FakeDns({"ads.test": "127.0.0.3"})
    egress = Egress(make_settings(tmp_path), resolver=dns)
    judgement = await egress.judge(UrlPolicy(avoid_domains=["ads.test"]), "ads.test", 80)
    assert judgement.refused == "ads.test matches avoided domain 'ads.test'"
    assert dns.lookups == {}


async def test_a_name_resolving_into_a_blocked_network_is_refused_naming_the_address(tmp_path):
    egress = Egress(make_settings(tmp_path), resolver=FakeDns({"intranet.test": "127.0.0.2"}))
    judgement = await egress.judge(private_policy(), "intranet.test", 80)
    assert judgement.refused == (
        "intranet.test resolves to 127.0.0.2, which is in 127.0.0.2/32 (a blocked network) and private networks are blocked"
    )
    assert judgement.addresses == ()


async def test_the_addresses_to_connect_to_are_the_ones_checked_even_when_dns_changes(tmp_path):
    dns = FakeDns({"rebind.test": ["127.0.0.1", "127.0.0.2"]})
    egress = Egress(make_settings(tmp_path), resolver=dns)
    first = await egress.judge(private_policy(), "rebind.test", 80)
    second = await egress.judge(private_policy(), "rebind.test", 80)
    assert first.addresses == (ipaddress.ip_address("127.0.0.1"),)
    assert second.refused and "127.0.0.2" in second.refused and second.addresses == ()


@pytest.mark.parametrize("host", ["2130706433", "0x7f.0.0.1", "127.1", "[::ffff:127.0.0.1]", "[64:ff9b::7f00:1]", "LOCALHOST."])
async def test_any_spelling_of_a_blocked_address_is_refused_without_dns(tmp_path, host):
    egress = Egress(make_settings(tmp_path), resolver=FakeDns({}))
    judgement = await egress.judge(UrlPolicy(block_private=True), host, 80)
    assert judgement.refused and "127.0.0.0/8 (loopback)" in judgement.refused


async def test_this_machines_own_name_resolves_to_a_private_address_and_is_refused(tmp_path):
    host = socket.gethostname()  # /etc/hosts gives it a loopback or private address
    policy = UrlPolicy(block_private=True)
    assert policy.verdict(f"http://{host}/") is None  # nothing in the name itself
    judgement = await Egress(make_settings(tmp_path)).judge(policy, host, 80)
    assert f"{host.lower()} resolves to " in (judgement.refused or "")


async def test_the_system_resolver_answers_localhost_names_with_loopback_as_browsers_do():
    assert ipaddress.ip_address("127.0.0.1") in await system_resolver("app.localhost", 80)


def test_private_networks_blocked_names_the_default_ranges():
    policy = UrlPolicy(block_private=True)
    assert "169.254.0.0/16 (link-local, cloud metadata)" in (policy.verdict("http://169.254.169.254/latest/") or "")
    assert policy.verdict("http://8.8.8.8/") is None


# -- CONNECT and plain HTTP through a gate -----------------------------------------------------


async def test_a_connect_to_a_blocked_address_gets_403_and_opens_no_connection(tmp_path, internal):
    async with egress_gate(tmp_path, private_policy()) as (gate, events):
        answer = await exchange(gate.port, f"CONNECT 127.0.0.2:{internal.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await settle()
    assert answer.startswith(b"HTTP/1.1 403 ")
    assert internal.accepts == 0
    assert [(e.kind, e.target) for e in events] == [("refused", f"127.0.0.2:{internal.port}")]
    assert "127.0.0.2/32" in events[0].reason


async def test_a_connect_to_an_allowed_address_tunnels_bytes_both_ways(tmp_path, public):
    async with egress_gate(tmp_path, private_policy()) as (gate, _events):
        head = f"CONNECT 127.0.0.1:{public.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        answer = await exchange(gate.port, head + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK")
    assert SECRET_TEXT.encode() in answer
    assert public.accepts == 1 and gate.admitted == 1


async def test_a_plain_http_request_is_forwarded_to_the_authority_of_its_url(tmp_path, public):
    async with egress_gate(tmp_path, private_policy()) as (gate, _events):
        request = f"GET {public.url('page')} HTTP/1.1\r\nHost: elsewhere.test\r\nConnection: close\r\n\r\n"
        answer = await exchange(gate.port, request.encode())
    assert answer.startswith(b"HTTP/1.1 200 OK") and SECRET_TEXT.encode() in answer
    head = public.requests[0].lower()
    assert head.startswith(b"get /page http/1.1\r\n")
    assert f"host: 127.0.0.1:{public.port}\r\n".encode() in head and b"connection: close\r\n" in head


async def test_a_refused_plain_http_request_is_closed_without_an_answer(tmp_path, internal):
    async with egress_gate(tmp_path, private_policy()) as (gate, events):
        answer = await exchange(gate.port, f"GET {internal.url('secret')} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await settle()
    assert answer == b""
    assert internal.accepts == 0
    assert events[0].kind == "refused" and events[0].target == internal.url("secret")


async def test_each_request_on_a_kept_alive_connection_is_judged_on_its_own(tmp_path, public, internal):
    first = f"GET {public.url('one')} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    second = f"GET {internal.url('two')} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    async with egress_gate(tmp_path, private_policy()) as (gate, events):
        answer = await exchange(gate.port, first + second)
        await settle()
    assert answer.count(b"HTTP/1.1 200 OK") == 1
    assert public.accepts == 1 and internal.accepts == 0
    assert [e.kind for e in events] == ["refused"]


async def test_an_unreachable_host_is_reported_with_chromiums_name_for_it(tmp_path):
    with Listener("127.0.0.1") as gone:
        port = gone.port
    async with egress_gate(tmp_path, private_policy()) as (gate, events):
        answer = await exchange(gate.port, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await settle()
    assert answer.startswith(b"HTTP/1.1 502 ")
    assert (events[0].kind, events[0].net_error) == ("failed", "net::ERR_CONNECTION_REFUSED")
    assert events[0].reason == f"127.0.0.1:{port} refused the connection"


async def test_the_proxy_refuses_to_connect_to_itself(tmp_path):
    async with egress_gate(tmp_path, UrlPolicy()) as (gate, events):
        answer = await exchange(gate.port, f"CONNECT 127.0.0.1:{gate.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await settle()
    assert answer.startswith(b"HTTP/1.1 403 ")
    assert "egress proxy itself" in events[0].reason


async def test_closing_a_gate_ends_its_open_tunnels(tmp_path, public):
    async with egress_gate(tmp_path, UrlPolicy()) as (gate, _events):
        reader, writer = await asyncio.open_connection("127.0.0.1", gate.port)
        writer.write(f"CONNECT 127.0.0.1:{public.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        gate.close()
        assert await asyncio.wait_for(reader.read(-1), timeout=5) == b""
        writer.close()


# -- a gate with a password (the egress listening for a remote browser) ------------------------


def _authorization(user: str, password: str) -> str:
    return "Proxy-Authorization: Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() + "\r\n"


@pytest.mark.parametrize(
    "credentials, answer",
    [
        (lambda gate: "", b"HTTP/1.1 407 "),
        (lambda gate: _authorization(gate.username, "wrong"), b"HTTP/1.1 407 "),
        (lambda gate: _authorization(gate.username, gate.password), b"HTTP/1.1 200 "),
    ],
    ids=["none", "wrong", "right"],
)
async def test_a_gate_on_a_non_loopback_address_asks_each_context_for_its_own_password(
    tmp_path, public, credentials: Callable[[Gate], str], answer: bytes
):
    egress = Egress(make_settings(tmp_path), resolver=None)
    egress.require_auth = True  # as when egress_host is an address of the machine; 127.0.0.1 keeps the test local
    egress.start()
    try:
        gate = egress.open_gate(UrlPolicy, lambda _e: None)
        assert gate.proxy is not None and gate.proxy["username"] == gate.username
        request = f"CONNECT 127.0.0.1:{public.port} HTTP/1.1\r\nHost: x\r\n{credentials(gate)}\r\n".encode()
        assert (await exchange(gate.port, request, read_until_closed=False)).startswith(answer)
    finally:
        await egress.close()


# -- modes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, mode",
    [
        ({}, "proxy"),
        ({"browser_endpoint": "ws://127.0.0.1:3000/"}, "proxy"),
        ({"browser_endpoint": "http://localhost:9222"}, "proxy"),
        ({"browser_endpoint": "ws://browsers.internal:3000/"}, "route"),
        ({"browser_endpoint": "ws://127.0.0.1:3000/, ws://browsers.internal:3000/"}, "mixed"),
        ({"browser_endpoint": "ws://browsers.internal:3000/", "egress_host": "10.1.2.3"}, "proxy"),
    ],
)
def test_a_remote_browser_on_another_machine_needs_egress_host_for_the_proxy(tmp_path, settings, mode):
    egress = Egress(make_settings(tmp_path, **settings))
    assert egress.mode == mode
    assert ("THINKRUN_EGRESS_HOST" in egress.describe()) is (mode != "proxy")
    assert egress.require_auth is ("egress_host" in settings)
    assert egress.serves("ws://127.0.0.1:3000/") is (mode != "route")
    assert egress.serves("ws://browsers.internal:3000/") is (mode == "proxy")


async def test_an_ipv6_egress_address_is_bracketed_in_the_proxy_server(tmp_path):
    egress = Egress(make_settings(tmp_path, egress_host="::1"))
    egress.start()
    try:
        gate = egress.open_gate(UrlPolicy, lambda _e: None)
        assert gate.proxy is not None and gate.proxy["server"] == f"http://[::1]:{gate.port}"
    finally:
        await egress.close()
