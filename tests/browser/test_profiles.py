"""Profiles: a signed-in session saved by name, new sessions started from it already signed in; files
owner-only and, with a key, encrypted; other owners cannot see them; storage state in and out."""

from __future__ import annotations

import json
import stat

from mcp import Client

from tests.support.mcp import call, call_error, error_code, page_text, sign_in
from thinkrun_mcp.models import Owner


async def new_session(client: Client, **args) -> str:
    return (await call(client, "session_create", args))["sessionId"]


async def save_signed_in_profile(client: Client, site) -> tuple[dict, str]:
    sid = await new_session(client)
    await sign_in(client, site, sid)
    await call(client, "browser_navigate", {"sessionId": sid, "url": site.url("storage.html?set=remembered")})
    profile = await call(client, "profile_save", {"name": "acme", "sessionId": sid})
    return profile, sid


async def test_a_session_started_from_a_profile_is_signed_in_and_has_its_storage(own_client, site):
    async with own_client() as (client, rt):
        profile, _ = await save_signed_in_profile(client, site)
        assert profile["name"] == "acme" and profile["cookies"] >= 1 and profile["origins"] >= 1

        fresh = await new_session(client)
        await call(client, "browser_navigate", {"sessionId": fresh, "url": site.url("account")})
        assert "Sign in" in await page_text(client, fresh)  # an empty session is not signed in

        sid = await new_session(client, profileId=profile["profileId"], startingPoint=site.url("account"))
        assert "Sign in" not in (text := await page_text(client, sid)), text
        await call(client, "browser_navigate", {"sessionId": sid, "url": site.url("storage.html")})
        assert "stored: remembered" in await page_text(client, sid)

        listed = await call(client, "profile_list", {})
        assert [p["profileId"] for p in listed["profiles"]] == [profile["profileId"]]

        # Saving the same name again replaces it; deleting removes row and file.
        again = await call(client, "profile_save", {"name": "acme", "sessionId": sid})
        assert again["profileId"] == profile["profileId"]
        await call(client, "profile_delete", {"profileId": profile["profileId"]})
        assert (await call(client, "profile_list", {}))["profiles"] == []
        assert not list(rt.settings.profiles_dir.glob("prof_*"))
        err = await call_error(client, "session_create", {"profileId": profile["profileId"]})
        assert error_code(err) == "profile_not_found"


async def test_profile_files_are_owner_only_and_encrypted_with_a_key(own_client, site):
    async with own_client(profile_key="correct horse") as (client, rt):
        profile, _ = await save_signed_in_profile(client, site)
        files = list(rt.settings.profiles_dir.glob(f"{profile['profileId']}.*"))
        assert len(files) == 1 and profile["encrypted"] is True
        data = files[0].read_bytes()
        exported = await call(client, "profile_get", {"profileId": profile["profileId"]})
        (token,) = [c["value"] for c in exported["storageState"]["cookies"] if c["value"] in site.tokens]
        assert token.encode() not in data and b"remembered" not in data
        assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
        assert stat.S_IMODE(rt.settings.profiles_dir.stat().st_mode) == 0o700
        # The database holds no cookie either.
        await rt.store.sync()
        assert token.encode() not in rt.settings.db_path.read_bytes()


async def test_another_owner_cannot_see_or_use_a_profile(own_client, site):
    async with own_client() as (client, rt):
        profile, _ = await save_signed_in_profile(client, site)
        other = Owner("mallory", client="m")
        for coroutine in (
            rt.profiles.state(other, profile["profileId"]),
            rt.profiles.delete(other, profile["profileId"]),
            rt.browser.create_session(other, profile_id=profile["profileId"]),
        ):
            try:
                await coroutine
                raise AssertionError("another owner reached the profile")
            except Exception as exc:
                assert getattr(exc, "code", None) == "profile_not_found", exc
        assert (await rt.profiles.list(other)).profiles == []


async def test_a_storage_state_is_imported_and_exported_in_playwrights_format(own_client, site):
    async with own_client() as (client, _rt):
        profile, sid = await save_signed_in_profile(client, site)
        state = (await call(client, "profile_get", {"profileId": profile["profileId"]}))["storageState"]
        imported = await call(client, "profile_save", {"name": "copy", "storageState": state})
        assert imported["profileId"] != profile["profileId"] and imported["cookies"] == profile["cookies"]
        copy = await new_session(client, profileId=imported["profileId"], startingPoint=site.url("account"))
        assert "Sign in" not in await page_text(client, copy)

        bad = [
            {"cookies": [{"name": "a"}]},
            {"cookies": [], "origins": [], "extra": 1},
            {"cookies": [{"name": "a", "value": "b"}]},  # no domain/path or url
        ]
        for state in bad:
            err = await call_error(client, "profile_save", {"name": "bad", "storageState": state})
            assert error_code(err) == "invalid_input", err
        both = await call_error(client, "profile_save", {"name": "x", "sessionId": sid, "storageState": {}})
        assert error_code(both) == "invalid_input"
        assert json.dumps(await call(client, "profile_list", {})).count("profileId") == 2


