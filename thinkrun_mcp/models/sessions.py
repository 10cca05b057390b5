"""Sessions and what they record: states, details, lists, action/console/network/artifact entries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    Field,
)

from .base import Model, Viewport


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
    browser: dict[str, Any] | None = Field(
        default=None, description="The browser options it was created with (header values masked)."
    )
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


class EndpointStatus(Model):
    """One browser the server opens sessions on: the local one, or one of ``THINKRUN_BROWSER_ENDPOINT``."""

    endpoint: str = Field(description="'local', or the endpoint's URL with credentials and query values masked.")
    kind: Literal["local", "playwright", "cdp"]
    state: Literal["up", "down", "unused"] = Field(description="unused: not connected yet (it is on first use).")
    sessions: int = Field(description="Open sessions of this server on it.")
    cache_lanes: int = Field(default=0, description="Page-cache render contexts on it.")
    max_sessions: int | None = Field(default=None, description="Cap on its open sessions; null: none.")
    version: str | None = Field(default=None, description="Browser version (the last one seen while it is down).")
    error: str | None = Field(default=None, description="Why it is down.")
    down_for_ms: int | None = None


class SessionHealth(Model):
    status: Literal["healthy", "unhealthy", "ended"]
    session_state: SessionStatus
    browser_responsive: bool
    current_url: str | None = None
    uptime_ms: int
    endpoint: str | None = Field(default=None, description="The browser endpoint of the open session ('local' or a URL).")
    detail: str | None = Field(default=None, description="Why it is unhealthy, when known (an orphaned session's wait).")
    endpoints: list[EndpointStatus] = Field(default_factory=list, description="Every browser endpoint of the server.")


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
    type: Literal["screenshot", "download", "page", "trace", "video", "har"]
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
