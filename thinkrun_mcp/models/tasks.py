"""Agent tasks: states, the one task request (and WebRun's initialTask), status and steps."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)

from ..errors import ThinkRunError, invalid_input
from ..schema import compile_schema
from ..urls import normalize_pattern
from .base import Model

# -- agent tasks ---------------------------------------------------------------------------


class TaskStatus(StrEnum):
    """An agent task's state: ``starting → pending → running → completed | failed | timeout | cancelled``."""

    STARTING = "starting"
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_TASK_STATUSES


TERMINAL_TASK_STATUSES: frozenset[TaskStatus] = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.TIMEOUT, TaskStatus.CANCELLED}
)
LIVE_TASK_STATUSES: frozenset[TaskStatus] = frozenset(set(TaskStatus) - TERMINAL_TASK_STATUSES)


class SecretSpec(Model):
    match: str = Field(min_length=1, max_length=253, description='Hosts the values may be used on, e.g. "*.example.com".')
    fields: dict[str, str] = Field(description="name → value; the model sees <secret:name>.")


SECRET_MIN_LENGTH = 4  # shorter values cannot be redacted reliably
_SECRET_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_secret_specs(specs: Sequence[SecretSpec] | None) -> None:
    """``invalid_input`` naming the first bad secret rule (never echoing a value)."""
    for i, spec in enumerate(specs or []):
        if not normalize_pattern(spec.match):
            raise ThinkRunError("invalid_input", f"secrets[{i}].match is empty", hint='e.g. "*.example.com"')
        if not spec.fields:
            raise ThinkRunError("invalid_input", f"secrets[{i}].fields must be a non-empty object of name → value")
        for name, value in spec.fields.items():
            if not _SECRET_NAME.match(name):
                raise ThinkRunError(
                    "invalid_input",
                    f"secrets[{i}] field name {name[:64]!r} is not a plain name",
                    hint="use letters, digits, _ . -",
                )
            if len(value) < SECRET_MIN_LENGTH:
                raise ThinkRunError(
                    "invalid_input",
                    f"secrets[{i}].fields.{name} must be a string of at least {SECRET_MIN_LENGTH} characters",
                    hint="shorter values cannot be redacted reliably from what is recorded",
                )


# The limits of a task request, shared by TaskRequest, InitialTask and the agent_execute tool's arguments.
MIN_TIMEOUT_MS, MAX_TIMEOUT_MS, DEFAULT_TIMEOUT_MS = 30_000, 600_000, 300_000
BackendName = Literal["gemini", "claude", "openai", "sampling"]  # sampling: the calling MCP client's model
OutputType = Literal["text", "structured_json", "structured_csv"]
Instruction = Annotated[str, Field(min_length=1, max_length=10_000)]
TimeoutMs = Annotated[int, Field(ge=MIN_TIMEOUT_MS, le=MAX_TIMEOUT_MS)]
MaxSteps = Annotated[int, Field(ge=1, le=500)]
TokenBudget = Annotated[int, Field(ge=1_000, le=10_000_000)]
TaskUrl = Annotated[str, Field(max_length=8192)]
DomainList = Annotated[list[Annotated[str, Field(max_length=253)]], Field(max_length=200)]
SecretList = Annotated[list[SecretSpec], Field(max_length=50)]