async def test_an_encrypted_profile_needs_its_key(site, own_client):
    async with own_client(profile_key="first key") as (client, _rt):
        profile, _ = await save_signed_in_profile(client, site)
    async with own_client(profile_key="another key") as (client, _rt):
        err = await call_error(client, "profile_get", {"profileId": profile["profileId"]})
        assert error_code(err) == "invalid_input" and "cannot be decrypted" in err


# -- per-session browser options --------------------------------------------------------------


PROBE = """<!doctype html><meta name=viewport content="width=device-width"><title>probe</title><pre id=o></pre><script>
navigator.geolocation.getCurrentPosition(
  p => document.getElementById('o').textContent += 'geo=' + p.coords.latitude + ',' + p.coords.longitude + ';',
  e => document.getElementById('o').textContent += 'geo-error=' + e.code + ';');
document.getElementById('o').textContent += 'ua=' + navigator.userAgent + ';lang=' + navigator.language +
  ';tz=' + Intl.DateTimeFormat().resolvedOptions().timeZone + ';dark=' + matchMedia('(prefers-color-scheme: dark)').matches +
  ';w=' + innerWidth + ';touch=' + ('ontouchstart' in window) + ';';
</script>"""


async def test_a_session_presents_the_browser_options_it_was_created_with(client, site):
    from starlette.responses import HTMLResponse, JSONResponse

    site.set_route("/probe.html", lambda _r: HTMLResponse(PROBE))
    site.set_route("/headers", lambda r: JSONResponse({"x-team": r.headers.get("x-team")}))
    options = {
        "userAgent": "ThinkRunTest/1.0",
        "locale": "fr-FR",
        "timezoneId": "Asia/Tokyo",
        "colorScheme": "dark",
        "geolocation": {"latitude": 48.85, "longitude": 2.35},
        "extraHttpHeaders": {"X-Team": "s3cr3t-token"},
    }
    sid = await new_session(client, browser=options, startingPoint=site.url("probe.html"))
    text = await page_text(client, sid)
    for expected in ("ua=ThinkRunTest/1.0", "lang=fr-FR", "tz=Asia/Tokyo", "dark=true", "geo=48.85,2.35"):
        assert expected in text, text
    await call(client, "browser_navigate", {"sessionId": sid, "url": site.url("headers")})
    assert "s3cr3t-token" in await page_text(client, sid)
    details = await call(client, "session_get", {"sessionId": sid})
    assert details["browser"]["locale"] == "fr-FR" and details["browser"]["extraHttpHeaders"] == {"X-Team": "***"}

    phone = await new_session(client, browser={"device": "iPhone 15"}, startingPoint=site.url("probe.html"))
    text = await page_text(client, phone)
    assert "w=393" in text and "touch=true" in text and "iPhone" in text
    assert (await call(client, "session_get", {"sessionId": phone}))["viewport"] == {"width": 393, "height": 659}

    for bad, named in (({"device": "iPhone 1500"}, "iPhone"), ({"timezoneId": "Mars/Olympus"}, "timezoneId")):
        err = await call_error(client, "session_create", {"browser": bad})
        assert error_code(err) == "invalid_input" and named in err, err


# -- writing back, one writer, the default session's state ----------------------------------------


async def test_a_session_writes_its_state_back_to_its_profile_when_it_ends_one_writer_at_a_time(own_client, site):
    async with own_client() as (client, _rt):
        empty = await call(client, "profile_save", {"name": "blank", "storageState": {"cookies": [], "origins": []}})
        pid = empty["profileId"]
        writer = await new_session(client, profileId=pid, saveProfileOnEnd=True)
        err = await call_error(client, "session_create", {"profileId": pid, "saveProfileOnEnd": True})
        assert error_code(err) == "profile_in_use" and writer in err
        reader = await new_session(client, profileId=pid)  # reading is always fine
        await sign_in(client, site, writer)
        live = await call(client, "profile_get", {"sessionId": writer})
        assert live["profileId"] is None and live["storageState"]["cookies"]
        await call(client, "session_close", {"sessionId": writer})

        saved = (await call(client, "profile_list", {}))["profiles"][0]
        assert saved["profileId"] == pid and saved["cookies"] >= 1
        again = await new_session(client, profileId=pid, saveProfileOnEnd=True)  # the claim was released
        await call(client, "browser_navigate", {"sessionId": again, "url": site.url("account")})
        assert "Sign in" not in await page_text(client, again)
        await call(client, "session_close", {"sessionId": reader})
        err = await call_error(client, "session_create", {"saveProfileOnEnd": True})
        assert error_code(err) == "invalid_input"


async def test_default_sessions_start_with_the_storage_state_file(own_client, site, tmp_path):
    async with own_client() as (client, _rt):
        profile, _ = await save_signed_in_profile(client, site)
        state = (await call(client, "profile_get", {"profileId": profile["profileId"]}))["storageState"]
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state))
    async with own_client(data_dir=tmp_path / "other", storage_state=str(state_file)) as (client, _rt):
        await call(client, "browser_navigate", {"url": site.url("account")})  # the default session
        assert "Sign in" not in await page_text(client)
    state_file.write_text("{not json")
    async with own_client(data_dir=tmp_path / "third", storage_state=str(state_file)) as (client, _rt):
        err = await call_error(client, "browser_navigate", {"url": site.url("account")})
        assert error_code(err) == "invalid_input" and str(state_file) in err
