"""The page cache end to end: page_cache_html / page_cache_text / page_cache_screenshot through the
real in-process MCP client, real Chromium on the fixture site, real SQLite files, and the cloud
provider against a local fake ThinkRun-compatible API.

The fixture site counts requests per path (query strings ignored), so a unique query string
gives each test its own cache key while ``site.hits[path]`` still tells whether the site was asked.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest
from mcp.types import CallToolResult
from PIL import Image

from tests.support.fakes import FakeCloud
from tests.support.mcp import call, call_error, error_code, held_client, ref_of
from tests.support.procs import free_port
from tests.support.runtime import served_runtime, started_runtime
from tests.support.site import SITE_DIR, VALID_EMAIL, VALID_PASSWORD
from tests.support.wait import wait_until
from thinkrun_mcp.browser.policy import UrlPolicy
from thinkrun_mcp.runtime import Runtime
from thinkrun_mcp.server.mcp import create_server

METADATA_FIELDS = {
    "url",
    "finalUrl",
    "status",
    "title",
    "contentType",
    "bytes",
    "fetchedAt",
    "cached",
    "ageSeconds",
    "durationMs",
    "provider",
}
CLOUD_KEY = "test-cloud-key"


def unique(site: Any, path: str, **query: Any) -> str:
    """A fixture-site URL no other call has used: its own cache key, the same hit counter."""
    params = "&".join(f"{k}={v}" for k, v in {**query, "t": uuid.uuid4().hex[:12]}.items())
    return site.url(f"{path}?{params}")


def image_of(result: CallToolResult) -> Image.Image:
    blocks = [c for c in result.content if c.type == "image"]
    assert len(blocks) == 1, f"expected one image block, got {[c.type for c in result.content]}"
    assert blocks[0].mime_type == "image/png"
    return Image.open(io.BytesIO(base64.b64decode(blocks[0].data)))


def file_of(artifact_url: str) -> Path:
    parts = urlsplit(artifact_url)
    assert parts.scheme == "file"
    return Path(url2pathname(parts.path))


# -- page_cache_html ---------------------------------------------------------------------------


async def test_html_returns_the_rendered_page_and_full_metadata(client, site):
    url = unique(site, "index.html")
    r = await call(client, "page_cache_html", {"url": url})
    assert "<title>Fixture site</title>" in r["html"]
    m = r["metadata"]
    assert set(m) >= METADATA_FIELDS
    assert (m["url"], m["finalUrl"], m["status"], m["title"]) == (url, url, 200, "Fixture site")
    assert m["contentType"].startswith("text/html")
    assert m["bytes"] == len(r["html"].encode())
    assert (m["cached"], m["ageSeconds"], m["provider"]) == (False, 0, "local")


async def test_without_wait_for_the_page_is_read_at_load(client, site):
    r = await call(client, "page_cache_html", {"url": unique(site, "late.html", ms=60_000)})
    assert 'id="early"' in r["html"]
    assert 'id="late"' not in r["html"]  # added a minute after load


async def test_a_redirect_hop_into_a_refused_host_is_url_blocked_and_never_requested(own_client, site):
    # The page cache's own rules (schemes, private networks) cannot refuse one fixture host and not
    # another, so this render runs under a policy that avoids one host name of the fixture server.
    async with own_client() as (c, rt):
        policy = UrlPolicy(avoid_domains=["blocked.localhost"])
        rt.cache.policy = rt.cache.renderer.pool.policy = policy
        target = site.url(f"counter?{uuid.uuid4().hex}").replace("127.0.0.1", "blocked.localhost")
        before = site.hits["/counter"]
        err = await call_error(c, "page_cache_html", {"url": site.url(f"redirect?to={target}")})
    assert error_code(err) == "url_blocked" and "avoided domain" in err
    assert site.hits["/counter"] == before


async def test_metadata_final_url_follows_redirects(client, site):
    r = await call(client, "page_cache_html", {"url": site.url(f"redirect?to=/index.html%3Fr%3D{uuid.uuid4().hex}")})
    assert urlsplit(r["metadata"]["finalUrl"]).path == "/index.html"
    assert r["metadata"]["title"] == "Fixture site"


async def test_html_result_text_starts_with_a_header_the_model_reads(client, site):
    result = await client.call_tool("page_cache_html", {"url": unique(site, "index.html")})
    text = result.content[0].text
    assert text.splitlines()[0].startswith(site.url("index.html"))
    assert "HTTP 200" in text.splitlines()[0]
    assert "<title>Fixture site</title>" in text


# -- page_cache_text ---------------------------------------------------------------------------


async def test_text_returns_visible_text_without_markup(client, site):
    r = await call(client, "page_cache_text", {"url": unique(site, "index.html")})
    assert "Fixture site" in r["text"]
    assert "Test pages for thinkrun-mcp." in r["text"]
    assert "<" not in r["text"]


async def test_text_markdown_format_keeps_headings_and_links(client, site):
    r = await call(client, "page_cache_text", {"url": unique(site, "index.html"), "options": {"format": "markdown"}})
    assert "# Fixture site" in r["text"]
    assert "[Forms](" in r["text"]


async def test_text_and_markdown_of_one_url_are_cached_separately(client, site):
    url = unique(site, "index.html")
    plain = await call(client, "page_cache_text", {"url": url})
    markdown = await call(client, "page_cache_text", {"url": url, "options": {"format": "markdown"}})
    assert markdown["metadata"]["cached"] is False
    assert markdown["text"] != plain["text"]


# -- page_cache_screenshot ---------------------------------------------------------------------


async def test_screenshot_returns_a_viewport_png_block_and_its_cached_file(client, site, runtime):
    result = await client.call_tool("page_cache_screenshot", {"url": unique(site, "index.html")})
    assert not result.is_error
    img = image_of(result)
    assert img.format == "PNG"
    assert img.size == (runtime.settings.viewport_width, runtime.settings.viewport_height)
    r = result.structured_content
    assert (r["metadata"]["width"], r["metadata"]["height"]) == img.size
    path = file_of(r["artifactUrl"])
    assert path.parent == runtime.settings.data_dir.resolve() / "cache"
    assert Image.open(path).size == img.size
    assert r["metadata"]["bytes"] == path.stat().st_size


async def test_screenshot_full_page_captures_the_whole_scroll_height(client, site, runtime):
    args = {"url": unique(site, "long-list.html"), "options": {"fullPage": True}}
    result = await client.call_tool("page_cache_screenshot", args)
    width, height = image_of(result).size
    assert width == runtime.settings.viewport_width
    assert height > 2 * runtime.settings.viewport_height


async def test_screenshot_max_dimension_scales_the_longest_side_and_keeps_the_aspect_ratio(client, site, runtime):
    args = {"url": unique(site, "index.html"), "options": {"maxDimension": 320}}
    result = await client.call_tool("page_cache_screenshot", args)
    width, height = image_of(result).size
    assert width == 320
    expected = 320 * runtime.settings.viewport_height / runtime.settings.viewport_width
    assert abs(height - expected) <= 1
    assert (result.structured_content["metadata"]["width"], result.structured_content["metadata"]["height"]) == (width, height)


async def test_full_page_and_max_dimension_together_bound_the_tall_side(client, site):
    options = {"fullPage": True, "maxDimension": 500}
    result = await client.call_tool("page_cache_screenshot", {"url": unique(site, "long-list.html"), "options": options})
    width, height = image_of(result).size
    assert height == 500
    assert width < 500


async def test_cached_screenshot_comes_back_with_the_same_image(client, site):
    url = unique(site, "index.html")
    first = await client.call_tool("page_cache_screenshot", {"url": url, "options": {"maxDimension": 200}})
    second = await client.call_tool("page_cache_screenshot", {"url": url, "options": {"maxDimension": 200}})
    assert second.structured_content["metadata"]["cached"] is True
    assert image_of(second).tobytes() == image_of(first).tobytes()


# -- waitFor and timeout -----------------------------------------------------------------------


async def test_wait_for_css_selector_waits_for_content_added_after_load(client, site):
    r = await call(client, "page_cache_text", {"url": unique(site, "late.html", ms=300), "options": {"waitFor": "#late"}})
    assert "Arrived late." in r["text"]


async def test_wait_for_text_waits_for_visible_text(client, site):
    options = {"waitFor": "text=Arrived late."}
    r = await call(client, "page_cache_text", {"url": unique(site, "late.html", ms=300), "options": options})
    assert "Arrived late." in r["text"]


async def test_wait_for_milliseconds_waits_after_load(client, site):
    r = await call(client, "page_cache_text", {"url": unique(site, "late.html", ms=100), "options": {"waitFor": 1500}})
    assert "Arrived late." in r["text"]


async def test_wait_for_a_selector_that_never_appears_is_a_timeout_error(client, site):
    options = {"waitFor": "#late", "timeout": 1500}
    text = await call_error(client, "page_cache_html", {"url": unique(site, "late.html", ms=60_000), "options": options})
    assert error_code(text) == "timeout"
    assert "#late" in text


async def test_wait_for_an_invalid_selector_is_invalid_input(client, site):
    text = await call_error(client, "page_cache_html", {"url": unique(site, "index.html"), "options": {"waitFor": "div[[["}})
    assert error_code(text) == "invalid_input"
    assert "waitFor" in text


async def test_slow_page_beyond_the_timeout_is_a_timeout_error(client, site):
    url = unique(site, "slow", ms=10_000)
    text = await call_error(client, "page_cache_html", {"url": url, "options": {"timeout": 1000}})
    assert error_code(text) == "timeout"
    assert "1000 ms" in text


async def test_a_request_joining_a_slower_fetch_waits_only_its_own_timeout(client, site):
    url = unique(site, "slow", ms=4_000)
    before = site.hits["/slow"]
    first = asyncio.create_task(call(client, "page_cache_text", {"url": url, "options": {"timeout": 20_000}}))
    await wait_until(lambda: site.hits["/slow"] > before, what="the first request to reach the site")
    text = await call_error(client, "page_cache_text", {"url": url, "options": {"timeout": 1_000}})
    assert error_code(text) == "timeout" and "already being fetched" in text
    assert not first.done()  # the first one goes on regardless
    assert "slow done" in (await first)["text"]


async def test_slow_page_within_the_timeout_is_returned(client, site):
    r = await call(client, "page_cache_text", {"url": unique(site, "slow", ms=300), "options": {"timeout": 10_000}})
    assert "slow done" in r["text"]


# -- hits, misses, maxAge ----------------------------------------------------------------------


async def test_second_request_is_served_from_the_cache_without_asking_the_site(client, site):
    url = unique(site, "counter")
    first = await call(client, "page_cache_text", {"url": url})
    hits = site.hits["/counter"]
    second = await call(client, "page_cache_text", {"url": url})
    assert site.hits["/counter"] == hits
    assert (first["metadata"]["cached"], second["metadata"]["cached"]) == (False, True)
    assert second["text"] == first["text"]
    assert second["metadata"]["fetchedAt"] == first["metadata"]["fetchedAt"]


async def test_max_age_zero_always_fetches_a_fresh_copy(client, site):
    url = unique(site, "counter")
    first = await call(client, "page_cache_text", {"url": url})
    hits = site.hits["/counter"]
    fresh = await call(client, "page_cache_text", {"url": url, "options": {"maxAge": 0}})
    assert site.hits["/counter"] == hits + 1
    assert fresh["metadata"]["cached"] is False
    assert fresh["text"] != first["text"]  # the counter page shows the new count


async def test_fresh_copy_replaces_the_cached_one(client, site):
    url = unique(site, "counter")
    await call(client, "page_cache_text", {"url": url})
    fresh = await call(client, "page_cache_text", {"url": url, "options": {"maxAge": 0}})
    again = await call(client, "page_cache_text", {"url": url})
    assert again["metadata"]["cached"] is True
    assert again["text"] == fresh["text"]


async def test_cached_copy_reports_its_age_and_an_older_one_than_max_age_is_fetched_again(client, site):
    url = unique(site, "counter")
    await call(client, "page_cache_text", {"url": url})
    await asyncio.sleep(1.2)
    aged = await call(client, "page_cache_text", {"url": url})
    assert (aged["metadata"]["cached"], aged["metadata"]["ageSeconds"]) == (True, 1)
    hits = site.hits["/counter"]
    refetched = await call(client, "page_cache_text", {"url": url, "options": {"maxAge": 1}})
    assert site.hits["/counter"] == hits + 1
    assert (refetched["metadata"]["cached"], refetched["metadata"]["ageSeconds"]) == (False, 0)


async def test_urls_differing_only_in_host_case_and_default_port_share_one_entry(client, site):
    path = f"index.html?t={uuid.uuid4().hex}"
    await call(client, "page_cache_html", {"url": f"http://127.0.0.1:{site.port}/{path}"})
    again = await call(client, "page_cache_html", {"url": f"HTTP://127.0.0.1:{site.port}/{path}"})
    assert again["metadata"]["cached"] is True


# -- single flight -----------------------------------------------------------------------------


async def test_concurrent_identical_requests_share_one_render(client, site):
    url = unique(site, "slow", ms=800)
    before = site.hits["/slow"]
    results = await asyncio.gather(*(call(client, "page_cache_html", {"url": url}) for _ in range(6)))
    assert site.hits["/slow"] == before + 1
    assert len({r["metadata"]["fetchedAt"] for r in results}) == 1
    assert all("slow done" in r["html"] for r in results)


async def test_concurrent_identical_sensitive_requests_share_one_render(client, site):
    url = unique(site, "slow", ms=800)
    before = site.hits["/slow"]
    args = {"url": url, "options": {"sensitive": True}}
    results = await asyncio.gather(*(call(client, "page_cache_text", args) for _ in range(4)))
    assert site.hits["/slow"] == before + 1
    assert all("slow done" in r["text"] for r in results)


async def test_concurrent_requests_with_different_options_render_separately(client, site):
    url = unique(site, "slow", ms=500)
    before = site.hits["/slow"]
    await asyncio.gather(
        call(client, "page_cache_text", {"url": url}),
        call(client, "page_cache_text", {"url": url, "options": {"format": "markdown"}}),
    )
    assert site.hits["/slow"] == before + 2


# -- isolation ---------------------------------------------------------------------------------


async def test_renders_do_not_see_the_cookies_of_browser_sessions(client, site):
    text = (await call(client, "browser_navigate", {"url": site.url("login.html")}))["observation"]["text"]
    await call(client, "browser_act", {"ref": ref_of(text, "textbox", "Email"), "method": "fill", "value": VALID_EMAIL})
    await call(client, "browser_act", {"ref": ref_of(text, "textbox", "Password"), "method": "fill", "value": VALID_PASSWORD})
    await call(client, "browser_act", {"ref": ref_of(text, "button", "Sign in"), "method": "click"})
    signed_in = await call(client, "browser_navigate", {"url": site.url("account")})
    assert signed_in["title"] == "Account"  # the session is signed in
    r = await call(client, "page_cache_html", {"url": unique(site, "account")})
    assert urlsplit(r["metadata"]["finalUrl"]).path == "/login.html"


async def test_a_render_does_not_inherit_cookies_or_storage_left_by_the_previous_one(client, site):
    await call(client, "page_cache_html", {"url": unique(site, "sets-cookie.html")})
    headers = await call(client, "page_cache_text", {"url": unique(site, "echo-headers")})
    assert "oatmeal" not in headers["text"]
    assert "cookie" not in json.loads(headers["text"])


async def test_a_render_does_not_see_local_storage_left_by_an_earlier_render(client, site):
    first = await call(client, "page_cache_text", {"url": unique(site, "sets-cookie.html")})
    assert "Stored before: nothing" in first["text"]
    again = await call(client, "page_cache_text", {"url": unique(site, "sets-cookie.html")})
    assert "Stored before: nothing" in again["text"]


# -- eviction at the size cap ------------------------------------------------------------------


SMALL_CACHE = 4096  # index.html's HTML is ~1.5 kB whatever its query: two copies fit, three do not


@pytest.fixture(scope="module")
async def small_cache(tmp_path_factory):
    """A client on a runtime whose cache holds only ``SMALL_CACHE`` bytes: ``(client, runtime)``."""
    async with served_runtime(tmp_path_factory.mktemp("small-cache"), cache_max_bytes=SMALL_CACHE) as (c, rt):
        yield c, rt


async def stored_urls(rt: Runtime) -> set[str]:
    return {row["url"] for row in await rt.store.fetch("SELECT url FROM page_cache")}


async def test_least_recently_used_entry_is_evicted_at_the_size_cap(small_cache, site):
    c, rt = small_cache
    a, b, d = (unique(site, "index.html") for _ in range(3))
    await call(c, "page_cache_html", {"url": a})
    await call(c, "page_cache_html", {"url": b})
    assert (await call(c, "page_cache_html", {"url": a}))["metadata"]["cached"] is True  # a is now the newest
    await call(c, "page_cache_html", {"url": d})
    kept = await stored_urls(rt)
    assert a in kept and d in kept and b not in kept
    assert rt.cache.total_bytes <= SMALL_CACHE
    assert (await call(c, "page_cache_html", {"url": a}))["metadata"]["cached"] is True
    assert (await call(c, "page_cache_html", {"url": b}))["metadata"]["cached"] is False


async def test_evicted_screenshot_takes_its_file_with_it(small_cache, site):
    c, rt = small_cache
    shot_url = unique(site, "index.html")
    shot = await call(c, "page_cache_screenshot", {"url": shot_url, "options": {"maxDimension": 64}})
    path = file_of(shot["artifactUrl"])
    assert path.is_file() and shot["metadata"]["bytes"] < SMALL_CACHE
    assert shot_url in await stored_urls(rt)
    pages = [unique(site, "index.html") for _ in range(3)]  # 3 × ~1.5 kB push the screenshot out
    for url in pages:
        await call(c, "page_cache_html", {"url": url})
    assert not path.exists()
    assert shot_url not in await stored_urls(rt)
    assert rt.cache.total_bytes <= SMALL_CACHE
    assert (await call(c, "page_cache_html", {"url": pages[-1]}))["metadata"]["cached"] is True


async def test_a_page_larger_than_the_whole_cache_is_returned_but_not_kept(small_cache, site):
    c, rt = small_cache
    url = unique(site, "big.html")
    r = await call(c, "page_cache_html", {"url": url})
    assert len(r["html"].encode()) > SMALL_CACHE
    assert "not cached" in r["metadata"]["note"]
    assert url not in await stored_urls(rt)
    assert (await call(c, "page_cache_html", {"url": url}))["metadata"]["cached"] is False


async def test_cache_survives_a_restart_of_the_server(runtime_factory, site, tmp_path):
    url = unique(site, "index.html")
    async with runtime_factory(data_dir=tmp_path / "d") as rt, held_client(create_server(runtime=rt)) as c:
        await call(c, "page_cache_html", {"url": url})
    async with runtime_factory(data_dir=tmp_path / "d") as rt, held_client(create_server(runtime=rt)) as c:
        again = await call(c, "page_cache_html", {"url": url})
    assert again["metadata"]["cached"] is True


# -- sensitive URLs ----------------------------------------------------------------------------


async def test_sensitive_url_and_content_are_absent_from_the_database_files(client, runtime, site, caplog):
    caplog.set_level(logging.DEBUG)
    secret, public = f"secret{uuid.uuid4().hex}", f"public{uuid.uuid4().hex}"
    for tool in ("page_cache_html", "page_cache_text", "page_cache_screenshot"):
        r = await call(client, tool, {"url": site.url(f"index.html?token={secret}"), "options": {"sensitive": True}})
        assert r["metadata"]["cached"] is False
    await call(client, "page_cache_html", {"url": site.url(f"index.html?token={public}")})  # the control: it is stored
    await runtime.store.flush()
    db = runtime.settings.db_path
    wal = db.with_name(db.name + "-wal")
    raw = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert public.encode() in raw
    assert secret.encode() not in raw
    ours = "".join(r.getMessage() for r in caplog.records if r.name.startswith("thinkrun_mcp"))
    assert public in ours  # the control: other URLs are logged
    assert secret not in caplog.text


async def test_password_in_a_url_is_neither_stored_nor_logged(client, runtime, site, caplog):
    caplog.set_level(logging.DEBUG)
    password = f"pw{uuid.uuid4().hex}"
    url = site.url("index.html").replace("http://", f"http://ada:{password}@")
    r = await call(client, "page_cache_html", {"url": url})
    assert r["metadata"]["status"] == 200
    again = await call(client, "page_cache_html", {"url": url})
    assert again["metadata"]["cached"] is True  # cached all the same, under a key that hashes the password
    await runtime.store.flush()
    db = runtime.settings.db_path
    wal = db.with_name(db.name + "-wal")
    raw = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert b"ada:***@" in raw
    assert password.encode() not in raw
    assert password not in caplog.text


@pytest.mark.parametrize(
    "path, options, code",
    [("unreachable", {}, "navigation_failed"), ("slow?ms=10000", {"timeout": 1000}, "timeout")],
)
async def test_sensitive_url_is_not_named_in_errors(client, site, path, options, code):
    secret = f"secret{uuid.uuid4().hex}"
    base = f"http://127.0.0.1:{free_port()}/" if path == "unreachable" else site.url(path) + "&"
    url = f"{base}{'?' if path == 'unreachable' else ''}token={secret}"
    text = await call_error(client, "page_cache_html", {"url": url, "options": {"sensitive": True, **options}})
    assert error_code(text) == code
    assert secret not in text
    assert "the sensitive URL" in text


async def test_sensitive_request_is_never_served_from_the_cache(client, site):
    url = unique(site, "counter")
    await call(client, "page_cache_text", {"url": url})
    hits = site.hits["/counter"]
    r = await call(client, "page_cache_text", {"url": url, "options": {"sensitive": True}})
    assert site.hits["/counter"] == hits + 1
    assert r["metadata"]["cached"] is False


async def test_sensitive_screenshot_has_an_image_but_no_artifact_url(client, site):
    result = await client.call_tool("page_cache_screenshot", {"url": unique(site, "index.html"), "options": {"sensitive": True}})
    assert image_of(result).format == "PNG"
    assert result.structured_content["artifactUrl"] is None


async def test_sensitive_request_to_the_cloud_is_refused(client, site):
    options = {"sensitive": True, "provider": "cloud"}
    text = await call_error(client, "page_cache_html", {"url": unique(site, "index.html"), "options": options})
    assert error_code(text) == "sensitive_url"


async def test_sensitive_request_is_refused_when_the_server_default_is_cloud(own_client, site):
    async with own_client(cache_provider="cloud") as (c, _):
        text = await call_error(c, "page_cache_text", {"url": unique(site, "index.html"), "options": {"sensitive": True}})
        assert error_code(text) == "sensitive_url"
        assert "THINKRUN_CACHE_PROVIDER" in text


async def test_blocked_sensitive_url_is_not_named_in_the_error(client):
    text = await call_error(client, "page_cache_html", {"url": "file:///etc/secret-plans.txt", "options": {"sensitive": True}})
    assert error_code(text) == "url_blocked"
    assert "secret-plans" not in text


# -- the cloud provider ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_cloud():
    with FakeCloud(valid_key=CLOUD_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
async def cloud_runtime(fake_cloud, tmp_path_factory):
    async with started_runtime(tmp_path_factory.mktemp("cloud-data"), cloud_url=fake_cloud.base_url, api_key=CLOUD_KEY) as rt:
        yield rt


@pytest.fixture
async def cloud(fake_cloud, cloud_runtime):
    """A client on a runtime whose cloud provider is the fake; the fake's knobs are reset for each test."""
    fake_cloud.valid_key, fake_cloud.credits, fake_cloud.delay_seconds, fake_cloud.fail_status = CLOUD_KEY, 100, 0.0, None
    async with held_client(create_server(runtime=cloud_runtime)) as c:
        yield c


