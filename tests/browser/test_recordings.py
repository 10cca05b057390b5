"""Recordings: a trace Playwright can open, a video per tab, a HAR; secrets kept out of them."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.support.mcp import call, call_error, error_code, ref_of, text_of
from thinkrun_mcp.browser.recording import video_unavailable

SECRET = "hunter2-hunter2"


async def _record(own_client, site, **secrets):
    async with own_client() as (client, rt):
        created = await call(
            client,
            "session_create",
            {"record": {"trace": True, "video": True, "har": True}, "startingPoint": site.url("forms.html")},
        )
        sid = created["sessionId"]
        if secrets:
            rt.browser.redactor(rt_owner()).add({SECRET: "<secret:pw>"})
        text = text_of(await client.call_tool("browser_observe", {"sessionId": sid}))
        await call(
            client,
            "browser_act",
            {"sessionId": sid, "method": "fill", "ref": ref_of(text, "textbox", "Full name"), "value": SECRET},
        )
        await call(client, "browser_act", {"sessionId": sid, "method": "click", "ref": ref_of(text, "button", "Submit")})
        await call(client, "session_close", {"sessionId": sid})
        artifacts = (await call(client, "session_artifacts", {"sessionId": sid}))["artifacts"]
        details = await call(client, "session_get", {"sessionId": sid})
        return {a["type"]: a for a in artifacts}, details


def rt_owner():
    from thinkrun_mcp.models import Owner

    return Owner.local()


def _unavailable() -> str | None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        return video_unavailable(pw.chromium.executable_path)


@pytest.fixture
def ffmpeg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Playwright's ffmpeg, or Debian's standing in for it (Playwright's download needs the internet, as
    its Chromium does; .ci/run installs Debian's); the test is skipped when neither is there."""
    why = _unavailable()
    if why is None:
        return
    system = shutil.which("ffmpeg")
    if system is None:
        pytest.skip("no ffmpeg: neither Playwright's nor a system one")
    wanted = Path(why.rsplit("(", 1)[1].rstrip(")"))
    root = tmp_path / "pw-browsers"
    (root / wanted.parent.name).mkdir(parents=True)
    (root / wanted.parent.name / wanted.name).symlink_to(system)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(root))
    assert _unavailable() is None


async def test_a_recorded_session_leaves_a_trace_a_video_and_a_har(own_client, site, ffmpeg):
    kinds, _ = await _record(own_client, site)
    assert {"trace", "video", "har"} <= set(kinds), kinds
    with zipfile.ZipFile(kinds["trace"]["path"]) as z:
        names = z.namelist()
        assert any(n.endswith(".trace") for n in names) and any(n.endswith(".network") for n in names)
    har = json.loads(Path(kinds["har"]["path"]).read_text())
    assert any("forms.html" in e["request"]["url"] for e in har["log"]["entries"])
    video = Path(kinds["video"]["path"])
    assert video.suffix == ".webm" and video.stat().st_size > 1000


async def test_video_without_ffmpeg_is_a_coded_error_naming_the_remedy(own_client, monkeypatch, tmp_path):
    assert video_unavailable(str(tmp_path / "chromium-1" / "chrome-linux" / "chrome")) is not None
    from thinkrun_mcp.browser import registry

    monkeypatch.setattr(registry, "video_unavailable", lambda _path: "video recording needs Playwright's ffmpeg (missing)")
    async with own_client() as (client, _rt):
        err = await call_error(client, "session_create", {"record": {"video": True}})
        assert error_code(err) == "browser_unavailable" and "playwright install ffmpeg" in err
        created = await call(client, "session_create", {"record": {"trace": True}})  # trace needs no ffmpeg
        assert created["status"] == "running"


async def test_recordings_of_a_session_that_typed_a_secret_hold_no_value(own_client, site, ffmpeg):
    kinds, details = await _record(own_client, site, secrets=True)
    assert "video" not in kinds  # its pixels showed the typed value: discarded
    assert {"trace", "har"} <= set(kinds)
    with zipfile.ZipFile(kinds["trace"]["path"]) as z:
        for name in z.namelist():
            data = z.read(name)
            assert SECRET.encode() not in data, name
            if name.endswith(".jpeg"):  # the screenshots in the trace are left whole
                assert data[:2] == b"\xff\xd8", name
    assert SECRET not in Path(kinds["har"]["path"]).read_text()
    assert details["status"] == "terminated"
