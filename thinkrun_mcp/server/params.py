"""Tool parameter types shared by the tool modules (limits enforced, descriptions for the model)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..models import DomainList

__all__ = ["Cursor", "Domains", "MaxChars", "Offset", "OptionalSessionId", "Ref", "Selector", "SessionId", "TaskId", "Url"]

SessionId = Annotated[str, Field(min_length=1, max_length=100)]
OptionalSessionId = Annotated[str | None, Field(max_length=100)]  # omitted: the caller's default session
TaskId = Annotated[str, Field(min_length=1, max_length=100)]
Url = Annotated[str, Field(max_length=8192)]
Ref = Annotated[str | None, Field(description='From the observation, e.g. "e12".', max_length=32)]
Selector = Annotated[str | None, Field(description="CSS/Playwright selector.", max_length=2000)]
MaxChars = Annotated[int | None, Field(ge=500, le=200_000)]
Cursor = Annotated[int, Field(ge=0, description="A previous result's cursor, to read on.")]
Offset = Annotated[int, Field(ge=0, le=10_000_000)]
Domains = DomainList | None  # the same limits as a task request's avoidDomains
