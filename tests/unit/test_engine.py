"""Where the browser comes from: the engine's discovery, and what a caller reads when there is none."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.support.settings import make_settings
from thinkrun_mcp.browser import engine as engine_module
from thinkrun_mcp.browser.engine import BrowserEngine, find_browser
from thinkrun_mcp.errors import ThinkRunError


def test_explicit_browser_path_wins_over_discovery(tmp_path: Path) -> None:
    exe = tmp_path / "my-chrome"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)

    location = find_browser(make_settings(tmp_path, browser_path=str(exe)))

    assert (location.source, location.path) == ("setting", str(exe))


def test_missing_explicit_browser_path_is_browser_unavailable_naming_the_remedies(tmp_path: Path) -> None:
    with pytest.raises(ThinkRunError) as info:
        find_browser(make_settings(tmp_path, browser_path=str(tmp_path / "no-such-chrome")))

    text = str(info.value)
    assert info.value.code == "browser_unavailable"
    assert f"{tmp_path / 'no-such-chrome'} is not an executable file" in text
    assert "python -m playwright install chromium" in text
    assert "Chrome/Chromium" in text


def test_no_browser_anywhere_is_browser_unavailable_naming_the_remedies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "_SYSTEM_NAMES", ())
    monkeypatch.setattr(engine_module, "_SYSTEM_PATHS", {})

    with pytest.raises(ThinkRunError) as info:
        find_browser(make_settings(tmp_path), pw=None)

    assert info.value.code == "browser_unavailable"
    assert "no Chromium or Chrome browser was found" in info.value.message
    assert "python -m playwright install chromium" in str(info.value)
    assert "install Chrome/Chromium" in str(info.value)


def test_browser_endpoints_replace_the_local_browser_even_with_a_path(tmp_path: Path) -> None:
    engine = BrowserEngine(
        make_settings(tmp_path, browser_endpoint="ws://127.0.0.1:1/, http://127.0.0.1:2", browser_path="/nope")
    )

    assert [(e.key, e.kind, e.remote) for e in engine.endpoints] == [
        ("ws://127.0.0.1:1/", "playwright", True),
        ("http://127.0.0.1:2", "cdp", True),
    ]


def test_without_endpoints_the_local_browser_is_the_one_endpoint(tmp_path: Path) -> None:
    engine = BrowserEngine(make_settings(tmp_path))

    assert [(e.key, e.kind, e.remote) for e in engine.endpoints] == [("local", "local", False)]