def cloud_args(site, **options: Any) -> dict[str, Any]:
    return {"url": unique(site, "index.html"), "options": {"provider": "cloud", **options}}


async def test_cloud_html_comes_from_the_cloud_api_with_the_bearer_key(cloud, fake_cloud, site):
    args = cloud_args(site, waitFor="#main")
    calls, used = fake_cloud.calls, fake_cloud.credits_used
    r = await call(cloud, "page_cache_html", args)
    assert "served by FakeCloud" in r["html"]
    assert (r["metadata"]["provider"], r["metadata"]["status"]) == ("cloud", 200)
    assert (fake_cloud.calls, fake_cloud.credits_used) == (calls + 1, used + 1)
    sent = fake_cloud.requests_to("/api/cache/html")[-1]
    assert sent.headers["authorization"] == f"Bearer {CLOUD_KEY}"
    assert sent.body == {"url": args["url"], "options": {"waitFor": "#main"}}  # provider/maxAge/sensitive stay here


async def test_cloud_text_returns_the_apis_text(cloud, fake_cloud, site):
    r = await call(cloud, "page_cache_text", cloud_args(site))
    assert "Cached copy of" in r["text"]
    assert "<" not in r["text"]


async def test_cloud_screenshot_downloads_the_artifact_as_an_image_block(cloud, fake_cloud, site):
    result = await cloud.call_tool("page_cache_screenshot", cloud_args(site))
    assert not result.is_error
    assert image_of(result).size == (8, 8)  # the fake's PNG
    assert file_of(result.structured_content["artifactUrl"]).is_file()
    assert fake_cloud.requests_to("/artifacts/")


