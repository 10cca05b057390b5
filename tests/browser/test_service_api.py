"""The id-based service API: owners, default sessions, model help given to the constructor, task memory.

Everything front ends and the agent use goes through these calls with an owner and a
session id; nothing above ``browser/`` holds a browser object.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from tests.support.mcp import ref_of
from thinkrun_mcp.browser.instruction import Resolution
from thinkrun_mcp.browser.observe import ElementInfo
from thinkrun_mcp.browser.service import BrowserService
from thinkrun_mcp.errors import ThinkRunError
from thinkrun_mcp.models import ElementCandidate, Owner, SessionStatus
from thinkrun_mcp.runtime import Runtime

ALICE, BOB = Owner("alice"), Owner("bob")


@pytest.fixture
async def alice_session(runtime: Runtime, site) -> str:
    created = await runtime.browser.create_session(ALICE, starting_point=site.url("forms.html"))
    try:
        yield created.session_id
    finally:
        await runtime.browser.end_session(ALICE, created.session_id, SessionStatus.TERMINATED, "test finished")


async def _code(coro: Any) -> str:
    with pytest.raises(ThinkRunError) as info:
        await coro
    return info.value.code


async def test_another_owners_session_is_not_found_by_any_service_call(runtime: Runtime, alice_session: str, site):
    sid, b = alice_session, runtime.browser
    calls = [
        b.observe(BOB, sid),
        b.navigate(BOB, sid, url=site.url("index.html")),
        b.act(BOB, sid, method="press", value="Tab"),
        b.extract(BOB, sid),
        b.screenshot(BOB, sid),
        b.close_session(BOB, sid),
        b.check_url(BOB, sid, site.url("x")),
        b.page_url(BOB, sid),
        runtime.history.details(BOB, sid),
        runtime.history.actions(BOB, sid, offset=0, limit=10),
        runtime.history.health(BOB, sid),
    ]
    assert [await _code(c) for c in calls] == ["session_not_found"] * len(calls)
    assert (await runtime.history.details(ALICE, sid)).status == "running"
    assert [a.type for a in (await runtime.history.actions(ALICE, sid, offset=0, limit=10)).actions] == ["navigate"]


async def test_an_ended_session_of_another_owner_is_not_found_either(runtime: Runtime, site):
    sid = (await runtime.browser.create_session(ALICE)).session_id
    await runtime.browser.close_session(ALICE, sid)
    assert await _code(runtime.browser.observe(ALICE, sid)) == "session_closed"
    assert await _code(runtime.browser.observe(BOB, sid)) == "session_not_found"
    assert await _code(runtime.history.details(BOB, sid)) == "session_not_found"


async def test_session_list_shows_only_the_owners_sessions(runtime: Runtime, alice_session: str):
    bobs = (await runtime.browser.create_session(BOB)).session_id
    try:
        alice = await runtime.history.list(ALICE, include_terminated=True, limit=100, offset=0)
        bob = await runtime.history.list(BOB, include_terminated=True, limit=100, offset=0)
        assert alice_session in [s.session_id for s in alice.sessions] and bobs not in [s.session_id for s in alice.sessions]
        assert [s.session_id for s in bob.sessions if s.status == "running"] == [bobs]
    finally:
        await runtime.browser.close_session(BOB, bobs)


async def test_each_client_of_an_owner_gets_its_own_default_session(runtime: Runtime, site):
    one, two = Owner("carol", client="tab-1"), Owner("carol", client="tab-2")
    a = (await runtime.browser.navigate(one, None, url=site.url("index.html"))).session_id
    b = (await runtime.browser.navigate(two, None, url=site.url("forms.html"))).session_id
    try:
        assert a != b
        assert (await runtime.browser.observe(one, None)).url.endswith("index.html")
        # Both belong to the owner: either client may address the other's session by id.
        assert (await runtime.browser.observe(two, a)).url.endswith("index.html")
    finally:
        await runtime.browser.close_session(one, a)
        await runtime.browser.close_session(one, b)


async def test_act_result_names_the_active_tab_and_the_tab_count(runtime: Runtime, site):
    sid = (await runtime.browser.create_session(ALICE, starting_point=site.url("popup.html"))).session_id
    try:
        obs = await runtime.browser.observe(ALICE, sid)
        r = await runtime.browser.act(ALICE, sid, method="click", ref=ref_of(obs.text, "button", "Open popup"))
        assert (r.tab_changed, r.active_tab, r.tab_count) == (True, 2, 2)
        r = await runtime.browser.act(ALICE, sid, method="switch_tab", value="1")
        assert (r.active_tab, r.tab_count) == (1, 2)
    finally:
        await runtime.browser.close_session(ALICE, sid)


class RecordingHelp:
    """A ModelHelp that answers from a script and records exactly what it was handed."""

    def __init__(self, *, available: bool = True):
        self._available = available
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def available(self) -> bool:
        return self._available

    async def choose(
        self, *, url: str, instruction: str, method: str | None, page_text: str, elements: Mapping[str, ElementInfo]
    ) -> Resolution:
        self.calls.append(
            ("choose", {"url": url, "instruction": instruction, "method": method, "page_text": page_text, "elements": elements})
        )
        (ref,) = [r for r, e in elements.items() if e.role == "textbox" and e.name == "Email"]
        return Resolution(method="fill", ref=ref, value="grace@example.org")

    async def rank(
        self, *, url: str, instruction: str, page_text: str, elements: Mapping[str, ElementInfo]
    ) -> list[ElementCandidate]:
        self.calls.append(("rank", {"url": url, "instruction": instruction, "page_text": page_text, "elements": elements}))
        ref, e = next((r, e) for r, e in elements.items() if e.role == "button")
        return [ElementCandidate(ref=ref, role=e.role, name=e.name, score=1.0, reason="scripted")]

    async def extract(self, *, url: str, instruction: str | None, schema: dict[str, Any] | None, content: str) -> Any:
        self.calls.append(("extract", {"url": url, "content": content}))
        return {"ok": True}


async def test_model_help_given_to_the_constructor_resolves_instructions_with_plain_data(runtime: Runtime, site):
    model_help = RecordingHelp()
    browser = BrowserService(runtime.settings, runtime.registry, help=model_help)
    sid = (await browser.create_session(ALICE, starting_point=site.url("forms.html"))).session_id
    try:
        r = await browser.act(ALICE, sid, method=None, instruction="put my address where it belongs")
        assert r.method == "fill"
        ((name, seen),) = model_help.calls
        assert name == "choose" and seen["instruction"] == "put my address where it belongs"
        assert isinstance(seen["url"], str) and seen["url"].endswith("forms.html")
        assert isinstance(seen["page_text"], str) and "Email" in seen["page_text"]
        assert all(isinstance(e, ElementInfo) for e in seen["elements"].values())
        assert r.ref == next(ref for ref, e in seen["elements"].items() if e.role == "textbox" and e.name == "Email")
        obs = await browser.observe(ALICE, sid, instruction="the submit button")
        assert obs.candidates and obs.candidates[0].reason == "scripted"
        data = await browser.extract(ALICE, sid, instruction="anything", schema={"type": "object"})
        assert data.data == {"ok": True} and model_help.calls[-1][0] == "extract"
    finally:
        await browser.close_session(ALICE, sid)


async def test_model_help_that_is_not_available_leaves_act_to_the_name_matcher(runtime: Runtime, site):
    model_help = RecordingHelp(available=False)
    browser = BrowserService(runtime.settings, runtime.registry, help=model_help)
    sid = (await browser.create_session(ALICE, starting_point=site.url("forms.html"))).session_id
    try:
        r = await browser.act(ALICE, sid, method=None, instruction='type "grace@example.org" into Email')
        assert r.method in ("type", "fill") and r.ref
        assert model_help.calls == []
        assert await _code(browser.extract(ALICE, sid, instruction="anything")) == "backend_unconfigured"
    finally:
        await browser.close_session(ALICE, sid)


async def test_secrets_are_redacted_for_their_owner_only(runtime: Runtime, alice_session: str):
    runtime.browser.redactor(BOB).add({"hunter2-hunter2": "<secret:pw>"})
    assert runtime.browser.redactor(ALICE).redact("pw hunter2-hunter2") == "pw hunter2-hunter2"
    runtime.browser.redactor(ALICE).add({"hunter2-hunter2": "<secret:pw>"})
    assert runtime.browser.redactor(ALICE).redact("pw hunter2-hunter2") == "pw <secret:pw>"


async def test_model_help_never_sees_a_secret_value_of_the_session(runtime: Runtime, site):
    model_help = RecordingHelp()
    browser = BrowserService(runtime.settings, runtime.registry, help=model_help)
    sid = (await browser.create_session(ALICE, starting_point=site.url("forms.html"))).session_id
    try:
        browser.redactor(ALICE).add({"Double click me": "<secret:label>"})
        obs = await browser.observe(ALICE, sid, instruction="the button")
        ((_, seen),) = model_help.calls
        names = [e.name for e in seen["elements"].values()] + [e.text for e in seen["elements"].values()]
        assert "<secret:label>" in names and not any("Double click me" in n for n in names)
        assert "Double click me" not in seen["page_text"] and "Double click me" not in obs.text
        assert all("Double click me" not in c.name for c in obs.candidates or [])
    finally:
        await browser.close_session(ALICE, sid)


async def test_secret_values_stay_hidden_after_the_session_ended(runtime: Runtime):
    sid = (await runtime.browser.create_session(ALICE)).session_id
    runtime.browser.redactor(ALICE).add({"s3cret-value": "<secret:pw>"})
    await runtime.browser.close_session(ALICE, sid)
    assert runtime.browser.redactor(ALICE).redact("got s3cret-value") == "got <secret:pw>"
    assert runtime.browser.redactor(BOB).redact("got s3cret-value") == "got s3cret-value"


async def test_two_first_calls_at_once_share_one_default_session(runtime: Runtime, site):
    owner = Owner("dave", client="c1")
    a, _ = await asyncio.gather(
        runtime.browser.navigate(owner, None, url=site.url("index.html")),
        runtime.browser.observe(owner, None),
    )
    try:
        assert a.session_id == (await runtime.browser.navigate(owner, None, url=site.url("forms.html"))).session_id
        listed = await runtime.history.list(owner, include_terminated=False, limit=100, offset=0)
        assert [s.session_id for s in listed.sessions] == [a.session_id]
    finally:
        await runtime.browser.close_session(owner, a.session_id)
