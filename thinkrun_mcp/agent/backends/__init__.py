"""LLM backends behind one small interface (``base.Backend``), chosen from Settings by one factory.

- ``gemini``: the ``google-genai`` SDK (``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``);
- ``claude``: the ``anthropic`` SDK (``ANTHROPIC_API_KEY``);
- ``openai``: the ``openai`` SDK, for OpenAI and any server speaking its Chat Completions API
  (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``; with a base URL the key may be left out);
- ``sampling``: the calling MCP client's own model, through a :class:`Sampler` the tool hands in.

The SDKs take over a second each to import. No import runs on the event loop:
:meth:`Backends.make` imports the SDK and builds its client in a worker thread
(so a task's timeout covers it and other clients are not held up), and
:meth:`Backends.preload` imports the SDKs of the ready backends at start-up, in a
worker thread too.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from ...errors import ThinkRunError
from ...models import BackendName
from ...redact import Redactor
from ..keys import KEY_FIELDS, api_key
from .base import Backend, ModelReply, ToolCall, ToolResult, ToolSpec, Turn
from .sampling import Sampler

if TYPE_CHECKING:
    from ...config import Settings

__all__ = [
    "BACKEND_NAMES",
    "BUILDERS",
    "Backend",
    "Backends",
    "ModelReply",
    "Readiness",
    "Sampler",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "Turn",
]

log = logging.getLogger(__name__)

BACKEND_NAMES: tuple[str, ...] = get_args(BackendName)
_OPENAI_HINT = "set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server such as Ollama, vLLM or LM Studio"
_SAMPLING_NEEDS = (
    "an MCP client that supports sampling with tools, connected with the initialize handshake (protocol 2025-11-25 or older)"
)


def _gemini(settings: Settings) -> Backend:
    from .gemini import GeminiBackend

    key = api_key(settings, "gemini")
    return GeminiBackend(model=settings.gemini_model, api_key=key or "", max_retries=settings.llm_max_retries)


def _claude(settings: Settings) -> Backend:
    from .claude import ClaudeBackend

    key = api_key(settings, "claude")
    return ClaudeBackend(model=settings.claude_model, api_key=key or "", max_retries=settings.llm_max_retries)


def _openai(settings: Settings) -> Backend:
    from .openai import OpenAIBackend

    return OpenAIBackend(
        model=settings.openai_model,
        api_key=api_key(settings, "openai"),
        base_url=settings.openai_base_url,
        max_retries=settings.llm_max_retries,
    )


# backend → (what builds its client: run in a worker thread, SDK import included; the module holding it).
BUILDERS: dict[str, Callable[[Settings], Backend]] = {"gemini": _gemini, "claude": _claude, "openai": _openai}
_MODULES = {"gemini": f"{__name__}.gemini", "claude": f"{__name__}.claude", "openai": f"{__name__}.openai"}


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether a backend can be used, and what it uses (when ready) or what to do (when not)."""

    state: Literal["ready", "not ready", "per client"]
    detail: str

    @property
    def ready(self) -> bool:
        return self.state == "ready"