async def test_cloud_answers_are_cached_like_local_ones(cloud, fake_cloud, site):
    args = cloud_args(site)
    await call(cloud, "page_cache_html", args)
    calls = fake_cloud.calls
    again = await call(cloud, "page_cache_html", args)
    assert again["metadata"]["cached"] is True
    assert fake_cloud.calls == calls


async def test_cloud_refusing_the_key_is_invalid_api_key_without_retry(cloud, fake_cloud, site):
    fake_cloud.valid_key = "another-key"
    calls = fake_cloud.calls
    text = await call_error(cloud, "page_cache_html", cloud_args(site))
    assert error_code(text) == "invalid_api_key"
    assert "THINKRUN_API_KEY" in text
    assert CLOUD_KEY not in text
    assert fake_cloud.calls == calls + 1


async def test_cloud_without_credits_is_insufficient_credits(cloud, fake_cloud, site):
    fake_cloud.credits = 2
    calls = fake_cloud.calls
    text = await call_error(cloud, "page_cache_screenshot", cloud_args(site))  # costs 3
    assert error_code(text) == "insufficient_credits"
    assert "local" in text  # the hint offers the free provider
    assert fake_cloud.calls == calls + 1


async def test_cloud_that_does_not_answer_in_time_is_a_timeout_without_retry(cloud, fake_cloud, site):
    fake_cloud.delay_seconds = 10
    calls = fake_cloud.calls
    text = await call_error(cloud, "page_cache_html", cloud_args(site, timeout=1000))
    assert error_code(text) == "timeout"
    assert fake_cloud.calls == calls + 1


