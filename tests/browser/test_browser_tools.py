"""The five browser tools, specified through the real MCP client.

browser_navigate, browser_act, browser_extract and browser_screenshot (browser_observe's
compaction and the instruction matcher are specified in test_observe.py and
test_instruction.py) on real Chromium and the fixture site, success and error paths.
Every error is checked for its code: "<code>: message (hint: …)", never internal_error.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from PIL import Image

from tests.support.mcp import call, call_error, error_code, page_text, ref_of, text_of
from tests.support.procs import free_port
from tests.support.site import SITE_DIR, FixtureSite
from thinkrun_mcp.runtime import Runtime

ERROR_TEXT = re.compile(r"^[a-z_]+: .+ \(hint: .+\)$", re.S)


async def goto(client: Client, site: FixtureSite, page: str, **args: Any) -> dict[str, Any]:
    return await call(client, "browser_navigate", {"url": site.url(page), **args})


async def act(client: Client, method: str, **args: Any) -> dict[str, Any]:
    return await call(client, "browser_act", {"method": method, **args})


def obs(result: dict[str, Any]) -> str:
    return result["observation"]["text"]


def event_messages(result: dict[str, Any], kind: str) -> list[str]:
    return [e["message"] for e in result["events"] if e["kind"] == kind]


# -- browser_navigate --------------------------------------------------------------------


async def test_navigate_goto_returns_final_url_status_title_and_observation(client, site):
    r = await goto(client, site, "forms.html")
    assert r["url"] == site.url("forms.html")
    assert r["status"] == 200
    assert r["title"] == "Forms"
    assert r["sessionId"].startswith("ses_")
    assert r["observation"]["url"] == site.url("forms.html")
    assert ref_of(obs(r), "textbox", "Email")


async def test_navigate_reports_the_final_url_after_a_redirect(client, site):
    r = await call(client, "browser_navigate", {"url": site.url("redirect?to=/popup.html")})
    assert r["url"] == site.url("popup.html")
    assert r["status"] == 200
    assert r["title"] == "Popups"


async def test_navigate_back_returns_to_the_previous_page(client, site):
    await goto(client, site, "forms.html")
    await goto(client, site, "popup.html")
    r = await call(client, "browser_navigate", {"action": "back"})
    assert r["url"] == site.url("forms.html")
    assert r["title"] == "Forms"


async def test_navigate_forward_returns_to_the_next_page(client, site):
    await goto(client, site, "forms.html")
    await goto(client, site, "popup.html")
    await call(client, "browser_navigate", {"action": "back"})
    r = await call(client, "browser_navigate", {"action": "forward"})
    assert r["url"] == site.url("popup.html")
    assert r["title"] == "Popups"


async def test_navigate_back_without_history_says_so(client, site):
    await goto(client, site, "forms.html")
    await call(client, "browser_navigate", {"action": "back"})  # to the tab's first page, about:blank
    r = await call(client, "browser_navigate", {"action": "back"})
    assert r["url"] == "about:blank"
    assert any("no previous page" in m for m in event_messages(r, "navigation"))


async def test_navigate_reload_loads_the_page_again(client, site):
    await goto(client, site, "counter")
    first = int(re.search(r"\d+", await page_text(client)).group(0))
    r = await call(client, "browser_navigate", {"action": "reload"})
    assert r["status"] == 200
    assert int(re.search(r"\d+", await page_text(client)).group(0)) == first + 1


async def test_navigate_reports_http_404(client, site):
    r = await goto(client, site, "status/404")
    assert r["status"] == 404
    assert "Status 404" in await page_text(client)


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "javascript:alert(1)", "data:text/html,<h1>hi</h1>", "chrome://version"],
    ids=["file", "javascript", "data", "chrome"],
)
async def test_navigate_refuses_non_http_schemes(client, site, url):
    err = await call_error(client, "browser_navigate", {"url": url})
    assert error_code(err) == "url_blocked", err


async def test_navigate_to_a_closed_port_is_navigation_failed(client):
    err = await call_error(client, "browser_navigate", {"url": f"http://127.0.0.1:{free_port()}/"})
    assert error_code(err) == "navigation_failed", err
    assert "ERR_CONNECTION_REFUSED" in err


async def test_navigate_slower_than_timeout_ms_is_timeout(client, site):
    # slow.html's load event waits for a 1.5 s image and script.
    err = await call_error(client, "browser_navigate", {"url": site.url("slow.html"), "timeoutMs": 1000})
    assert error_code(err) == "timeout", err
    assert ERROR_TEXT.match(err)


async def test_navigate_goto_without_url_is_invalid_input(client):
    err = await call_error(client, "browser_navigate", {"action": "goto"})
    assert error_code(err) == "invalid_input", err
    assert "url" in err


# -- browser_act: the methods ------------------------------------------------------------


async def test_act_fills_signup_form_by_ref_and_submits_it(client, site):
    r = await goto(client, site, "forms.html")
    text = obs(r)
    await act(client, "fill", ref=ref_of(text, "textbox", "Full name"), value="Ada Lovelace")
    await act(client, "fill", ref=ref_of(text, "textbox", "Email"), value="ada@example.com")
    done = await act(client, "click", ref=ref_of(text, "button", "Submit"))
    assert done["navigated"] is False
    assert "name=Ada Lovelace;email=ada@example.com;" in await page_text(client)


@pytest.mark.parametrize("typed", ["[1]", '{"a": 1}', "null", "42", '"quoted"'])
async def test_act_fill_takes_any_string_even_one_that_looks_like_json(client, site, typed):
    r = await goto(client, site, "forms.html")
    await act(client, "fill", ref=ref_of(obs(r), "textbox", "Full name"), value=typed)
    await act(client, "click", ref=ref_of(obs(r), "button", "Submit"))
    assert f"name={typed};" in await page_text(client)


async def test_an_object_argument_sent_as_json_text_is_read_as_the_object(client):
    created = await call(client, "session_create", {"viewport": '{"width": 800, "height": 600}'})
    assert created["viewport"] == {"width": 800, "height": 600}
    err = await call_error(client, "session_create", {"viewport": '{"width": 5}'})
    assert error_code(err) == "invalid_input" and "viewport" in err


async def test_act_clicks_by_selector(client, site):
    await goto(client, site, "forms.html")
    r = await act(client, "click", selector="#add-item")
    assert r["selector"] == "#add-item"
    assert "Added item 1" in await page_text(client)


async def test_act_dblclick_triggers_a_double_click(client, site):
    await goto(client, site, "forms.html")
    await act(client, "dblclick", selector="#dblclick-target")
    assert "double clicked" in await page_text(client)


async def test_act_hover_shows_the_tooltip(client, site):
    await goto(client, site, "forms.html")
    assert "Tooltip visible" not in await page_text(client)
    await act(client, "hover", selector="#hover-target")
    assert "Tooltip visible" in await page_text(client)


async def test_act_type_sends_each_key_to_the_element(client, site):
    await goto(client, site, "forms.html")
    await act(client, "type", selector="#keylog", value="ab c")
    assert "a b Space c" in await page_text(client)


async def test_act_focus_then_type_without_target_goes_to_the_focused_element(client, site):
    await goto(client, site, "forms.html")
    await act(client, "focus", selector="#keylog")
    await act(client, "type", value="xy")
    assert "x y" in await page_text(client)


async def test_act_press_enter_submits_the_search_form(client, site):
    await goto(client, site, "forms.html")
    await act(client, "fill", selector="#search", value="widgets")
    await act(client, "press", selector="#search", value="Enter")
    assert "searched: widgets" in await page_text(client)


async def test_act_press_an_unknown_key_is_invalid_input(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_act", {"method": "press", "selector": "#search", "value": "NoSuchKey"})
    assert error_code(err) == "invalid_input", err


async def test_act_selects_an_option_by_label_by_ref(client, site):
    r = await goto(client, site, "forms.html")
    await act(client, "select", ref=ref_of(obs(r), "combobox", "Country"), value="Japan")
    await act(client, "click", selector="#submit")
    assert "country=JP" in await page_text(client)


async def test_act_selects_an_option_by_value(client, site):
    await goto(client, site, "forms.html")
    await act(client, "select", selector="#country", value="FR")
    await act(client, "click", selector="#submit")
    assert "country=FR" in await page_text(client)


async def test_act_check_and_uncheck_toggle_a_checkbox(client, site):
    r = await goto(client, site, "forms.html")
    box = ref_of(obs(r), "checkbox", "Subscribe to newsletter")
    await act(client, "check", ref=box)
    await act(client, "click", selector="#submit")
    assert "subscribe=true" in await page_text(client)
    await act(client, "uncheck", ref=box)
    await act(client, "click", selector="#submit")
    assert "subscribe=false" in await page_text(client)


async def test_act_check_selects_a_radio_button(client, site):
    r = await goto(client, site, "forms.html")
    await act(client, "check", ref=ref_of(obs(r), "radio", "Pro"))
    await act(client, "click", selector="#submit")
    assert "plan=pro" in await page_text(client)


async def test_act_scroll_to_bottom_brings_the_last_section_into_the_observation(client, site):
    r = await goto(client, site, "scroll.html")
    assert 'button "Button 6"' not in obs(r)
    r = await act(client, "scroll", value="bottom")
    ref = ref_of(obs(r), "button", "Button 6")
    await act(client, "click", ref=ref)
    assert "Button 6 clicked" in await page_text(client)


async def test_act_scroll_to_an_element_by_selector(client, site):
    await goto(client, site, "scroll.html")
    r = await act(client, "scroll", selector="#button-3")
    assert ref_of(obs(r), "button", "Button 3")
    assert 'button "Button 1"' not in obs(r)


@pytest.mark.parametrize("value", ["sideways", "inf", "-inf", "nan"])
async def test_act_scroll_with_a_bad_value_is_invalid_input(client, site, value):
    await goto(client, site, "scroll.html")
    err = await call_error(client, "browser_act", {"method": "scroll", "value": value})
    assert error_code(err) == "invalid_input", err


async def test_act_scroll_by_an_absurd_distance_is_clamped(client, site):
    await goto(client, site, "scroll.html")
    r = await call(client, "browser_act", {"method": "scroll", "value": "1e300"})
    assert r["method"] == "scroll"


async def test_act_uploads_a_file_from_the_upload_folder(client, site, runtime: Runtime):
    folder = runtime.settings.uploads_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "resume.txt").write_text("my resume\n")
    r = await goto(client, site, "forms.html")
    await act(client, "upload", ref=ref_of(obs(r), "button", "Attachment"), value="resume.txt")
    await act(client, "click", selector="#submit")
    assert "file=resume.txt" in await page_text(client)


async def test_act_refuses_to_upload_a_file_outside_the_upload_folder(client, site, tmp_path: Path):
    outside = tmp_path / "secret.txt"
    outside.write_text("not for upload")
    await goto(client, site, "forms.html")
    for value in (str(outside), "../../secret.txt"):
        err = await call_error(client, "browser_act", {"method": "upload", "selector": "#attachment", "value": value})
        assert error_code(err) == "invalid_input", err
        assert "outside the upload folder" in err
    assert "No file chosen" in await page_text(client)


async def test_act_upload_of_a_missing_file_is_invalid_input(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_act", {"method": "upload", "selector": "#attachment", "value": "nope.bin"})
    assert error_code(err) == "invalid_input", err
    assert "nope.bin" in err


async def test_act_wait_for_text_returns_once_the_text_appears(client, site):
    await goto(client, site, "late.html?ms=300")
    r = await act(client, "wait", value="text=Arrived late.")
    assert "Arrived late." in obs(r)


async def test_act_wait_for_a_selector_returns_once_it_matches(client, site):
    await goto(client, site, "late.html?ms=300")
    await act(client, "wait", value="#late")
    assert "Arrived late." in await page_text(client)


async def test_act_wait_for_milliseconds_lets_the_page_run(client, site):
    await goto(client, site, "late.html?ms=100")
    await act(client, "wait", value="800")
    assert "Arrived late." in await page_text(client)


async def test_act_wait_for_text_that_never_comes_is_timeout(client, site):
    await goto(client, site, "late.html")
    err = await call_error(client, "browser_act", {"method": "wait", "value": "text=Never shown", "timeoutMs": 300})
    assert error_code(err) == "timeout", err


# -- browser_act: errors -----------------------------------------------------------------


async def test_act_with_an_unknown_ref_is_element_not_found_with_a_hint(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_act", {"method": "click", "ref": "e9999"})
    assert error_code(err) == "element_not_found", err
    assert "e9999" in err and "(hint: " in err


async def test_act_with_a_malformed_ref_is_invalid_input(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_act", {"method": "click", "ref": "#submit"})
    assert error_code(err) == "invalid_input", err


async def test_act_with_a_selector_matching_nothing_is_element_not_found(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_act", {"method": "click", "selector": "#no-such-thing"})
    assert error_code(err) == "element_not_found", err


async def test_act_with_a_selector_matching_several_is_element_not_found(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_act", {"method": "click", "selector": "button"})
    assert error_code(err) == "element_not_found", err
    assert "matches" in err


async def test_act_filling_a_button_is_action_failed(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_act", {"method": "fill", "selector": "#submit", "value": "x", "timeoutMs": 2000})
    assert error_code(err) == "action_failed", err


async def test_act_selecting_a_missing_option_is_action_failed_listing_the_options(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_act", {"method": "select", "selector": "#country", "value": "Atlantis"})
    assert error_code(err) == "action_failed", err
    assert "Atlantis" in err and "Japan" in err


async def test_act_selecting_on_a_non_select_is_action_failed(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_act", {"method": "select", "selector": "#submit", "value": "x"})
    assert error_code(err) == "action_failed", err


async def test_act_click_without_target_is_invalid_input(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_act", {"method": "click"})
    assert error_code(err) == "invalid_input", err
    assert "needs a target" in err


async def test_act_fill_without_value_is_invalid_input(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_act", {"method": "fill", "selector": "#name"})
    assert error_code(err) == "invalid_input", err


# -- browser_act: what the result reports ------------------------------------------------


async def test_act_reports_a_navigation(client, site):
    r = await goto(client, site, "index.html")
    done = await act(client, "click", ref=ref_of(obs(r), "link", "Popups"))
    assert done["navigated"] is True
    assert done["url"] == site.url("popup.html")
    assert done["observation"]["title"] == "Popups"


async def test_act_reports_a_popup_as_a_new_active_tab(client, site):
    r = await goto(client, site, "popup.html")
    done = await act(client, "click", ref=ref_of(obs(r), "button", "Open popup"))
    assert done["tabChanged"] is True
    assert done["url"] == site.url("popup-target.html")
    assert event_messages(done, "popup")
    assert "Tabs (2" in obs(done)
    assert "This page was opened in a new window or tab." in await page_text(client)


async def test_act_target_blank_link_opens_a_new_tab(client, site):
    r = await goto(client, site, "popup.html")
    done = await act(client, "click", ref=ref_of(obs(r), "link", "Open in new tab"))
    assert done["tabChanged"] is True
    assert done["observation"]["title"] == "Popup target"


async def test_act_switch_tab_makes_another_tab_active(client, site):
    await goto(client, site, "popup.html")
    await act(client, "click", selector="#open-popup")
    back = await act(client, "switch_tab", value="1")
    assert back["url"] == site.url("popup.html")
    assert "[1*]" in obs(back)


async def test_act_close_tab_closes_it_and_reports_it(client, site):
    await goto(client, site, "popup.html")
    await act(client, "click", selector="#open-popup")
    closed = await act(client, "close_tab", value="2")
    assert event_messages(closed, "tab_closed")
    assert closed["url"] == site.url("popup.html")
    assert "Tabs (" not in obs(closed)


async def test_act_switch_to_a_missing_tab_is_invalid_input(client, site):
    await goto(client, site, "popup.html")
    err = await call_error(client, "browser_act", {"method": "switch_tab", "value": "7"})
    assert error_code(err) == "invalid_input", err
    assert "tabs are numbered 1 to 1" in err


async def test_act_alert_is_handled_and_reported(client, site):
    r = await goto(client, site, "dialogs.html")
    done = await act(client, "click", ref=ref_of(obs(r), "button", "Alert"))
    assert any("Hello alert" in m for m in event_messages(done, "dialog"))
    assert "alert closed" in await page_text(client)


async def test_act_confirm_is_dismissed_by_default(client, site):
    await goto(client, site, "dialogs.html")
    done = await act(client, "click", selector="#confirm-button")
    assert any("Are you sure?" in m and "dismissed" in m for m in event_messages(done, "dialog"))
    assert "confirm: false" in await page_text(client)


async def test_act_dialog_accept_answers_the_next_confirm(client, site):
    await goto(client, site, "dialogs.html")
    await act(client, "dialog", value="accept")
    await act(client, "click", selector="#confirm-button")
    assert "confirm: true" in await page_text(client)


async def test_act_dialog_accept_with_text_answers_the_next_prompt(client, site):
    await goto(client, site, "dialogs.html")
    await act(client, "dialog", value="accept:Ada")
    done = await act(client, "click", selector="#prompt-button")
    assert any('with "Ada"' in m for m in event_messages(done, "dialog"))
    assert "prompt: Ada" in await page_text(client)


async def test_act_a_bad_dialog_response_is_invalid_input(client, site):
    await goto(client, site, "dialogs.html")
    err = await call_error(client, "browser_act", {"method": "dialog", "value": "maybe"})
    assert error_code(err) == "invalid_input", err


async def test_a_beforeunload_prompt_does_not_stop_leaving_the_page(client, site):
    r = await goto(client, site, "dialogs.html")
    await act(client, "check", ref=ref_of(obs(r), "checkbox", "Warn before leaving"))
    assert "beforeunload on" in await page_text(client)
    done = await act(client, "click", selector="text=Home")
    assert done["navigated"] is True
    assert done["url"] == site.url("index.html")


async def test_act_prompt_is_dismissed_by_default(client, site):
    await goto(client, site, "dialogs.html")
    await act(client, "click", selector="#prompt-button")
    assert "prompt: null" in await page_text(client)


async def test_navigate_away_from_a_beforeunload_page_does_not_hang(client, site):
    await goto(client, site, "dialogs.html")
    await act(client, "check", selector="#warn")
    r = await goto(client, site, "popup.html")
    assert r["url"] == site.url("popup.html")
    assert r["title"] == "Popups"


async def test_act_download_is_saved_under_the_session_artifacts(client, site, runtime: Runtime):
    r = await goto(client, site, "download.html")
    done = await act(client, "click", ref=ref_of(obs(r), "link", "Download report"))
    [message] = event_messages(done, "download") or [str(done["events"])]
    path = Path(re.search(r" to (\S+) \[objectId=", message).group(1))
    assert path.is_relative_to(runtime.settings.artifacts_dir / done["sessionId"])
    assert path.read_bytes() == (SITE_DIR / "report.csv").read_bytes()
    listed = await call(client, "session_artifacts", {"sessionId": done["sessionId"]})
    assert [(a["type"], a["path"]) for a in listed["artifacts"]] == [("download", str(path))]


async def test_act_download_of_a_generated_blob_is_saved(client, site):
    await goto(client, site, "download.html")
    done = await act(client, "click", selector="#download-generated")
    [message] = event_messages(done, "download") or [str(done["events"])]
    path = Path(re.search(r" to (\S+) \[objectId=", message).group(1))
    assert path.name.endswith("generated.txt")
    assert path.read_text() == "generated content\nline 2\n"


async def test_act_reports_a_console_error_the_action_caused(client, site):
    await goto(client, site, "console-click.html")
    done = await act(client, "click", selector="#log-error")
    assert any("clicked error 42" in m for m in event_messages(done, "console_error"))


async def test_act_reports_an_uncaught_page_error_the_action_caused(client, site):
    await goto(client, site, "console-click.html")
    done = await act(client, "click", selector="#throw-error")
    assert any("thrown on click" in m for m in event_messages(done, "page_error"))


async def test_navigate_reports_console_errors_of_the_page(client, site):
    r = await goto(client, site, "console.html")
    assert any("boom error" in m for m in event_messages(r, "console_error"))


async def test_act_by_instruction_clicks_the_named_button(client, site):
    await goto(client, site, "popup.html")
    done = await call(client, "browser_act", {"instruction": "click Open popup"})
    assert done["method"] == "click"
    assert done["url"] == site.url("popup-target.html")


# -- browser_observe (through MCP; the compaction itself is in test_observe.py) -----------


async def test_observe_page_scope_includes_what_is_below_the_viewport(client, site):
    r = await goto(client, site, "scroll.html")
    assert 'button "Button 6"' not in obs(r)
    page = await call(client, "browser_observe", {"scope": "page"})
    assert ref_of(page["text"], "button", "Button 6")
    assert page["scope"] == "page"


async def test_observe_with_an_instruction_ranks_the_matching_element_first(client, site):
    r = await goto(client, site, "forms.html")
    o = await call(client, "browser_observe", {"instruction": "the email field"})
    assert o["candidates"][0]["ref"] == ref_of(obs(r), "textbox", "Email")


async def test_observe_with_a_cursor_reads_the_rest(client, site):
    await goto(client, site, "long-list.html")
    first = await call(client, "browser_observe", {"scope": "page", "maxChars": 1000})
    assert first["cursor"] is not None
    assert f"cursor={first['cursor']}" in first["text"]
    second = await call(client, "browser_observe", {"scope": "page", "maxChars": 1000, "cursor": first["cursor"]})
    assert second["text"] and second["text"] != first["text"]


# -- browser_extract ---------------------------------------------------------------------


async def test_extract_text_is_the_visible_text(client, site):
    await goto(client, site, "forms.html")
    r = await call(client, "browser_extract", {"format": "text"})
    assert r["format"] == "text" and r["url"] == site.url("forms.html")
    assert "Sign up" in r["content"] and "Quick search" in r["content"]
    assert "<" not in r["content"]
    assert r["totalChars"] == len(r["content"]) and r["cursor"] is None


async def test_extract_markdown_has_headings_and_links(client, site):
    await goto(client, site, "index.html")
    r = await call(client, "browser_extract", {"format": "markdown"})
    assert "# Fixture site" in r["content"]
    assert "[Forms](forms.html)" in r["content"]


async def test_extract_html_is_the_page_source(client, site):
    await goto(client, site, "forms.html")
    r = await call(client, "browser_extract", {"format": "html", "maxChars": 200_000})
    assert r["content"].startswith("<!DOCTYPE html>")
    assert '<form id="signup-form" novalidate="">' in r["content"]


async def test_extract_links_lists_absolute_urls(client, site):
    await goto(client, site, "index.html")
    r = await call(client, "browser_extract", {"format": "links"})
    assert {"text": "Forms", "href": site.url("forms.html")} in r["data"]
    assert f"- [Table]({site.url('table.html')})" in r["content"]


async def test_extract_table_returns_headers_and_every_row(client, site):
    await goto(client, site, "table.html")
    r = await call(client, "browser_extract", {"format": "table", "maxChars": 200_000})
    assert r["cursor"] is None
    [table] = r["data"]
    assert table["caption"] == "Customers"
    assert table["headers"] == ["id", "name", "city", "email", "amount", "date"]
    assert len(table["rows"]) == 1000
    assert table["rows"][0] == ["1", "Ken Perlman", "Vienna", "ken.perlman1@example.com", "79.19", "2024-02-07"]
    assert r["content"].startswith("Table 1: Customers (1000 rows)\n| id | name |")


async def test_extract_one_element_by_ref(client, site):
    r = await goto(client, site, "table.html")
    ref = ref_of(obs(r), "table", "Customers")
    r = await call(client, "browser_extract", {"format": "table", "ref": ref, "maxChars": 200_000})
    assert len(r["data"]) == 1 and len(r["data"][0]["rows"]) == 1000


async def test_extract_one_element_by_selector(client, site):
    await goto(client, site, "forms.html")
    r = await call(client, "browser_extract", {"format": "text", "selector": "#interactions-heading"})
    assert r["content"] == "Mouse and keyboard"


async def test_extract_cursor_pages_cover_the_content_exactly_once(client, site):
    await goto(client, site, "table.html")
    whole = (await call(client, "browser_extract", {"format": "text", "maxChars": 200_000}))["content"]
    assert len(whole) > 20_000
    parts, cursor = [], 0
    while cursor is not None:
        r = await call(client, "browser_extract", {"format": "text", "maxChars": 7_000, "cursor": cursor})
        assert len(r["content"]) <= 7_000
        assert r["totalChars"] == len(whole)
        parts.append(r["content"])
        cursor = r["cursor"]
        assert len(parts) < 50
    assert len(parts) > 2
    assert "".join(parts) == whole


async def test_extract_text_result_tells_where_to_continue(client, site):
    await goto(client, site, "long-list.html")
    result = await client.call_tool("browser_extract", {"format": "text", "maxChars": 1000})
    r = result.structured_content
    assert r["cursor"] is not None
    assert f"continue with cursor={r['cursor']}" in text_of(result)


async def test_extract_with_a_selector_matching_nothing_is_element_not_found(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_extract", {"format": "text", "selector": "#no-such-thing"})
    assert error_code(err) == "element_not_found", err
    assert ERROR_TEXT.match(err)


async def test_extract_with_an_invalid_selector_is_invalid_input(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_extract", {"format": "text", "selector": "div[[["})
    assert error_code(err) == "invalid_input", err


async def test_extract_with_an_instruction_and_no_llm_is_backend_unconfigured(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_extract", {"instruction": "the form fields"})
    assert error_code(err) == "backend_unconfigured", err


# -- browser_screenshot ------------------------------------------------------------------


def image_of(result) -> tuple[Image.Image, bytes, str]:
    [block] = [c for c in result.content if c.type == "image"]
    data = base64.b64decode(block.data)
    return Image.open(io.BytesIO(data)), data, block.mime_type


async def shoot(client: Client, **args: Any):
    result = await client.call_tool("browser_screenshot", args)
    assert not result.is_error, text_of(result)
    return result, result.structured_content


async def test_screenshot_of_the_viewport_is_an_image_block_and_a_file(client, site):
    await goto(client, site, "forms.html")
    result, r = await shoot(client)
    img, data, mime = image_of(result)
    assert mime == "image/png" and img.format == "PNG"
    assert img.size == (1280, 720) == (r["width"], r["height"])
    assert Path(r["path"]).read_bytes() == data
    assert r["bytes"] == len(data)


async def test_screenshot_is_listed_in_session_artifacts(client, site):
    await goto(client, site, "forms.html")
    _, r = await shoot(client)
    listed = await call(client, "session_artifacts", {"sessionId": r["sessionId"]})
    [art] = [a for a in listed["artifacts"] if a["objectId"] == r["objectId"]]
    assert art["type"] == "screenshot" and art["path"] == r["path"]
    assert (art["width"], art["height"]) == (1280, 720)


async def test_screenshot_full_page_is_taller_than_the_viewport(client, site):
    await goto(client, site, "scroll.html")
    result, r = await shoot(client, fullPage=True)
    img, _, _ = image_of(result)
    assert img.width == 1280 and img.height > 720 * 5
    assert (r["width"], r["height"]) == img.size


async def test_screenshot_of_an_element_by_ref_is_the_element_size(client, site):
    r = await goto(client, site, "forms.html")
    result, shot = await shoot(client, ref=ref_of(obs(r), "button", "Submit"))
    img, _, _ = image_of(result)
    assert img.width < 200 and img.height < 80
    assert (shot["width"], shot["height"]) == img.size


async def test_screenshot_of_an_element_by_selector(client, site):
    await goto(client, site, "popup.html")
    result, _ = await shoot(client, selector="h1")
    img, _, _ = image_of(result)
    assert img.height < 100


async def test_screenshot_max_dimension_keeps_the_aspect_ratio(client, site):
    await goto(client, site, "scroll.html")
    _, full = await shoot(client, fullPage=True)
    result, r = await shoot(client, fullPage=True, maxDimension=500)
    img, _, _ = image_of(result)
    assert img.height == 500 == r["height"]
    assert abs(img.width - full["width"] * 500 / full["height"]) <= 1
    assert Image.open(r["path"]).size == img.size


async def test_screenshot_as_jpeg(client, site):
    await goto(client, site, "forms.html")
    result, r = await shoot(client, format="jpeg", maxDimension=640)
    img, _, mime = image_of(result)
    assert mime == "image/jpeg" and img.format == "JPEG" and r["format"] == "jpeg"
    assert img.size == (640, 360)
    assert r["path"].endswith(".jpg")


async def test_screenshot_of_an_unknown_ref_is_element_not_found(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_screenshot", {"ref": "e9999"})
    assert error_code(err) == "element_not_found", err


async def test_screenshot_full_page_of_an_element_is_invalid_input(client, site):
    await goto(client, site, "forms.html")
    err = await call_error(client, "browser_screenshot", {"fullPage": True, "selector": "h1"})
    assert error_code(err) == "invalid_input", err


# -- iframes and shadow DOM --------------------------------------------------------------


async def test_act_clicks_a_button_inside_an_iframe_by_ref(client, site):
    r = await goto(client, site, "iframes.html")
    done = await act(client, "click", ref=ref_of(obs(r), "button", "Inner button"))
    assert "inner clicked" in obs(done)


async def test_act_fills_an_input_inside_an_iframe_by_ref(client, site):
    r = await goto(client, site, "iframes.html")
    done = await act(client, "fill", ref=ref_of(obs(r), "textbox", "Inner input"), value="hello")
    assert "inner input: hello" in obs(done)


async def test_act_clicks_a_button_in_a_nested_iframe_by_ref(client, site):
    r = await goto(client, site, "iframes.html")
    await act(client, "click", ref=ref_of(obs(r), "button", "Nested button"))
    # The viewport observation clips frame content to the frame's box; the whole page shows the result.
    assert "nested clicked" in (await call(client, "browser_observe", {"scope": "page"}))["text"]


async def test_act_clicks_a_button_inside_an_open_shadow_root_by_ref(client, site):
    r = await goto(client, site, "shadow.html")
    await act(client, "click", ref=ref_of(obs(r), "button", "Shadow button"))
    assert "shadow clicked" in await page_text(client)


async def test_act_fills_an_input_in_a_nested_shadow_root_by_ref(client, site):
    r = await goto(client, site, "shadow.html")
    await act(client, "fill", ref=ref_of(obs(r), "textbox", "Nested shadow input"), value="deep")
    assert "nested shadow input: deep" in await page_text(client)


# -- hostile input -----------------------------------------------------------------------

HOSTILE = [
    ("browser_navigate", {"url": 12345}, "invalid_input"),
    ("browser_navigate", {"url": ["http://x"]}, "invalid_input"),
    ("browser_navigate", {"action": "sideways"}, "invalid_input"),
    ("browser_navigate", {"timeoutMs": "soon"}, "invalid_input"),
    ("browser_navigate", {"URL": "http://127.0.0.1/"}, "invalid_input"),
    ("browser_navigate", {"url": "http://127.0.0.1/" + "a" * 200_000}, "invalid_input"),
    ("browser_act", {"method": "explode", "selector": "#x"}, "invalid_input"),
    ("browser_act", {"method": "fill", "selector": "#name", "value": "x" * 200_000}, "invalid_input"),
    ("browser_act", {"method": "click", "ref": {"ref": "e1"}}, "invalid_input"),
    ("browser_act", {"method": "click", "selector": "#submit", "session_id": "ses_1"}, "invalid_input"),
    ("browser_act", {"method": "click", "selector": "#submit", "sessionId": "ses_nope"}, "session_not_found"),
    ("browser_extract", {"format": "pdf"}, "invalid_input"),
    ("browser_extract", {"maxChars": -5}, "invalid_input"),
    ("browser_extract", {"cursor": "next"}, "invalid_input"),
    ("browser_extract", {"selector": "x" * 200_000}, "invalid_input"),
    ("browser_screenshot", {"maxDimension": "big"}, "invalid_input"),
    ("browser_screenshot", {"format": "gif"}, "invalid_input"),
    ("browser_screenshot", {"sessionId": "ses_000000000000"}, "session_not_found"),
    ("browser_observe", {"sessionId": 42}, "invalid_input"),
]


@pytest.mark.parametrize(("tool", "args", "code"), HOSTILE, ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(HOSTILE)])
async def test_hostile_input_gets_a_clear_coded_error(client, tool, args, code):
    err = await call_error(client, tool, args)
    assert error_code(err) == code, err
    assert ERROR_TEXT.match(err), err
    assert len(err) < 2_000


async def test_the_server_keeps_working_after_hostile_input(client, site):
    for tool, args, _ in HOSTILE:
        await call_error(client, tool, args)
    r = await goto(client, site, "forms.html")
    await act(client, "fill", ref=ref_of(obs(r), "textbox", "Full name"), value="still here")
    await act(client, "click", selector="#submit")
    assert "name=still here" in await page_text(client)


async def test_unknown_argument_error_suggests_the_right_name(client):
    err = await call_error(client, "browser_act", {"method": "click", "session_id": "ses_1"})
    assert "did you mean 'sessionId'?" in err


async def test_act_on_a_session_that_was_closed_is_session_closed(client, site):
    r = await goto(client, site, "index.html")
    await call(client, "session_close", {"sessionId": r["sessionId"]})
    err = await call_error(client, "browser_act", {"method": "click", "selector": "h1", "sessionId": r["sessionId"]})
    assert error_code(err) == "session_closed", err
