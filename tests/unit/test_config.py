"""Settings: .env.example in step with the fields, LLM keys from the SDKs' variables (environment and .env),
list settings in their plain and JSON forms, secrets masked. No browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.fakes import FakeAnthropic, FakeGemini, Reply
from thinkrun_mcp.agent.backends import Backends, Turn
from thinkrun_mcp.agent.keys import KEY_FIELDS
from thinkrun_mcp.config import ModelPrice, Settings
from thinkrun_mcp.errors import ThinkRunError

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / ".env.example"


def example_variables() -> list[tuple[str, str]]:
    """(name, value) of every assignment line of .env.example, in order."""
    out = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: {line!r} is neither a comment nor NAME=value"
            out.append((name.strip(), value.strip()))
    return out


def settings_from(tmp_path: Path, text: str) -> Settings:
    env_file = tmp_path / "settings.env"
    env_file.write_text(text)
    return Settings(_env_file=env_file)


# -- .env.example ------------------------------------------------------------------------------


def test_env_example_documents_every_setting_under_its_env_name() -> None:
    documented = {name for name, _ in example_variables()}

    missing = [
        f"{field} ({' or '.join(Settings.env_names(field))})"
        for field in Settings.model_fields
        if not documented & set(Settings.env_names(field))
    ]

    assert missing == [], f".env.example lacks {missing}"


def test_env_example_has_only_settings_each_once() -> None:
    names = [name for name, _ in example_variables()]
    known = {env for field in Settings.model_fields for env in Settings.env_names(field)}

    assert [n for n in names if n not in known] == []
    assert len(names) == len(set(names))


def test_env_example_values_are_the_defaults() -> None:
    from_example = Settings(_env_file=ENV_EXAMPLE)
    defaults = Settings(_env_file=None)

    differ = {
        f: (getattr(from_example, f), getattr(defaults, f))
        for f in Settings.model_fields
        if getattr(from_example, f) != getattr(defaults, f)
    }

    assert differ == {}, "field: (.env.example, default)"


def test_missing_key_hints_name_variables_the_key_is_read_from() -> None:
    for backend, (field, hinted) in KEY_FIELDS.items():
        assert set(hinted) <= set(Settings.env_names(field)), backend


# -- LLM keys ----------------------------------------------------------------------------------


def test_gemini_key_in_env_file_makes_the_gemini_backend_available(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, "GEMINI_API_KEY=key-from-dotenv\n")

    assert Backends(settings).available() == "gemini"
    assert settings.gemini_api_key is not None and settings.gemini_api_key.get_secret_value() == "key-from-dotenv"


@pytest.mark.parametrize(
    ("backend", "line", "fake_cls"),
    [("gemini", "GEMINI_API_KEY=key-from-dotenv", FakeGemini), ("claude", "ANTHROPIC_API_KEY=key-from-dotenv", FakeAnthropic)],
)
async def test_key_from_env_file_reaches_the_sdk_client(tmp_path, monkeypatch, backend, line, fake_cls) -> None:
    # The SDKs read only the process environment; a key in .env gets to them because it is passed explicitly.
    with fake_cls(Reply(text="hello"), api_key="key-from-dotenv") as fake:  # the fake refuses any other key
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL" if backend == "gemini" else "ANTHROPIC_BASE_URL", fake.base_url)
        client = await Backends(settings_from(tmp_path, f"THINKRUN_DEFAULT_BACKEND={backend}\n{line}\n")).make(backend)
        try:
            reply = await client.complete(system="s", turns=[Turn(role="user", text="hi")], tools=[])
        finally:
            await client.close()

    assert reply.text == "hello"
    assert any("key-from-dotenv" in value for value in fake.last.headers.values())


def test_google_api_key_wins_over_gemini_api_key_as_in_google_genai(monkeypatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-var")
    monkeypatch.setenv("GOOGLE_API_KEY", "google-var")

    assert Settings(_env_file=None).gemini_api_key.get_secret_value() == "google-var"


def test_thinkrun_prefixed_key_wins_over_the_sdk_variables(monkeypatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "google-var")
    monkeypatch.setenv("THINKRUN_GEMINI_API_KEY", "thinkrun-var")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "anthropic-var")
    monkeypatch.setenv("THINKRUN_ANTHROPIC_API_KEY", "thinkrun-anthropic-var")
    monkeypatch.setenv("OPENAI_API_KEY", "openai-var")
    monkeypatch.setenv("THINKRUN_OPENAI_API_KEY", "thinkrun-openai-var")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://sdk.example/v1")
    monkeypatch.setenv("THINKRUN_OPENAI_BASE_URL", "http://thinkrun.example/v1")

    settings = Settings(_env_file=None)

    assert settings.gemini_api_key.get_secret_value() == "thinkrun-var"
    assert settings.anthropic_api_key.get_secret_value() == "thinkrun-anthropic-var"
    assert settings.openai_api_key.get_secret_value() == "thinkrun-openai-var"
    assert settings.openai_base_url == "http://thinkrun.example/v1"


def test_key_in_environment_wins_over_env_file_and_keyword_over_both(tmp_path, monkeypatch) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text("GOOGLE_API_KEY=from-dotenv\n")
    monkeypatch.setenv("GEMINI_API_KEY", "from-environment")

    assert Settings(_env_file=env_file).gemini_api_key.get_secret_value() == "from-environment"
    assert Settings(_env_file=env_file, gemini_api_key="from-keyword").gemini_api_key.get_secret_value() == "from-keyword"


def test_empty_key_variable_leaves_the_backend_unconfigured(tmp_path) -> None:
    settings = settings_from(tmp_path, "GEMINI_API_KEY=\nANTHROPIC_API_KEY=\n")

    assert settings.gemini_api_key is None and settings.anthropic_api_key is None
    assert Backends(settings).available() is None


def test_keys_are_masked_in_repr_and_str() -> None:
    settings = Settings(
        _env_file=None, gemini_api_key="sk-gemini-secret", anthropic_api_key="sk-ant-secret", api_key="sk-cloud-secret"
    )

    shown = repr(settings) + str(settings) + settings.model_dump_json()

    assert not re.search(r"sk-(gemini|ant|cloud)-secret", shown)
    assert "gemini_api_key=SecretStr('**********')" in repr(settings)


# -- the backend factory -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("default", "keys", "expected"),
    [
        ("gemini", {"gemini_api_key": "g", "anthropic_api_key": "a"}, "gemini"),
        ("claude", {"gemini_api_key": "g", "anthropic_api_key": "a"}, "claude"),
        ("gemini", {"anthropic_api_key": "a"}, "claude"),
        ("claude", {"gemini_api_key": "g"}, "gemini"),
        ("gemini", {}, None),
    ],
)
def test_available_backend_is_the_default_one_with_a_key_else_the_other(default, keys, expected) -> None:
    assert Backends(Settings(_env_file=None, default_backend=default, **keys)).available() == expected


def test_require_names_the_variable_to_set() -> None:
    backends = Backends(Settings(_env_file=None, gemini_api_key="g"))
    backends.require("gemini")

    with pytest.raises(ThinkRunError) as exc:
        backends.require("claude")

    assert exc.value.code == "backend_unconfigured"
    assert "ANTHROPIC_API_KEY" in str(exc.value)


# -- list settings -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["http, HTTPS,,file", '["http", "HTTPS", "file"]', ' ["http","https","file", " "] '])
def test_allowed_schemes_comma_and_json_forms_parse_to_the_same_list(monkeypatch, value) -> None:
    monkeypatch.setenv("THINKRUN_ALLOWED_SCHEMES", value)

    assert Settings(_env_file=None).allowed_schemes == ["http", "https", "file"]


def test_allowed_schemes_default_and_keyword_form() -> None:
    assert Settings(_env_file=None).allowed_schemes == ["http", "https"]
    assert Settings(_env_file=None, allowed_schemes=["HTTP", " data "]).allowed_schemes == ["http", "data"]


@pytest.mark.parametrize("value", ['--lang=de  --window-name="two words"', '["--lang=de", "--window-name=two words"]'])
def test_browser_args_shell_and_json_forms_parse_to_the_same_list(tmp_path, value) -> None:
    settings = settings_from(tmp_path, f"THINKRUN_BROWSER_ARGS='{value}'\n")

    assert settings.browser_args == ["--lang=de", "--window-name=two words"]


@pytest.mark.parametrize(("name", "value"), [("THINKRUN_ALLOWED_SCHEMES", "[http"), ("THINKRUN_BROWSER_ARGS", '--a="unclosed')])
def test_malformed_list_setting_is_a_validation_error(monkeypatch, name, value) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError):
        Settings(_env_file=None)


# -- configuration is read at the edge -------------------------------------------------------------


def test_no_module_but_config_reads_the_environment() -> None:
    package = ROOT / "thinkrun_mcp"
    readers = [
        str(p.relative_to(ROOT))
        for p in package.rglob("*.py")
        if p != package / "config.py" and re.search(r"\bos\.environ\b|\bgetenv\(|\benviron\[", p.read_text())
    ]

    assert readers == []


# -- model prices ------------------------------------------------------------------------------


def test_model_prices_are_read_as_json_and_empty_by_default(tmp_path: Path) -> None:
    assert Settings(_env_file=None).model_prices == {}
    settings = settings_from(tmp_path, 'THINKRUN_MODEL_PRICES={"m-1": {"input": 1, "cachedInput": 0.1, "output": 4}}\n')
    assert settings.model_prices == {"m-1": ModelPrice(input=1, cached_input=0.1, output=4)}
    with pytest.raises(ValueError, match="output"):
        settings_from(tmp_path, 'THINKRUN_MODEL_PRICES={"m-1": {"input": 1}}\n')


def test_a_price_counts_cached_input_at_its_own_rate_and_defaults_it_to_the_input_rate() -> None:
    price = ModelPrice(input=2, cached_input=0.5, output=8)
    assert price.cost(input_tokens=1_000_000, cached_input_tokens=600_000, output_tokens=100_000) == pytest.approx(1.9)
    assert ModelPrice(input=2, output=8).cost(input_tokens=1_000, cached_input_tokens=1_000, output_tokens=0) == 0.002
