"""URL rules enforced through the tools on real Chromium.

The fixture site answers on 127.0.0.1, and Chromium also reaches it as ``localhost`` and
``<anything>.localhost`` (always loopback), which gives the tests distinct host names for
one local server.
"""

from __future__ import annotations

import pytest

from tests.support.mcp import call, call_error, error_code, page_text
from tests.support.runtime import served_runtime


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "chrome://version",
        "javascript:alert(1)",
        "data:text/html,<h1>owned</h1>",
        "view-source:http://127.0.0.1/",
    ],
)
async def test_navigate_to_a_non_web_scheme_is_url_blocked(client, url):
    err = await call_error(client, "browser_navigate", {"url": url})
    assert error_code(err) == "url_blocked"
    assert "scheme is not allowed" in err


async def test_blocked_navigation_leaves_the_page_where_it_was(client, site):
    await call(client, "browser_navigate", {"url": site.url("forms.html")})
    await call_error(client, "browser_navigate", {"url": "file:///etc/passwd"})
    obs = await call(client, "browser_observe")
    assert obs["url"] == site.url("forms.html")


async def test_avoided_domain_is_url_blocked_on_navigate(client, site):
    s = await call(client, "session_create", {"avoidDomains": ["localhost"]})
    url = site.url("forms.html").replace("127.0.0.1", "localhost")
    err = await call_error(client, "browser_navigate", {"url": url, "sessionId": s["sessionId"]})
    assert error_code(err) == "url_blocked"
    assert "avoided domain 'localhost'" in err


async def test_wildcard_avoided_domain_blocks_subdomains_only(client, site):
    s = await call(client, "session_create", {"avoidDomains": ["*.ads.localhost"]})
    sid = s["sessionId"]
    blocked = site.url("index.html").replace("127.0.0.1", "x.ads.localhost")
    assert error_code(await call_error(client, "browser_navigate", {"url": blocked, "sessionId": sid})) == "url_blocked"
    ok = await call(client, "browser_navigate", {"url": site.url("index.html"), "sessionId": sid})
    assert ok["status"] == 200


async def test_allow_domains_refuse_every_other_host(client, site):
    s = await call(client, "session_create", {"allowDomains": ["127.0.0.1"]})
    sid = s["sessionId"]
    assert (await call(client, "browser_navigate", {"url": site.url("index.html"), "sessionId": sid}))["status"] == 200
    other = site.url("index.html").replace("127.0.0.1", "localhost")
    err = await call_error(client, "browser_navigate", {"url": other, "sessionId": sid})
    assert error_code(err) == "url_blocked"
    assert "not in the allowed domains" in err


async def test_redirect_into_an_avoided_domain_is_url_blocked(client, site):
    s = await call(client, "session_create", {"avoidDomains": ["localhost"]})
    target = site.url("forms.html").replace("127.0.0.1", "localhost")
    err = await call_error(client, "browser_navigate", {"url": site.url(f"redirect?to={target}"), "sessionId": s["sessionId"]})
    assert error_code(err) == "url_blocked"
    assert "localhost" in err


async def test_redirect_into_an_avoided_domain_never_reaches_it(client, site):
    s = await call(client, "session_create", {"avoidDomains": ["blocked.localhost"]})
    site.set_redirect("/hop", site.url("never-reached").replace("127.0.0.1", "blocked.localhost"))
    await call_error(client, "browser_navigate", {"url": site.url("hop"), "sessionId": s["sessionId"]})
    assert site.hits["/hop"] == 1
    assert site.hits["/never-reached"] == 0


async def test_subresources_from_an_avoided_domain_are_blocked_and_reported(client, site):
    s = await call(client, "session_create", {"avoidDomains": ["ads.localhost"]})
    sid = s["sessionId"]
    nav = await call(client, "browser_navigate", {"url": site.url("cross-host.html"), "sessionId": sid})
    await call(client, "browser_act", {"method": "wait", "value": "text=all done", "sessionId": sid})
    text = await page_text(client, sid)
    assert "image=failed; other image=loaded" in text
    blocked = [e for e in nav["events"] if e["kind"] == "blocked"]
    assert blocked and "ads.localhost" in blocked[0]["message"]
    failed = await call(client, "session_network", {"sessionId": sid, "failedOnly": True})
    assert [r["url"] for r in failed["requests"]] == [site.url("image.png").replace("127.0.0.1", "ads.localhost")]
    assert "blocked by URL policy" in failed["requests"][0]["failure"]


async def test_subresources_are_not_blocked_without_domain_rules(client, site):
    await call(client, "browser_navigate", {"url": site.url("cross-host.html")})
    await call(client, "browser_act", {"method": "wait", "value": "text=all done"})
    assert "image=loaded; other image=loaded" in await page_text(client)


async def test_session_create_with_a_starting_point_in_an_avoided_domain_is_refused(client, site):
    err = await call_error(client, "session_create", {"startingPoint": site.url("index.html"), "avoidDomains": ["127.0.0.1"]})
    assert error_code(err) == "url_blocked"
    listed = await call(client, "session_list")
    assert listed["total"] == 0


# -- private-network blocking -----------------------------------------------------------------


@pytest.fixture(scope="module")
async def private_blocking(tmp_path_factory):
    """A runtime with block_private_networks on, and an MCP client on it."""
    async with served_runtime(tmp_path_factory.mktemp("private"), block_private_networks=True) as (c, _rt):
        yield c


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "2130706433", "[::ffff:127.0.0.1]", "127.1", "0x7f000001", "app.localhost"],
)
async def test_private_network_blocking_refuses_loopback_in_every_spelling(private_blocking, site, host):
    url = site.url("index.html").replace("127.0.0.1", host)
    err = await call_error(private_blocking, "browser_navigate", {"url": url})
    assert error_code(err) == "url_blocked"
    assert "private" in err


async def test_private_network_blocking_refuses_a_loopback_starting_point(private_blocking, site):
    err = await call_error(private_blocking, "session_create", {"startingPoint": site.url("index.html")})
    assert error_code(err) == "url_blocked"
