"""LLM backends: Gemini (default) and Claude, behind one small interface (``base.Backend``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ...errors import ThinkRunError
from ..keys import backend_status
from .base import Backend, ModelReply, ToolCall, ToolResult, ToolSpec, Turn

if TYPE_CHECKING:
    from ...config import Settings

__all__ = ["Backend", "ModelReply", "ToolCall", "ToolResult", "ToolSpec", "Turn", "make_backend", "require_configured"]

BackendName = Literal["gemini", "claude"]


def require_configured(name: str) -> None:
    """Raise ``backend_unconfigured`` naming the variable to set when ``name`` has no key."""
    status = backend_status()
    if name not in status:
        raise ThinkRunError("invalid_input", f"unknown backend {name!r}", hint="use gemini or claude")
    configured, variable = status[name]
    if not configured:
        raise ThinkRunError(
            "backend_unconfigured",
            f"the {name} backend has no API key",
            hint=f"set {variable} in the server's environment (or choose the other backend)",
        )


def make_backend(name: str, settings: Settings) -> Backend:
    require_configured(name)
    if name == "claude":
        from .claude import ClaudeBackend

        return ClaudeBackend(model=settings.claude_model, max_retries=settings.llm_max_retries)
    from .gemini import GeminiBackend

    return GeminiBackend(model=settings.gemini_model, max_retries=settings.llm_max_retries)
