"""Ids of sessions, tasks and artifacts: a type prefix and 12 random hex digits (``ses_3f9a…``)."""

from __future__ import annotations

import secrets

__all__ = ["new_id"]


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"