async def test_cloud_server_error_is_upstream_error_without_retry(cloud, fake_cloud, site):
    fake_cloud.fail_status = 503
    calls = fake_cloud.calls
    text = await call_error(cloud, "page_cache_text", cloud_args(site))
    assert error_code(text) == "upstream_error"
    assert "503" in text
    assert fake_cloud.calls == calls + 1


async def test_cloud_provider_without_url_and_key_is_cloud_unconfigured(client, site):
    text = await call_error(client, "page_cache_html", {"url": unique(site, "index.html"), "options": {"provider": "cloud"}})
    assert error_code(text) == "cloud_unconfigured"
    assert "THINKRUN_CLOUD_URL" in text and "THINKRUN_API_KEY" in text


async def test_cloud_provider_with_url_but_no_key_names_the_missing_key(own_client, site, fake_cloud):
    async with own_client(cloud_url=fake_cloud.base_url) as (c, _):
        text = await call_error(c, "page_cache_html", cloud_args(site))
    assert error_code(text) == "cloud_unconfigured"
    assert "THINKRUN_API_KEY" in text and "THINKRUN_CLOUD_URL" not in text


# -- responses that are not HTML pages ---------------------------------------------------------


async def test_plain_text_is_returned_as_sent(client, site):
    r = await call(client, "page_cache_text", {"url": unique(site, "plain.txt")})
    assert r["text"] == (SITE_DIR / "plain.txt").read_text()
    assert r["metadata"]["contentType"].startswith("text/plain")


