"""Text helpers shared by the services: clipping a string for a message, paging a long text."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["clip", "paginate", "safe_text"]


def clip(text: str, limit: int) -> str:
    """``text`` unchanged when it has at most ``limit`` characters, else cut to ``limit`` with "…".

    Args:
        text: The string to show (a URL, a console message …).
        limit: The longest result, in characters, the "…" included.

    Returns:
        The string, or its first ``limit - 1`` characters followed by "…".
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def paginate(text: str, *, max_chars: int, cursor: int = 0) -> tuple[str, int | None]:
    """Slice ``text`` at a line boundary so the piece has at most ``max_chars`` characters.

    Returns ``(piece, next_cursor)``; ``next_cursor`` is ``None`` at the end. Pieces keep
    their trailing newline, so concatenating all pieces gives back ``text``. A single
    line longer than ``max_chars`` is cut (at a space when one is near the limit).
    """
    n = len(text)
    max_chars = max(1, int(max_chars))
    cursor = max(0, int(cursor or 0))
    if cursor >= n:
        return "", None
    end = cursor + max_chars
    if end >= n:
        return text[cursor:], None
    nl = text.rfind("\n", cursor, end)  # the piece may end with this newline (index nl, length nl+1-cursor)
    if nl >= cursor:
        cut = nl + 1
    else:
        sp = text.rfind(" ", cursor + max_chars // 2, end)
        cut = sp + 1 if sp >= 0 else end
    return text[cursor:cut], cut


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def safe_text(value: Any) -> Any:
    """``value`` with every lone UTF-16 surrogate replaced by U+FFFD, in strings at any depth of lists and dicts.

    JavaScript strings may hold lone surrogates (``document.title = "\\ud800"``), and so
    may a client's JSON (``"\\ud800"``). Python keeps them, but no UTF-8 encoder does:
    a transport, a log file or SQLite would fail on them. Everything that leaves the
    process passes through here.
    """
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value) if _LONE_SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {safe_text(k): safe_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(safe_text(v) for v in value)
    return value
