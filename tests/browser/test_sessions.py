"""Sessions end to end: session_* tools, default sessions, isolation, lifecycle, caps, crash
recovery, complete logs and persistence — through the real MCP client (in-process, and over
streamable HTTP where client identity matters), real Chromium on the fixture site and real
SQLite files.

Tests that need their own settings (small timeouts, a cap, a retention bound, a browser to
kill, a clean session list) get a runtime of their own with ``own_client``; the rest share the
warm runtime of ``conftest.py``, so they only assert on the sessions they created.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import psutil
import pytest
import uvicorn
from mcp.types import Implementation

from tests.support.mcp import call, call_error, error_code, held_client, page_text, sign_in, text_of
from tests.support.procs import free_port
from tests.support.wait import wait_until
from thinkrun_mcp.runtime import Runtime
from thinkrun_mcp.server.mcp import create_server

REPO = Path(__file__).resolve().parents[2]
ENDED = {"terminated", "failed", "completed", "orphaned"}


# -- helpers ------------------------------------------------------------------------------


async def new_session(client: Any, **args: Any) -> str:
    return (await call(client, "session_create", args))["sessionId"]


async def navigate(client: Any, sid: str | None, url: str) -> dict[str, Any]:
    args = {"url": url} | ({"sessionId": sid} if sid else {})
    return await call(client, "browser_navigate", args)


async def wait_ended(client: Any, sid: str, *, timeout: float = 20.0) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        details = await call(client, "session_get", {"sessionId": sid})
        return details if details["status"] in ENDED else None

    return await wait_until(ended, timeout=timeout, what=f"session {sid} to end")


@contextlib.asynccontextmanager
async def http_endpoint(rt: Runtime) -> AsyncIterator[str]:
    """The MCP server on ``rt`` served over streamable HTTP on a free local port."""
    server = uvicorn.Server(
        uvicorn.Config(create_server(runtime=rt).streamable_http_app(), host="127.0.0.1", port=free_port(), log_level="warning")
    )
    task = asyncio.create_task(server.serve(), name="mcp-http-test-server")
    try:
        await wait_until(lambda: server.started, timeout=15, what="the HTTP server to start")
        yield f"http://127.0.0.1:{server.config.port}/mcp"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)


# -- session_create -----------------------------------------------------------------------


async def test_session_create_returns_a_running_session_with_the_default_viewport(client):
    created = await call(client, "session_create")
    assert created["sessionId"].startswith("ses_")
    assert created["status"] == "running"
    assert created["viewport"] == {"width": 1280, "height": 720}


async def test_session_create_opens_the_starting_point(client, site):
    created = await call(client, "session_create", {"startingPoint": site.url("index.html")})
    assert created["currentUrl"] == site.url("index.html")
    assert created["observation"]["url"] == site.url("index.html")
    details = await call(client, "session_get", {"sessionId": created["sessionId"]})
    assert details["currentUrl"] == site.url("index.html")


async def test_session_create_viewport_is_the_size_of_the_page_window(client, site):
    created = await call(client, "session_create", {"viewport": {"width": 800, "height": 600}})
    assert created["viewport"] == {"width": 800, "height": 600}
    await navigate(client, created["sessionId"], site.url("viewport.html"))
    assert "window 800x600" in await page_text(client, created["sessionId"])


async def test_session_create_reports_a_starting_point_that_did_not_load_as_an_event(client, site):
    created = await call(client, "session_create", {"startingPoint": f"http://127.0.0.1:{free_port()}/"})
    assert created["status"] == "running"
    assert any(e["kind"] == "navigation" and "did not load" in e["message"] for e in created["events"])


# -- session_list -------------------------------------------------------------------------


async def test_session_list_pages_open_sessions_newest_first_with_total_and_has_more(own_client):
    async with own_client() as (c, _rt):
        ids = [await new_session(c) for _ in range(3)]
        first = await call(c, "session_list", {"limit": 2})
        assert [s["sessionId"] for s in first["sessions"]] == ids[::-1][:2]
        assert (first["total"], first["hasMore"]) == (3, True)
        rest = await call(c, "session_list", {"limit": 2, "offset": 2})
        assert [s["sessionId"] for s in rest["sessions"]] == [ids[0]]
        assert (rest["total"], rest["hasMore"]) == (3, False)


async def test_session_list_returns_30_sessions_by_default(own_client):
    async with own_client() as (c, _rt):
        for _ in range(31):
            await new_session(c)
        listed = await call(c, "session_list")
        assert len(listed["sessions"]) == 30
        assert (listed["total"], listed["hasMore"]) == (31, True)


async def test_session_list_leaves_out_ended_sessions_unless_include_terminated(own_client):
    async with own_client() as (c, _rt):
        kept, closed = await new_session(c), await new_session(c)
        await call(c, "session_close", {"sessionId": closed})
        open_only = await call(c, "session_list")
        assert [s["sessionId"] for s in open_only["sessions"]] == [kept]
        everything = await call(c, "session_list", {"includeTerminated": True})
        assert {s["sessionId"]: s["status"] for s in everything["sessions"]} == {kept: "running", closed: "terminated"}
        assert everything["total"] == 2


async def test_session_list_entries_carry_url_and_navigation_count(client, site):
    sid = await new_session(client)
    await navigate(client, sid, site.url("index.html"))
    await navigate(client, sid, site.url("forms.html"))
    listed = await call(client, "session_list", {"limit": 100})
    entry = next(s for s in listed["sessions"] if s["sessionId"] == sid)
    assert entry["currentUrl"] == site.url("forms.html")
    assert entry["navigationCount"] == 2
    assert entry["createdAt"]


# -- session_get --------------------------------------------------------------------------


async def test_session_get_reports_url_title_counts_and_duration(client, site):
    sid = await new_session(client)
    await navigate(client, sid, site.url("index.html"))
    await navigate(client, sid, site.url("console.html"))
    await call(client, "browser_screenshot", {"sessionId": sid})
    details = await call(client, "session_get", {"sessionId": sid})
    assert details["status"] == "running"
    assert details["currentUrl"] == site.url("console.html")
    assert details["title"] == "Console"
    assert details["actionCount"] == 3
    assert details["navigationCount"] == 2
    assert details["screenshotCount"] == 1
    assert details["duration"] > 0
    assert details["endedAt"] is None and details["endReason"] is None


async def test_session_get_of_an_unknown_id_is_session_not_found(client):
    err = await call_error(client, "session_get", {"sessionId": "ses_doesnotexist"})
    assert error_code(err) == "session_not_found"
    assert "ses_doesnotexist" in err


# -- session_close ------------------------------------------------------------------------


async def test_session_close_terminates_the_session(client):
    sid = await new_session(client)
    closed = await call(client, "session_close", {"sessionId": sid})
    assert closed == {"success": True, "message": "Session terminated", "sessionId": sid, "status": "terminated"}
    details = await call(client, "session_get", {"sessionId": sid})
    assert details["status"] == "terminated"
    assert details["endReason"] == "closed by client"
    assert details["endedAt"] is not None


async def test_closed_session_keeps_its_counts_and_final_duration(client, site):
    sid = await new_session(client)
    await navigate(client, sid, site.url("index.html"))
    await call(client, "session_close", {"sessionId": sid})
    first = await call(client, "session_get", {"sessionId": sid})
    assert (first["actionCount"], first["navigationCount"], first["currentUrl"]) == (1, 1, site.url("index.html"))
    await asyncio.sleep(0.05)
    assert (await call(client, "session_get", {"sessionId": sid}))["duration"] == first["duration"]


async def test_closed_session_history_is_still_readable(client, site):
    sid = await new_session(client)
    await navigate(client, sid, site.url("console.html"))
    await call(client, "browser_screenshot", {"sessionId": sid})
    await call(client, "session_close", {"sessionId": sid})
    actions = await call(client, "session_actions", {"sessionId": sid})
    assert [a["type"] for a in actions["actions"]] == ["navigate", "screenshot"]
    console = await call(client, "session_console", {"sessionId": sid})
    assert "page loaded" in [e["message"] for e in console["logs"]]
    network = await call(client, "session_network", {"sessionId": sid, "urlContains": "console.html"})
    assert network["total"] == 1
    artifacts = (await call(client, "session_artifacts", {"sessionId": sid}))["artifacts"]
    assert [a["type"] for a in artifacts] == ["screenshot"]
    assert Path(artifacts[0]["path"]).is_file()


async def test_closing_an_ended_session_is_session_closed(client):
    sid = await new_session(client)
    await call(client, "session_close", {"sessionId": sid})
    err = await call_error(client, "session_close", {"sessionId": sid})
    assert error_code(err) == "session_closed"


# -- session_actions ----------------------------------------------------------------------


async def test_session_actions_pages_with_offset_and_limit(client, site):
    sid = await new_session(client)
    urls = [site.url(f"index.html?n={i}") for i in range(5)]
    for url in urls:
        await navigate(client, sid, url)
    page = await call(client, "session_actions", {"sessionId": sid, "offset": 1, "limit": 2})
    assert page["total"] == 5
    assert [a["details"]["url"] for a in page["actions"]] == urls[1:3]
    assert all(a["type"] == "navigate" and a["success"] for a in page["actions"])


async def test_session_actions_record_duration_and_time_of_each_action(client, site):
    sid = await new_session(client)
    await navigate(client, sid, site.url("slow?ms=300"))
    (action,) = (await call(client, "session_actions", {"sessionId": sid}))["actions"]
    assert action["duration"] >= 300
    assert action["timestamp"]


async def test_session_actions_record_a_failed_action_with_its_error(client, site):
    sid = await new_session(client)
    await navigate(client, sid, site.url("index.html"))
    err = await call_error(client, "browser_act", {"sessionId": sid, "method": "click", "ref": "e9999"})
    actions = (await call(client, "session_actions", {"sessionId": sid}))["actions"]
    assert [a["success"] for a in actions] == [True, False]
    failed = actions[1]
    assert failed["type"] == "click"
    assert failed["details"].get("ref") == "e9999"
    assert failed["error"] and error_code(failed["error"]) == error_code(err)


# -- session_artifacts --------------------------------------------------------------------


async def test_session_artifacts_lists_screenshots_with_their_files(client, site):
    sid = await new_session(client)
    await navigate(client, sid, site.url("index.html"))
    shot = await call(client, "browser_screenshot", {"sessionId": sid})
    (artifact,) = (await call(client, "session_artifacts", {"sessionId": sid}))["artifacts"]
    assert artifact["objectId"] == shot["objectId"]
    assert artifact["type"] == "screenshot"
    assert artifact["bytes"] == Path(artifact["path"]).stat().st_size > 0
    assert (artifact["width"], artifact["height"]) == (1280, 720)


async def test_session_artifacts_of_a_session_without_any_is_empty(client):
    sid = await new_session(client)
    assert (await call(client, "session_artifacts", {"sessionId": sid}))["artifacts"] == []


# -- session_health -----------------------------------------------------------------------


async def test_session_health_of_a_running_session(client, site):
    sid = await new_session(client)
    await navigate(client, sid, site.url("index.html"))
    health = await call(client, "session_health", {"sessionId": sid})
    assert health["status"] == "healthy"
    assert health["sessionState"] == "running"
    assert health["browserResponsive"] is True
    assert health["currentUrl"] == site.url("index.html")
    assert health["uptimeMs"] > 0


async def test_session_health_of_an_ended_session(client):
    sid = await new_session(client)
    await call(client, "session_close", {"sessionId": sid})
    health = await call(client, "session_health", {"sessionId": sid})
    assert (health["status"], health["sessionState"], health["browserResponsive"]) == ("ended", "terminated", False)


# -- session_console ----------------------------------------------------------------------


async def loaded_console_page(client: Any, site: Any) -> str:
    """A session on console.html once its fetches are done and its uncaught error was thrown."""
    sid = await new_session(client)
    await navigate(client, sid, site.url("console.html"))

    async def settled() -> bool:
        logs = (await call(client, "session_console", {"sessionId": sid, "limit": 1000}))["logs"]
        return "fetches done" in await page_text(client, sid) and any("uncaught oops" in e["message"] for e in logs)

    await wait_until(settled, what="console.html to finish")
    return sid


async def test_session_console_records_every_level(client, site):
    sid = await loaded_console_page(client, site)
    logs = (await call(client, "session_console", {"sessionId": sid}))["logs"]
    seen = {(e["level"], e["message"]) for e in logs}
    assert {("log", "page loaded"), ("warn", "careful"), ("error", "boom error")} <= seen
    assert any(level == "error" and "uncaught oops" in message for level, message in seen)


async def test_session_console_level_error_returns_only_errors(client, site):
    sid = await loaded_console_page(client, site)
    errors = await call(client, "session_console", {"sessionId": sid, "level": "error"})
    assert errors["logs"] and {e["level"] for e in errors["logs"]} == {"error"}
    assert "boom error" in [e["message"] for e in errors["logs"]]
    assert errors["total"] == len(errors["logs"])


async def test_session_console_level_warn_includes_errors_but_not_logs(client, site):
    sid = await loaded_console_page(client, site)
    logs = (await call(client, "session_console", {"sessionId": sid, "level": "warn"}))["logs"]
    messages = [e["message"] for e in logs]
    assert "careful" in messages and "boom error" in messages
    assert "page loaded" not in messages


async def test_session_console_unknown_level_is_invalid_input(client):
    sid = await new_session(client)
    err = await call_error(client, "session_console", {"sessionId": sid, "level": "loud"})
    assert error_code(err) == "invalid_input"
    assert "level" in err


# -- session_network ----------------------------------------------------------------------


async def test_session_network_url_contains_filters_requests(client, site):
    sid = await loaded_console_page(client, site)
    found = await call(client, "session_network", {"sessionId": sid, "urlContains": "/status/404"})
    assert found["total"] == 1
    (entry,) = found["requests"]
    assert (entry["url"], entry["method"], entry["status"]) == (site.url("status/404"), "GET", 404)
    assert entry["resourceType"] == "fetch"
    assert entry["duration"] is not None and entry["duration"] >= 0


async def test_session_network_failed_only_lists_error_statuses(client, site):
    sid = await loaded_console_page(client, site)
    failed = await call(client, "session_network", {"sessionId": sid, "failedOnly": True})
    assert sorted(r["status"] for r in failed["requests"]) == [404, 500]
    everything = await call(client, "session_network", {"sessionId": sid})
    assert site.url("console.html") in [r["url"] for r in everything["requests"]]


async def test_session_network_failed_only_lists_a_request_blocked_by_policy(client, site):
    sid = await new_session(client, avoidDomains=["ads.localhost"])
    await navigate(client, sid, site.url("cross-host.html"))
    await wait_until(lambda: _contains(page_text(client, sid), "all done"), what="cross-host.html to finish")
    failed = (await call(client, "session_network", {"sessionId": sid, "failedOnly": True}))["requests"]
    (blocked,) = failed
    assert blocked["url"].startswith("http://ads.localhost:")
    assert "blocked by URL policy" in blocked["failure"]


async def test_session_network_records_sizes_of_responses(client, site):
    sid = await new_session(client)
    await navigate(client, sid, site.url("image.png"))
    (entry,) = (await call(client, "session_network", {"sessionId": sid, "urlContains": "image.png"}))["requests"]
    assert entry["status"] == 200 and entry["size"] and entry["size"] > 0


async def _contains(text: Awaitable[str], needle: str) -> bool:
    return needle in await text


# -- the default session ------------------------------------------------------------------


async def test_tools_without_session_id_share_one_default_session(client, site):
    first = await navigate(client, None, site.url("forms.html"))
    second = await call(client, "browser_observe")
    assert second["url"] == site.url("forms.html")
    again = await navigate(client, None, site.url("index.html"))
    assert again["sessionId"] == first["sessionId"]


async def test_default_session_is_created_on_first_use(own_client, site):
    async with own_client() as (c, _rt):
        assert (await call(c, "session_list"))["total"] == 0
        result = await navigate(c, None, site.url("index.html"))
        listed = await call(c, "session_list")
        assert [s["sessionId"] for s in listed["sessions"]] == [result["sessionId"]]


async def test_default_session_is_created_again_after_it_ended(client, site):
    old = (await navigate(client, None, site.url("index.html")))["sessionId"]
    await call(client, "session_close", {"sessionId": old})
    new = (await navigate(client, None, site.url("index.html")))["sessionId"]
    assert new != old


@contextlib.asynccontextmanager
async def two_stateful_http_clients(own_client: Any) -> AsyncIterator[tuple[Any, Any]]:
    async with (
        own_client() as (_c, rt),
        http_endpoint(rt) as url,
        held_client(url, mode="legacy") as a,
        held_client(url, mode="legacy") as b,
    ):
        yield a, b


async def test_two_stateful_http_clients_get_different_default_sessions(own_client, site):
    # In-process clients have no identity of their own (every one is "local", like the single
    # client of a stdio process); over streamable HTTP each MCP session is its own client.
    async with two_stateful_http_clients(own_client) as (a, b):
        sid_a = (await navigate(a, None, site.url("index.html")))["sessionId"]
        sid_b = (await navigate(b, None, site.url("forms.html")))["sessionId"]
        assert sid_a != sid_b
        assert (await navigate(a, None, site.url("table.html")))["sessionId"] == sid_a
        assert (await navigate(b, None, site.url("table.html")))["sessionId"] == sid_b


async def test_http_clients_without_api_keys_are_one_local_owner(own_client, site):
    # DESIGN.md: loopback without keys is a single local owner; its clients differ only in their
    # default sessions and the per-client cap. (Owners apart: tests/browser/test_service_api.py.)
    async with two_stateful_http_clients(own_client) as (a, b):
        sid = (await navigate(a, None, site.url("index.html")))["sessionId"]
        assert (await call(b, "session_get", {"sessionId": sid}))["status"] == "running"
        assert sid in [s["sessionId"] for s in (await call(b, "session_list"))["sessions"]]
        assert (await navigate(b, sid, site.url("forms.html")))["sessionId"] == sid
        assert [x["type"] for x in (await call(a, "session_actions", {"sessionId": sid}))["actions"]] == ["navigate", "navigate"]


async def test_the_session_cap_counts_per_http_client(own_client, site):
    async with (
        own_client(max_sessions=1) as (_c, rt),
        http_endpoint(rt) as url,
        held_client(url, mode="legacy") as a,
        held_client(url, mode="legacy") as b,
    ):
        await call(a, "session_create")
        assert error_code(await call_error(a, "session_create")) == "browser_session_limit"
        await call(b, "session_create")  # another client of the same owner has a cap of its own


async def test_stateless_http_clients_with_different_names_get_different_default_sessions(own_client, site):
    async with (
        own_client() as (_c, rt),
        http_endpoint(rt) as url,
        held_client(url, client_info=Implementation(name="alpha", version="1")) as a,
        held_client(url, client_info=Implementation(name="beta", version="1")) as b,
    ):
        sid_a = (await navigate(a, None, site.url("index.html")))["sessionId"]
        sid_b = (await navigate(b, None, site.url("forms.html")))["sessionId"]
        assert sid_a != sid_b
        assert (await navigate(a, None, site.url("table.html")))["sessionId"] == sid_a


# -- isolation ----------------------------------------------------------------------------


async def test_cookie_set_in_one_session_is_absent_in_another(client, site):
    signed_in, other = await new_session(client), await new_session(client)
    await sign_in(client, site, signed_in)
    await navigate(client, signed_in, site.url("account"))
    assert "Welcome, Ada" in await page_text(client, signed_in)
    result = await navigate(client, other, site.url("account"))
    assert result["url"] == site.url("login.html")
    assert "Welcome, Ada" not in await page_text(client, other)


async def test_local_storage_set_in_one_session_is_absent_in_another(client, site):
    writer, reader = await new_session(client), await new_session(client)
    await navigate(client, writer, site.url("storage.html?set=alpha"))
    await navigate(client, writer, site.url("storage.html"))
    assert "stored: alpha" in await page_text(client, writer)
    await navigate(client, reader, site.url("storage.html"))
    assert "stored: nothing" in await page_text(client, reader)


# -- lifecycle ----------------------------------------------------------------------------


async def test_idle_session_ends_terminated_with_the_idle_reason(own_client):
    async with own_client(session_idle_seconds=1, reaper_interval_seconds=0.2) as (c, _rt):
        sid = await new_session(c)
        details = await wait_ended(c, sid)
        assert details["status"] == "terminated"
        assert "idle timeout" in details["endReason"]


async def test_session_past_its_max_lifetime_ends_terminated_even_when_in_use(own_client, site):
    async with own_client(session_max_seconds=2, reaper_interval_seconds=0.2) as (c, _rt):
        sid = await new_session(c)

        async def ended_while_used() -> dict[str, Any] | None:
            result = await c.call_tool("browser_navigate", {"sessionId": sid, "url": site.url("index.html")})
            details = await call(c, "session_get", {"sessionId": sid})
            return details if result.is_error and details["status"] in ENDED else None

        details = await wait_until(ended_while_used, what="the max lifetime to end the session")
        assert details["status"] == "terminated"
        assert "max lifetime" in details["endReason"]


async def test_acting_on_a_timed_out_session_is_session_closed_naming_the_reason_and_session_create(own_client, site):
    async with own_client(session_idle_seconds=1, reaper_interval_seconds=0.2) as (c, _rt):
        sid = await new_session(c)
        await wait_ended(c, sid)
        err = await call_error(c, "browser_navigate", {"sessionId": sid, "url": site.url("index.html")})
        assert error_code(err) == "session_closed"
        assert sid in err and "idle timeout" in err
        assert "hint:" in err and "session_create" in err.split("hint:", 1)[1]


@pytest.mark.parametrize("tool", ["browser_navigate", "browser_observe", "browser_extract", "browser_screenshot"])
async def test_acting_on_a_closed_session_is_session_closed(client, site, tool):
    sid = await new_session(client)
    await call(client, "session_close", {"sessionId": sid})
    args = {"sessionId": sid} | ({"url": site.url("index.html")} if tool == "browser_navigate" else {})
    err = await call_error(client, tool, args)
    assert error_code(err) == "session_closed"
    assert "closed by client" in err and "session_create" in err


async def test_calls_in_flight_and_queued_on_a_session_that_is_closed_fail_session_closed(client, runtime, site):
    sid = await new_session(client)
    await navigate(client, sid, site.url("index.html"))
    slow = asyncio.create_task(client.call_tool("browser_navigate", {"sessionId": sid, "url": site.url("slow?ms=20000")}))
    queued = asyncio.create_task(client.call_tool("browser_observe", {"sessionId": sid}))
    await wait_until(lambda: runtime.registry.busy(sid) == 2, what="both calls to reach the session")
    await call(client, "session_close", {"sessionId": sid})
    for result in await asyncio.wait_for(asyncio.gather(slow, queued), timeout=30):
        assert result.is_error
        assert error_code(text_of(result)) == "session_closed"
        assert "session_create" in text_of(result)


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("browser_navigate", {"url": "http://127.0.0.1/"}),
        ("session_close", {}),
        ("session_actions", {}),
        ("session_console", {}),
        ("session_network", {}),
        ("session_artifacts", {}),
        ("session_health", {}),
    ],
)
async def test_unknown_session_id_is_session_not_found(client, tool, args):
    err = await call_error(client, tool, {"sessionId": "ses_000000000000", **args})
    assert error_code(err) == "session_not_found"


# -- the session cap ----------------------------------------------------------------------


async def test_session_cap_refuses_one_more_until_one_is_closed(own_client):
    async with own_client(max_sessions=2) as (c, _rt):
        first, second = await new_session(c), await new_session(c)
        err = await call_error(c, "session_create")
        assert error_code(err) == "browser_session_limit"
        assert first in err and second in err and "session_close" in err
        await call(c, "session_close", {"sessionId": first})
        assert (await call(c, "session_create"))["status"] == "running"


async def test_session_cap_is_per_client(own_client):
    async with (
        own_client(max_sessions=1) as (_c, rt),
        http_endpoint(rt) as url,
        held_client(url, mode="legacy") as a,
        held_client(url, mode="legacy") as b,
    ):
        await new_session(a)
        assert error_code(await call_error(a, "session_create")) == "browser_session_limit"
        assert (await call(b, "session_create"))["status"] == "running"


async def test_default_session_counts_toward_the_session_cap(own_client, site):
    async with own_client(max_sessions=2) as (c, _rt):
        await new_session(c)
        await new_session(c)
        err = await call_error(c, "browser_navigate", {"url": site.url("index.html")})
        assert error_code(err) == "browser_session_limit"


async def test_a_session_that_ended_by_itself_frees_its_place_under_the_cap(own_client):
    async with own_client(max_sessions=1, session_idle_seconds=1, reaper_interval_seconds=0.2) as (c, _rt):
        sid = await new_session(c)
        await wait_ended(c, sid)
        assert (await call(c, "session_create"))["status"] == "running"


# -- browser crash ------------------------------------------------------------------------


def kill_browser(rt: Runtime) -> int:
    pid = rt.engine.browser_pid()
    psutil.Process(pid).kill()
    return pid


async def test_sessions_on_a_crashed_browser_end_failed_with_a_reason(own_client, site):
    async with own_client() as (c, rt):
        a, b = await new_session(c), await new_session(c)
        await navigate(c, a, site.url("index.html"))
        kill_browser(rt)
        for sid in (a, b):
            details = await wait_ended(c, sid)
            assert details["status"] in ("failed", "orphaned")
            assert "browser" in details["endReason"]


async def test_a_new_session_after_a_browser_crash_works(own_client, site):
    async with own_client() as (c, rt):
        old = await new_session(c)
        await navigate(c, old, site.url("index.html"))
        dead = kill_browser(rt)
        await wait_ended(c, old)
        sid = await new_session(c)
        result = await navigate(c, sid, site.url("forms.html"))
        assert result["url"] == site.url("forms.html") and result["status"] == 200
        assert rt.engine.browser_pid() not in (None, dead)


async def test_acting_on_a_session_lost_with_the_browser_is_session_closed(own_client, site):
    async with own_client() as (c, rt):
        sid = await new_session(c)
        await navigate(c, sid, site.url("index.html"))
        kill_browser(rt)
        await wait_ended(c, sid)
        err = await call_error(c, "browser_observe", {"sessionId": sid})
        assert error_code(err) == "session_closed"
        assert "session_create" in err


# -- nothing lost -------------------------------------------------------------------------


async def test_every_one_of_many_fast_actions_is_recorded(client, site):
    sid = await new_session(client)
    await navigate(client, sid, site.url("viewport.html"))
    n = 100
    for i in range(n):
        await call(client, "browser_act", {"sessionId": sid, "method": "scroll", "value": "down" if i % 2 else "up"})
    actions = await call(client, "session_actions", {"sessionId": sid, "limit": 1000})
    assert actions["total"] == n + 1
    assert [a["type"] for a in actions["actions"]] == ["navigate"] + ["scroll"] * n
    assert all(a["success"] for a in actions["actions"])
    assert (await call(client, "session_get", {"sessionId": sid}))["actionCount"] == n + 1


async def test_concurrent_navigations_on_one_session_are_all_recorded(client, site):
    sid = await new_session(client)
    urls = [site.url(f"index.html?burst={i}") for i in range(30)]
    await asyncio.gather(*(navigate(client, sid, u) for u in urls))
    actions = await call(client, "session_actions", {"sessionId": sid, "limit": 1000})
    assert sorted(a["details"]["url"] for a in actions["actions"]) == sorted(urls)
    network = await call(client, "session_network", {"sessionId": sid, "urlContains": "index.html?burst=", "limit": 1000})
    assert sorted(r["url"] for r in network["requests"]) == sorted(urls)
    assert (await call(client, "session_get", {"sessionId": sid}))["navigationCount"] == len(urls)


async def test_every_console_line_of_a_chatty_page_is_recorded_in_order(client, site):
    sid = await new_session(client)
    await navigate(client, sid, site.url("console-spam.html?n=1000"))
    console = await call(client, "session_console", {"sessionId": sid, "limit": 1000})
    assert console["total"] == 1000
    assert [e["message"] for e in console["logs"]] == [f"spam {i}" for i in range(1, 1001)]
    assert (await call(client, "session_get", {"sessionId": sid}))["dropped"] == {}


async def test_console_past_the_retention_bound_keeps_the_newest_and_reports_the_dropped(own_client, site):
    async with own_client(record_max_rows=100) as (c, _rt):
        sid = await new_session(c)
        await navigate(c, sid, site.url("console-spam.html?n=500"))
        console = await call(c, "session_console", {"sessionId": sid, "limit": 1000})
        dropped = (await call(c, "session_get", {"sessionId": sid}))["dropped"]["console"]
        kept = [e["message"] for e in console["logs"]]
        assert console["total"] == len(kept) >= 100
        assert dropped + len(kept) == 500
        assert kept == [f"spam {i}" for i in range(dropped + 1, 501)]


# -- persistence --------------------------------------------------------------------------


async def test_session_history_survives_a_server_restart(runtime_factory, tmp_path, site):
    data = tmp_path / "persist"
    async with runtime_factory(data_dir=data) as rt, held_client(create_server(runtime=rt)) as c:
        sid = await new_session(c)
        await navigate(c, sid, site.url("console.html"))
        await call(c, "browser_screenshot", {"sessionId": sid})
        before = await call(c, "session_get", {"sessionId": sid})
        console_before = await call(c, "session_console", {"sessionId": sid})
    async with runtime_factory(data_dir=data) as rt, held_client(create_server(runtime=rt)) as c:
        after = await call(c, "session_get", {"sessionId": sid})
        assert after["status"] == "terminated" and after["endReason"] == "server shut down"
        for field in ("currentUrl", "title", "actionCount", "navigationCount", "screenshotCount", "createdAt"):
            assert after[field] == before[field], field
        assert [a["type"] for a in (await call(c, "session_actions", {"sessionId": sid}))["actions"]] == [
            "navigate",
            "screenshot",
        ]
        console_after = await call(c, "session_console", {"sessionId": sid})
        assert console_after["logs"][: len(console_before["logs"])] == console_before["logs"]
        (artifact,) = (await call(c, "session_artifacts", {"sessionId": sid}))["artifacts"]
        assert Path(artifact["path"]).is_file()


_DYING_SERVER = """
import asyncio, sys
from pathlib import Path
from tests.support.settings import make_settings
from thinkrun_mcp.models import Owner
from thinkrun_mcp.runtime import Runtime

