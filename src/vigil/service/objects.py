"""Object reads (GET /v1/data/{namespace}/objects/{id}): latest version and its decision."""

from __future__ import annotations

from typing import Any

from vigil.errors import NotFound
from vigil.service import validate
from vigil.service.links import object_url
from vigil.store import decisions, objects
from vigil.store.db import Database


async def latest(db: Database, team_id: str, namespace: str, object_id: str, base_url: str) -> dict[str, Any]:
    validate.namespace(namespace)
    async with db.read() as conn:
        stored = await objects.get_latest(conn, team_id, namespace, object_id)
        if stored is None:
            raise NotFound(f"no object {object_id!r} in namespace {namespace!r}")
        decision = await decisions.get(conn, team_id, namespace, object_id, stored.version)
    return {
        "namespace": namespace,
        "id": object_id,
        "version": stored.version,
        "data": stored.data,
        "created_at_ms": stored.created_at_ms,
        "updated_at_ms": stored.updated_at_ms,
        "url": object_url(base_url, namespace, object_id, stored.version),
        # The current decision always belongs to the latest version: null until it is evaluated.
        "decision": None
        if decision is None
        else {
            "version": decision.version,
            "status": decision.status,
            "output": decision.output,
            "metadata": decision.metadata,
            "error": decision.error,
            "policy_version": decision.policy_version,
            "decided_at_ms": decision.created_at_ms,
        },
    }