class TaskRequest(Model):
    """One agent task, as ``agent_execute`` takes it (WebRun's initialTask maps onto it: :class:`InitialTask`).

    Building one runs every check that needs no server state, whoever builds it (the
    tool, session_create's initialTask, a Python caller): the limits of its fields, a
    non-blank instruction, an ``outputSchema`` that is a valid JSON Schema exactly when
    ``outputType`` is ``structured_json``, and the rules of ``secrets``. Any failure
    is a :class:`ThinkRunError` ``invalid_input`` naming the field. What needs the
    server — the backend's API key, the session — is checked on submit.
    """

    model_config = ConfigDict(extra="forbid")

    instruction: Instruction
    backend: BackendName | None = None
    timeout_ms: TimeoutMs = DEFAULT_TIMEOUT_MS
    session_id: Annotated[str, Field(max_length=100)] | None = None
    profile_id: Annotated[str, Field(max_length=100)] | None = None  # the new session starts with this profile
    starting_point: TaskUrl | None = None
    avoid_domains: DomainList = Field(default_factory=list)
    secrets: SecretList | None = None
    output_type: OutputType = "text"
    output_schema: dict[str, Any] | None = None
    max_steps: MaxSteps | None = None
    max_input_tokens: TokenBudget | None = None
    max_output_tokens: TokenBudget | None = None
    terminate_on_completion: bool | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _checked(cls, data: Any, handler: ModelWrapValidatorHandler[TaskRequest]) -> TaskRequest:
        try:
            request = handler(data)
        except ValidationError as exc:
            raise invalid_input(exc, hint="see agent_execute's input schema") from None
        request._check_rules()
        return request

    def _check_rules(self) -> None:
        """The checks across fields; each raises ``invalid_input`` with its own message."""
        if not self.instruction.strip():
            raise ThinkRunError("invalid_input", "instruction is empty", hint="say what the agent should do")
        if self.output_type == "structured_json":
            if not self.output_schema:
                raise ThinkRunError("invalid_input", "outputType structured_json needs an outputSchema (a JSON Schema)")
            compile_schema(self.output_schema, name="outputSchema")
        elif self.output_schema is not None:
            raise ThinkRunError("invalid_input", "outputSchema only applies to outputType structured_json")
        check_secret_specs(self.secrets)
        if self.profile_id and self.session_id:
            raise ThinkRunError("invalid_input", "profileId applies to a new session, not to sessionId's")


class TaskSubmitted(Model):
    task_id: str
    session_id: str
    status: TaskStatus
    backend: str


class TokenUsage(Model):
    """Tokens of one model call or of a whole task, and their estimated cost."""

    input_tokens: int = Field(default=0, description="Every input token, those read from the prompt cache included.")
    cached_input_tokens: int = Field(default=0, description="Of inputTokens, those read from the provider's prompt cache.")
    output_tokens: int = 0
    cost_usd: float | None = Field(
        default=None, description="Estimated from THINKRUN_MODEL_PRICES; null when the model has no price there."
    )


class TaskStep(Model):
    step: int
    action: str
    args: dict[str, Any] = Field(default_factory=dict)
    outcome: str
    success: bool
    url: str | None = None
    timestamp: datetime
    duration: int = Field(description="Milliseconds spent in the browser (model time excluded).")
    usage: TokenUsage | None = Field(default=None, description="The step's model call (on the first call of a step).")


class TaskInfo(Model):
    task_id: str
    session_id: str | None
    status: TaskStatus
    backend: str
    model: str
    output: Any = None
    output_type: str = "text"
    error: str | None = None
    steps: int = 0
    usage: TokenUsage
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    last_steps: list[TaskStep] = Field(default_factory=list)


class InitialTask(Model):
    """WebRun's initialTask on session_create: an agent task started with the session, under WebRun's names.

    Its fields have :class:`TaskRequest`'s limits; :meth:`to_request` runs the rest of the checks.
    """

    task_details: str = Field(default="", max_length=10_000, description="What to do; empty: only open startingPoint.")
    starting_point: TaskUrl | None = None
    max_duration: TimeoutMs = Field(default=DEFAULT_TIMEOUT_MS, description="Task timeout, ms.")
    max_input_tokens: TokenBudget | None = None
    max_output_tokens: TokenBudget | None = None
    avoid_domains: DomainList = Field(default_factory=list)
    terminate_on_completion: bool = False
    secrets: SecretList | None = None
    output_type: OutputType = "text"
    output_schema: dict[str, Any] | None = None
    backend: BackendName | None = None

    def to_request(self) -> TaskRequest | None:
        """The task as a :class:`TaskRequest`, or None without ``taskDetails``.

        Its ``startingPoint`` is where the session opens, so the task itself does not navigate there again.
        """
        if not self.task_details.strip():
            return None
        return TaskRequest(
            instruction=self.task_details,
            backend=self.backend,
            timeout_ms=self.max_duration,
            avoid_domains=self.avoid_domains,
            secrets=self.secrets,
            output_type=self.output_type,
            output_schema=self.output_schema,
            max_input_tokens=self.max_input_tokens,
            max_output_tokens=self.max_output_tokens,
            terminate_on_completion=self.terminate_on_completion,
        )
