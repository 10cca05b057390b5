"""Owner, the base of every published model, and small shared values."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)
from pydantic.alias_generators import to_camel


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


class Model(BaseModel):
    """Base of every published model: camelCase aliases, either name accepted."""

    # extra="forbid": an unknown key in a nested object (initialTask, viewport, a secret rule) is refused
    # like an unknown top-level argument, not silently dropped.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, extra="forbid")


class Viewport(Model):
    width: int = Field(ge=200, le=7680)
    height: int = Field(ge=200, le=4320)


class Geolocation(Model):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy: float = Field(default=0, ge=0, le=1_000_000)


class RecordOptions(Model):
    """What a session records (session_create ``record``), saved as artifacts when it ends."""

    trace: bool = False
    video: bool = False
    har: bool = False


class BrowserOptions(Model):
    """How a session's browser presents itself (session_create ``browser``): Playwright's context options."""

    device: str | None = Field(default=None, max_length=100, description='A Playwright device, e.g. "iPhone 15".')
    user_agent: str | None = Field(default=None, max_length=1000)
    locale: str | None = Field(default=None, max_length=35, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
    timezone_id: str | None = Field(default=None, max_length=64, description='An IANA zone, e.g. "Europe/Paris".')
    geolocation: Geolocation | None = None
    color_scheme: Literal["light", "dark", "no-preference"] | None = None
    extra_http_headers: dict[str, Annotated[str, Field(max_length=8192)]] | None = Field(default=None, max_length=50)
    ignore_https_errors: bool | None = None

    @field_validator("timezone_id")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in zoneinfo.available_timezones():
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)")
        return value


def ts(value: float | None) -> datetime | None:
    """A stored epoch time as the UTC datetime the wire models carry."""
    return datetime.fromtimestamp(value, UTC) if value is not None else None
