"""Which LLM backends have an API key, read from the SDKs' own standard variables."""

from __future__ import annotations

import os

__all__ = ["backend_status", "KEY_VARIABLES"]

# The variables the official SDKs read themselves (google-genai: GEMINI_API_KEY or GOOGLE_API_KEY).
KEY_VARIABLES: dict[str, tuple[str, ...]] = {
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "claude": ("ANTHROPIC_API_KEY",),
}


def backend_status() -> dict[str, tuple[bool, str]]:
    """backend → (configured, the variable that is set or should be)."""
    out = {}
    for backend, names in KEY_VARIABLES.items():
        found = next((n for n in names if os.environ.get(n)), None)
        out[backend] = (found is not None, found or " or ".join(names))
    return out
