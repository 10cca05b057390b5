"""The egress proxy as the one choke point, through the tools on real Chromium (issue 14, section 1).

The "public" site is the fixture site on 127.0.0.1 (also reached as ``public.test`` and
``rebind.test`` through the test's own DNS); the "internal" target listens on 127.0.0.2, in the
only blocked network (``blocked_networks=["127.0.0.2/32"]``), on the site's port; ``avoided.test``
and ``other.test`` name a third listener on 127.0.0.3, allowed by network but refused by name.
Every case asserts that the target's TCP accept counter stayed 0 and that its text reached no
tool result.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest
from mcp import Client
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tests.support.mcp import call, call_error, error_code, held_client, page_text
from tests.support.network import SECRET_TEXT, FakeDns, Listener, UdpCounter
from tests.support.runtime import served_runtime
from tests.support.settings import make_settings
from tests.support.site import FixtureSite
from thinkrun_mcp.runtime import Runtime
from thinkrun_mcp.server.mcp import create_server

DNS = FakeDns({"public.test": "127.0.0.1", "avoided.test": "127.0.0.3", "other.test": "127.0.0.3"})


@pytest.fixture(scope="module")
async def egress_client(tmp_path_factory, site_server) -> AsyncIterator[tuple[Client, Runtime]]:
    async with served_runtime(
        tmp_path_factory.mktemp("egress"), resolver=DNS, block_private_networks=True, blocked_networks=["127.0.0.2/32"]
    ) as (c, rt):
        yield c, rt


@pytest.fixture
async def client(egress_client) -> AsyncIterator[Client]:
    c, rt = egress_client
    try:
        yield c
    finally:
        await rt.registry.end_all("test finished")


@pytest.fixture(scope="module")
def listeners(site_server: FixtureSite) -> Iterator[tuple[Listener, Listener]]:
    with Listener("127.0.0.2", site_server.port) as internal, Listener("127.0.0.3", site_server.port) as elsewhere:
        yield internal, elsewhere


@pytest.fixture
def internal(listeners) -> Listener:
    listeners[0].accepts = 0
    return listeners[0]


@pytest.fixture
def elsewhere(listeners) -> Listener:
    listeners[1].accepts = 0
    return listeners[1]


def page(body: str) -> HTMLResponse:
    return HTMLResponse(f"<!DOCTYPE html><title>test</title><body>{body}<p id='out'>waiting</p></body>")


def redirect_raw(location: str) -> Response:
    """A 302 whose Location is sent exactly as given (Starlette's RedirectResponse would quote it)."""
    return Response(status_code=302, headers={"location": location})


async def blocked_navigation(client: Client, url: str, **args: object) -> str:
    err = await call_error(client, "browser_navigate", {"url": url, **args})
    assert error_code(err) == "url_blocked", err
    assert SECRET_TEXT not in err
    return err


async def wait_for_text(client: Client, sid: str | None, expected: str) -> list[dict]:
    """Wait until the page shows ``expected``; the events reported meanwhile. No secret anywhere."""
    args = {"sessionId": sid} if sid else {}
    waited = await call(client, "browser_act", {"method": "wait", "value": f"text={expected}", **args})
    text = await page_text(client, sid)
    assert expected in text and SECRET_TEXT not in text and SECRET_TEXT not in json.dumps(waited)
    return waited["events"]


# -- redirects ---------------------------------------------------------------------------------


async def test_a_redirect_whose_last_hop_answers_the_second_request_differently_never_reaches_it(client, site, internal):
    site.set_redirect("/first-hop", "/last-hop")
    answers = iter([page("harmless")])
    site.set_route("/last-hop", lambda _r: next(answers, RedirectResponse(internal.url("secret"), status_code=302)))
    first = await call(client, "browser_navigate", {"url": site.url("first-hop")})
    assert "harmless" in json.dumps(first)
    for _ in range(3):
        err = await blocked_navigation(client, site.url("first-hop"))
        assert "127.0.0.2 is in 127.0.0.2/32" in err
    assert internal.accepts == 0


async def test_a_load_that_fails_once_and_then_redirects_is_still_judged_at_the_redirect(client, internal):
    redirect = f"HTTP/1.1 302 Found\r\nLocation: {internal.url('secret')}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    with Listener("127.0.0.1", answers=[None, redirect.encode()]) as flaky:
        await blocked_navigation(client, flaky.url("start"))
        assert flaky.accepts == 2  # Chromium tried again after the empty answer, and followed the 302 of the second
    assert internal.accepts == 0


async def test_a_backslash_in_the_userinfo_of_a_location_leads_nowhere_blocked(client, site, internal):
    location = f"http://127.0.0.2:{site.port}\\@127.0.0.1:{site.port}/secret"
    assert urlsplit(location).hostname == "127.0.0.1"  # what Python reads; Chromium goes to 127.0.0.2
    site.set_route("/backslash", lambda _r: redirect_raw(location))
    err = await blocked_navigation(client, site.url("backslash"))
    assert "127.0.0.2" in err
    assert internal.accepts == 0


@pytest.mark.parametrize("via", ["redirect", "backslash"])
async def test_a_page_cache_render_through_a_redirect_never_reaches_a_blocked_host(client, site, internal, via):
    target = internal.url("secret") if via == "redirect" else f"http://127.0.0.2:{site.port}\\@127.0.0.1:{site.port}/s"
    site.set_route(f"/cache-{via}", lambda _r: redirect_raw(target))
    err = await call_error(client, "page_cache_html", {"url": site.url(f"cache-{via}"), "options": {"maxAge": 0}})
    assert error_code(err) == "url_blocked", err
    assert "127.0.0.2 is in 127.0.0.2/32" in err and SECRET_TEXT not in err
    assert internal.accepts == 0


async def test_after_a_blocked_redirect_the_session_navigates_again_every_time(client, site, internal):
    site.set_redirect("/to-internal", internal.url("secret"))
    for _ in range(10):
        await blocked_navigation(client, site.url("to-internal"))
        assert (await call(client, "browser_navigate", {"url": site.url("index.html")}))["status"] == 200
    assert internal.accepts == 0


# -- popups, fetch, WebSockets, images ---------------------------------------------------------


@pytest.mark.parametrize(
    "opener",
    [
        "<a id='go' href='/popup-hop' target='_blank'>open</a>",
        "<button id='go' onclick=\"window.open('/popup-hop')\">open</button>",
    ],
)
async def test_a_popup_redirected_to_a_blocked_host_never_reaches_it(client, site, internal, opener):
    site.set_route("/opener", lambda _r: page(opener))
    site.set_redirect("/popup-hop", internal.url("secret"))
    await call(client, "browser_navigate", {"url": site.url("opener")})
    acted = await call(client, "browser_act", {"method": "click", "selector": "#go"})
    assert any(e["kind"] == "popup" for e in acted["events"])
    text = await page_text(client)
    assert SECRET_TEXT not in json.dumps(acted) and SECRET_TEXT not in text
    failed = await call(client, "session_network", {"sessionId": acted["sessionId"], "failedOnly": True})
    assert any("blocked by URL policy" in (r["failure"] or "") and "127.0.0.2" in r["url"] for r in failed["requests"])
    assert internal.accepts == 0


async def test_a_fetch_redirected_to_an_avoided_host_fails_without_reaching_it(client, site, elsewhere):
    s = await call(client, "session_create", {"avoidDomains": ["avoided.test"]})
    site.set_redirect("/fetch-hop", elsewhere.url("secret", host="avoided.test"))
    script = (
        "fetch('/fetch-hop').then(r => r.text()).then(t => out.textContent = 'got ' + t, () => out.textContent = 'fetch failed')"
    )
    site.set_route(
        "/fetcher", lambda _r: page(f"<script>const out = document.body; addEventListener('load', () => {{ {script} }})</script>")
    )
    await call(client, "browser_navigate", {"url": site.url("fetcher"), "sessionId": s["sessionId"]})
    await wait_for_text(client, s["sessionId"], "fetch failed")
    assert elsewhere.accepts == 0


async def test_a_websocket_to_an_avoided_host_is_refused_and_reported(client, site, elsewhere):
    s = await call(client, "session_create", {"avoidDomains": ["avoided.test"]})
    ws = elsewhere.url("socket", host="avoided.test", scheme="ws")
    script = f"const ws = new WebSocket('{ws}'); ws.onopen = () => out.textContent = 'ws open'; ws.onerror = () => out.textContent = 'ws failed'"
    site.set_route("/socket-page", lambda _r: page(f"<script>const out = document.body; {script}</script>"))
    nav = await call(client, "browser_navigate", {"url": site.url("socket-page"), "sessionId": s["sessionId"]})
    events = nav["events"] + await wait_for_text(client, s["sessionId"], "ws failed")
    assert any(e["kind"] == "blocked" and f"avoided.test:{site.port}" in e["message"] for e in events)
    assert elsewhere.accepts == 0


async def test_with_allowed_domains_an_image_redirected_to_another_host_is_refused(client, site, elsewhere):
    s = await call(client, "session_create", {"allowDomains": ["public.test"]})
    site.set_redirect("/image-hop", elsewhere.url("pixel.png", host="other.test"))
    img = "<img src='/image-hop' onload=\"out.textContent='image loaded'\" onerror=\"out.textContent='image failed'\">"
    site.set_route("/image-page", lambda _r: page(f"<script>const out = document.body</script>{img}"))
    url = site.url("image-page").replace("127.0.0.1", "public.test")
    await call(client, "browser_navigate", {"url": url, "sessionId": s["sessionId"]})
    await wait_for_text(client, s["sessionId"], "image failed")
    failed = await call(client, "session_network", {"sessionId": s["sessionId"], "failedOnly": True})
    assert [r["failure"] for r in failed["requests"]] == [
        "blocked by URL policy: other.test is not in the allowed domains (public.test)"
    ]
    assert elsewhere.accepts == 0


# -- DNS ---------------------------------------------------------------------------------------


async def test_a_host_that_rebinds_to_a_blocked_address_is_refused_at_the_new_address(client, site, internal):
    DNS.table["rebind.test"] = ["127.0.0.1", "127.0.0.2"]  # the first lookup public, every later one internal
    script = (
        "fetch('/secret').then(r => r.text()).then(t => out.textContent = 'got ' + t, () => out.textContent = 'fetch failed')"
    )
    site.set_route(
        "/rebinding",
        lambda _r: page(f"<script>const out = document.body; addEventListener('load', () => {{ {script} }})</script>"),
    )
    nav = await call(client, "browser_navigate", {"url": site.url("rebinding").replace("127.0.0.1", "rebind.test")})
    assert nav["status"] == 200
    await wait_for_text(client, nav["sessionId"], "fetch failed")
    err = await blocked_navigation(client, site.url("secret").replace("127.0.0.1", "rebind.test"))
    assert "rebind.test resolves to 127.0.0.2" in err
    assert internal.accepts == 0


async def test_a_name_the_dns_does_not_know_fails_with_chromiums_error_and_the_reason(client):
    err = await call_error(client, "browser_navigate", {"url": "http://nowhere.test/"})
    assert error_code(err) == "navigation_failed"
    assert "net::ERR_NAME_NOT_RESOLVED (nowhere.test could not be resolved" in err


# -- the proxy sees everything -----------------------------------------------------------------


async def test_loopback_loads_of_sessions_and_page_cache_renders_go_through_their_gates(egress_client, client, site):
    _, rt = egress_client
    s = await call(client, "session_create")
    await call(client, "browser_navigate", {"url": site.url("forms.html"), "sessionId": s["sessionId"]})
    gate = rt.registry.live(s["sessionId"]).gate
    assert gate is not None and gate.proxy["server"].startswith("http://127.0.0.1:")
    assert gate.admitted >= 2  # the page and its stylesheet, all on 127.0.0.1
    before = sum(lane.gate.admitted for lane in rt.cache.renderer.pool._idle)
    await call(client, "page_cache_html", {"url": site.url("index.html"), "options": {"maxAge": 0}})
    assert sum(lane.gate.admitted for lane in rt.cache.renderer.pool._idle) > before


async def test_webrtc_and_webtransport_send_no_udp_around_the_proxy(client, site):
    with UdpCounter("127.0.0.2") as udp:
        script = f"""
        const pc = new RTCPeerConnection({{iceServers: [{{urls: 'stun:127.0.0.2:{udp.port}'}}]}});
        pc.createDataChannel('x');
        pc.onicegatheringstatechange = () => {{ if (pc.iceGatheringState === 'complete') out.textContent = 'gathered'; }};
        pc.createOffer().then(o => pc.setLocalDescription(o));
        try {{ new WebTransport('https://127.0.0.2:{udp.port}/').ready.catch(() => {{}}); }} catch (e) {{}}
        setTimeout(() => out.textContent = 'gathered', 3000);
        """
        site.set_route("/webrtc", lambda _r: page(f"<script>const out = document.body; {script}</script>"))
        await call(client, "browser_navigate", {"url": site.url("webrtc")})
        await wait_for_text(client, None, "gathered")
        assert udp.datagrams == 0


async def test_refused_connections_are_counted_per_gate(egress_client, client, site, internal):
    _, rt = egress_client
    s = await call(client, "session_create")
    site.set_redirect("/counted", internal.url("secret"))
    await blocked_navigation(client, site.url("counted"), sessionId=s["sessionId"])
    assert rt.registry.live(s["sessionId"]).gate.refused >= 1
    assert internal.accepts == 0


async def test_contexts_answer_the_proxys_password_challenge_of_a_non_loopback_egress(own_client, site, internal):
    async with own_client(block_private_networks=True, blocked_networks=["127.0.0.2/32"]) as (c, rt):
        rt.egress.require_auth = True  # as with THINKRUN_EGRESS_HOST set to an address of the machine
        nav = await call(c, "browser_navigate", {"url": site.url("forms.html")})
        assert nav["title"] == "Forms"
        site.set_redirect("/auth-hop", internal.url("secret"))
        await blocked_navigation(c, site.url("auth-hop"))
        cached = await call(c, "page_cache_text", {"url": site.url("index.html"), "options": {"maxAge": 0}})
        assert "Fixture site" in cached["text"]
        gate = rt.registry.live(nav["sessionId"]).gate
        assert gate.proxy["username"] and gate.proxy["password"] and gate.admitted >= 1
    assert internal.accepts == 0


async def test_without_a_reachable_proxy_the_fallback_still_checks_each_request_the_page_makes(tmp_path, site, elsewhere):
    dns = FakeDns({"intranet.test": "127.0.0.2"})
    rt = Runtime(make_settings(tmp_path, block_private_networks=True, blocked_networks=["127.0.0.2/32"]), resolver=dns)
    rt.egress.mode = "route"  # as for a remote browser on another machine and no THINKRUN_EGRESS_HOST
    async with rt, held_client(create_server(runtime=rt)) as c:
        s = await call(c, "session_create", {"avoidDomains": ["avoided.test"]})
        images = "".join(
            f"<img src='{url}' onerror=\"out.textContent += ' failed'\">"
            for url in (elsewhere.url("a.png", host="avoided.test"), f"http://intranet.test:{site.port}/b.png")
        )
        site.set_route("/fallback", lambda _r: page(f"<script>const out = document.body</script>{images}"))
        nav = await call(c, "browser_navigate", {"url": site.url("fallback"), "sessionId": s["sessionId"]})
        assert rt.registry.live(s["sessionId"]).gate.proxy is None
        await wait_for_text(c, s["sessionId"], "failed failed")
        failed = await call(c, "session_network", {"sessionId": s["sessionId"], "failedOnly": True})
        reasons = sorted(r["failure"] for r in failed["requests"])
        assert reasons == [
            "blocked by URL policy: avoided.test matches avoided domain 'avoided.test'",
            "blocked by URL policy: intranet.test resolves to 127.0.0.2, which is in 127.0.0.2/32 (a blocked network) "
            "and private networks are blocked",
        ]
        assert any(e["kind"] == "blocked" for e in nav["events"])
    assert elsewhere.accepts == 0
