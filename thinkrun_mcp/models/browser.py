"""Results of the browser tools: observation, navigate, act, extract, screenshot, session creation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
)

from .base import Model, Viewport
from .sessions import SessionStatus

# -- browser tools -------------------------------------------------------------------------


class PageEvent(Model):
    """Something that happened during a tool call besides its main effect."""

    kind: Literal["dialog", "popup", "download", "console_error", "page_error", "tab_closed", "navigation", "blocked", "browser"]
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
