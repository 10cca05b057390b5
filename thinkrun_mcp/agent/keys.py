"""The LLM backends' API keys: Settings fields read from the SDKs' standard variables."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["KEY_FIELDS", "api_key"]

# backend → (the Settings field holding its key, the variables to name when it is missing).
KEY_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "gemini": ("gemini_api_key", ("GEMINI_API_KEY", "GOOGLE_API_KEY")),
    "claude": ("anthropic_api_key", ("ANTHROPIC_API_KEY",)),
    "openai": ("openai_api_key", ("OPENAI_API_KEY",)),
}


def api_key(settings: Settings, backend: str) -> str | None:
    """The key of ``backend`` in ``settings``, or None when it has none (an empty key counts as none)."""
    secret = getattr(settings, KEY_FIELDS[backend][0])
    return (secret.get_secret_value() or None) if secret is not None else None
