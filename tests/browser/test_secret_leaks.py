"""Agent secrets never leave the process: not raw, not encoded, not in pixels.

A task signs in through a GET form (so the values travel percent- and form-encoded in the URL), is
redirected to a page that shows the email in its title, as HTML entities, as JSON escapes, in a
console line and in a request it makes; the model asks for a screenshot while the fields hold the
values. Then every byte that left is scanned for every spelling of both values: the requests to the
(fake) model, every MCP result the owner can ask for, the SQLite file and its WAL, the log, the
artifacts. The password holds ``@``, ``&``, ``!`` and a space, which GET forms encode.
"""

from __future__ import annotations

import html
import io
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from PIL import Image
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from tests.support.fakes import Reply, ToolCall
from tests.support.fakes.steps import act, done
from tests.support.mcp import call
from thinkrun_mcp.models import Owner
from thinkrun_mcp.runtime import Runtime

EMAIL = "demo@acme.test"
PASSWORD = "p@ss w&rd!42"
SECRETS = [{"match": "127.0.0.1", "fields": {"email": EMAIL, "password": PASSWORD}}]
OWNER = Owner("leak-tester", client="c")


def spellings(value: str) -> set[str]:
    """The value as pages, URLs, HTML and JSON write it."""
    forms = {
        value,
        value.upper(),
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        quote(value, safe="").lower(),
        quote(quote(value, safe=""), safe=""),
        html.escape(value),
        "".join(f"&#{ord(c)};" for c in value),
        value.replace("@", "&#64;"),
        value.replace("@", "&commat;"),
        json.dumps(value)[1:-1],
        "".join(f"\\u{ord(c):04x}" for c in value),
        value.replace("@", "\\u0040"),
    }
    return {f for f in forms if len(f) >= 4}


SPELLINGS = {form: name for name, value in (("email", EMAIL), ("password", PASSWORD)) for form in spellings(value)}


def leaks(text: str | bytes) -> list[str]:
    """Every spelling of a secret value found in ``text``."""
    data = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return sorted(f"{SPELLINGS[f]}: {f!r}" for f in SPELLINGS if f in data)


LOGIN = """<!doctype html><title>Sign in</title>
<form method="get" action="/leak/submit">
  <label for="e">Email</label> <input id="e" name="email" type="email" style="font-size:20px;width:320px">
  <label for="p">Password</label> <input id="p" name="password" type="text" style="font-size:20px;width:320px">
  <button type="submit">Sign in</button>
</form>"""


def account_page(request: Request) -> Response:
    user = request.query_params.get("user", "")
    entity = "".join(f"&#{ord(c)};" for c in user)
    as_json = html.escape(json.dumps({"user": user}, ensure_ascii=True).replace("@", "\\u0040"))
    body = f"""<!doctype html><title>Account – {html.escape(user)}</title>
<h1>Welcome back</h1>
<p>Signed in as {html.escape(user)}</p>
<p>Also known as {entity}</p>
<pre id="profile">{as_json}</pre>
<a href="/leak/profile?u={quote(user, safe="")}">Your profile</a>
<script>console.log("session for " + {json.dumps(user)}); fetch("/leak/ping?u=" + encodeURIComponent({json.dumps(user)}));</script>
"""
    return HTMLResponse(body)


@pytest.fixture
def leak_site(site):
    received: list[dict[str, str]] = []

    def submit(request: Request) -> Response:
        received.append(dict(request.query_params))
        return RedirectResponse(f"/leak/account?user={quote(request.query_params.get('email', ''), safe='')}", status_code=302)

    site.set_route("/leak/login", lambda _r: HTMLResponse(LOGIN))
    site.set_route("/leak/submit", submit)
    site.set_route("/leak/account", account_page)
    site.set_route("/leak/ping", lambda _r: JSONResponse({"ok": True}))
    return site, received