async def main():
    rt = Runtime(make_settings(Path(sys.argv[1])))
    await rt.start()
    created = await rt.browser.create_session(Owner.local())
    await rt.browser.navigate(Owner.local(), created.session_id, url=sys.argv[2])
    await rt.store.flush()
    print(created.session_id, flush=True)
    await asyncio.sleep(3600)  # killed here, with the session running

asyncio.run(main())
"""


async def test_session_left_running_by_a_dead_server_is_marked_failed_on_restart(runtime_factory, tmp_path, site):
    data = tmp_path / "killed"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(_DYING_SERVER),
        str(data),
        site.url("index.html"),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    children: list[psutil.Process] = []
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=60)).decode()
        sid = line.strip()
        assert sid.startswith("ses_"), f"the server process printed {line!r}"
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), timeout=15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), timeout=15)
    for child in children:  # the driver and browser it left behind, if any
        with contextlib.suppress(psutil.Error):
            child.kill()
    async with runtime_factory(data_dir=data) as rt, held_client(create_server(runtime=rt)) as c:
        details = await call(c, "session_get", {"sessionId": sid})
        assert details["status"] == "failed"
        assert details["endReason"] == "interrupted by server restart"
        assert details["currentUrl"] == site.url("index.html")
        assert (await call(c, "session_actions", {"sessionId": sid}))["total"] == 1
        err = await call_error(c, "browser_navigate", {"sessionId": sid, "url": site.url("index.html")})
        assert error_code(err) == "session_closed" and "interrupted by server restart" in err


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("session_list", {"limit": 0}, "limit"),
        ("session_list", {"limit": 101}, "limit"),
        ("session_list", {"offset": -1}, "offset"),
        ("session_list", {"limit": "many"}, "limit"),
        ("session_list", {"includeTerminated": "perhaps"}, "includeTerminated"),
        ("session_actions", {"sessionId": "ses_x", "limit": 0}, "limit"),
        ("session_actions", {"sessionId": "ses_x", "offset": -5}, "offset"),
        ("session_console", {"sessionId": "ses_x", "limit": 1001}, "limit"),
        ("session_network", {"sessionId": "ses_x", "failedOnly": [1]}, "failedOnly"),
        ("session_get", {"sessionId": ""}, "sessionId"),
        ("session_get", {"sessionId": 42}, "sessionId"),
        ("session_get", {}, "sessionId"),
        ("session_create", {"viewport": {"width": 10, "height": 600}}, "width"),
        ("session_create", {"viewport": "big"}, "viewport"),
        ("session_list", {"limt": 5}, "limt"),
    ],
)
async def test_bad_arguments_are_invalid_input_naming_the_field(client, tool, args, field):
    err = await call_error(client, tool, args)
    assert error_code(err) == "invalid_input"
    assert field in err.split("(hint:", 1)[0]