async def test_json_is_returned_as_sent(client, site):
    r = await call(client, "page_cache_text", {"url": unique(site, "data.json")})
    assert json.loads(r["text"]) == json.loads((SITE_DIR / "data.json").read_text())


async def test_json_as_markdown_is_a_fenced_json_block(client, site):
    r = await call(client, "page_cache_text", {"url": unique(site, "data.json"), "options": {"format": "markdown"}})
    assert r["text"].startswith("```json\n") and r["text"].endswith("\n```")
    assert json.loads(r["text"][len("```json\n") : -len("\n```")]) == json.loads((SITE_DIR / "data.json").read_text())


async def test_pdf_gets_a_note_instead_of_an_empty_page(client, site):
    r = await call(client, "page_cache_text", {"url": unique(site, "doc.pdf")})
    assert r["text"] == ""
    assert "PDF" in r["metadata"]["note"]
    assert r["metadata"]["contentType"] == "application/pdf"


async def test_image_url_as_html_gets_a_note_pointing_to_the_screenshot_tool(client, site):
    r = await call(client, "page_cache_html", {"url": unique(site, "image.png")})
    assert r["html"] == ""
    assert "image" in r["metadata"]["note"] and "page_cache_screenshot" in r["metadata"]["note"]


async def test_file_download_gets_a_note_naming_the_file(client, site):
    r = await call(client, "page_cache_text", {"url": unique(site, "download/report.csv")})
    assert "download" in r["metadata"]["note"]
    assert "report.csv" in r["metadata"]["note"]


