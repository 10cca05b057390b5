"""The values that cross layers: what services return and front ends publish.

Field names are snake_case in Python and camelCase on the wire (``sessionId``,
``durationMs``), as in the ThinkRun / WebRun APIs.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .errors import ThinkRunError, invalid_input
from .schema import compile_schema
from .urls import normalize_pattern


@dataclass(frozen=True, slots=True)
class Owner:
    """Who is calling a service: owns the sessions, tasks and artifacts it creates.

    ``id`` decides ownership (another owner's session is ``session_not_found``);
    ``client`` tells apart the connections of one owner, each with its own default
    session. Over stdio there is one local owner and one client.
    """

    id: str
    client: str = ""

    @classmethod
    def local(cls) -> Owner:
        return cls("local")

    @property
    def default_key(self) -> str:
        """The key of this client's default session."""
        return f"{self.id}\x00{self.client}" if self.client else self.id


class SessionStatus(StrEnum):
    """A session's state: ``creating → running → completed | terminated | failed``; ``orphaned`` when the browser is lost."""

    CREATING = "creating"
    RUNNING = "running"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    FAILED = "failed"
    ORPHANED = "orphaned"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES


OPEN_STATUSES: frozenset[SessionStatus] = frozenset({SessionStatus.CREATING, SessionStatus.RUNNING})


class Model(BaseModel):
    """Base of every published model: camelCase aliases, either name accepted."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class Viewport(Model):
    width: int = Field(ge=200, le=7680)
    height: int = Field(ge=200, le=4320)


# -- sessions ------------------------------------------------------------------------------


class SessionSummary(Model):
    session_id: str
    status: SessionStatus
    current_url: str | None = None
    title: str | None = None
    created_at: datetime
    navigation_count: int = 0


class SessionDetails(SessionSummary):
    ended_at: datetime | None = None
    end_reason: str | None = None
    action_count: int = 0
    screenshot_count: int = 0
    duration: int = Field(description="Milliseconds since creation (until the end for ended sessions).")
    viewport: Viewport
    tabs: int = 0
    avoid_domains: list[str] = Field(default_factory=list)
    allow_domains: list[str] = Field(default_factory=list)
    dropped: dict[str, int] = Field(default_factory=dict, description="Log rows dropped by retention, per kind.")


class SessionList(Model):
    sessions: list[SessionSummary]
    total: int
    has_more: bool


class SessionClosed(Model):
    success: bool
    message: str
    session_id: str
    status: SessionStatus


class SessionHealth(Model):
    status: Literal["healthy", "unhealthy", "ended"]
    session_state: SessionStatus
    browser_responsive: bool
    current_url: str | None = None
    uptime_ms: int


# -- records -------------------------------------------------------------------------------


class ActionRecord(Model):
    type: str
    timestamp: datetime
    success: bool
    details: dict[str, Any] = Field(default_factory=dict)
    duration: int = Field(description="Milliseconds.")
    error: str | None = None


class ActionList(Model):
    actions: list[ActionRecord]
    total: int


class ConsoleEntry(Model):
    level: str
    message: str
    timestamp: datetime
    url: str | None = None


class ConsoleList(Model):
    logs: list[ConsoleEntry]
    total: int


class NetworkEntry(Model):
    url: str
    method: str
    status: int | None = None
    resource_type: str | None = None
    duration: int | None = Field(default=None, description="Milliseconds.")
    size: int | None = None
    failure: str | None = None
    timestamp: datetime


class NetworkList(Model):
    requests: list[NetworkEntry]
    total: int


class Artifact(Model):
    object_id: str
    type: Literal["screenshot", "download", "page"]
    path: str
    public_url: str | None = None
    mime_type: str | None = None
    bytes: int = 0
    width: int | None = None
    height: int | None = None
    name: str | None = None
    timestamp: datetime


class ArtifactList(Model):
    artifacts: list[Artifact]


# -- browser tools -------------------------------------------------------------------------


class PageEvent(Model):
    """Something that happened during a tool call besides its main effect."""

    kind: Literal["dialog", "popup", "download", "console_error", "page_error", "tab_closed", "navigation", "blocked"]
    message: str


class ElementCandidate(Model):
    """An element ranked for an instruction (browser_observe with instruction)."""

    ref: str
    role: str
    name: str
    score: float
    method: str | None = None
    reason: str | None = None


class Observation(Model):
    url: str
    title: str
    text: str = Field(description="The compact observation: header, then the element tree with refs.")
    scope: Literal["viewport", "page"]
    total_chars: int = Field(description="Length of the whole observation before the budget cut.")
    cursor: int | None = Field(default=None, description="Pass as cursor to read the next part; null when complete.")
    ref_count: int = 0
    candidates: list[ElementCandidate] | None = Field(
        default=None, description="With an instruction: the elements that fit it, best first."
    )


class NavigateResult(Model):
    session_id: str
    url: str
    status: int | None = None
    title: str
    events: list[PageEvent] = Field(default_factory=list)
    observation: Observation


class ActResult(Model):
    session_id: str
    method: str
    ref: str | None = None
    selector: str | None = None
    url: str
    navigated: bool = False
    tab_changed: bool = False
    active_tab: int = Field(default=1, description="Number of the active tab, from 1.")
    tab_count: int = 1
    events: list[PageEvent] = Field(default_factory=list)
    observation: Observation


class ExtractResult(Model):
    session_id: str
    url: str
    format: Literal["text", "markdown", "html", "links", "table", "json"]
    content: str
    total_chars: int
    cursor: int | None = None
    data: Any = Field(default=None, description="Structured form for links/table formats and schema extraction.")


class ScreenshotResult(Model):
    session_id: str
    object_id: str
    path: str
    width: int
    height: int
    bytes: int
    format: Literal["png", "jpeg"]


class SessionCreated(Model):
    session_id: str
    status: SessionStatus
    viewport: Viewport
    current_url: str | None = None
    events: list[PageEvent] = Field(default_factory=list)
    observation: Observation | None = None
    task_id: str | None = Field(default=None, description="The initial task's id, when one was given.")


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
BackendName = Literal["gemini", "claude"]
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


class TaskSubmitted(Model):
    task_id: str
    session_id: str
    status: TaskStatus
    backend: str


class TaskStep(Model):
    step: int
    action: str
    args: dict[str, Any] = Field(default_factory=dict)
    outcome: str
    success: bool
    url: str | None = None
    timestamp: datetime
    duration: int = Field(description="Milliseconds spent in the browser (model time excluded).")


class TokenUsage(Model):
    input_tokens: int = 0
    output_tokens: int = 0


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


# -- page cache ----------------------------------------------------------------------------

CacheProvider = Literal["local", "cloud"]
# Ranges are enforced (and named in errors) but not published: the tool list stays short.
_Int = Annotated[int, WithJsonSchema({"type": "integer"})]
_WaitTarget = Annotated[int | str, WithJsonSchema({"type": ["string", "integer"]})]


class CacheOptions(Model):
    """``options`` of page_cache_html; the text and screenshot tools add their own fields."""

    model_config = ConfigDict(extra="forbid")

    provider: CacheProvider | None = Field(default=None, description='"local" (this machine, default) or "cloud".')
    sensitive: bool = Field(default=False, description="The URL never leaves this machine and is not stored.")
    wait_for: _WaitTarget | None = Field(default=None, description='After load: CSS selector, "text=…" or milliseconds.')
    timeout: _Int | None = Field(default=None, ge=1_000, le=300_000, description="Milliseconds for the whole fetch.")
    max_age: _Int | None = Field(
        default=None, ge=0, le=31_536_000, description="Seconds a cached copy may be old; 0 fetches anew."
    )

    @model_validator(mode="before")
    @classmethod
    def _known_names(cls, data: Any) -> Any:
        if isinstance(data, str):  # some clients send nested objects as JSON text
            try:
                data = json.loads(data)
            except ValueError:
                raise ValueError('options must be an object, e.g. {"maxAge": 0}') from None
        if isinstance(data, dict):
            known = sorted(f.alias or name for name, f in cls.model_fields.items())
            names = set(known) | set(cls.model_fields)
            for key in data:
                if key not in names:
                    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                    guess = f" (did you mean {close[0]!r}?)" if close else ""
                    raise ValueError(f"unknown option {key!r}{guess}; options here are {', '.join(known)}")
        return data

    @field_validator("wait_for", mode="before")
    @classmethod
    def _wait_target(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError('waitFor is a CSS selector, "text=…" or a number of milliseconds')
        if isinstance(value, str):
            value = value.strip()
            if value.isdigit():
                value = int(value)
            elif not value or value == "text=" or len(value) > 1_000:
                raise ValueError('waitFor must be a CSS selector or "text=…" of 1 to 1000 characters, or milliseconds')
            else:
                return value
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("waitFor milliseconds must be a whole number")
        if not 0 <= value <= 300_000:
            raise ValueError("waitFor milliseconds must be between 0 and 300000")
        return int(value)


class TextCacheOptions(CacheOptions):
    format: Literal["text", "markdown"] = Field(default="text", description="Visible text, or Markdown.")


class ScreenshotCacheOptions(CacheOptions):
    full_page: bool = False
    max_dimension: _Int | None = Field(default=None, ge=16, le=8192, description="Longest side in pixels.")


class CacheMetadata(Model):
    url: str
    final_url: str = Field(description="After redirects.")
    status: int | None = Field(default=None, description="HTTP status of the page; 4xx/5xx pages are not cached.")
    title: str = ""
    content_type: str | None = None
    bytes: int = Field(default=0, description="Size of the returned html, text or image.")
    fetched_at: datetime
    cached: bool = Field(description="Served from the cache rather than fetched for this call.")
    age_seconds: int = 0
    duration_ms: int = 0
    provider: CacheProvider
    note: str | None = Field(default=None, description="What to know about this content (PDF, download, HTTP error…).")
    width: int | None = None
    height: int | None = None


class PageHtml(Model):
    html: str
    metadata: CacheMetadata


class PageText(Model):
    text: str
    metadata: CacheMetadata


class PageScreenshot(Model):
    artifact_url: str | None = Field(description="file:// URL of the cached PNG; null for sensitive pages.")
    metadata: CacheMetadata
