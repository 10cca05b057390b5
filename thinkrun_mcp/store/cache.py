"""Page-cache rows: one per cached render (HTML or text in ``body``, screenshots as a file name)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .db import Store

__all__ = ["CacheRow", "CacheRows", "IndexRow"]


@dataclass(frozen=True, slots=True)
class IndexRow:
    """What eviction and freshness checks need, without the content."""

    key: str
    bytes: int
    fetched_at: float
    file: str | None


@dataclass(frozen=True, slots=True)
class CacheRow:
    key: str
    body: str | None
    file: str | None
    metadata: dict[str, Any]
    fetched_at: float


class CacheRows:
    def __init__(self, store: Store):
        self.store = store

    async def index(self) -> list[IndexRow]:
        """Every entry, least recently used first."""
        rows = await self.store.fetch("SELECT key, bytes, fetched_at, file FROM page_cache ORDER BY used_at, rowid")
        return [IndexRow(r["key"], r["bytes"], r["fetched_at"], r["file"]) for r in rows]

    async def get(self, key: str) -> CacheRow | None:
        row = await self.store.fetch_one("SELECT key, body, file, metadata, fetched_at FROM page_cache WHERE key = ?", (key,))
        if row is None:
            return None
        return CacheRow(row["key"], row["body"], row["file"], json.loads(row["metadata"]), row["fetched_at"])

    def put(
        self,
        *,
        key: str,
        kind: str,
        provider: str,
        url: str,
        body: str | None,
        file: str | None,
        metadata: dict[str, Any],
        size: int,
        fetched_at: float,
    ) -> None:
        self.store.enqueue(
            "INSERT OR REPLACE INTO page_cache (key, kind, provider, url, body, file, metadata, bytes, fetched_at, used_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, kind, provider, url, body, file, json.dumps(metadata, ensure_ascii=False), size, fetched_at, fetched_at),
        )

    def touch(self, key: str, used_at: float) -> None:
        self.store.enqueue("UPDATE page_cache SET used_at = ? WHERE key = ?", (used_at, key))

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.store.enqueue("DELETE FROM page_cache WHERE key = ?", (key,))
