"""Settings, read once at the edge and passed down.

Precedence: CLI flags (passed as keyword arguments) > environment variables >
a ``.env`` file in the working directory > the defaults below. A field is read
from ``THINKRUN_<FIELD>``, except the LLM keys (and the OpenAI base URL), which
are read from the SDKs' standard variables (``GEMINI_API_KEY``, ``ANTHROPIC_API_KEY``,
``OPENAI_API_KEY``, ``OPENAI_BASE_URL``…) so that one key serves every tool. An empty variable counts as unset. List fields accept a
JSON list or today's plain form (comma-separated schemes, shell-quoted flags).
``.env.example`` documents every field; ``tests/test_config.py`` keeps the two
in step.
"""

from __future__ import annotations

import ipaddress
import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .models.tasks import BackendName
from .urls import PRIVATE_NETWORKS, redact_url

__all__ = ["BrowserEndpoint", "ModelPrice", "Settings"]

_ENDPOINT_SCHEMES = ("ws", "wss", "http", "https")


class BrowserEndpoint(BaseModel):
    """One remote browser: a Playwright server (``ws://``, ``wss://``) or a DevTools endpoint (``http://``, ``https://``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    url: str
    max_sessions: int | None = Field(default=None, ge=1, le=100_000, alias="maxSessions")

    @field_validator("url", mode="after")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme.lower() not in _ENDPOINT_SCHEMES or not parts.hostname:
            raise ValueError(
                f"{redact_url(value)!r} is not a browser endpoint: use ws://host:port/… (a Playwright server) "
                "or http://host:port (a Chrome DevTools endpoint)"
            )
        return value

    def __repr_args__(self) -> Any:  # a token in the URL stays out of logs and tracebacks
        yield "url", self.shown
        yield "max_sessions", self.max_sessions

    @property
    def shown(self) -> str:
        """The URL fit to show: its password and query values masked."""
        return redact_url(self.url)

    @property
    def protocol(self) -> Literal["playwright", "cdp"]:
        return "playwright" if self.url.lower().startswith(("ws://", "wss://")) else "cdp"


class ModelPrice(BaseModel):
    """What one model costs, in US dollars per million tokens (as the providers' price lists give it)."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)

    input: float = Field(ge=0, description="Input tokens not read from the prompt cache.")
    cached_input: float | None = Field(
        default=None, ge=0, alias="cachedInput", description="Input tokens read from the prompt cache (default: input)."
    )
    output: float = Field(ge=0, description="Output tokens, thinking included.")

    def cost(self, *, input_tokens: int, cached_input_tokens: int, output_tokens: int) -> float:
        """The estimated cost in USD; ``input_tokens`` counts every input token, the cached ones included."""
        cached = min(cached_input_tokens, input_tokens)
        cached_rate = self.input if self.cached_input is None else self.cached_input
        total = (input_tokens - cached) * self.input + cached * cached_rate + output_tokens * self.output
        return round(total / 1_000_000, 8)


class Settings(BaseSettings):
    """All configuration of a thinkrun-mcp process."""

    model_config = SettingsConfigDict(
        env_prefix="THINKRUN_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,  # ``THINKRUN_BROWSER_PATH=`` (as in .env.example) means the default, not ""
        validate_by_name=True,  # Settings(gemini_api_key=…) as well as the env names
        validate_default=True,
    )

    # -- storage -------------------------------------------------------------------------
    data_dir: Path = Field(default=Path("~/.thinkrun"), description="Database, artifacts, cache and uploads.")
    db_lock_wait_seconds: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="Longest a tool call or read waits for a database locked by another process; then storage_unavailable "
        "(rows are kept and written once the lock is gone). At start, at most 2 s.",
    )

    # -- browser -------------------------------------------------------------------------
    browser_path: str | None = Field(
        default=None, description="Chrome/Chromium executable to launch (on the server's machine with a ws:// endpoint)."
    )
    browser_endpoint: Annotated[list[BrowserEndpoint], NoDecode] = Field(
        default_factory=list,
        description="Remote browsers instead of a local launch: Playwright servers ws://… and CDP endpoints http://…; "
        "comma or space separated, or a JSON list of URLs and {url, maxSessions} objects.",
    )
    endpoint_max_sessions: int | None = Field(
        default=None, ge=1, le=100_000, description="Sessions at once on one browser endpoint (None: no cap)."
    )
    endpoint_reconnect_seconds: float = Field(
        default=30, ge=0, le=3600, description="How long sessions of a lost remote endpoint wait for it (orphaned)."
    )
    headless: bool = Field(default=True, description="Run the local browser without a window.")
    browser_args: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra Chromium flags: space separated with shell quoting, or a JSON list."
    )
    viewport_width: int = Field(default=1280, ge=200, le=7680)
    viewport_height: int = Field(default=720, ge=200, le=4320)

    # -- sessions ------------------------------------------------------------------------
    session_idle_seconds: float = Field(default=300, gt=0, description="End a session after this long unused.")
    session_max_seconds: float = Field(default=1200, gt=0, description="End a session after this long in all.")
    max_sessions: int = Field(default=3, ge=1, le=500, description="Open sessions at once, per client (MCP connection).")
    reaper_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    dialog_policy: Literal["dismiss", "accept"] = Field(default="dismiss")
    navigation_timeout_ms: int = Field(default=30_000, ge=1_000, le=300_000)
    action_timeout_ms: int = Field(default=10_000, ge=500, le=120_000)
    observation_max_chars: int = Field(default=10_000, ge=1_000, le=200_000)
    extract_max_chars: int = Field(default=20_000, ge=1_000, le=1_000_000)
    upload_dir: Path | None = Field(default=None, description="browser_act upload only reads files from here.")
    block_private_networks: bool | None = Field(
        default=None,
        description="Refuse connections to blocked_networks. Unset: on when serving HTTP on a non-loopback address, "
        "off otherwise (stdio, loopback).",
    )
    blocked_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(PRIVATE_NETWORKS),
        description="Networks (CIDR) refused while private networks are blocked: comma separated, or a JSON list.",
    )
    egress_host: str | None = Field(
        default=None,
        description="Address of this machine the egress proxy listens on, for a remote browser on another machine; "
        "unset: 127.0.0.1.",
    )
    allowed_schemes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http", "https"], description="URL schemes pages may load: comma separated, or a JSON list."
    )
    record_max_rows: int = Field(default=5_000, ge=100, le=1_000_000, description="Per session and log kind.")

    # -- page cache ----------------------------------------------------------------------
    cache_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    cache_default_max_age: int = Field(default=3600, ge=0, description="Seconds a cached page stays fresh.")
    cache_pool_size: int = Field(default=4, ge=1, le=64, description="Concurrent page-cache renders.")
    cache_context_uses: int = Field(
        default=20, ge=1, le=1000, description="Renders per page-cache context (1: a new one each time)."
    )
    cache_provider: Literal["local", "cloud"] = Field(
        default="local", description="page_cache_* provider when options.provider is not given."
    )
    cloud_url: str | None = Field(default=None, description="ThinkRun-compatible API for provider=cloud.")
    api_key: SecretStr | None = Field(default=None, description="Bearer key for the cloud provider.")

    # -- profiles ------------------------------------------------------------------------
    storage_state: Path | None = Field(
        default=None,
        description="A Playwright storage-state JSON file (cookies, localStorage) every default session starts with.",
    )
    profile_key: SecretStr | None = Field(
        default=None,
        description="Passphrase that encrypts saved profiles at rest (none: stored as owner-only files, unencrypted).",
    )

    # -- agent ---------------------------------------------------------------------------
    default_backend: BackendName = Field(
        default="gemini", description="gemini, claude, openai, or sampling (the calling MCP client's own model)."
    )
    gemini_model: str = Field(default="gemini-3.8-flash")
    claude_model: str = Field(default="claude-sonnet-5-5")
    openai_model: str = Field(default="gpt-5-mini", description="For a local server, the name it serves (e.g. qwen3:8b).")
    agent_max_steps: int = Field(default=40, ge=1, le=500)
    llm_max_retries: int = Field(default=3, ge=0, le=10)
    model_prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description="Model name → USD per million tokens, for the cost estimates of agent tasks (none: tokens only).",
    )
    # The SDKs' own variable names, so a key set for other tools works here too; passed to the SDK clients explicitly.
    gemini_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("THINKRUN_GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY"),
        description="Gemini API key, from GEMINI_API_KEY or GOOGLE_API_KEY; when both are set GOOGLE_API_KEY wins, "
        "as in google-genai. THINKRUN_GEMINI_API_KEY, when set, wins over both.",
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("THINKRUN_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
        description="Anthropic API key, from ANTHROPIC_API_KEY; THINKRUN_ANTHROPIC_API_KEY, when set, wins over it.",
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("THINKRUN_OPENAI_API_KEY", "OPENAI_API_KEY"),
        description="OpenAI (or compatible) API key, from OPENAI_API_KEY; THINKRUN_OPENAI_API_KEY, when set, wins over it.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("THINKRUN_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
        description="An OpenAI-compatible Chat Completions endpoint (Ollama, vLLM, LM Studio, a gateway); with one set, "
        "the key may be left out. THINKRUN_OPENAI_BASE_URL, when set, wins over OPENAI_BASE_URL.",
    )

    # -- logging -------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO")

    @field_validator("data_dir", "upload_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("allowed_schemes", mode="before")
    @classmethod
    def _split_schemes(cls, value: Any) -> Any:
        items = _without_blanks(_list_from_text(value, split=lambda text: text.split(",")))
        return [i.lower() if isinstance(i, str) else i for i in items] if isinstance(items, list) else items

    @field_validator("blocked_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: Any) -> Any:
        return _without_blanks(_list_from_text(value, split=lambda text: text.split(",")))

    @field_validator("blocked_networks", mode="after")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        out = []
        for item in value:
            try:
                out.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(f"{item!r} is not a network (write it as CIDR: 10.0.0.0/8, fd00::/8, or one address)") from None
        return out

    @field_validator("browser_endpoint", mode="before")
    @classmethod
    def _split_endpoints(cls, value: Any) -> Any:
        items = _without_blanks(_list_from_text(value, split=lambda text: text.replace(",", " ").split()))
        if isinstance(items, str | dict):
            items = [items]
        return [{"url": i} if isinstance(i, str) else i for i in items] if isinstance(items, list) else items

    @field_validator("browser_endpoint", mode="after")
    @classmethod
    def _distinct_endpoints(cls, value: list[BrowserEndpoint]) -> list[BrowserEndpoint]:
        urls = [e.url for e in value]
        twice = sorted({e.shown for e in value if urls.count(e.url) > 1})
        if twice:
            raise ValueError(f"each browser endpoint may be listed once: {', '.join(twice)} is listed more often")
        return value

    @field_validator("browser_args", mode="before")
    @classmethod
    def _split_args(cls, value: Any) -> Any:
        return _without_blanks(_list_from_text(value, split=shlex.split))

    @classmethod
    def env_names(cls, field: str) -> tuple[str, ...]:
        """The environment (and ``.env``) variables ``field`` is read from, the first set one winning."""
        alias = cls.model_fields[field].validation_alias
        if isinstance(alias, AliasChoices):
            return tuple(c for c in alias.choices if isinstance(c, str))
        if isinstance(alias, str):
            return (alias,)
        return (f"{cls.model_config.get('env_prefix', '')}{field}".upper(),)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "thinkrun.db"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def profiles_dir(self) -> Path:
        return self.data_dir / "profiles"

    @property
    def uploads_dir(self) -> Path:
        return self.upload_dir or (self.data_dir / "uploads")


def _list_from_text(value: Any, *, split: Callable[[str], list[str]]) -> Any:
    """A list setting given as text (env, .env): a JSON list, else the field's plain form, split."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    return json.loads(text) if text.startswith("[") else split(text)


def _without_blanks(items: Any) -> Any:
    """Strings stripped, blank ones dropped; anything else is left for validation to judge."""
    if not isinstance(items, list | tuple):
        return items
    return [i.strip() if isinstance(i, str) else i for i in items if not (isinstance(i, str) and not i.strip())]
