"""Several browser endpoints, without a browser: how they are configured, shown, ranked and refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.support.settings import make_settings
from thinkrun_mcp.browser.endpoints import Endpoint, candidates, no_endpoint_error
from thinkrun_mcp.config import BrowserEndpoint, Settings
from thinkrun_mcp.urls import redact_url

# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "ws://a:3000/, http://b:9222",
        "ws://a:3000/ http://b:9222",
        '["ws://a:3000/", "http://b:9222"]',
        '["ws://a:3000/", {"url": "http://b:9222"}]',
    ],
)
def test_several_endpoints_in_the_plain_and_json_forms(monkeypatch, value) -> None:
    monkeypatch.setenv("THINKRUN_BROWSER_ENDPOINT", value)

    endpoints = Settings(_env_file=None).browser_endpoint

    assert [(e.url, e.protocol) for e in endpoints] == [("ws://a:3000/", "playwright"), ("http://b:9222", "cdp")]


def test_one_endpoint_as_before_and_none_by_default() -> None:
    assert [e.url for e in Settings(_env_file=None, browser_endpoint="ws://a:3000/").browser_endpoint] == ["ws://a:3000/"]
    assert Settings(_env_file=None).browser_endpoint == []


def test_a_json_entry_sets_its_own_cap_over_the_shared_one(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        browser_endpoint='[{"url": "ws://a:3000/", "maxSessions": 2}, "ws://b:3000/"]',
        endpoint_max_sessions=5,
    )

    assert [e.max_sessions for e in Endpoint.from_settings(settings)] == [2, 5]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("ftp://a:21/", "is not a browser endpoint"),
        ("a:3000", "is not a browser endpoint"),
        ("ws://a:3000/, ws://a:3000/", "listed once"),
        ('[{"url": "ws://a:3000/", "maxSessions": 0}]', "greater than or equal to 1"),
        ('[{"url": "ws://a:3000/", "max": 3}]', "Extra inputs are not permitted"),
    ],
)
def test_a_bad_endpoint_is_refused_at_startup_saying_why(monkeypatch, value, says) -> None:
    monkeypatch.setenv("THINKRUN_BROWSER_ENDPOINT", value)

    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None)

    assert says in str(info.value)


def test_endpoint_urls_are_shown_without_their_credentials() -> None:
    spec = BrowserEndpoint(url="wss://user:pw@chrome.example.com/playwright?token=s3cret&stealth=1")

    assert spec.shown == "wss://user:***@chrome.example.com/playwright?token=***&stealth=***"
    assert "s3cret" not in repr(spec) and "pw@" not in repr(spec)
    assert redact_url("http://127.0.0.1:9222") == "http://127.0.0.1:9222"


# -- where a new context goes ------------------------------------------------------------------


def endpoints(tmp_path: Path, n: int, **settings) -> list[Endpoint]:
    urls = ", ".join(f"ws://127.0.0.1:{1000 + i}/" for i in range(n))
    return Endpoint.from_settings(make_settings(tmp_path, browser_endpoint=urls, **settings))


def test_a_new_session_goes_to_the_endpoint_with_the_fewest_sessions_ties_in_order(tmp_path: Path) -> None:
    a, b, c = endpoints(tmp_path, 3)
    a.reserved, b.reserved, c.reserved = 2, 1, 1

    assert candidates([a, b, c], "session") == [b, c, a]


def test_down_endpoints_come_last_and_full_ones_not_at_all(tmp_path: Path) -> None:
    a, b, c = endpoints(tmp_path, 3, endpoint_max_sessions=2)
    a.lost("the remote browser disconnected")  # down, with no sessions
    b.reserved = 2  # full
    c.reserved = 1

    assert candidates([a, b, c], "session") == [c, a]
    assert candidates([a, b, c], "cache") == [c, b, a]  # a page-cache render is never refused by a cap


def test_all_full_is_browser_session_limit_naming_each_endpoint(tmp_path: Path) -> None:
    a, b = endpoints(tmp_path, 2, endpoint_max_sessions=1)
    a.reserved = 1
    b.lost("connect ECONNREFUSED 127.0.0.1:1001")

    error = no_endpoint_error([a, b])

    assert error.code == "browser_session_limit"
    assert "ws://127.0.0.1:1000/ (unused, 1 of 1 sessions)" in error.message
    assert "ws://127.0.0.1:1001/ (down, 0 of 1 sessions: connect ECONNREFUSED 127.0.0.1:1001)" in error.message
    assert "THINKRUN_ENDPOINT_MAX_SESSIONS" in (error.hint or "")


def test_all_down_is_browser_unavailable_naming_each_endpoint(tmp_path: Path) -> None:
    a, b = endpoints(tmp_path, 2)
    a.lost("the remote browser ws://127.0.0.1:1000/ disconnected")
    b.lost("connect ECONNREFUSED 127.0.0.1:1001")

    error = no_endpoint_error([a, b])

    assert error.code == "browser_unavailable"
    assert error.message.startswith("no browser endpoint can be reached: ws://127.0.0.1:1000/ (down, 0 sessions")
    assert "ECONNREFUSED 127.0.0.1:1001" in error.message
