"""Answers of the webhook API (`client.webhooks`) [Vigil extension], and the verified event."""

from __future__ import annotations

from typing import Any

from vigil.client._models import Model
from vigil.client.types.data import Output

__all__ = [
    "Attempt",
    "Endpoint",
    "EndpointDeleted",
    "EndpointHealth",
    "EndpointList",
    "Message",
    "MessagePage",
    "MessageQueued",
    "Recovered",
    "SecretRotated",
    "WebhookEvent",
]


class EndpointHealth(Model):
    success_rate_24h: float | None
    attempts_24h: int
    last_error: str | None
    last_error_at: str | None
    pending_messages: int
    oldest_undelivered_age_s: float | None
    failing_since: str | None
    disabled: bool


class Endpoint(Model):
    id: str
    url: str
    description: str
    event_types: list[str] | None  # None: every event
    namespaces: list[str] | None  # None: every namespace
    headers: dict[str, str]
    enabled: bool
    disabled_reason: str | None
    created_at: str
    updated_at: str
    health: EndpointHealth | None  # on reads, not on create/update
    secret: str | None  # only in the answer to create: keep it


class EndpointList(Model):
    data: list[Endpoint]


class EndpointDeleted(Model):
    id: str
    deleted: bool


class SecretRotated(Model):
    id: str
    secret: str
    previous_secret_expires_at: str  # the old secret signs beside the new one until then


class MessageQueued(Model):
    """`…/test` and `…/resend`: the message that will go out."""

    message_id: str
    status: str


class Recovered(Model):
    endpoint_id: str
    requeued: int


class Attempt(Model):
    attempt: int
    started_at: str
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response_excerpt: str | None  # the first 1 KiB of the answer


class Message(Model):
    id: str
    endpoint_id: str
    event_type: str
    namespace: str | None
    object_id: str | None
    version: int | None
    status: str  # "pending" | "delivered" | "failed"
    attempt_count: int
    last_status_code: int | None
    last_error: str | None
    payload: dict[str, Any] | None  # the event; None once pruned
    created_at: str
    delivered_at: str | None
    next_attempt_at: str | None
    attempts: list[Attempt]


class MessagePage(Model):
    data: list[Message]
    next_before: str | None  # pass as `before` for the next page; None on the last one


class WebhookEvent(Model):
    """A verified delivery's event. `webhook_id` (the same on every retry of one message: use
    it to drop duplicates) and `webhook_timestamp` come from its headers."""

    type: str  # workflow.succeeded | workflow.failed | request.completed | webhook.test
    namespace: str | None
    id: str | None  # the object's id
    request_id: str | None
    url: str | None
    metadata: dict[str, Any] | None
    output: Output | None
    error: str | None
    version: int | None
    timestamp: str | None

    def __init__(self, raw: dict[str, Any], webhook_id: str = "", webhook_timestamp: int = 0) -> None:
        super().__init__(raw)
        object.__setattr__(self, "webhook_id", webhook_id)
        object.__setattr__(self, "webhook_timestamp", webhook_timestamp)
