"""LLM backends: Gemini (default) and Claude, behind one small interface (``base.Backend``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import ThinkRunError
from ...redact import Redactor
from ..keys import api_key, backend_status
from .base import Backend, ModelReply, ToolCall, ToolResult, ToolSpec, Turn

if TYPE_CHECKING:
    from ...config import Settings

__all__ = ["Backend", "Backends", "ModelReply", "ToolCall", "ToolResult", "ToolSpec", "Turn"]


class Backends:
    """The LLM backends of one process, built from its Settings: which have a key, and new clients for them.

    Keys are handed to the SDK clients explicitly; the SDKs still read their own
    base-URL variables (``GOOGLE_GEMINI_BASE_URL``, ``ANTHROPIC_BASE_URL``).
    """

    def __init__(self, settings: Settings):
        self.settings = settings

    def status(self) -> dict[str, tuple[bool, str]]:
        """backend → (configured, the variable to set when it is not)."""
        return backend_status(self.settings)

    def available(self) -> str | None:
        """The backend to use: the default one if it has a key, else the other, else None."""
        status = self.status()
        preferred = self.settings.default_backend
        if status[preferred][0]:
            return preferred
        return next((name for name, (ok, _) in status.items() if ok), None)

    def require(self, name: str) -> None:
        """Raise ``backend_unconfigured`` naming the variable to set when ``name`` has no key."""
        status = self.status()
        if name not in status:
            raise ThinkRunError("invalid_input", f"unknown backend {name!r}", hint="use gemini or claude")
        configured, variable = status[name]
        if not configured:
            raise ThinkRunError(
                "backend_unconfigured",
                f"the {name} backend has no API key",
                hint=f"set {variable} in the server's environment or .env (or choose the other backend)",
            )

    def make(self, name: str, *, redactor: Redactor | None = None) -> Backend:
        """A new client for ``name``, whose every request hides ``redactor``'s values; the caller closes it."""
        backend = self._make(name)
        backend.redactor = redactor
        return backend

    def _make(self, name: str) -> Backend:
        self.require(name)
        key = api_key(self.settings, name)
        assert key is not None  # require() checked it
        if name == "claude":
            from .claude import ClaudeBackend

            return ClaudeBackend(model=self.settings.claude_model, api_key=key, max_retries=self.settings.llm_max_retries)
        from .gemini import GeminiBackend

        return GeminiBackend(model=self.settings.gemini_model, api_key=key, max_retries=self.settings.llm_max_retries)
