"""Ids of sessions, tasks and artifacts: a type prefix and 12 random hex digits (``ses_3f9a…``)."""

from __future__ import annotations

import re
import secrets

__all__ = ["is_id", "new_id"]

_ID = re.compile(r"[a-z]{1,12}_[0-9a-f]{12}|[0-9a-f]{16,128}")  # our ids, and hex digests (cache keys)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


def is_id(text: str) -> bool:
    """Whether ``text`` is one of our ids or a hex digest: made here, holding nothing from a page or a client."""
    return _ID.fullmatch(text) is not None