class Backends:
    """The LLM backends of one process, built from its Settings: which are ready, and new clients for them.

    Keys and the OpenAI base URL are handed to the SDK clients explicitly; the Gemini and
    Anthropic SDKs still read their own base-URL variables (``GOOGLE_GEMINI_BASE_URL``,
    ``ANTHROPIC_BASE_URL``).
    """

    def __init__(self, settings: Settings):
        self.settings = settings

    # -- which backends are ready -----------------------------------------------------------

    def readiness(self, name: str, sampler: Sampler | None = None) -> Readiness:
        s = self.settings
        if name == "sampling":
            if sampler is None:
                return Readiness("per client", f"no key needed; works with {_SAMPLING_NEEDS}")
            why = sampler.unavailable()
            return Readiness("not ready", why) if why else Readiness("ready", f"the model of {sampler.client_name}")
        key = api_key(s, name) is not None
        model = self.model(name)
        if name == "openai":
            where = s.openai_base_url or "api.openai.com"
            if key or s.openai_base_url:
                return Readiness("ready", f"{'key set' if key else 'no key'}, {where}, model {model}")
            return Readiness("not ready", _OPENAI_HINT)
        if key:
            return Readiness("ready", f"key set, model {model}")
        return Readiness("not ready", f"set {' or '.join(KEY_FIELDS[name][1])}")

    def status(self) -> dict[str, Readiness]:
        """Every backend → its readiness (``sampling`` depends on the calling client: ``per client``)."""
        return {name: self.readiness(name) for name in BACKEND_NAMES}

    def available(self) -> str | None:
        """The backend for model help outside a task: the default one if ready, else the first ready one, else None.

        ``sampling`` is never chosen here: element help has no calling client to ask.
        """
        ready = [name for name, r in self.status().items() if r.ready]
        preferred = self.settings.default_backend
        return preferred if preferred in ready else next(iter(ready), None)

    def model(self, name: str, sampler: Sampler | None = None) -> str:
        """The model a backend asks (for ``sampling``, the client's own, named after the client)."""
        if name == "sampling":
            return f"client:{sampler.client_name}" if sampler is not None else "client"
        return getattr(self.settings, f"{name}_model")

    def require(self, name: str, sampler: Sampler | None = None) -> None:
        """``backend_unconfigured`` saying what to set, and which backends are ready instead, when ``name`` is not."""
        if name not in BACKEND_NAMES:
            raise ThinkRunError("invalid_input", f"unknown backend {name!r}", hint=f"use {', '.join(BACKEND_NAMES)}")
        readiness = self.readiness(name, sampler)
        if readiness.ready:
            return
        others = [n for n, r in self.status().items() if r.ready and n != name]
        instead = f"or choose backend {' or '.join(others)}, which {'is' if len(others) == 1 else 'are'} ready"
        if name == "sampling":
            reason = readiness.detail if sampler is not None else "this request came from no MCP client"
            raise ThinkRunError(
                "backend_unconfigured",
                f"the sampling backend cannot ask the calling client's model: {reason}",
                hint=f"it needs {_SAMPLING_NEEDS}; "
                + (instead.removeprefix("or ") if others else "or set GEMINI_API_KEY, ANTHROPIC_API_KEY or OPENAI_API_KEY"),
            )
        what = "neither an API key nor a base URL" if name == "openai" else "no API key"
        raise ThinkRunError(
            "backend_unconfigured",
            f"the {name} backend has {what}",
            hint=f"{readiness.detail} in the server's environment or .env" + (f" ({instead})" if others else ""),
        )

    # -- clients ----------------------------------------------------------------------------

    async def make(self, name: str, sampler: Sampler | None = None, *, redactor: Redactor | None = None) -> Backend:
        """A new client for ``name``, whose every request hides ``redactor``'s values; the caller closes it.
        The SDK is imported, and its client built, off the loop."""
        self.require(name, sampler)
        if name == "sampling":
            from .sampling import SamplingBackend

            assert sampler is not None  # require() checked it
            backend: Backend = SamplingBackend(sampler=sampler, max_retries=self.settings.llm_max_retries)
        else:
            backend = await _in_thread(lambda: _built(BUILDERS[name], self.settings))
        backend.redactor = redactor
        return backend

    def preload(self) -> asyncio.Future[None] | None:
        """Start importing the SDKs of the ready backends in a worker thread (not awaited: start-up goes on)."""
        modules = [_MODULES[name] for name, r in self.status().items() if r.ready and name in _MODULES]
        if not modules:
            return None
        return asyncio.get_running_loop().run_in_executor(None, _import_all, modules)


def _built(build: Callable[[Settings], Backend], settings: Settings) -> Backend:
    backend = build(settings)
    backend.warm()
    return backend


def _import_all(modules: list[str]) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception:  # the task that needs it reports the failure; start-up goes on
            log.warning("could not import %s", module, exc_info=True)


_CLOSING: set[asyncio.Task[None]] = set()


async def _in_thread(build: Callable[[], Backend]) -> Backend:
    """``build()`` in a worker thread. When the caller stops waiting (timeout, cancel), a client built after
    that is closed rather than left open."""
    future = asyncio.get_running_loop().run_in_executor(None, build)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        future.add_done_callback(_close_unwanted)
        raise


def _close_unwanted(future: asyncio.Future[Backend]) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    closing = asyncio.ensure_future(future.result().close())
    _CLOSING.add(closing)
    closing.add_done_callback(_CLOSING.discard)
