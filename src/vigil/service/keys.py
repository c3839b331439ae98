"""API keys: create, list, revoke, and authenticate a bearer key."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import string
import time
from dataclasses import dataclass

from vigil.errors import BadRequest, NotFound
from vigil.ids import new_id
from vigil.store import keys
from vigil.store.clock import now_ms
from vigil.store.db import Database

SCOPES = ("admin", "data:read", "data:write")
_ALPHABET = string.ascii_letters + string.digits
_KEY_CHARS = 40  # 40 base62 characters ≈ 238 random bits


@dataclass(frozen=True)
class Principal:
    team_id: str
    key_id: str
    scopes: frozenset[str]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    return "sk_" + "".join(secrets.choice(_ALPHABET) for _ in range(_KEY_CHARS))


async def create(
    db: Database, team: str, scopes: list[str] | None = None, name: str = ""
) -> tuple[str, keys.KeyRecord]:
    """Create a key (and its team on first use). Returns the key itself, shown only this once."""
    chosen = list(scopes) if scopes else list(SCOPES)
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise BadRequest(f"unknown scope {unknown[0]!r}; allowed: {', '.join(SCOPES)}")
    if not team:
        raise BadRequest("a team name is required")
    key = generate_key()
    now = now_ms()
    async with db.write() as conn:
        team_id = await keys.find_team(conn, team)
        if team_id is None:
            team_id = new_id("team")
            await keys.insert_team(conn, team_id, team, now)
        key_id = new_id("key")
        await keys.insert_key(
            conn, key_id=key_id, team_id=team_id, name=name, prefix=key[:8], key_hash=hash_key(key),
            scopes=chosen, now_ms=now,
        )  # fmt: skip
        record = await keys.find_active_key(conn, hash_key(key))
    assert record is not None
    return key, record


async def list_all(db: Database) -> list[keys.KeyRecord]:
    async with db.read() as conn:
        return await keys.list_keys(conn)


async def revoke(db: Database, key_id: str) -> None:
    async with db.write() as conn:
        if not await keys.revoke_key(conn, key_id, now_ms()):
            raise NotFound(f"no active key {key_id!r}")


class Authenticator:
    """Looks keys up by hash, trusting an answer for `ttl_s` (the revocation delay).

    Concurrent requests with the same key share one look-up: when a cached answer runs out
    under load, every request in flight (64 with 64 connections) would otherwise query the
    store at once."""

    def __init__(self, db: Database, ttl_s: float) -> None:
        self._db = db
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._in_flight: dict[str, asyncio.Future[Principal | None]] = {}

    async def principal(self, key: str) -> Principal | None:
        digest = hash_key(key)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        look_up = self._in_flight.get(digest)
        if look_up is None:
            look_up = self._in_flight[digest] = asyncio.ensure_future(self._look_up(digest))
        # Shielded: a request that goes away does not cancel the look-up the others wait for.
        return await asyncio.shield(look_up)

    async def _look_up(self, digest: str) -> Principal | None:
        try:
            async with self._db.read() as conn:
                record = await keys.find_active_key(conn, digest)
        finally:
            del self._in_flight[digest]
        principal = None if record is None else Principal(record.team_id, record.id, record.scopes)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (time.monotonic() + self._ttl_s, principal)
        return principal
