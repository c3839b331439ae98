"""`client.webhooks` (endpoints, message log) and `vigil.client.webhooks.verify`, against a real
`vigil serve` delivering to a real receiver: genuine deliveries verify, altered ones do not."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.receiver import Delivery, Receiver
from vigil.client import NotFoundError, Vigil, WebhookVerificationError
from vigil.client.types import WebhookEvent
from vigil.client.webhooks import verify

SIGNATURE_HEADERS = ("id", "timestamp", "signature")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


def only(headers: dict[str, str], family: str) -> dict[str, str]:
    """The delivery's headers with the other family of signature headers removed."""
    other = "svix" if family == "webhook" else "webhook"
    return {name: value for name, value in headers.items() if not name.startswith(f"{other}-")}


def delivered(receiver: Receiver, count: int = 1) -> list[Delivery]:
    receiver.wait_for(lambda r: len(r.accepted()) >= count, timeout_s=30)
    return receiver.accepted()


def test_verify_accepts_vigils_deliveries_with_either_header_family(vigil_client: Vigil, receiver: Receiver) -> None:
    endpoint = vigil_client.webhooks.endpoints.create(url=receiver.url, event_types=["workflow.succeeded"])
    assert endpoint.secret and endpoint.secret.startswith("whsec_")
    added = vigil_client.data.add("products", data={"id": "p1", "title": "Mug"})
    [delivery] = delivered(receiver)

    for family in ("webhook", "svix"):
        event = verify(delivery.body, only(delivery.headers, family), endpoint.secret)
        assert isinstance(event, WebhookEvent)
        assert (event.type, event.namespace, event.id, event.request_id) == (
            "workflow.succeeded", "products", "p1", added.request_id,
        )  # fmt: skip
        assert event.output is not None and event.output.labels == [] and event.version == 1
        assert event.webhook_id == delivery.headers["webhook-id"] and event.webhook_id.startswith("msg_")
        assert event.webhook_timestamp == int(delivery.headers["webhook-timestamp"])
    assert verify(delivery.body.decode(), delivery.headers, endpoint.secret).id == "p1"  # str bodies too


def test_verify_rejects_tampered_forged_and_stale_deliveries(vigil_client: Vigil, receiver: Receiver) -> None:
    endpoint = vigil_client.webhooks.endpoints.create(url=receiver.url, event_types=["workflow.succeeded"])
    vigil_client.data.add("products", data={"id": "p1", "price": 10})
    [delivery] = delivered(receiver)
    secret, body, headers = endpoint.secret or "", delivery.body, delivery.headers

    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify(body.replace(b'"p1"', b'"p2"'), headers, secret)
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify(body + b" ", headers, secret)
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify(body, {**headers, "webhook-id": "msg_other"}, secret)
    other = vigil_client.webhooks.endpoints.create(url=receiver.url + "/other")
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify(body, headers, other.secret or "")
    stamp = int(headers["webhook-timestamp"])
    with pytest.raises(WebhookVerificationError, match="s old"):
        verify(body, headers, secret, now_s=stamp + 301)
    with pytest.raises(WebhookVerificationError, match="in the future"):
        verify(body, headers, secret, now_s=stamp - 301)
    assert verify(body, headers, secret, now_s=stamp + 299).id == "p1"
    for missing in SIGNATURE_HEADERS:
        cut = {k: v for k, v in headers.items() if not k.endswith(f"-{missing}")}
        with pytest.raises(WebhookVerificationError, match=missing):
            verify(body, cut, secret)
    with pytest.raises(ValueError, match="whsec_"):
        verify(body, headers, "whsec_not base64!")


def test_after_a_rotation_both_secrets_verify(vigil_client: Vigil, receiver: Receiver) -> None:
    endpoint = vigil_client.webhooks.endpoints.create(url=receiver.url, event_types=["webhook.test"])
    rotated = vigil_client.webhooks.endpoints.rotate_secret(endpoint.id)
    assert rotated.id == endpoint.id and rotated.secret != endpoint.secret and rotated.previous_secret_expires_at
    vigil_client.webhooks.endpoints.send_test(endpoint.id)
    [delivery] = delivered(receiver)
    assert verify(delivery.body, delivery.headers, rotated.secret).type == "webhook.test"
    assert verify(delivery.body, delivery.headers, endpoint.secret or "").endpoint_id == endpoint.id


def test_endpoint_management(vigil_client: Vigil, receiver: Receiver) -> None:
    endpoints = vigil_client.webhooks.endpoints
    created = endpoints.create(
        url=receiver.url, namespaces=["products"], headers={"X-Team": "trust"}, description="moderation backend"
    )
    assert (created.namespaces, created.event_types, created.headers) == (["products"], None, {"X-Team": "trust"})
    assert created.enabled and created.description == "moderation backend"

    read = endpoints.get(created.id)
    assert read.secret is None and read.health is not None and read.health.pending_messages == 0
    assert [e.id for e in endpoints.list().data] == [created.id]

    changed = endpoints.update(created.id, enabled=False, event_types=["workflow.failed"])
    assert (changed.enabled, changed.disabled_reason, changed.event_types) == (
        False,
        "disabled by request",
        ["workflow.failed"],
    )
    assert endpoints.update(created.id, event_types=None, enabled=True).event_types is None  # None: every event

    assert endpoints.delete(created.id).deleted is True
    with pytest.raises(NotFoundError, match=created.id):
        endpoints.get(created.id)


def test_message_log_resend_and_recover(vigil_client: Vigil, receiver: Receiver) -> None:
    endpoint = vigil_client.webhooks.endpoints.create(url=receiver.url)
    queued = vigil_client.webhooks.endpoints.send_test(endpoint.id)
    assert queued.message_id.startswith("msg_") and queued.status == "queued"
    [first] = delivered(receiver)

    deadline = time.monotonic() + 10
    while (message := vigil_client.webhooks.messages.get(queued.message_id)).status != "delivered":
        assert time.monotonic() < deadline, message
        time.sleep(0.05)
    assert message.event_type == "webhook.test" and message.payload == first.event
    assert message.attempts[0].status_code == 204 and message.delivered_at

    page = vigil_client.webhooks.messages.list(endpoint_id=endpoint.id, status="delivered", limit=10)
    assert [m.id for m in page.data] == [queued.message_id] and page.next_before is None

    assert vigil_client.webhooks.messages.resend(queued.message_id).status == "pending"
    second = delivered(receiver, 2)[1]
    assert second.webhook_id == first.webhook_id  # the same message again: receivers drop it by id

    since = datetime.now(UTC) - timedelta(hours=1)
    recovered = vigil_client.webhooks.endpoints.recover(endpoint.id, since=since)
    assert (recovered.endpoint_id, recovered.requeued) == (endpoint.id, 0)  # nothing failed
    with pytest.raises(NotFoundError):
        vigil_client.webhooks.messages.resend("msg_nope")
