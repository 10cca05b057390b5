"""Recordings of a session, opt-in (``session_create record: {trace, video, har}``), saved as artifacts when it ends.

- ``trace``: a Playwright trace zip (``playwright show-trace FILE``): actions, DOM snapshots, screenshots, network;
- ``video``: one WebM per tab;
- ``har``: the HTTP archive of every request, bodies included.

Recordings hold what the pages held, so the session's secret rule applies to them too:
the trace's and the HAR's texts pass through the owner's redactor (raw and encoded
values become placeholders), and a video of a session in which a secret value was
typed is discarded (its pixels cannot be redacted), and the log says so.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import shutil
import sys
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import playwright
from playwright.async_api import BrowserContext

from ..ids import new_id
from ..models import RecordOptions
from ..redact import Redactor

if TYPE_CHECKING:
    from .session import BrowserSession

__all__ = ["Recording", "video_unavailable"]

log = logging.getLogger(__name__)


def video_unavailable(chromium_path: str) -> str | None:
    """Why a local browser cannot record video (Playwright's ffmpeg is not installed), or None.

    ``chromium_path``: where Playwright keeps its Chromium (``playwright.chromium.executable_path``,
    whether installed or not); its ffmpeg lives beside it, in ``ffmpeg-<revision>``.
    """
    try:
        browsers = json.loads((Path(playwright.__file__).parent / "driver/package/browsers.json").read_text())
        revision = next(b["revision"] for b in browsers["browsers"] if b["name"] == "ffmpeg")
    except (OSError, ValueError, StopIteration, KeyError):
        return None  # a Playwright without the list: let it try
    path = Path(chromium_path)
    root = next((p.parent for p in path.parents if p.name.startswith("chromium")), None)
    if root is None:
        return None
    name = {"linux": "ffmpeg-linux", "darwin": "ffmpeg-mac", "win32": "ffmpeg-win64.exe"}.get(sys.platform, "ffmpeg-linux")
    ffmpeg = root / f"ffmpeg-{revision}" / name
    return None if ffmpeg.exists() else f"video recording needs Playwright's ffmpeg, which is not installed ({ffmpeg})"


class Recording:
    """What one session records, and where (a directory of its own under the artifacts)."""

    def __init__(self, options: RecordOptions, directory: Path):
        self.options = options
        self.dir = directory

    def context_options(self) -> dict[str, Any]:
        """``new_context`` options for video and HAR (Playwright writes both when the context closes)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        out: dict[str, Any] = {}
        if self.options.video:
            out["record_video_dir"] = str(self.dir / "video")
        if self.options.har:
            out["record_har_path"] = str(self.dir / "session.har")
        return out

    async def start(self, context: BrowserContext) -> None:
        if self.options.trace:
            await context.tracing.start(screenshots=True, snapshots=True, sources=False)

    async def before_close(self, context: BrowserContext) -> None:
        if self.options.trace:
            try:
                await asyncio.wait_for(context.tracing.stop(path=str(self.dir / "trace.zip")), timeout=30)
            except Exception as exc:  # the browser is gone: no trace to save
                log.warning("trace of %s not saved: %s", self.dir.name, exc)

    async def after_close(self, session: BrowserSession) -> None:
        """Redact, discard or keep each file (off the loop), then record what is kept as an artifact of the session."""
        kept = await asyncio.to_thread(self._finish, session.redactor, discard_video=session.secret_typed)
        if session.secret_typed and self.options.video:
            log.warning("session %s: its video was discarded: a secret value was typed while it recorded", session.id)
        for path, kind, mime in kept:  # on the loop: the store is not to be written from a worker thread
            session.records.artifact(
                object_id=new_id("obj"),
                session_id=session.id,
                type=kind,
                path=str(path),
                mime_type=mime,
                size=path.stat().st_size,
                ts=time.time(),
                name=path.name,
            )

    def _finish(self, redactor: Redactor, *, discard_video: bool) -> list[tuple[Path, str, str]]:
        """The files to keep as (path, artifact type, MIME type), their texts redacted."""
        kept: list[tuple[Path, str, str]] = []
        trace, har, videos = self.dir / "trace.zip", self.dir / "session.har", sorted((self.dir / "video").glob("*.webm"))
        if trace.exists():
            _redact_zip(trace, redactor)
            kept.append((trace, "trace", "application/zip"))
        if har.exists():
            har.write_text(redactor.redact(har.read_text("utf-8", errors="replace")), "utf-8")
            kept.append((har, "har", "application/json"))
        if videos and discard_video:
            shutil.rmtree(self.dir / "video", ignore_errors=True)
        else:
            kept.extend((video, "video", "video/webm") for video in videos)
        return kept


def _redact_zip(path: Path, redactor: Redactor) -> None:
    """Rewrite a trace zip with every text member redacted (snapshots, network log, actions)."""
    if not redactor:
        return
    out = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            try:
                text = data.decode("utf-8")  # events, snapshots, HTML, network log; images stay as they are
            except UnicodeDecodeError:
                text = None
            if text is not None:
                data = redactor.redact(text).encode("utf-8")
            dst.writestr(info, data)
    path.write_bytes(out.getvalue())
