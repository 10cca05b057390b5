"""The fake model APIs keep their contract with the real ``anthropic`` and ``google-genai`` SDKs: the SDKs,
configured as the backends configure them, are pointed at the fakes and must parse what they answer.

What the fakes do beyond that contract is not specified here; the agent tests rely on it, and the
page-cache fake (FakeCloud) is specified by the cloud-provider tests of ``tests/browser/test_cache.py``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.support.fakes import Delay, Failure, FakeAnthropic, FakeGemini, RecordedRequest, Reply, ToolCall

CLICK_TOOL = {
    "name": "click",
    "description": "Click the element with the given ref from the latest observation.",
    "input_schema": {"type": "object", "properties": {"ref": {"type": "string"}}, "required": ["ref"]},
}
TYPE_TOOL = {
    "name": "type_text",
    "description": "Type text into a field.",
    "input_schema": {
        "type": "object",
        "properties": {"ref": {"type": "string"}, "text": {"type": "string"}},
        "required": ["ref", "text"],
    },
}

OBSERVATION = "Page: Shop\n[ref=e3] link 'Home'\n[ref=e7] button 'Buy now'\n[ref=e9] textbox 'Search'"


def pick_ref(req: RecordedRequest, label: str) -> str:
    """What a test 'model' does: find the ref of an element in the latest observation."""
    m = re.search(r"\[ref=(e\d+)\] \w+ '" + re.escape(label), req.latest_text())
    assert m, f"{label!r} not in observation: {req.latest_text()!r}"
    return m.group(1)


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


_open_clients: list[Any] = []


@pytest.fixture(autouse=True)
async def _close_sdk_clients() -> AsyncIterator[None]:
    """Close every SDK client a test made (their HTTP pools would otherwise warn about unclosed sockets)."""
    yield
    while _open_clients:
        c = _open_clients.pop()
        if isinstance(c, genai.Client):
            await c.aio.aclose()
            c.close()
        else:
            await c.close()


def track(client: Any) -> Any:
    _open_clients.append(client)
    return client


def anthropic_client(fake: FakeAnthropic, **kw: Any) -> anthropic.AsyncAnthropic:
    kw.setdefault("api_key", "test-key")
    kw.setdefault("max_retries", 0)
    return track(anthropic.AsyncAnthropic(base_url=fake.base_url, **kw))


def gemini_client(fake: FakeGemini, api_key: str = "test-key", **http: Any) -> genai.Client:
    return track(genai.Client(api_key=api_key, http_options=types.HttpOptions(base_url=fake.base_url, **http)))


def gemini_config(**kw: Any) -> types.GenerateContentConfig:
    decls = [
        types.FunctionDeclaration(name=t["name"], description=t["description"], parameters_json_schema=t["input_schema"])
        for t in (CLICK_TOOL, TYPE_TOOL)
    ]
    return types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=decls)],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        **kw,
    )


# -- Anthropic ------------------------------------------------------------------------------------


async def test_anthropic_tool_use_blocks_and_usage(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.push(
        Reply(
            text="I'll search first.",
            tool_calls=[
                ToolCall("type_text", {"ref": "e9", "text": "socks"}),
                ToolCall("click", {"ref": "e7"}, id="toolu_fixed1"),
            ],
            input_tokens=1234,
            output_tokens=56,
        )
    )
    client = anthropic_client(fake_anthropic)
    msg = await client.messages.create(
        model="claude-test-model",
        max_tokens=512,
        system="You drive a browser.",
        tools=[CLICK_TOOL, TYPE_TOOL],
        messages=[{"role": "user", "content": "Buy socks.\n" + OBSERVATION}],
    )
    await client.close()

    assert isinstance(msg, anthropic.types.Message)
    assert msg.role == "assistant" and msg.model == "claude-test-model"
    assert msg.stop_reason == "tool_use"
    assert msg.content[0].type == "text" and msg.content[0].text == "I'll search first."
    uses = [b for b in msg.content if b.type == "tool_use"]
    assert [(u.name, u.input) for u in uses] == [("type_text", {"ref": "e9", "text": "socks"}), ("click", {"ref": "e7"})]
    assert uses[0].id.startswith("toolu_") and uses[1].id == "toolu_fixed1"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (1234, 56)

    req = fake_anthropic.last
    assert req.method == "POST" and req.path == "/v1/messages"
    assert req.headers["authorization"] == "Bearer test-key"  # anthropic 2.x sends the key as a Bearer token
    assert req.headers["anthropic-version"]
    assert req.body["tools"] == [CLICK_TOOL, TYPE_TOOL]
    assert req.body["system"] == "You drive a browser."
    assert req.tool_names() == ["click", "type_text"]
    assert "[ref=e7] button 'Buy now'" in req.latest_text()
    assert req.all_text().startswith("You drive a browser.\nBuy socks.")
    assert json.loads(req.raw) == req.body
    assert req.status == 200 and req.response["content"][1]["name"] == "type_text"
    assert fake_anthropic.calls == 1 and fake_anthropic.pending == 0


async def test_anthropic_multi_turn_with_tool_result_and_callable(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.push(
        lambda req: Reply(tool_calls=[ToolCall("click", {"ref": pick_ref(req, "Buy now")})]),
        lambda req: Reply(text=f"Done. Last result: {req.tool_results()[0]['content']}"),
    )
    client = anthropic_client(fake_anthropic)
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"type": "text", "text": OBSERVATION}]}]
    first = await client.messages.create(model="m", max_tokens=100, tools=[CLICK_TOOL], messages=messages)
    use = next(b for b in first.content if b.type == "tool_use")
    assert use.input == {"ref": "e7"}
    assert first.usage.input_tokens > 0 and first.usage.output_tokens > 0  # estimated

    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": [{"type": "text", "text": "clicked e7"}]}],
        },
    ]
    second = await client.messages.create(model="m", max_tokens=100, tools=[CLICK_TOOL], messages=messages)
    await client.close()

    assert second.stop_reason == "end_turn"
    assert [b.type for b in second.content] == ["text"]
    assert second.content[0].text == "Done. Last result: clicked e7"
    req = fake_anthropic.requests[1]
    assert req.tool_results() == [{"id": use.id, "name": None, "content": "clicked e7", "is_error": False}]
    assert req.latest_text() == "clicked e7"
    assert 'click({"ref": "e7"})' in req.all_text()
    assert [r for r, _ in req.messages()] == ["user", "assistant", "user"]


async def test_anthropic_rejects_unmatched_tool_result_like_the_real_api(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.push(Reply(text="never used"))
    client = anthropic_client(fake_anthropic)
    with pytest.raises(anthropic.BadRequestError) as exc:
        await client.messages.create(
            model="m",
            max_tokens=10,
            messages=[
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_a", "name": "click", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_b", "content": "x"}]},
            ],
        )
    await client.close()
    assert "messages.2.content.0: unexpected `tool_use_id`" in str(exc.value)
    assert exc.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    client = anthropic_client(fake_anthropic)
    with pytest.raises(anthropic.BadRequestError) as exc2:
        await client.messages.create(
            model="m",
            max_tokens=10,
            messages=[
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_a", "name": "click", "input": {}}]},
                {"role": "user", "content": "what happened?"},
            ],
        )
    await client.close()
    assert "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_a" in str(exc2.value)
    assert fake_anthropic.calls == 0 and fake_anthropic.pending == 1  # rejected before the "model"


LONG_SYSTEM = "You drive a browser. " + "Follow the house rules carefully. " * 200  # ~1,700 tokens


async def test_anthropic_reports_cache_writes_then_reads_of_a_marked_prefix(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.push(Reply(text="one"), Reply(text="two"), Reply(text="three"))
    client = anthropic_client(fake_anthropic)
    system = [{"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}]
    usages = []
    for question in ("first question", "second, different question"):
        msg = await client.messages.create(
            model="m", max_tokens=10, system=system, tools=[CLICK_TOOL], messages=[{"role": "user", "content": question}]
        )
        usages.append(msg.usage)
    unmarked = await client.messages.create(
        model="m", max_tokens=10, system=LONG_SYSTEM, tools=[CLICK_TOOL], messages=[{"role": "user", "content": "third"}]
    )
    await client.close()
    first, second = usages
    assert first.cache_creation_input_tokens > 1024 and first.cache_read_input_tokens == 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens and second.cache_creation_input_tokens == 0
    # input_tokens is what follows the cached prefix; the three add up to the whole prompt.
    total = len(fake_anthropic.requests[1].raw) // 4
    assert second.input_tokens + second.cache_read_input_tokens == total and second.input_tokens < 100
    assert (unmarked.usage.cache_read_input_tokens, unmarked.usage.cache_creation_input_tokens) == (0, 0)


async def test_anthropic_caches_nothing_under_the_minimum_and_refuses_five_breakpoints(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.push(Reply(text="a"), Reply(text="b"), Reply(text="never"))
    client = anthropic_client(fake_anthropic)
    short = [{"type": "text", "text": "You drive a browser.", "cache_control": {"type": "ephemeral"}}]
    for _ in range(2):
        msg = await client.messages.create(model="m", max_tokens=10, system=short, messages=[{"role": "user", "content": "hi"}])
        assert (msg.usage.cache_creation_input_tokens, msg.usage.cache_read_input_tokens) == (0, 0)
    marked = [{"type": "text", "text": f"rule {i}", "cache_control": {"type": "ephemeral"}} for i in range(5)]
    with pytest.raises(anthropic.BadRequestError) as exc:
        await client.messages.create(model="m", max_tokens=10, system=marked, messages=[{"role": "user", "content": "hi"}])
    await client.close()
    assert "A maximum of 4 blocks with cache_control may be provided. Found 5." in str(exc.value)


async def test_anthropic_rate_limit_surfaces_without_retries(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.push(Failure(429, retry_after=7), Reply(text="unused"))
    client = anthropic_client(fake_anthropic)
    with pytest.raises(anthropic.RateLimitError) as exc:
        await client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    await client.close()
    err = exc.value
    assert err.status_code == 429
    assert err.response.headers["retry-after"] == "7"
    assert err.body["type"] == "error" and err.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert fake_anthropic.calls == 1


async def test_anthropic_server_errors_and_exhausted_script(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.push(Failure(500), Failure(529, error_type="overloaded_error"))
    client = anthropic_client(fake_anthropic)
    with pytest.raises(anthropic.InternalServerError):
        await client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.OverloadedError):
        await client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.InternalServerError) as exc:
        await client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    await client.close()
    assert "fake script exhausted" in str(exc.value)
    assert fake_anthropic.calls == 3 and fake_anthropic.last.status == 500


async def test_anthropic_missing_or_wrong_key_is_authentication_error() -> None:
    with FakeAnthropic(Reply(text="unused"), api_key="right-key") as fake:
        no_key = anthropic_client(fake, default_headers={"Authorization": anthropic.Omit()})
        with pytest.raises(anthropic.AuthenticationError) as exc:
            await no_key.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
        assert exc.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
        wrong = anthropic_client(fake, api_key="wrong-key")
        with pytest.raises(anthropic.AuthenticationError):
            await wrong.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
        right = anthropic_client(fake, api_key="right-key")
        msg = await right.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
        for c in (no_key, wrong, right):
            await c.close()
        assert msg.content[0].text == "unused"
        assert "authorization" not in fake.requests[0].headers and "x-api-key" not in fake.requests[0].headers
        assert fake.calls == 1  # auth failures never reach the script


async def test_anthropic_base_url_and_key_from_env(fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_anthropic.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key")
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    fake_anthropic.push(Reply(text="from env"))
    client = track(anthropic.AsyncAnthropic(max_retries=0))
    msg = await client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    await client.close()
    assert msg.content[0].text == "from env"
    assert fake_anthropic.last.headers["authorization"] == "Bearer env-key"


async def test_anthropic_timeout_and_cancel_during_delay(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.push(Delay(5, Reply(text="too late")), Delay(5, Reply(text="too late")))
    client = anthropic_client(fake_anthropic, timeout=0.3)
    with pytest.raises(anthropic.APITimeoutError):
        await client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])

    task = asyncio.create_task(
        anthropic_client(fake_anthropic, timeout=30).messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    )
    while fake_anthropic.calls < 2:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await client.close()
    # Both calls hung up before the delayed replies: had either waited, it would have been answered (200).
    reqs = await asyncio.to_thread(fake_anthropic.wait_for_requests, 2, 10.0)
    assert [(r.client_disconnected, r.status) for r in reqs] == [(True, None), (True, None)]


# -- Gemini ---------------------------------------------------------------------------------------


async def test_gemini_function_calls_and_usage(fake_gemini: FakeGemini) -> None:
    fake_gemini.push(
        Reply(
            text="Searching.",
            tool_calls=[ToolCall("type_text", {"ref": "e9", "text": "socks"}), ToolCall("click", {"ref": "e7"})],
            input_tokens=321,
            output_tokens=12,
        )
    )
    client = gemini_client(fake_gemini)
    resp = await client.aio.models.generate_content(
        model="gemini-2.5-flash",
        contents=[types.Content(role="user", parts=[types.Part.from_text(text="Buy socks.\n" + OBSERVATION)])],
        config=gemini_config(system_instruction="You drive a browser.", temperature=0),
    )
    calls = resp.function_calls
    assert calls is not None
    assert [(c.name, c.args) for c in calls] == [("type_text", {"ref": "e9", "text": "socks"}), ("click", {"ref": "e7"})]
    assert all(c.id is None for c in calls)  # the Gemini API normally sends no call ids
    usage = resp.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.total_token_count) == (321, 12, 333)
    assert resp.model_version == "gemini-2.5-flash"
    assert resp.candidates and resp.candidates[0].finish_reason == types.FinishReason.STOP
    assert resp.candidates[0].content.parts[0].text == "Searching."  # type: ignore[union-attr,index]

    req = fake_gemini.last
    assert req.path == "/v1/models/gemini-2.5-flash:generateContent"  # google-genai 3.4 default api version is v1
    assert req.headers["x-goog-api-key"] == "test-key"
    assert req.tool_names() == ["click", "type_text"]
    decl = req.body["tools"][0]["functionDeclarations"][0]
    assert decl["name"] == "click" and decl["parameters_json_schema"] == CLICK_TOOL["input_schema"]  # snake_case on the wire
    assert req.body["systemInstruction"]["parts"] == [{"text": "You drive a browser."}]
    assert req.body["generationConfig"]["temperature"] == 0
    assert req.system_text() == "You drive a browser."
    assert "[ref=e7] button 'Buy now'" in req.latest_text()


async def test_gemini_function_response_round_trip_with_thought_signatures() -> None:
    with FakeGemini(require_thought_signatures=True) as fake:
        fake.push(
            lambda req: Reply(tool_calls=[ToolCall("click", {"ref": pick_ref(req, "Buy now")})]),
            lambda req: Reply(text="clicked: " + str(req.tool_results()[0]["content"]["result"])),
            Reply(text="unused"),
        )
        client = gemini_client(fake)
        history: list[types.Content] = [types.Content(role="user", parts=[types.Part.from_text(text=OBSERVATION)])]
        first = await client.aio.models.generate_content(model="gemini-3-pro-preview", contents=history, config=gemini_config())
        assert first.function_calls and first.function_calls[0].args == {"ref": "e7"}
        model_content = first.candidates[0].content  # type: ignore[index]
        assert model_content.parts[0].thought_signature  # type: ignore[union-attr,index]  # bytes, decoded by the SDK

        history += [
            model_content,  # type: ignore[list-item]  # sent back unchanged → the signature round-trips
            types.Content(role="user", parts=[types.Part.from_function_response(name="click", response={"result": "ok e7"})]),
        ]
        second = await client.aio.models.generate_content(model="gemini-3-pro-preview", contents=history, config=gemini_config())
        assert second.text == "clicked: ok e7"
        req = fake.requests[1]
        assert req.tool_results() == [{"id": None, "name": "click", "content": {"result": "ok e7"}, "is_error": False}]
        assert req.latest_text() == "ok e7"
        assert req.body["contents"][1]["parts"][0]["thoughtSignature"] in fake.issued_signatures

        # Rebuilding the model turn from name/args only drops the signature → 400 like Gemini 3.
        rebuilt = types.Content(role="model", parts=[types.Part.from_function_call(name="click", args={"ref": "e7"})])
        with pytest.raises(genai_errors.ClientError) as exc:
            await client.aio.models.generate_content(
                model="gemini-3-pro-preview", contents=[history[0], rebuilt, history[2]], config=gemini_config()
            )
        assert exc.value.code == 400 and "thought_signature" in str(exc.value.message)
        assert fake.calls == 2 and fake.pending == 1


async def test_gemini_function_call_ids_when_enabled() -> None:
    with FakeGemini(Reply(tool_calls=[ToolCall("click", {"ref": "e1"}, id="call-1")]), Reply(text="ok")) as fake:
        client = gemini_client(fake)
        resp = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="go", config=gemini_config())
        assert resp.function_calls and resp.function_calls[0].id == "call-1"
        contents = [
            types.Content(role="user", parts=[types.Part.from_text(text="go")]),
            resp.candidates[0].content,  # type: ignore[index]
            types.Content(
                role="user",
                parts=[
                    types.Part(function_response=types.FunctionResponse(id="call-1", name="click", response={"output": "done"}))
                ],
            ),
        ]
        await client.aio.models.generate_content(model="gemini-2.5-flash", contents=contents, config=gemini_config())
        assert fake.last.tool_results()[0]["id"] == "call-1"


async def test_gemini_reports_implicit_cache_hits_for_a_repeated_prefix(fake_gemini: FakeGemini) -> None:
    fake_gemini.push(Reply(text="a"), Reply(text="b"), Reply(text="c"))
    client = gemini_client(fake_gemini)

    async def ask(system: str, question: str) -> types.GenerateContentResponse:
        return await client.aio.models.generate_content(
            model="gemini-2.5-flash", contents=question, config=gemini_config(system_instruction=system)
        )

    first = await ask(LONG_SYSTEM, "first question")
    second = await ask(LONG_SYSTEM, "a second question")
    changed = await ask("Changed first line. " + LONG_SYSTEM, "a second question")
    assert first.usage_metadata is not None and not first.usage_metadata.cached_content_token_count
    usage = second.usage_metadata
    assert usage is not None and usage.cached_content_token_count and usage.prompt_token_count
    assert 1024 < usage.cached_content_token_count < usage.prompt_token_count  # the shared prefix, not the question
    assert changed.usage_metadata is not None and not changed.usage_metadata.cached_content_token_count


async def test_gemini_errors_map_to_client_and_server_errors(fake_gemini: FakeGemini) -> None:
    fake_gemini.push(Failure(429, retry_after=3), Failure(500), Failure(503, error_type="UNAVAILABLE"))
    client = gemini_client(fake_gemini)
    with pytest.raises(genai_errors.ClientError) as exc:
        await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert exc.value.code == 429 and exc.value.status == "RESOURCE_EXHAUSTED"
    assert exc.value.details["error"]["details"][0]["retryDelay"] == "3s"
    with pytest.raises(genai_errors.ServerError) as exc2:
        await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert exc2.value.code == 500 and exc2.value.status == "INTERNAL"
    with pytest.raises(genai_errors.ServerError) as exc3:
        await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert exc3.value.code == 503 and exc3.value.status == "UNAVAILABLE"
    with pytest.raises(genai_errors.ServerError) as exc4:
        await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert "fake script exhausted" in str(exc4.value.message)
    assert fake_gemini.calls == 4  # google-genai does not retry unless HttpOptions.retry_options is set


async def test_gemini_wrong_key_is_a_client_error_naming_the_reason() -> None:
    with FakeGemini(Reply(text="for the right key"), api_key="right-key") as fake:
        with pytest.raises(genai_errors.ClientError) as exc:
            await gemini_client(fake, api_key="wrong-key").aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
        assert exc.value.code == 400 and "API key not valid" in str(exc.value.message)
        assert exc.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
        right = await gemini_client(fake, api_key="right-key").aio.models.generate_content(
            model="gemini-2.5-flash", contents="hi"
        )
        assert right.text == "for the right key"
        assert fake.calls == 1  # auth failures never reach the script


async def test_gemini_base_url_and_key_from_env(fake_gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake_gemini.base_url)
    monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)
    monkeypatch.delenv("GOOGLE_GENAI_USE_ENTERPRISE", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", "env-gemini-key")
    fake_gemini.push(Reply(text="via env"), Reply(text="explicit key"))
    resp = await track(genai.Client()).aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert resp.text == "via env"
    assert fake_gemini.last.headers["x-goog-api-key"] == "env-gemini-key"
    resp = await track(genai.Client(api_key="test-key")).aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert resp.text == "explicit key" and fake_gemini.last.headers["x-goog-api-key"] == "test-key"


async def test_gemini_timeout_is_a_raw_httpx2_timeout(fake_gemini: FakeGemini) -> None:
    fake_gemini.push(Delay(5, Reply(text="too late")))
    client = gemini_client(fake_gemini, timeout=300)  # HttpOptions.timeout is in MILLIseconds; default None = no timeout
    with pytest.raises(httpx2.TimeoutException):  # not wrapped in google.genai.errors
        await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert fake_gemini.last.headers["x-server-timeout"] == "1"  # the SDK tells the server its deadline (ceil seconds)
    (req,) = await asyncio.to_thread(fake_gemini.wait_for_requests, 1, 10.0)
    assert (req.client_disconnected, req.status) == (True, None)  # it hung up before the delayed reply
