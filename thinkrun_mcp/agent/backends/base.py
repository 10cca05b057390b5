"""The one small interface every LLM backend implements, and the retry policy they share.

A backend turns a provider-neutral conversation (:class:`Turn` list), a system
prompt and tool declarations (:class:`ToolSpec`) into one model reply
(:class:`ModelReply`: text, tool calls, token usage) using the provider's
official SDK with native function calling. The SDKs' own retries are turned
off; :meth:`Backend.complete` retries rate limits and server errors here, a
bounded number of times with exponential backoff, then raises
``rate_limited`` / ``upstream_error`` with the provider's message.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import logging
import random
from dataclasses import dataclass, field
from typing import Any, Literal

from ...errors import ThinkRunError
from ...redact import Redactor

__all__ = ["Backend", "ModelReply", "RetryableError", "ToolCall", "ToolResult", "ToolSpec", "Turn", "retry_after"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments (type: object)


@dataclass(slots=True)
class ToolCall:
    name: str
    args: dict[str, Any]
    id: str
    invalid: str | None = None  # why the arguments could not be read (a provider sending them as text)


@dataclass(slots=True)
class ToolResult:
    call_id: str
    name: str
    content: str
    is_error: bool = False
    image_png: bytes | None = None  # a screenshot the model asked to see


@dataclass(slots=True)
class Turn:
    """One conversation turn. ``user`` turns carry text; ``assistant`` turns text and tool calls;
    ``tool`` turns the results of the previous assistant turn's calls, in order."""

    role: Literal["user", "assistant", "tool"]
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    native: Any = None  # the provider's own form of an assistant turn, replayed as-is (Gemini thought signatures)
    cache_point: bool = False  # the conversation up to here is sent unchanged next step: worth a cache marker


@dataclass(slots=True)
class ModelReply:
    text: str
    tool_calls: list[ToolCall]
    input_tokens: int  # every input token of the request, cached ones included
    output_tokens: int
    native: Any = None
    stop_reason: str | None = None
    cached_input_tokens: int = 0  # of input_tokens, those the provider read from its prompt cache


def retry_after(response: Any) -> float | None:
    """The seconds an HTTP error response's ``retry-after`` header asks to wait, if it gives a number."""
    try:
        value = response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (ValueError, AttributeError):
        return None


def _redacted(turn: Turn, redactor: Redactor) -> Turn:
    """A copy of ``turn`` whose texts, call arguments and results hide the redactor's values."""
    return dataclasses.replace(
        turn,
        text=redactor.redact(turn.text),
        tool_calls=[dataclasses.replace(c, args=redactor.redact_data(c.args)) for c in turn.tool_calls],
        results=[dataclasses.replace(r, content=redactor.redact(r.content)) for r in turn.results],
    )


class RetryableError(Exception):
    """A provider error worth retrying (rate limit, overload, 5xx, connection failure)."""

    def __init__(self, message: str, *, status: int | None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class Backend(abc.ABC):
    """An LLM provider. Subclasses implement :meth:`_call` and :meth:`_classify`."""

    name: str

    def __init__(
        self, *, model: str, max_retries: int = 3, base_delay: float = 1.0, max_delay: float = 20.0, timeout: float = 120.0
    ):
        self.model = model
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self.redactor: Redactor | None = None  # secret values that must never reach the model (a task's owner's)

    async def complete(
        self, *, system: str, turns: list[Turn], tools: list[ToolSpec], max_output_tokens: int = 4096
    ) -> ModelReply:
        """One model turn, with bounded retries of transient failures.

        Every request passes through the redactor first: whatever a caller forgot to redact,
        no secret value (raw or encoded) reaches the provider.
        """
        if self.redactor:
            system, turns = self.redactor.redact(system), [_redacted(turn, self.redactor) for turn in turns]
        attempt = 0
        while True:
            try:
                return await asyncio.wait_for(
                    self._call(system=system, turns=turns, tools=tools, max_output_tokens=max_output_tokens),
                    timeout=self.timeout,
                )
            except TimeoutError as exc:
                error: Exception = RetryableError(f"no answer within {self.timeout:g} s", status=None)
                cause: BaseException = exc
            except Exception as exc:  # classified below: retry, or raise a ThinkRunError
                error = self._classify(exc)
                cause = exc
            if not isinstance(error, RetryableError):
                raise error from cause
            if attempt >= self.max_retries:
                code = "rate_limited" if error.status == 429 else "upstream_error"
                raise ThinkRunError(
                    code,
                    f"{self.name} ({self.model}) failed after {attempt + 1} attempts: {error}",
                    hint="try again later, or lower the request rate" if code == "rate_limited" else None,
                ) from cause
            delay = error.retry_after if error.retry_after is not None else self.base_delay * (2**attempt)
            delay = min(self.max_delay, delay) * (1 + random.random() * 0.1)
            attempt += 1
            log.info("%s call failed (%s); retry %d/%d in %.2f s", self.name, error, attempt, self.max_retries, delay)
            await asyncio.sleep(delay)

    @abc.abstractmethod
    async def _call(self, *, system: str, turns: list[Turn], tools: list[ToolSpec], max_output_tokens: int) -> ModelReply:
        """One request to the provider, no retries."""

    @abc.abstractmethod
    def _classify(self, exc: Exception) -> Exception:
        """A :class:`RetryableError` to retry, or the :class:`ThinkRunError` to fail with."""

    def warm(self) -> None:  # noqa: B027 - optional hook
        """Import what the SDK client would import lazily on its first call.

        Called once, in a worker thread, right after the constructor (see ``Backends.make``),
        so that no import runs on the event loop.
        """

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release the SDK client."""
