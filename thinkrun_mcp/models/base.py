"""Owner, the base of every published model, and small shared values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
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


def ts(value: float | None) -> datetime | None:
    """A stored epoch time as the UTC datetime the wire models carry."""
    return datetime.fromtimestamp(value, UTC) if value is not None else None
