"""Settings for tests: a temp data dir, no .env, a generous session cap unless overridden."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thinkrun_mcp.config import Settings


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test: temp data dir, no .env, generous session cap unless overridden."""
    base: dict[str, Any] = {"data_dir": data_dir, "max_sessions": 50, "log_level": "WARNING"}
    base.update(overrides)
    return Settings(_env_file=None, **base)
