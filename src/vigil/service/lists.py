"""Named value lists of a team (PUT/GET/DELETE /v1/lists/{name}), usable from every policy.

A list's kind is fixed by what reads it: while a current policy reads a list, it can be
replaced (a new version, picked up by the next evaluation batch) but not deleted, and its
kind cannot change.
"""

from __future__ import annotations

from typing import Any

import structlog

from vigil.engine.lists import KINDS, NAME_RULE, NAME_RULE_TEXT, normalise_value
from vigil.engine.policy import referenced_lists
from vigil.errors import BadRequest, NotFound
from vigil.service import validate
from vigil.store import lists as store
from vigil.store import policies
from vigil.store.clock import now_ms
from vigil.store.db import Database

log = structlog.get_logger("vigil.lists")

BODY_KEYS = ("kind", "values", "description")
MAX_VALUES = 500_000
MAX_DESCRIPTION_CHARS = 2000
SHOWN_PROBLEMS = 20


def _name(name: str) -> str:
    if not NAME_RULE.fullmatch(name):
        raise BadRequest(
            f"invalid list name {name!r}: {NAME_RULE_TEXT}", details=[{"path": "name", "value": name[:100]}]
        )
    return name


def _body(body: Any) -> tuple[str, list[str], str]:
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object like {"kind": "domain", "values": ["example.com"]}')
    unknown = [key for key in body if key not in BODY_KEYS]
    if unknown:
        raise BadRequest(
            f"unknown key {unknown[0]!r}; allowed: {', '.join(BODY_KEYS)}",
            details=[{"path": key, "problem": "unknown key"} for key in unknown],
        )
    kind = body.get("kind")
    if kind not in KINDS:
        raise BadRequest(
            f"kind {kind!r} is not one of: {', '.join(KINDS)}", details=[{"path": "kind", "problem": "unknown kind"}]
        )
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        raise BadRequest(f"'description' must be a string of at most {MAX_DESCRIPTION_CHARS} characters")
    if "\x00" in description:
        raise BadRequest(
            f"description {validate.NUL_PROBLEM}", details=[{"path": "description", "problem": validate.NUL_PROBLEM}]
        )
    values = body.get("values")
    if not isinstance(values, list):
        raise BadRequest("'values' must be an array of strings (it may be empty)")
    if len(values) > MAX_VALUES:
        raise BadRequest(f"'values' has {len(values)} items; a list holds at most {MAX_VALUES}")
    items: dict[str, None] = {}
    problems = []
    for index, value in enumerate(values):
        normalised, problem = normalise_value(kind, value)
        if problem is not None:
            problems.append({"path": f"values[{index}]", "problem": problem})
        elif normalised is not None:
            items[normalised] = None
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise BadRequest(f"{first['path']}: {first['problem']}{more}", details=problems[:SHOWN_PROBLEMS])
    return kind, list(items), description


async def _readers(conn: Any, team_id: str, name: str) -> list[str]:
    """The namespaces whose current policy reads list `name`."""
    documents = await policies.current_documents(conn, team_id)
    return sorted(ns for ns, document in documents.items() if name in referenced_lists(document))


async def put(db: Database, team_id: str, name: str, body: Any) -> dict[str, Any]:
    _name(name)
    kind, items, description = _body(body)
    async with db.write() as conn:
        existing = await store.get(conn, team_id, name)
        if existing is not None and existing.summary.kind != kind:
            readers = await _readers(conn, team_id, name)
            if readers:
                raise BadRequest(
                    f"list {name!r} holds {existing.summary.kind} values and the current policy of "
                    f"{', '.join(readers)} reads it as such; change those policies before its kind",
                    details=[{"path": "kind", "problem": "in use", "namespaces": readers}],
                )
        version = await store.put(conn, team_id, name, kind, description, items, now_ms())
    log.info("list.put", team_id=team_id, list=name, kind=kind, count=len(items), version=version)
    return {"name": name, "kind": kind, "count": len(items), "version": version, "status": "updated"}


def _present(summary: store.ListSummary) -> dict[str, Any]:
    return {
        "name": summary.name,
        "kind": summary.kind,
        "description": summary.description,
        "count": summary.count,
        "version": summary.version,
        "created_at_ms": summary.created_at_ms,
        "updated_at_ms": summary.updated_at_ms,
    }


async def get(db: Database, team_id: str, name: str) -> dict[str, Any]:
    _name(name)
    async with db.read() as conn:
        record = await store.get(conn, team_id, name)
    if record is None:
        raise NotFound(f"no list named {name!r}; create it with PUT /v1/lists/{name}")
    return {**_present(record.summary), "values": record.items}


async def list_all(db: Database, team_id: str) -> dict[str, Any]:
    async with db.read() as conn:
        found = await store.summaries(conn, team_id)
    return {"lists": [_present(summary) for summary in found]}


async def delete(db: Database, team_id: str, name: str) -> dict[str, Any]:
    _name(name)
    async with db.write() as conn:
        readers = await _readers(conn, team_id, name)
        if readers:
            raise BadRequest(
                f"list {name!r} is read by the current policy of {', '.join(readers)}; "
                "remove it from those policies first",
                details=[{"path": "name", "problem": "in use", "namespaces": readers}],
            )
        if not await store.delete(conn, team_id, name):
            raise NotFound(f"no list named {name!r}")
    log.info("list.deleted", team_id=team_id, list=name)
    return {"name": name, "status": "deleted"}
