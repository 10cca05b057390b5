"""Profile rows: who owns a saved browser identity, its name and counts; the state itself is a file."""

from __future__ import annotations

from dataclasses import dataclass

from .db import Store, Table

__all__ = ["ProfileRow", "ProfileRows"]


@dataclass(frozen=True, slots=True)
class ProfileRow:
    id: str
    owner_id: str
    name: str
    file: str
    encrypted: bool
    cookies: int
    origins: int
    created_at: float
    updated_at: float


PROFILES = Table(
    "profiles",
    ("id", "owner_id", "name", "file", "encrypted", "cookies", "origins", "created_at", "updated_at"),
    ProfileRow,
    {"encrypted": bool},
)


class ProfileRows:
    def __init__(self, store: Store):
        self.store = store

    async def put(self, row: ProfileRow) -> None:
        """Insert or replace the row, committed before this returns."""
        await self.store.execute(
            f"INSERT OR REPLACE INTO profiles ({PROFILES.names}) VALUES ({', '.join('?' * len(PROFILES.columns))})",
            (
                row.id,
                row.owner_id,
                row.name,
                row.file,
                int(row.encrypted),
                row.cookies,
                row.origins,
                row.created_at,
                row.updated_at,
            ),
        )

    async def get(self, owner_id: str, profile_id: str) -> ProfileRow | None:
        return await self.store.row(PROFILES, "WHERE id = ? AND owner_id = ?", (profile_id, owner_id))

    async def by_name(self, owner_id: str, name: str) -> ProfileRow | None:
        return await self.store.row(PROFILES, "WHERE owner_id = ? AND name = ?", (owner_id, name))

    async def list(self, owner_id: str) -> list[ProfileRow]:
        return await self.store.rows(PROFILES, "WHERE owner_id = ? ORDER BY updated_at DESC", (owner_id,))

    async def delete(self, profile_id: str) -> None:
        await self.store.execute("DELETE FROM profiles WHERE id = ?", (profile_id,))
