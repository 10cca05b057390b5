"""Page-cache options and results."""

from __future__ import annotations

import difflib
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from .base import Model

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
