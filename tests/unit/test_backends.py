"""The backend factory and the OpenAI-compatible backend: the real ``openai`` SDK against a local fake of the
Chat Completions API, readiness of every backend, and clients built off the event loop. No browser."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from mcp.shared.exceptions import NoBackChannelError

from tests.support.fakes import Failure, FakeOpenAI, Reply, ToolCall
from tests.support.fakes.fake_cloud import png_bytes
from thinkrun_mcp.agent.backends import BUILDERS, Backend, Backends, ModelReply, ToolResult, ToolSpec, Turn
from thinkrun_mcp.agent.backends import ToolCall as Call
from thinkrun_mcp.agent.backends.sampling import SamplingBackend
from thinkrun_mcp.config import Settings
from thinkrun_mcp.errors import ThinkRunError

TOOLS = [
    ToolSpec("act", "Act on an element.", {"type": "object", "properties": {"ref": {"type": "string"}}, "required": ["ref"]}),
    ToolSpec("screenshot", "See the page.", {"type": "object", "properties": {}}),
]


def openai_settings(fake: FakeOpenAI | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"openai_api_key": "k-openai", "llm_max_retries": 0}
    if fake is not None:
        values["openai_base_url"] = fake.api_base
    return Settings(_env_file=None, **(values | overrides))


async def ask(settings: Settings, turns: list[Turn] | None = None, tools: list[ToolSpec] = TOOLS) -> ModelReply:
    backend = await Backends(settings).make("openai")
    try:
        return await backend.complete(system="You browse.", turns=turns or [Turn(role="user", text="hi")], tools=tools)
    finally:
        await backend.close()


async def code_of(coro: Any) -> tuple[str, str]:
    try:
        await coro
    except ThinkRunError as exc:
        return exc.code, str(exc)
    raise AssertionError("no error")


# -- OpenAI-compatible backend ------------------------------------------------------------------


async def test_openai_backend_sends_the_conversation_as_chat_completions_and_reads_tool_calls_and_usage():
    png = png_bytes()
    turns = [
        Turn(role="user", text="Task: look"),
        Turn(role="assistant", text="", tool_calls=[Call("screenshot", {}, id="call_1")]),
        Turn(role="tool", results=[ToolResult(call_id="call_1", name="screenshot", content="attached", image_png=png)]),
    ]
    with FakeOpenAI(
        Reply(text="I see", tool_calls=[ToolCall("act", {"ref": "e3"}, id="call_2")], input_tokens=900, output_tokens=12),
        api_key="k-openai",
        cached_tokens=640,
    ) as fake:
        reply = await ask(openai_settings(fake, openai_model="qwen3:8b"), turns)

    assert (reply.text, [(c.name, c.args, c.id) for c in reply.tool_calls]) == ("I see", [("act", {"ref": "e3"}, "call_2")])
    assert (reply.input_tokens, reply.output_tokens, reply.cached_input_tokens) == (900, 12, 640)
    assert reply.stop_reason == "tool_calls"
    body = fake.last.body
    assert body["model"] == "qwen3:8b" and body["max_tokens"] == 4096 and "max_completion_tokens" not in body
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "tool", "user"]
    assert body["messages"][0]["content"] == "You browse."
    assert body["messages"][2]["tool_calls"][0]["function"] == {"name": "screenshot", "arguments": "{}"}
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_1", "content": "attached"}
    image = body["messages"][4]["content"][1]
    assert image["type"] == "image_url" and image["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")
    assert [t["function"]["name"] for t in body["tools"]] == ["act", "screenshot"]
    assert fake.last.headers["authorization"] == "Bearer k-openai"


async def test_openai_tool_results_marked_as_errors_say_so():
    turns = [
        Turn(role="user", text="go"),
        Turn(role="assistant", tool_calls=[Call("teleport", {}, id="c1")]),
        Turn(role="tool", results=[ToolResult(call_id="c1", name="teleport", content="unknown tool", is_error=True)]),
    ]
    with FakeOpenAI(Reply(text="ok"), api_key="k-openai") as fake:
        await ask(openai_settings(fake), turns)

    assert fake.last.tool_results() == [{"id": "c1", "name": None, "content": "error: unknown tool", "is_error": True}]


@pytest.mark.parametrize(("arguments", "problem"), [('{"ref": "e3"', "not valid JSON"), ('["e3"]', "must be a JSON object")])
async def test_openai_tool_call_arguments_that_are_not_a_json_object_are_reported_not_guessed(arguments, problem):
    with FakeOpenAI(Reply(tool_calls=[ToolCall("act", arguments)]), api_key="k-openai") as fake:
        reply = await ask(openai_settings(fake))

    (call,) = reply.tool_calls
    assert (call.name, call.args) == ("act", {})
    assert problem in call.invalid


async def test_openai_keyless_base_url_is_ready_and_reaches_a_server_that_needs_no_key():
    with FakeOpenAI(Reply(text="hello from a local model"), require_key=False) as fake:
        settings = Settings(_env_file=None, openai_base_url=fake.api_base, openai_model="llama3.2")
        backends = Backends(settings)
        backends.require("openai")
        reply = await ask(settings)

    assert reply.text == "hello from a local model"
    assert backends.status()["openai"].detail == f"no key, {fake.api_base}, model llama3.2"


def test_openai_without_key_or_base_url_names_both_variables():
    backends = Backends(Settings(_env_file=None))

    with pytest.raises(ThinkRunError) as exc:
        backends.require("openai")

    assert exc.value.code == "backend_unconfigured"
    assert "OPENAI_API_KEY" in str(exc.value) and "OPENAI_BASE_URL" in str(exc.value)


async def test_openai_refused_key_is_invalid_api_key():
    with FakeOpenAI(Reply(text="never"), api_key="the-right-key") as fake:
        code, text = await code_of(ask(openai_settings(fake)))

    assert code == "invalid_api_key" and "OPENAI_API_KEY" in text and "Incorrect API key" in text


async def test_openai_unknown_model_is_an_upstream_error_pointing_at_the_model_setting():
    with FakeOpenAI(Failure(404, message="model 'gpt-nope' not found"), api_key="k-openai") as fake:
        code, text = await code_of(ask(openai_settings(fake, openai_model="gpt-nope")))

    assert code == "upstream_error" and "model 'gpt-nope' not found" in text and "THINKRUN_OPENAI_MODEL" in text


async def test_openai_rate_limit_is_retried_after_the_time_it_asks_for():
    with FakeOpenAI(Failure(429, retry_after=0.01), Reply(text="after retry"), api_key="k-openai") as fake:
        reply = await ask(openai_settings(fake, llm_max_retries=2))

    assert reply.text == "after retry" and fake.calls == 2


async def test_openai_rate_limit_that_persists_is_rate_limited():
    with FakeOpenAI(Failure(429, retry_after=0.01), Failure(429, retry_after=0.01), api_key="k-openai") as fake:
        code, text = await code_of(ask(openai_settings(fake, llm_max_retries=1)))

    assert code == "rate_limited" and "2 attempts" in text


async def test_openai_unreachable_server_is_an_upstream_error_naming_it():
    with FakeOpenAI() as fake:
        base = fake.api_base
    code, text = await code_of(ask(Settings(_env_file=None, openai_base_url=base, llm_max_retries=0)))

    assert code == "upstream_error" and f"cannot reach the OpenAI-compatible server at {base}" in text


async def test_openai_base_url_and_model_from_env_file_reach_the_sdk(tmp_path: Path):
    with FakeOpenAI(Reply(text="from .env"), require_key=False) as fake:
        env = tmp_path / "settings.env"
        env.write_text(f"OPENAI_BASE_URL={fake.api_base}\nTHINKRUN_OPENAI_MODEL=mistral\nTHINKRUN_DEFAULT_BACKEND=openai\n")
        settings = Settings(_env_file=env)
        reply = await ask(settings)

    assert reply.text == "from .env" and fake.last.body["model"] == "mistral"
    assert Backends(settings).available() == "openai"


# -- readiness of every backend -----------------------------------------------------------------


def test_status_lists_every_backend_with_what_it_uses_or_what_to_set():
    status = Backends(Settings(_env_file=None, anthropic_api_key="a", claude_model="claude-x")).status()

    assert list(status) == ["gemini", "claude", "openai", "sampling"]
    assert (status["gemini"].state, status["gemini"].detail) == ("not ready", "set GEMINI_API_KEY or GOOGLE_API_KEY")
    assert (status["claude"].state, status["claude"].detail) == ("ready", "key set, model claude-x")
    assert status["openai"].state == "not ready"
    assert status["sampling"].state == "per client" and "sampling with tools" in status["sampling"].detail


def test_element_help_never_picks_sampling_even_as_the_default():
    backends = Backends(Settings(_env_file=None, default_backend="sampling", openai_base_url="http://127.0.0.1:9/v1"))

    assert backends.available() == "openai"


def test_sampling_without_a_calling_client_names_the_ready_alternatives():
    backends = Backends(Settings(_env_file=None, gemini_api_key="g", openai_api_key="o"))

    with pytest.raises(ThinkRunError) as exc:
        backends.require("sampling")

    assert exc.value.code == "backend_unconfigured"
    assert "came from no MCP client" in str(exc.value)
    assert "choose backend gemini or openai, which are ready" in str(exc.value)


class _Sampler:
    client_name = "unit-client"

    def __init__(self, error: Exception | None = None, why_not: str | None = None):
        self.error = error
        self.why_not = why_not

    def unavailable(self) -> str | None:
        return self.why_not

    async def create_message(self, params: Any) -> Any:
        raise self.error or AssertionError("not scripted")


def test_sampling_on_a_client_that_cannot_says_why_and_what_else_is_ready():
    backends = Backends(Settings(_env_file=None, anthropic_api_key="a"))

    with pytest.raises(ThinkRunError) as exc:
        backends.require("sampling", _Sampler(why_not="unit-client does not support sampling"))

    assert "unit-client does not support sampling" in str(exc.value)
    assert "choose backend claude, which is ready" in str(exc.value)


async def test_a_connection_without_a_back_channel_fails_sampling_as_unconfigured():
    backend = SamplingBackend(sampler=_Sampler(error=NoBackChannelError("sampling/createMessage")), max_retries=0)

    code, text = await code_of(backend.complete(system="s", turns=[Turn(role="user", text="hi")], tools=TOOLS))

    assert code == "backend_unconfigured" and "carries no requests from the server" in text
    assert backend.model == "client:unit-client"


# -- clients are built off the event loop ---------------------------------------------------------


class _Closable(Backend):
    name = "stub"

    def __init__(self) -> None:
        super().__init__(model="stub")
        self.closed = asyncio.Event()

    async def _call(self, **_: Any) -> ModelReply:
        raise AssertionError("not called")

    def _classify(self, exc: Exception) -> Exception:
        return exc

    async def close(self) -> None:
        self.closed.set()


async def test_make_builds_the_client_in_a_worker_thread(monkeypatch):
    threads: list[int] = []

    def build(_settings: Settings) -> Backend:
        threads.append(threading.get_ident())
        return _Closable()

    monkeypatch.setitem(BUILDERS, "gemini", build)
    backend = await Backends(Settings(_env_file=None, gemini_api_key="g")).make("gemini")
    await backend.close()

    assert threads and threads[0] != threading.get_ident()


async def test_a_client_finished_after_its_caller_gave_up_is_closed(monkeypatch):
    release, built = threading.Event(), []

    def slow(_settings: Settings) -> Backend:
        release.wait(10)
        built.append(_Closable())
        return built[0]

    monkeypatch.setitem(BUILDERS, "gemini", slow)
    backends = Backends(Settings(_env_file=None, gemini_api_key="g"))

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(backends.make("gemini"), timeout=0.05)
    release.set()

    await asyncio.wait_for(_closed_when_built(built), timeout=10)


async def _closed_when_built(built: list[_Closable]) -> None:
    while not built:
        await asyncio.sleep(0.01)
    await built[0].closed.wait()


def test_preload_imports_the_sdks_of_the_ready_backends_only():
    # A fresh interpreter, so that no other test has imported an SDK already.
    script = """
import asyncio, sys
from thinkrun_mcp.agent.backends import Backends
from thinkrun_mcp.config import Settings

async def main():
    await Backends(Settings(_env_file=None, gemini_api_key="g")).preload()
    print(*(name in sys.modules for name in ("google.genai", "anthropic", "openai")))

asyncio.run(main())
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THINKRUN_", "OPENAI_", "GEMINI_", "ANTHROPIC_", "GOOGLE_"))}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "False"]
