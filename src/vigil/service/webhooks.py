"""Webhook endpoints and messages: managing endpoints, writing messages for events (in the
caller's transaction: no dual write), resending and recovering."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec

from vigil.delivery import events, sign
from vigil.errors import BadRequest, NotFound
from vigil.ids import new_id
from vigil.service import validate
from vigil.store import webhook_endpoints, webhook_log, webhook_messages
from vigil.store.clock import now_ms
from vigil.store.db import Database

ENDPOINT_KEYS = ("url", "description", "event_types", "namespaces", "headers", "enabled")
# Headers a receiver must not be able to override: they carry the signature and the framing.
RESERVED_HEADERS = {
    "content-type", "content-length", "host", "transfer-encoding", "connection", "user-agent",
    "webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp", "svix-signature",
}  # fmt: skip
ROTATION_OVERLAP_MS = 24 * 3600 * 1000  # the old secret keeps signing for 24 h


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check(body: Any, creating: bool) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest('send a JSON object like {"url": "https://example.com/webhooks"}')
    found = validate.nul_path(body)
    if found:
        raise BadRequest(f"{found} {validate.NUL_PROBLEM}")
    unknown = [key for key in body if key not in ENDPOINT_KEYS]
    if unknown:
        raise BadRequest(f"unknown endpoint field {unknown[0]!r}; allowed: {', '.join(ENDPOINT_KEYS)}")
    values: dict[str, Any] = {}
    if creating or "url" in body:
        url = body.get("url")
        try:
            parts = urlsplit(url) if isinstance(url, str) else None
            host = parts.hostname if parts else None
        except ValueError:  # e.g. "http://[": an unbalanced IPv6 bracket
            parts = host = None
        if parts is None or parts.scheme not in ("http", "https") or not host:
            raise BadRequest("'url' must be an absolute http:// or https:// URL")
        values["url"] = url
    if "description" in body:
        if not isinstance(body["description"], str):
            raise BadRequest("'description' must be a string")
        values["description"] = body["description"]
    if "event_types" in body:
        kinds = body["event_types"]
        if kinds is not None and (not isinstance(kinds, list) or any(k not in events.EVENT_TYPES for k in kinds)):
            raise BadRequest(f"'event_types' must be null (every event) or a list of: {', '.join(events.EVENT_TYPES)}")
        values["event_types"] = kinds
    if "namespaces" in body:
        names = body["namespaces"]
        if names is not None:
            if not isinstance(names, list):
                raise BadRequest("'namespaces' must be null (every namespace) or a list of namespace names")
            for name in names:
                validate.namespace(name if isinstance(name, str) else "")
        values["namespaces"] = names
    if "headers" in body:
        headers = body["headers"]
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise BadRequest("'headers' must be an object of header names to string values")
        reserved = [name for name in headers if name.lower() in RESERVED_HEADERS]
        if reserved:
            raise BadRequest(f"header {reserved[0]!r} is set by Vigil and cannot be overridden")
        values["headers"] = headers
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise BadRequest("'enabled' must be true or false")
        values["enabled"] = body["enabled"]
    return values


def present(endpoint: webhook_endpoints.Endpoint, health: webhook_log.Health | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "namespaces": endpoint.namespaces,
        "headers": endpoint.headers,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": iso(endpoint.created_at_ms),
        "updated_at": iso(endpoint.updated_at_ms),
    }
    if health is not None:
        rate = None if health.attempts_24h == 0 else round(health.successes_24h / health.attempts_24h, 4)
        now = now_ms()
        answer["health"] = {
            "success_rate_24h": rate,
            "attempts_24h": health.attempts_24h,
            "last_error": health.last_error,
            "last_error_at": None if health.last_error_at_ms is None else iso(health.last_error_at_ms),
            "pending_messages": health.pending,
            "oldest_undelivered_age_s": None
            if health.oldest_undelivered_ms is None
            else round(max(now - health.oldest_undelivered_ms, 0) / 1000, 3),
            "failing_since": None if endpoint.failing_since_ms is None else iso(endpoint.failing_since_ms),
            "disabled": not endpoint.enabled,
        }
    return answer


async def create(db: Database, team_id: str, body: Any) -> dict[str, Any]:
    values = _check(body, creating=True)
    now = now_ms()
    endpoint_id = new_id("ep")
    secret = sign.new_secret()
    row = {
        "id": endpoint_id,
        "team_id": team_id,
        "description": "",
        "event_types": None,
        "namespaces": None,
        "headers": {},
        "enabled": True,
        "secret": secret,
        "created_at_ms": now,
        "updated_at_ms": now,
        **values,
    }
    async with db.write() as conn:
        await webhook_endpoints.insert(conn, row)
        endpoint = await webhook_endpoints.get(conn, team_id, endpoint_id)
    assert endpoint is not None
    return {**present(endpoint), "secret": secret}


async def _get(conn: Any, team_id: str, endpoint_id: str) -> webhook_endpoints.Endpoint:
    endpoint = await webhook_endpoints.get(conn, team_id, endpoint_id)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id!r}")
    return endpoint


async def get(db: Database, team_id: str, endpoint_id: str) -> dict[str, Any]:
    async with db.read() as conn:
        endpoint = await _get(conn, team_id, endpoint_id)
        health = await webhook_log.health(conn, endpoint_id, now_ms())
    return present(endpoint, health)


async def list_all(db: Database, team_id: str) -> list[dict[str, Any]]:
    async with db.read() as conn:
        found = await webhook_endpoints.list_for_team(conn, team_id)
        now = now_ms()
        return [present(endpoint, await webhook_log.health(conn, endpoint.id, now)) for endpoint in found]


async def update(db: Database, team_id: str, endpoint_id: str, body: Any) -> dict[str, Any]:
    values = _check(body, creating=False)
    if values.get("enabled") is True:
        values.update(disabled_reason=None, failing_since_ms=None)
    elif values.get("enabled") is False:
        values["disabled_reason"] = "disabled by request"
    async with db.write() as conn:
        await _get(conn, team_id, endpoint_id)
        await webhook_endpoints.update(conn, team_id, endpoint_id, {**values, "updated_at_ms": now_ms()})
        endpoint = await _get(conn, team_id, endpoint_id)
    return present(endpoint)


async def delete(db: Database, team_id: str, endpoint_id: str) -> None:
    async with db.write() as conn:
        if not await webhook_endpoints.delete(conn, team_id, endpoint_id):
            raise NotFound(f"no webhook endpoint {endpoint_id!r}")
        await webhook_messages.delete_for_endpoint(conn, endpoint_id)


async def rotate_secret(db: Database, team_id: str, endpoint_id: str) -> dict[str, Any]:
    secret = sign.new_secret()
    now = now_ms()
    async with db.write() as conn:
        endpoint = await _get(conn, team_id, endpoint_id)
        await webhook_endpoints.update(
            conn,
            team_id,
            endpoint_id,
            {
                "secret": secret,
                "previous_secret": endpoint.secret,
                "previous_secret_until_ms": now + ROTATION_OVERLAP_MS,
                "updated_at_ms": now,
            },
        )
    return {"id": endpoint_id, "secret": secret, "previous_secret_expires_at": iso(now + ROTATION_OVERLAP_MS)}


async def send_test(db: Database, team_id: str, endpoint_id: str) -> dict[str, Any]:
    now = now_ms()
    message_id = new_id("msg")
    payload = {"type": events.TEST, "endpoint_id": endpoint_id, "timestamp": iso(now)}
    async with db.write() as conn:
        await _get(conn, team_id, endpoint_id)
        await webhook_messages.insert_many(
            conn,
            [
                webhook_messages.NewMessage(
                    message_id, team_id, endpoint_id, events.TEST, None, None, None, _encode(payload)
                )
            ],
            now,
        )
    return {"message_id": message_id, "status": "queued"}


async def recover(db: Database, team_id: str, endpoint_id: str, body: Any) -> dict[str, Any]:
    since = body.get("since") if isinstance(body, dict) else None
    since_ms = _parse_time(since, "since")
    async with db.write() as conn:
        await _get(conn, team_id, endpoint_id)
        count = await webhook_messages.requeue(
            conn, team_id, endpoint_id=endpoint_id, since_ms=since_ms, now_ms=now_ms()
        )
    return {"endpoint_id": endpoint_id, "requeued": count}


async def resend(db: Database, team_id: str, message_id: str) -> dict[str, Any]:
    async with db.write() as conn:
        count = await webhook_messages.requeue(conn, team_id, message_id=message_id, now_ms=now_ms())
    if count == 0:
        raise NotFound(f"no webhook message {message_id!r} (or its payload has been pruned)")
    return {"message_id": message_id, "status": "pending"}


def _parse_time(value: Any, name: str) -> int:
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' is required: an ISO 8601 time such as 2026-11-26T07:00:00Z")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"'{name}' is not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


async def list_messages(db: Database, team_id: str, query: dict[str, str]) -> dict[str, Any]:
    allowed = ("endpoint_id", "status", "namespace", "object_id", "since", "until", "limit", "before")
    unknown = [key for key in query if key not in allowed]
    if unknown:
        raise BadRequest(f"unknown filter {unknown[0]!r}; allowed: {', '.join(allowed)}")
    if query.get("status") not in (None, *STATUSES):
        raise BadRequest(f"'status' must be one of: {', '.join(STATUSES)}")
    try:
        limit = int(query.get("limit", "50"))
        before = int(query["before"]) if "before" in query else None
    except ValueError:
        raise BadRequest("'limit' and 'before' must be integers") from None
    if not 1 <= limit <= 500:
        raise BadRequest("'limit' must be between 1 and 500")
    if before is not None and not -(2**63) <= before < 2**63:
        raise BadRequest("'before' must be a cursor from a previous page's next_before")
    where = webhook_log.MessageFilter(
        endpoint_id=query.get("endpoint_id"),
        status=query.get("status"),
        namespace=query.get("namespace"),
        object_id=query.get("object_id"),
        since_ms=_parse_time(query["since"], "since") if "since" in query else None,
        until_ms=_parse_time(query["until"], "until") if "until" in query else None,
        before_seq=before,
    )
    async with db.read() as conn:
        found = await webhook_log.messages(conn, team_id, where, limit)
    data = [present_message(row) for row in found]
    next_cursor = str(found[-1]["seq"]) if len(found) == limit else None
    return {"data": data, "next_before": next_cursor}


STATUSES = (webhook_messages.PENDING, webhook_messages.DELIVERED, webhook_messages.FAILED)


def present_message(row: dict[str, Any]) -> dict[str, Any]:
    payload = row.pop("payload")
    row["payload"] = None if payload is None else msgspec.json.decode(payload)
    row["created_at"] = iso(row.pop("created_at_ms"))
    delivered = row.pop("delivered_at_ms")
    row["delivered_at"] = None if delivered is None else iso(delivered)
    upcoming = row.pop("next_attempt_ms")
    row["next_attempt_at"] = None if upcoming is None else iso(upcoming)
    for attempt in row["attempts"]:
        attempt["started_at"] = iso(attempt.pop("started_at_ms"))
    return row


def _encode(payload: dict[str, Any]) -> str:
    return msgspec.json.encode(payload).decode()


@dataclass(frozen=True)
class Event:
    team_id: str
    event_type: str
    namespace: str | None
    object_id: str | None
    version: int | None
    payload: dict[str, Any]


async def fan_out(
    conn: Any, occurred: list[Event] | Callable[[], list[Event]], now: int, teams: set[str] | None = None
) -> int:
    """Write one message per event and interested endpoint, in the caller's transaction.

    `occurred` may be a function that builds the events, with `teams` the teams they belong
    to: the events are then built only if one of those teams has an endpoint (a worker batch
    builds one event per decision, which is wasted work for teams without webhooks).
    A disabled endpoint gets its messages as `failed` ("endpoint disabled"), so that a
    `recover` after re-enabling it sends them.
    """
    if teams is None:
        assert not callable(occurred)
        teams = {e.team_id for e in occurred}
    if not teams:
        return 0
    endpoints = await webhook_endpoints.for_teams(conn, sorted(teams))
    if not endpoints:
        return 0
    if callable(occurred):
        occurred = occurred()
    by_team: dict[str, list[webhook_endpoints.Endpoint]] = {}
    for endpoint in endpoints:
        by_team.setdefault(endpoint.team_id, []).append(endpoint)
    messages = []
    for event in occurred:
        body = None
        for endpoint in by_team.get(event.team_id, ()):
            if not endpoint.wants(event.event_type, event.namespace):
                continue
            body = body or _encode(event.payload)
            messages.append(
                webhook_messages.NewMessage(
                    new_id("msg"),
                    event.team_id,
                    endpoint.id,
                    event.event_type,
                    event.namespace,
                    event.object_id,
                    event.version,
                    body,
                    status=webhook_messages.PENDING if endpoint.enabled else webhook_messages.FAILED,
                    last_error=None if endpoint.enabled else "endpoint disabled",
                )  # fmt: skip
            )
    await webhook_messages.insert_many(conn, messages, now)
    return len(messages)
