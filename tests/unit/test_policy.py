"""URL rules: the pure UrlPolicy (its enforcement through the tools is in ``tests/browser/test_policy.py``)."""

from __future__ import annotations

import pytest

from thinkrun_mcp.browser.policy import UrlPolicy, host_matches, normalize_pattern
from thinkrun_mcp.errors import ThinkRunError

# -- the pure policy ------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://example.com/", "https://example.com/a?b=c", "about:blank"])
def test_default_policy_allows_http_https_and_about_blank(url):
    assert UrlPolicy().verdict(url) is None


@pytest.mark.parametrize(
    "url, scheme",
    [
        ("file:///etc/passwd", "file"),
        ("chrome://settings", "chrome"),
        ("javascript:alert(1)", "javascript"),
        ("data:text/html,<h1>hi</h1>", "data"),
        ("ftp://example.com/x", "ftp"),
        ("view-source:http://example.com/", "view-source"),
    ],
)
def test_default_policy_refuses_other_schemes_by_name(url, scheme):
    assert f"{scheme}: scheme is not allowed" in UrlPolicy().verdict(url)


def test_a_url_without_scheme_or_host_is_refused():
    assert "no scheme" in UrlPolicy().verdict("example.com/path")
    assert "no host" in UrlPolicy().verdict("http:///path")


@pytest.mark.parametrize(
    "pattern, host, matches",
    [
        ("example.com", "example.com", True),
        ("example.com", "www.example.com", True),
        ("example.com", "notexample.com", False),
        ("*.example.com", "example.com", True),
        ("*.example.com", "a.b.example.com", True),
        ("*.example.com", "example.com.evil.net", False),
        ("ads.*", "ads.tracker.net", True),
        ("ads.*", "myads.tracker.net", False),
        ("tracker-??.net", "tracker-42.net", True),
        ("tracker-??.net", "tracker-123.net", False),
    ],
)
def test_domain_patterns_match_hosts_and_subdomains(pattern, host, matches):
    assert host_matches(host, normalize_pattern(pattern)) is matches


@pytest.mark.parametrize(
    "given, normalized",
    [("https://Shop.Example.com/cart", "shop.example.com"), ("example.com:8080", "example.com"), ("Example.COM.", "example.com")],
)
def test_patterns_given_as_urls_or_with_ports_are_reduced_to_hosts(given, normalized):
    assert normalize_pattern(given) == normalized


def test_avoided_domain_wins_over_allowed_domain():
    policy = UrlPolicy(allow_domains=["*.example.com"], avoid_domains=["ads.example.com"])
    assert policy.verdict("https://www.example.com/") is None
    assert "avoided domain" in policy.verdict("https://ads.example.com/x")


def test_allow_list_refuses_every_other_host():
    policy = UrlPolicy(allow_domains=["example.com"])
    assert "not in the allowed domains" in policy.verdict("https://example.org/")


def test_host_matching_ignores_case_and_a_trailing_dot():
    policy = UrlPolicy(avoid_domains=["example.com"])
    assert policy.verdict("https://WWW.Example.COM./") is not None


def test_route_is_needed_only_when_an_http_url_can_be_refused():
    assert not UrlPolicy().needs_route
    assert UrlPolicy(avoid_domains=["x.com"]).needs_route
    assert UrlPolicy(allow_domains=["x.com"]).needs_route
    assert UrlPolicy(block_private=True).needs_route


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.9.9.9:8080/",
        "http://localhost/",
        "http://LOCALHOST./",
        "http://api.localhost/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        # Numeric forms that URL parsers (and Chromium) read as 127.0.0.1 / 10.0.0.1.
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0x7f.0.0.1/",
        "http://017700000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://10.1/",
    ],
)
def test_private_network_blocking_refuses_loopback_private_and_numeric_forms_without_dns(url):
    assert "private" in (UrlPolicy(block_private=True).verdict(url) or ""), url


@pytest.mark.parametrize("url", ["http://8.8.8.8/", "http://[2001:4860:4860::8888]/", "http://1.1/", "http://example.com/"])
def test_private_network_blocking_lets_public_addresses_through(url):
    assert UrlPolicy(block_private=True).verdict(url) is None


def test_private_network_blocking_is_off_by_default():
    assert UrlPolicy().verdict("http://127.0.0.1:8000/") is None


def test_blocked_networks_replace_the_private_ranges():
    policy = UrlPolicy(block_private=True, blocked_networks=["127.0.0.2/32", "fd00::/8"])
    assert policy.verdict("http://127.0.0.1:8000/") is None
    assert policy.verdict("http://10.0.0.1/") is None
    assert (
        policy.verdict("http://127.0.0.2/") == "127.0.0.2 is in 127.0.0.2/32 (a blocked network) and private networks are blocked"
    )
    assert "fd00::/8" in (policy.verdict("http://[fd00::1]/") or "")
    assert policy.verdict("http://localhost/") is None  # loopback is not among them


async def test_check_raises_url_blocked_with_the_reason():
    with pytest.raises(ThinkRunError) as info:
        await UrlPolicy().check("file:///etc/passwd")
    assert info.value.code == "url_blocked"
    assert "file: scheme" in info.value.message