async def test_screenshot_of_a_pdf_has_a_note_and_no_image(client, site):
    result = await client.call_tool("page_cache_screenshot", {"url": unique(site, "doc.pdf")})
    assert not result.is_error
    assert [c.type for c in result.content] == ["text"]
    assert "PDF" in result.structured_content["metadata"]["note"]
    assert result.structured_content["artifactUrl"] is None


async def test_screenshot_of_an_image_url_shows_the_image(client, site):
    result = await client.call_tool("page_cache_screenshot", {"url": unique(site, "image.png"), "options": {"maxDimension": 400}})
    assert image_of(result).size == (400, 225)
    assert result.structured_content["metadata"]["contentType"] == "image/png"


async def test_screenshot_of_an_error_page_is_returned_but_no_file_is_kept(client, site):
    result = await client.call_tool("page_cache_screenshot", {"url": site.url(f"status/404?t={uuid.uuid4().hex}")})
    assert image_of(result).format == "PNG"
    r = result.structured_content
    assert (r["metadata"]["status"], r["artifactUrl"]) == (404, None)


@pytest.mark.parametrize("status", [404, 500])
async def test_http_error_page_is_returned_with_its_status_and_not_cached(client, site, status):
    url = site.url(f"status/{status}?t={uuid.uuid4().hex}")
    hits = site.hits[f"/status/{status}"]
    first = await call(client, "page_cache_html", {"url": url})
    second = await call(client, "page_cache_html", {"url": url})
    assert site.hits[f"/status/{status}"] == hits + 2
    assert (first["metadata"]["status"], second["metadata"]["cached"]) == (status, False)
    assert f"Status {status}" in first["html"]
    assert "not cached" in first["metadata"]["note"]


