"""Several browser endpoints: sessions spread by load, one endpoint killed, orphaned sessions waiting
for it (restored when it comes back in time, failed when not), caps, and what session_health reports.

The endpoints are real: ``playwright run-server`` processes and a Chromium with a DevTools port,
started here on 127.0.0.1 and killed with SIGKILL (the whole process tree at once) mid-run.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from tests.support.chromium import chromium_executable
from tests.support.mcp import call, call_error, error_code, sign_in
from tests.support.procs import free_port
from tests.support.remote import devtools_chromium, kill_hard, playwright_server
from tests.support.site import FixtureSite
from tests.support.wait import wait_until


async def new_session(client: Any) -> str:
    return (await call(client, "session_create"))["sessionId"]


async def navigate(client: Any, sid: str | None, url: str) -> dict[str, Any]:
    return await call(client, "browser_navigate", {"url": url} | ({"sessionId": sid} if sid else {}))


async def endpoint_of(client: Any, sid: str) -> str:
    return (await call(client, "session_health", {"sessionId": sid}))["endpoint"]


async def wait_status(client: Any, sid: str, status: str, *, timeout: float = 30) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        details = await call(client, "session_get", {"sessionId": sid})
        return details if details["status"] == status else None

    return await wait_until(reached, timeout=timeout, what=f"session {sid} to be {status}")


def endpoints_seen(health: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {e["endpoint"]: (e["state"], e["sessions"]) for e in health["endpoints"]}


async def test_sessions_on_two_playwright_servers_and_one_killed_mid_run(own_client, site: FixtureSite, tmp_path: Path):
    executable = await chromium_executable(tmp_path / "discovery")
    async with playwright_server(tmp_path) as (a, a_proc), playwright_server(tmp_path) as (b, _b_proc):
        settings = {"browser_endpoint": f"{a}, {b}", "browser_path": executable}
        async with own_client(**settings, endpoint_max_sessions=3, endpoint_reconnect_seconds=8) as (c, _rt):
            default = (await navigate(c, None, site.url("index.html")))["sessionId"]
            created = await asyncio.gather(*(new_session(c) for _ in range(3)))  # at once: each sees the others
            placed = {sid: await endpoint_of(c, sid) for sid in (default, *created)}
            (on_a,), (on_b, also_on_b) = ([s for s in created if placed[s] == e] for e in (a, b))
            await navigate(c, on_a, site.url("forms.html"))
            await sign_in(c, site, on_b)
            await navigate(c, also_on_b, site.url("index.html"))
            await navigate(c, also_on_b, site.url("forms.html"))

            kill_hard(a_proc)

            # Only the sessions on the lost endpoint are orphaned, and a call on one says so.
            for sid in (default, on_a):
                await wait_status(c, sid, "orphaned")
            orphan_call = await call_error(c, "browser_observe", {"sessionId": on_a})
            health = await call(c, "session_health", {"sessionId": on_a})
            listed = {s["sessionId"]: s["status"] for s in (await call(c, "session_list"))["sessions"]}
            # The sessions on the other endpoint go on with their cookies, pages and history.
            account = await navigate(c, on_b, site.url("account"))
            back = await call(c, "browser_navigate", {"sessionId": also_on_b, "action": "back"})
            # New sessions go to the survivor: the client's default session too, saying what became of the old one.
            new_default = await navigate(c, None, site.url("forms.html"))
            b_full = await call_error(c, "session_create")
            rendered = await call(c, "page_cache_html", {"url": site.url("index.html")})
            survivor = await call(c, "session_health", {"sessionId": new_default["sessionId"]})
            # Past the reconnection window, the orphaned sessions fail.
            ended = [await wait_status(c, sid, "failed") for sid in (default, on_a)]

    assert placed[default] == a and Counter(placed.values()) == {a: 2, b: 2}
    assert error_code(orphan_call) == "browser_unavailable", orphan_call
    assert f"session {on_a} is orphaned: the remote browser {a} disconnected" in orphan_call
    assert "session_create" in orphan_call
    assert (health["status"], health["sessionState"], health["endpoint"]) == ("unhealthy", "orphaned", a)
    assert "waits" in health["detail"]
    assert endpoints_seen(health) == {a: ("down", 0), b: ("up", 2)}
    assert listed[on_a] == "orphaned" and listed[on_b] == "running"

    assert "Welcome, Ada" in account["observation"]["text"]
    assert back["url"] == site.url("index.html")

    assert new_default["sessionId"] != default and new_default["url"] == site.url("forms.html")
    assert any(
        e["kind"] == "browser" and f"the previous one, {default}, is orphaned" in e["message"] for e in new_default["events"]
    )
    assert survivor["endpoint"] == b and survivor["status"] == "healthy"
    assert endpoints_seen(survivor)[b] == ("up", 3)
    assert error_code(b_full) == "browser_session_limit", b_full
    assert f"{a} (down, 0 of 3 sessions" in b_full and f"{b} (up, 3 of 3 sessions)" in b_full
    assert "<title>Fixture site</title>" in rendered["html"]

    for details in ended:
        assert details["endReason"].startswith(f"orphaned: the remote browser {a} disconnected")
        assert details["endReason"].endswith("it did not come back within 8 s")


async def test_an_orphaned_session_is_restored_when_its_endpoint_comes_back_in_time(
    own_client, site: FixtureSite, tmp_path: Path
):
    executable = await chromium_executable(tmp_path / "discovery")
    port = free_port()
    async with (
        playwright_server(tmp_path, port=port) as (url, proc),
        own_client(browser_endpoint=url, browser_path=executable, endpoint_reconnect_seconds=60) as (c, _rt),
    ):
        sid = await new_session(c)
        await sign_in(c, site, sid)
        await navigate(c, sid, site.url("forms.html"))
        kill_hard(proc)
        await wait_status(c, sid, "orphaned")
        async with playwright_server(tmp_path, port=port):  # the same endpoint, back
            restored = await wait_status(c, sid, "running")
            observed = await call(c, "browser_observe", {"sessionId": sid})
            health = await call(c, "session_health", {"sessionId": sid})
            account = await navigate(c, sid, site.url("account"))
            actions = await call(c, "session_actions", {"sessionId": sid})

    assert restored["endReason"] is None
    assert observed["url"] == site.url("forms.html")  # its last page, reopened
    assert "Event: the remote browser" in observed["text"] and "was reopened" in observed["text"]
    assert "tab 1 closed" not in observed["text"]  # the tabs went with the browser, as that event says
    assert (health["status"], health["endpoint"], endpoints_seen(health)) == ("healthy", url, {url: ("up", 1)})
    assert account["url"] == site.url("login.html")  # the cookie lived in the lost browser
    # What it did before the loss is still its history.
    assert [a["type"] for a in actions["actions"]][:4] == ["navigate", "fill", "fill", "click"]


async def test_no_reachable_endpoint_is_browser_unavailable_naming_each(own_client, tmp_path: Path):
    a, b = f"ws://127.0.0.1:{free_port()}/", f"http://127.0.0.1:{free_port()}"
    async with own_client(browser_endpoint=[a, b]) as (c, _rt):
        err = await call_error(c, "session_create")

    assert error_code(err) == "browser_unavailable", err
    assert f"no browser endpoint can be reached: {a} (down, 0 sessions: could not start or reach" in err
    assert f"{b} (down, 0 sessions: could not start or reach" in err


async def test_the_local_browser_has_a_session_cap_too(own_client):
    async with own_client(endpoint_max_sessions=1) as (c, _rt):
        first = await new_session(c)
        err = await call_error(c, "session_create")
        await call(c, "session_close", {"sessionId": first})
        again = await call(c, "session_create")

    assert error_code(err) == "browser_session_limit" and "local (up, 1 of 1 sessions)" in err
    assert again["status"] == "running"


async def test_a_devtools_endpoint_beside_a_playwright_server(own_client, site: FixtureSite, tmp_path: Path):
    executable = await chromium_executable(tmp_path / "discovery")
    async with (
        devtools_chromium(executable, tmp_path) as (cdp, chromium),
        playwright_server(tmp_path) as (ws, _server),
        own_client(browser_endpoint=[cdp, ws], browser_path=executable, endpoint_reconnect_seconds=1) as (c, _rt),
    ):
        on_cdp, on_ws = await new_session(c), await new_session(c)
        placed = [await endpoint_of(c, on_cdp), await endpoint_of(c, on_ws)]
        await navigate(c, on_cdp, site.url("index.html"))
        kill_hard(chromium)
        failed = await wait_status(c, on_cdp, "failed")
        still = await navigate(c, on_ws, site.url("forms.html"))
        health = await call(c, "session_health", {"sessionId": on_ws})

    assert placed == [cdp, ws]
    assert failed["endReason"] == f"orphaned: the remote browser {cdp} disconnected; it did not come back within 1 s"
    assert still["status"] == 200
    kinds = {e["endpoint"]: (e["kind"], e["state"]) for e in health["endpoints"]}
    assert kinds == {cdp: ("cdp", "down"), ws: ("playwright", "up")}
    assert all(e["version"] for e in health["endpoints"])  # the last one seen, for the lost one
