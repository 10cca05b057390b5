"""Profiles: saved browser identities (WebRun's profileId) — what the tools publish about them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from .base import Model

__all__ = ["ProfileInfo", "ProfileList", "ProfileState"]


class ProfileInfo(Model):
    profile_id: str
    name: str
    cookies: int = Field(description="Cookies it holds (values never shown).")
    origins: int = Field(description="Origins whose localStorage/IndexedDB it holds.")
    encrypted: bool = Field(description="Stored encrypted (THINKRUN_PROFILE_KEY is set).")
    created_at: datetime
    updated_at: datetime


class ProfileList(Model):
    profiles: list[ProfileInfo]


class ProfileState(Model):
    """A profile's state in Playwright's storage-state format (cookies, origins)."""

    profile_id: str | None = Field(description="None for a live session's state.")
    storage_state: dict = Field(description="Playwright storage state: {cookies: [...], origins: [...]}.")