# -- failures and the URL policy ---------------------------------------------------------------


async def test_unreachable_site_is_navigation_failed(client):
    text = await call_error(client, "page_cache_html", {"url": f"http://127.0.0.1:{free_port()}/"})
    assert error_code(text) == "navigation_failed"
    assert "ERR_CONNECTION_REFUSED" in text


@pytest.mark.parametrize("url", ["file:///etc/passwd", "javascript:alert(1)"])
async def test_blocked_schemes_are_url_blocked(client, url):
    text = await call_error(client, "page_cache_text", {"url": url})
    assert error_code(text) == "url_blocked"
    assert "scheme is not allowed" in text


async def test_private_network_block_refuses_the_loopback_site_before_loading_it(own_client, site):
    url = unique(site, "counter")
    hits = site.hits["/counter"]
    async with own_client(block_private_networks=True) as (c, _):
        text = await call_error(c, "page_cache_html", {"url": url})
    assert error_code(text) == "url_blocked"
    assert site.hits["/counter"] == hits


# -- bad options -------------------------------------------------------------------------------


async def test_unknown_option_is_invalid_input_with_a_suggestion(client, site):
    text = await call_error(client, "page_cache_html", {"url": unique(site, "index.html"), "options": {"maxage": 5}})
    assert error_code(text) == "invalid_input"
    assert "unknown option 'maxage'" in text
    assert "maxAge" in text


