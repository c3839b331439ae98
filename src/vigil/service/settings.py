"""Namespace settings (PUT/GET /v1/data/{namespace}/settings)."""

from __future__ import annotations

from typing import Any

from vigil.errors import NotFound
from vigil.service import validate
from vigil.store import namespaces
from vigil.store.clock import now_ms
from vigil.store.db import Database


async def replace(db: Database, team_id: str, namespace: str, body: Any) -> dict[str, Any]:
    validate.namespace(namespace)
    settings = validate.settings(body)
    async with db.write() as conn:
        await namespaces.put_settings(conn, team_id, namespace, settings, now_ms())
    return settings


async def get(db: Database, team_id: str, namespace: str) -> dict[str, Any]:
    validate.namespace(namespace)
    async with db.read() as conn:
        settings = await namespaces.get_settings(conn, team_id, namespace)
    if settings is None:
        raise NotFound(f"namespace {namespace!r} does not exist yet; it is created by its first object or PUT settings")
    return {"schema": settings.get("schema", {}), "update_mode": settings.get("update_mode", "replace")}