async def test_no_spelling_of_a_secret_leaves_the_process(runtime: Runtime, leak_site, backend, caplog):
    """On every backend, the calling client's own model (sampling) included."""
    site, received = leak_site
    name, fake, client = backend
    caplog.set_level(logging.DEBUG)
    fake.push(
        act("textbox", "Email", "fill", "<secret:email>"),
        act("textbox", "Password", "fill", "<secret:password>"),
        Reply(tool_calls=[ToolCall("screenshot", {})]),
        act("button", "Sign in", "click"),
        Reply(tool_calls=[ToolCall("extract", {"format": "markdown"})]),
        act("link", "Your profile", "hover"),
        done("signed in as <secret:email>"),
    )
    info = await call(
        client,
        "agent_execute",
        {
            "instruction": "Sign in with the account's email and password.",
            "backend": name,
            "startingPoint": site.url("leak/login"),
            "secrets": SECRETS,
            "terminateOnCompletion": False,
            "wait": True,
        },
    )
    assert info["status"] == "completed", info
    assert received == [{"email": EMAIL, "password": PASSWORD}]  # the page got the real values
    sid = info["sessionId"]

    # Everything the owner can ask about the task and its session.
    results: dict[str, Any] = {"agent_execute": info}
    for tool, args in [
        ("agent_status", {"taskId": info["taskId"]}),
        ("session_get", {"sessionId": sid}),
        ("session_actions", {"sessionId": sid}),
        ("session_network", {"sessionId": sid}),
        ("session_console", {"sessionId": sid}),
        ("session_artifacts", {"sessionId": sid}),
        ("session_list", {}),
        ("browser_observe", {"sessionId": sid, "scope": "page"}),
        ("browser_extract", {"sessionId": sid, "format": "text"}),
        ("browser_extract", {"sessionId": sid, "format": "links"}),
        ("browser_extract", {"sessionId": sid, "format": "html"}),
    ]:
        results[f"{tool} {args}"] = await call(client, tool, args)
    session = results[f"session_get {{'sessionId': '{sid}'}}"]
    assert "/leak/account" in session["currentUrl"] and "<secret:email>" in session["title"], session
    assert "<secret:email>" in json.dumps(results[f"session_network {{'sessionId': '{sid}'}}"])
    for what, result in results.items():
        assert not leaks(json.dumps(result, ensure_ascii=False)), f"{what}: {leaks(json.dumps(result, ensure_ascii=False))}"

    # Every request to the model: text, tool results, the screenshot's request.
    raw = fake.all_raw()
    assert b"<secret:email>" in raw and b"<secret:password>" in raw
    assert not leaks(raw), leaks(raw)

    # The database file and its WAL, byte for byte; the log; the artifacts.
    await call(client, "session_close", {"sessionId": sid})
    await runtime.store.flush()
    for f in (runtime.settings.db_path, Path(f"{runtime.settings.db_path}-wal")):
        if f.exists():
            assert not leaks(f.read_bytes()), f"{f.name}: {leaks(f.read_bytes())}"
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert not leaks(logged), leaks(logged)
    for artifact in Path(runtime.settings.artifacts_dir).rglob("*"):
        if artifact.is_file() and artifact.suffix not in (".png", ".jpg"):
            assert not leaks(artifact.read_bytes()), artifact


def _pixels(png: bytes) -> bytes:
    with Image.open(io.BytesIO(png)) as img:
        return img.convert("RGB").tobytes()


async def test_a_field_holding_a_secret_shows_no_text_in_screenshots(runtime: Runtime, leak_site):
    site, _ = leak_site
    browser = runtime.browser
    sid = (await browser.create_session(OWNER, starting_point=site.url("leak/login"))).session_id
    try:
        obs = await browser.observe(OWNER, sid)
        email_ref = next(ref for ref, e in obs_elements(runtime, sid) if e.name == "Email")
        await browser.act(OWNER, sid, method="focus", ref=email_ref)
        empty = _pixels((await browser.screenshot(OWNER, sid, ref=email_ref))[1])
        empty_page = _pixels((await browser.screenshot(OWNER, sid))[1])

        # Control: typed text that is not a secret shows (so the comparison can see a value).
        await browser.act(OWNER, sid, method="fill", ref=email_ref, value="someone@else.test")
        assert _pixels((await browser.screenshot(OWNER, sid, ref=email_ref))[1]) != empty

        browser.redactor(OWNER).add({EMAIL: "<secret:email>"})
        await browser.act(OWNER, sid, method="fill", ref=email_ref, value=EMAIL)
        _, data = await browser.screenshot(OWNER, sid, ref=email_ref)
        assert _pixels(data) == empty, "the secret's text is visible in the field"
        _, page = await browser.screenshot(OWNER, sid)  # the viewport, as the agent's screenshot takes it
        assert _pixels(page) == empty_page and obs.url.endswith("leak/login")
    finally:
        await browser.close_session(OWNER, sid)


def obs_elements(runtime: Runtime, session_id: str) -> list[tuple[str, Any]]:
    session = runtime.registry.live(session_id)
    assert session is not None and session.last_tree is not None
    return list(session.last_tree.all_elements.items())