async def test_screenshot_options_are_unknown_to_the_html_tool(client, site):
    text = await call_error(client, "page_cache_html", {"url": unique(site, "index.html"), "options": {"fullPage": True}})
    assert error_code(text) == "invalid_input"
    assert "fullPage" in text


@pytest.mark.parametrize(
    "tool, options, named",
    [
        ("page_cache_html", {"timeout": -5}, "options.timeout"),
        ("page_cache_html", {"timeout": 999_999}, "options.timeout"),
        ("page_cache_html", {"maxAge": -1}, "options.maxAge"),
        ("page_cache_html", {"maxAge": "yesterday"}, "options.maxAge"),
        ("page_cache_html", {"provider": "remote"}, "options.provider"),
        ("page_cache_html", {"sensitive": "maybe"}, "options.sensitive"),
        ("page_cache_html", {"waitFor": True}, "options.waitFor"),
        ("page_cache_html", {"waitFor": -100}, "options.waitFor"),
        ("page_cache_text", {"format": "pdf"}, "options.format"),
        ("page_cache_screenshot", {"fullPage": "yes please"}, "options.fullPage"),
        ("page_cache_screenshot", {"maxDimension": 0}, "options.maxDimension"),
        ("page_cache_screenshot", {"maxDimension": "big"}, "options.maxDimension"),
    ],
)
async def test_bad_option_values_are_invalid_input_naming_the_option(client, site, tool, options, named):
    text = await call_error(client, tool, {"url": unique(site, "index.html"), "options": options})
    assert error_code(text) == "invalid_input"
    assert named in text


async def test_options_that_are_not_an_object_are_invalid_input(client, site):
    text = await call_error(client, "page_cache_html", {"url": unique(site, "index.html"), "options": ["maxAge", 0]})
    assert error_code(text) == "invalid_input"
    assert "options" in text


async def test_wait_longer_than_the_timeout_is_invalid_input(client, site):
    options = {"waitFor": 5000, "timeout": 2000}
    text = await call_error(client, "page_cache_html", {"url": unique(site, "index.html"), "options": options})
    assert error_code(text) == "invalid_input"
    assert "waitFor" in text and "timeout" in text


async def test_missing_url_is_invalid_input(client):
    text = await call_error(client, "page_cache_html", {"options": {"maxAge": 0}})
    assert error_code(text) == "invalid_input"
    assert "url" in text


async def test_blank_url_is_invalid_input(client):
    text = await call_error(client, "page_cache_text", {"url": "   "})
    assert error_code(text) == "invalid_input"


async def test_bad_options_reach_neither_the_site_nor_the_browser(client, site, runtime):
    renders = runtime.cache.renderer.renders
    await call_error(client, "page_cache_html", {"url": unique(site, "counter"), "options": {"timeout": -5}})
    assert runtime.cache.renderer.renders == renders
