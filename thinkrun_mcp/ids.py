"""Ids of sessions, tasks and artifacts: a type prefix and 12 random hex digits (``ses_3f9a…``)."""

from __future__ import annotations

import re
import secrets

__all__ = ["is_id", "new_id"]

_ID = re.compile(r"[a-z]{1,12}_[0-9a-f]{12}")


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


def is_id(text: str) -> bool:
    """Whether ``text`` is one of our ids: made here, holding nothing from a page or a client.

    (Only this exact shape: a bare hex string may be a client's token, which is what a secret often is.)
    """
    return _ID.fullmatch(text) is not None
