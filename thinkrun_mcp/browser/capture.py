"""Screenshots: capture, optional downscale (Pillow), encode."""

from __future__ import annotations

import io
from typing import Literal

from PIL import Image
from playwright.async_api import Locator, Page

__all__ = ["MAX_FULL_PAGE_HEIGHT", "SECRET_FIELD", "capture", "fit_image"]

MAX_FULL_PAGE_HEIGHT = 16_384  # taller full-page captures are clipped (Chromium's texture limit)

# A field that holds a secret value carries this attribute (set when the value is typed in); every
# screenshot hides its text. Playwright applies a screenshot's style in every frame and shadow root.
SECRET_FIELD = "data-thinkrun-secret"
_SECRET_STYLE = (
    f"[{SECRET_FIELD}], [{SECRET_FIELD}] * {{ color: transparent !important; -webkit-text-fill-color: transparent !important;"
    " text-shadow: none !important; caret-color: transparent !important; }"
)


def fit_image(
    data: bytes, *, max_dimension: int | None, fmt: Literal["png", "jpeg"], quality: int = 80
) -> tuple[bytes, int, int]:
    """Image bytes scaled so the longest side is at most ``max_dimension`` (aspect kept), and its size."""
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
        if not max_dimension or max(width, height) <= max_dimension:
            return data, width, height
        scale = max_dimension / max(width, height)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        resized = img.convert("RGB" if fmt == "jpeg" else "RGBA").resize(size, Image.Resampling.LANCZOS)
        out = io.BytesIO()
        if fmt == "jpeg":
            resized.save(out, format="JPEG", quality=quality)
        else:
            resized.save(out, format="PNG", optimize=False)
        return out.getvalue(), size[0], size[1]


async def capture(
    page: Page,
    target: Locator | None,
    *,
    full_page: bool,
    fmt: Literal["png", "jpeg"],
    quality: int,
    timeout_ms: int,
) -> tuple[bytes, bool]:
    """Raw screenshot bytes, and whether a full-page capture was clipped to MAX_FULL_PAGE_HEIGHT.

    Fields marked as holding a secret value (:data:`SECRET_FIELD`) show no text in the capture.
    """
    kwargs: dict = {"type": fmt, "timeout": timeout_ms, "animations": "disabled", "caret": "hide", "style": _SECRET_STYLE}
    if fmt == "jpeg":
        kwargs["quality"] = quality
    if target is not None:
        return await target.screenshot(**kwargs), False
    clipped = False
    if full_page:
        height = await page.evaluate(
            "() => Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)"
        )
        if height > MAX_FULL_PAGE_HEIGHT:
            width = (page.viewport_size or {"width": 1280})["width"]
            kwargs["clip"] = {"x": 0, "y": 0, "width": width, "height": MAX_FULL_PAGE_HEIGHT}
            clipped = True
        kwargs["full_page"] = True
    return await page.screenshot(**kwargs), clipped
