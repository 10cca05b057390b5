"""Settings, read once at the edge and passed down.

Precedence: CLI flags (passed as keyword arguments) > ``THINKRUN_*`` environment
variables > a ``.env`` file in the working directory > the defaults below.
``.env.example`` documents every field; ``tests/test_config.py`` keeps the two
in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """All configuration of a thinkrun-mcp process."""

    model_config = SettingsConfigDict(
        env_prefix="THINKRUN_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    # -- storage -------------------------------------------------------------------------
    data_dir: Path = Field(default=Path("~/.thinkrun"), description="Database, artifacts, cache and uploads.")

    # -- browser -------------------------------------------------------------------------
    browser_path: str | None = Field(default=None, description="Chrome/Chromium executable to launch (on the server's machine with a ws:// endpoint).")
    browser_endpoint: str | None = Field(
        default=None, description="Remote browser: Playwright server ws://… or CDP http://… (no local launch)."
    )
    headless: bool = Field(default=True, description="Run the local browser without a window.")
    browser_args: str = Field(default="", description="Extra Chromium flags, space separated.")
    viewport_width: int = Field(default=1280, ge=200, le=7680)
    viewport_height: int = Field(default=720, ge=200, le=4320)

    # -- sessions ------------------------------------------------------------------------
    session_idle_seconds: float = Field(default=300, gt=0, description="End a session after this long unused.")
    session_max_seconds: float = Field(default=1200, gt=0, description="End a session after this long in all.")
    max_sessions: int = Field(default=3, ge=1, le=500, description="Open sessions at once, per client.")
    reaper_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    dialog_policy: Literal["dismiss", "accept"] = Field(default="dismiss")
    navigation_timeout_ms: int = Field(default=30_000, ge=1_000, le=300_000)
    action_timeout_ms: int = Field(default=10_000, ge=500, le=120_000)
    observation_max_chars: int = Field(default=10_000, ge=1_000, le=200_000)
    extract_max_chars: int = Field(default=20_000, ge=1_000, le=1_000_000)
    upload_dir: Path | None = Field(default=None, description="browser_act upload only reads files from here.")
    block_private_networks: bool = Field(default=False, description="Refuse loopback/private addresses.")
    allowed_schemes: str = Field(default="http,https", description="URL schemes pages may load.")
    record_max_rows: int = Field(default=5_000, ge=100, le=1_000_000, description="Per session and log kind.")

    # -- page cache ----------------------------------------------------------------------
    cache_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    cache_default_max_age: int = Field(default=3600, ge=0, description="Seconds a cached page stays fresh.")
    cache_pool_size: int = Field(default=4, ge=1, le=64, description="Concurrent page-cache renders.")
    cache_context_uses: int = Field(default=20, ge=1, le=1000, description="Renders per page-cache context (1: a new one each time).")
    cache_provider: Literal["local", "cloud"] = Field(default="local", description="page_cache_* provider when options.provider is not given.")
    cloud_url: str | None = Field(default=None, description="ThinkRun-compatible API for provider=cloud.")
    api_key: SecretStr | None = Field(default=None, description="Bearer key for the cloud provider.")

    # -- agent ---------------------------------------------------------------------------
    default_backend: Literal["gemini", "claude"] = Field(default="gemini")
    gemini_model: str = Field(default="gemini-3.8-flash")
    claude_model: str = Field(default="claude-sonnet-5-5")
    agent_max_steps: int = Field(default=40, ge=1, le=500)
    llm_max_retries: int = Field(default=3, ge=0, le=10)

    # -- logging -------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO")

    @field_validator("data_dir", "upload_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "thinkrun.db"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def uploads_dir(self) -> Path:
        return self.upload_dir or (self.data_dir / "uploads")

    @property
    def schemes(self) -> frozenset[str]:
        return frozenset(s.strip().lower() for s in self.allowed_schemes.split(",") if s.strip())
