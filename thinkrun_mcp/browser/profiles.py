"""Profiles: a session's cookies, localStorage and IndexedDB saved under a name, and sessions started from one.

A profile is Playwright's storage state (``context.storage_state(indexed_db=True)``)
in a file of its own under ``<data dir>/profiles`` — the directory owner-only (0700),
each file owner-only (0600) — and a row naming its owner and counts. With
``THINKRUN_PROFILE_KEY`` set, files are encrypted with Fernet (AES-128-CBC and
HMAC-SHA256, from ``cryptography``), the key derived from the passphrase with
scrypt and a salt kept beside the files. Profile contents are never logged and never
stored in the database. A profile belongs to its owner like a session does: another
owner's id is ``profile_not_found``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import time
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..config import Settings
from ..errors import ThinkRunError
from ..ids import new_id
from ..models import Owner, ProfileInfo, ProfileList, ts
from ..store.profiles import ProfileRow, ProfileRows

__all__ = ["Profiles", "checked_state"]

_MAX_COOKIES, _MAX_ORIGINS = 10_000, 1_000  # far above any browser's; an absurd import is refused, not stored
_NOT_FOUND_HINT = "list your profiles with profile_list, or save one with profile_save"


class Profiles:
    """Saved storage states, by owner."""

    def __init__(self, settings: Settings, rows: ProfileRows):
        self.settings = settings
        self.rows = rows
        self.dir = settings.profiles_dir
        self._fernet: Fernet | None = None
        self._writers: dict[str, str] = {}  # profile id → the session that writes it back when it ends

    # -- one writer at a time ------------------------------------------------------------

    async def claim(self, owner: Owner, profile_id: str, session_id: str) -> None:
        """Make ``session_id`` the one session that writes the profile back; ``profile_in_use`` if another is."""
        await self._row(owner, profile_id)
        holder = self._writers.get(profile_id)
        if holder is not None and holder != session_id:
            raise ThinkRunError(
                "profile_in_use",
                f"session {holder} will write profile {profile_id} back when it ends",
                hint="start this session from the profile without writing it back, or end the other session first",
            )
        self._writers[profile_id] = session_id

    def release(self, profile_id: str, session_id: str) -> None:
        if self._writers.get(profile_id) == session_id:
            del self._writers[profile_id]

    async def write_back(self, owner: Owner, profile_id: str, state: dict[str, Any]) -> None:
        """Replace the profile's state, keeping its name (a session that started from it ending)."""
        row = await self._row(owner, profile_id)
        await self.save(owner, row.name, state, profile_id=profile_id)

    @property
    def encrypted(self) -> bool:
        return self.settings.profile_key is not None

    # -- saving and reading --------------------------------------------------------------

    async def save(self, owner: Owner, name: str, state: dict[str, Any], *, profile_id: str | None = None) -> ProfileInfo:
        """Save ``state`` as the owner's profile ``name`` (replacing ``profile_id``, or the profile of that name)."""
        state = checked_state(state)
        existing = await self._row(owner, profile_id) if profile_id else await self.rows.by_name(owner.id, name)
        now = time.time()
        pid = existing.id if existing else new_id("prof")
        file = f"{pid}.{'fernet' if self.encrypted else 'json'}"
        data = json.dumps(state, ensure_ascii=False).encode()
        await asyncio.to_thread(self._write, file, self._seal(data))
        if existing and existing.file != file:
            await asyncio.to_thread(self._remove, existing.file)
        row = ProfileRow(
            id=pid,
            owner_id=owner.id,
            name=name,
            file=file,
            encrypted=self.encrypted,
            cookies=len(state["cookies"]),
            origins=len(state["origins"]),
            created_at=existing.created_at if existing else now,
            updated_at=now,
        )
        await self.rows.put(row)
        return _info(row)

    async def state(self, owner: Owner, profile_id: str) -> dict[str, Any]:
        """The storage state of the owner's profile (to start a context with, or to export)."""
        row = await self._row(owner, profile_id)
        try:
            data = await asyncio.to_thread((self.dir / row.file).read_bytes)
        except FileNotFoundError:
            raise ThinkRunError(
                "profile_not_found", f"profile {profile_id} has lost its file {row.file}", hint="save it again"
            ) from None
        return json.loads(self._open(data, encrypted=row.encrypted, profile_id=profile_id))

    async def list(self, owner: Owner) -> ProfileList:
        return ProfileList(profiles=[_info(r) for r in await self.rows.list(owner.id)])

    async def delete(self, owner: Owner, profile_id: str) -> ProfileInfo:
        row = await self._row(owner, profile_id)
        await self.rows.delete(row.id)
        await asyncio.to_thread(self._remove, row.file)
        return _info(row)

    async def _row(self, owner: Owner, profile_id: str) -> ProfileRow:
        row = await self.rows.get(owner.id, profile_id)
        if row is None:
            raise ThinkRunError("profile_not_found", f"no profile {profile_id!r}", hint=_NOT_FOUND_HINT)
        return row

    # -- files and encryption --------------------------------------------------------------

    def _write(self, file: str, data: bytes) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        path = self.dir / file
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _remove(self, file: str) -> None:
        (self.dir / file).unlink(missing_ok=True)

    def _seal(self, data: bytes) -> bytes:
        return self._key().encrypt(data) if self.encrypted else data

    def _open(self, data: bytes, *, encrypted: bool, profile_id: str) -> bytes:
        if not encrypted:
            return data
        if not self.encrypted:
            raise ThinkRunError(
                "invalid_input",
                f"profile {profile_id} is encrypted and THINKRUN_PROFILE_KEY is not set",
                hint="start the server with the key the profile was saved with",
            )
        try:
            return self._key().decrypt(data)
        except InvalidToken:
            raise ThinkRunError(
                "invalid_input",
                f"profile {profile_id} cannot be decrypted with this THINKRUN_PROFILE_KEY",
                hint="start the server with the key the profile was saved with, or save the profile again",
            ) from None

    def _key(self) -> Fernet:
        if self._fernet is None:
            assert self.settings.profile_key is not None
            salt_file = self.dir / ".salt"
            self.dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self.dir, 0o700)
            if not salt_file.exists():
                fd = os.open(salt_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(secrets.token_bytes(16))
            salt = salt_file.read_bytes()
            key = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(self.settings.profile_key.get_secret_value().encode())
            self._fernet = Fernet(base64.urlsafe_b64encode(key))
        return self._fernet


def checked_state(state: Any) -> dict[str, Any]:
    """A storage state as Playwright takes it, or ``invalid_input`` saying what is wrong (never echoing values)."""
    if not isinstance(state, dict):
        raise ThinkRunError("invalid_input", "a storage state is an object {cookies: [...], origins: [...]}")
    cookies, origins = state.get("cookies", []), state.get("origins", [])
    unknown = sorted(set(state) - {"cookies", "origins"})
    if unknown:
        raise ThinkRunError("invalid_input", f"a storage state has only cookies and origins, not {', '.join(unknown)}")
    if (isinstance(cookies, list) and len(cookies) > _MAX_COOKIES) or (isinstance(origins, list) and len(origins) > _MAX_ORIGINS):
        raise ThinkRunError("invalid_input", f"a storage state holds at most {_MAX_COOKIES} cookies and {_MAX_ORIGINS} origins")
    if not isinstance(cookies, list) or not all(
        isinstance(c, dict) and {"name", "value"} <= set(c) and ({"domain", "path"} <= set(c) or "url" in c) for c in cookies
    ):
        raise ThinkRunError(
            "invalid_input", "storage state cookies must be objects with name, value, and domain and path (or url)"
        )
    if not isinstance(origins, list) or not all(isinstance(o, dict) and isinstance(o.get("origin"), str) for o in origins):
        raise ThinkRunError("invalid_input", "storage state origins must be objects with an origin")
    return {"cookies": cookies, "origins": origins}


def _info(row: ProfileRow) -> ProfileInfo:
    return ProfileInfo(
        profile_id=row.id,
        name=row.name,
        cookies=row.cookies,
        origins=row.origins,
        encrypted=row.encrypted,
        created_at=ts(row.created_at),
        updated_at=ts(row.updated_at),
    )
