"""Webhook delivery end to end: a real `vigil serve`, real receivers on 127.0.0.1."""

from __future__ import annotations

import base64
import time
from collections import defaultdict

import httpx
import pytest
import standardwebhooks
import svix.webhooks

from tests.helpers import Team, wait_status
from tests.receiver import Delivery, Receiver


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(**kwargs) -> Receiver:
        r = Receiver(**kwargs).start()
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


def create_endpoint(client: httpx.Client, team: Team, url: str, **fields) -> dict:
    answer = client.post("/v1/webhooks/endpoints", json={"url": url, **fields}, headers=team.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def ingest(client: httpx.Client, team: Team, objects: list[dict], namespace: str = "products") -> str:
    answer = client.post(f"/v1/data/{namespace}", json={"data": objects}, headers=team.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["requestId"]


def messages_when(client: httpx.Client, team: Team, query: str, predicate, timeout_s: float = 10.0) -> list[dict]:
    """The message log, polled until `predicate(messages)` holds (outcomes are recorded just after sending)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = client.get(f"/v1/webhooks/messages?{query}", headers=team.headers).json()["data"]
        if predicate(found):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.05)


def verifying(secret_box: dict, library: str):
    """A receiver that verifies each delivery with the named library and answers 401 if it fails."""

    def respond(delivery: Delivery, _):
        try:
            if library == "standardwebhooks":
                standardwebhooks.Webhook(secret_box["secret"]).verify(delivery.body, delivery.headers)
            else:
                svix.webhooks.Webhook(secret_box["secret"]).verify(delivery.body, delivery.headers)
        except Exception:
            return 401, {}, 0.0
        return 200, {}, 0.0

    return respond


def test_standardwebhooks_and_svix_receivers_verify_every_delivery(client, team, receiver):
    boxes = {"standardwebhooks": {}, "svix": {}}
    receivers = {name: receiver(respond=verifying(box, name)) for name, box in boxes.items()}
    for name, r in receivers.items():
        created = create_endpoint(client, team, r.url, event_types=["workflow.succeeded"])
        assert created["secret"].startswith("whsec_")
        boxes[name]["secret"] = created["secret"]
    request_id = ingest(client, team, [{"id": f"v{i}", "title": "Mug"} for i in range(5)])
    wait_status(client, "products", request_id, team.headers)
    for r in receivers.values():
        r.wait_for(lambda r: len(r.accepted()) == 5)
        assert all(d.status == 200 for d in r.deliveries), "a delivery failed verification"
        event = r.accepted()[0].event
        assert event["type"] == "workflow.succeeded" and event["namespace"] == "products"
        assert event["request_id"] == request_id
        assert event["output"] == {"labels": [], "actions": [], "fields": {}}
        assert set(event) >= {"type", "namespace", "id", "request_id", "url", "metadata", "output"}
        assert {d.headers["svix-id"] for d in r.accepted()} == {d.webhook_id for d in r.accepted()}

    # What the libraries reject: a tampered body, and a timestamp 10 minutes old.
    delivery = receivers["standardwebhooks"].accepted()[0]
    verifier = standardwebhooks.Webhook(boxes["standardwebhooks"]["secret"])
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        verifier.verify(delivery.body.replace(b"products", b"producks"), delivery.headers)
    old = str(int(time.time()) - 600)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        verifier.verify(delivery.body, {**delivery.headers, "webhook-timestamp": old})
    with pytest.raises(svix.webhooks.WebhookVerificationError):
        svix.webhooks.Webhook(boxes["svix"]["secret"]).verify(
            delivery.body, {**receivers["svix"].accepted()[0].headers, "svix-timestamp": old}
        )


def test_500_three_times_then_200_keeps_the_webhook_id_and_logs_every_attempt(client, team, receiver):
    def flaky(delivery: Delivery, r: Receiver):
        return (500 if len(r.deliveries) < 3 else 200), {}, 0.0

    r = receiver(respond=flaky)
    endpoint = create_endpoint(client, team, r.url, event_types=["workflow.succeeded"])
    ingest(client, team, [{"id": "flaky"}])
    r.wait_for(lambda r: len(r.accepted()) == 1)
    assert [d.status for d in r.deliveries] == [500, 500, 500, 200]
    assert len({d.webhook_id for d in r.deliveries}) == 1
    assert len({d.body for d in r.deliveries}) == 1
    (message,) = messages_when(
        client, team, f"endpoint_id={endpoint['id']}", lambda found: found and found[0]["status"] == "delivered"
    )
    assert message["id"] == r.deliveries[0].webhook_id
    assert message["status"] == "delivered" and message["attempt_count"] == 4
    assert [a["status_code"] for a in message["attempts"]] == [500, 500, 500, 200]
    assert message["attempts"][0]["error"] == "HTTP 500" and message["attempts"][0]["response_excerpt"] == "ok"
    health = client.get(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=team.headers).json()["health"]
    assert health["success_rate_24h"] == 0.25 and health["last_error"] == "HTTP 500"
    assert health["pending_messages"] == 0 and health["oldest_undelivered_age_s"] is None


def test_receiver_down_while_1000_objects_are_ingested_gets_everything_in_order(client, team, receiver):
    down = Receiver()  # not started: connections are refused
    endpoint = create_endpoint(client, team, down.url, event_types=["workflow.succeeded"])
    request_ids = []
    for batch in range(4):  # 1,000 objects: 250 ids, 4 versions each
        request_ids.append(ingest(client, team, [{"id": f"o{i}", "batch": batch} for i in range(250)]))
    for request_id in request_ids:
        assert wait_status(client, "products", request_id, team.headers)["status"] == "succeeded"
    attempted = messages_when(
        client,
        team,
        f"endpoint_id={endpoint['id']}&object_id=o0",
        lambda found: any("connection failed" in (a["error"] or "") for m in found for a in m["attempts"]),
    )
    assert all(m["status"] == "pending" for m in attempted)

    up = receiver(port=down.port, path=down.path)
    up.wait_for(lambda r: len({d.webhook_id for d in r.accepted()}) == 1000, timeout_s=60)
    versions = defaultdict(list)
    for delivery in up.accepted():
        versions[delivery.event["id"]].append(delivery.event["version"])
    assert len(versions) == 250
    for object_id, seen in versions.items():
        assert seen == sorted(seen), f"{object_id} arrived out of order: {seen}"
        assert sorted(set(seen)) == [1, 2, 3, 4]


def test_slow_endpoint_does_not_delay_a_healthy_one(client, team, receiver):
    slow = receiver(respond=lambda d, r: (200, {}, 30.0))
    healthy = receiver()
    create_endpoint(client, team, slow.url, event_types=["workflow.succeeded"])
    create_endpoint(client, team, healthy.url, event_types=["workflow.succeeded"])
    started = time.monotonic()
    ingest(client, team, [{"id": f"s{i}"} for i in range(40)])
    healthy.wait_for(lambda r: len(r.accepted()) == 40, timeout_s=10)
    assert time.monotonic() - started < 10
    assert len(slow.accepted()) == 0  # still hanging (or timed out), and it held nobody else up


def test_failing_message_holds_back_its_own_object_only(client, team, receiver):
    def refuse_first_version_of_a(delivery: Delivery, r: Receiver):
        event = delivery.event
        return (503 if event["id"] == "a" and event["version"] == 1 else 200), {}, 0.0

    r = receiver(respond=refuse_first_version_of_a)
    create_endpoint(client, team, r.url, event_types=["workflow.succeeded"])
    ingest(client, team, [{"id": "a"}, {"id": "b"}])
    ingest(client, team, [{"id": "a"}, {"id": "b"}])
    r.wait_for(lambda r: sorted((d.event["id"], d.event["version"]) for d in r.accepted()) == [("b", 1), ("b", 2)])
    assert not any(d.event["id"] == "a" and d.status == 200 for d in r.deliveries)
    # the schedule runs out (≈ 10 s): a@1 is failed, and a@2 goes out after it
    r.wait_for(lambda r: ("a", 2) in {(d.event["id"], d.event["version"]) for d in r.accepted()}, timeout_s=30)


def test_endpoint_management_filters_headers_rotation_and_test_event(client, team, receiver):
    r = receiver()
    created = create_endpoint(
        client, team, r.url, description="orders", namespaces=["users"], headers={"Authorization": "Bearer mine"}
    )
    endpoint_id = created["id"]
    got = client.get(f"/v1/webhooks/endpoints/{endpoint_id}", headers=team.headers).json()
    assert "secret" not in got and got["namespaces"] == ["users"] and got["health"]["disabled"] is False
    assert [e["id"] for e in client.get("/v1/webhooks/endpoints", headers=team.headers).json()["data"]] == [endpoint_id]

    products = ingest(client, team, [{"id": "not-for-this-endpoint"}])
    users = ingest(client, team, [{"id": "u1"}], namespace="users")
    wait_status(client, "products", products, team.headers)
    wait_status(client, "users", users, team.headers)
    r.wait_for(lambda r: {d.event["type"] for d in r.accepted()} == {"workflow.succeeded", "request.completed"})
    assert {d.event.get("namespace") for d in r.accepted()} == {"users"}
    assert all(d.headers["authorization"] == "Bearer mine" for d in r.accepted())
    completed = next(d.event for d in r.accepted() if d.event["type"] == "request.completed")
    assert completed == {**completed, "request_id": users, "status": "succeeded", "object_count": 1, "failed_count": 0}

    rotated = client.post(f"/v1/webhooks/endpoints/{endpoint_id}/rotate-secret", headers=team.headers).json()
    assert rotated["secret"] != created["secret"]
    assert client.post(f"/v1/webhooks/endpoints/{endpoint_id}/test", headers=team.headers).status_code == 200
    r.wait_for(lambda r: any(d.event["type"] == "webhook.test" for d in r.accepted()))
    test_delivery = next(d for d in r.accepted() if d.event["type"] == "webhook.test")
    assert len(test_delivery.headers["webhook-signature"].split(" ")) == 2
    for secret in (created["secret"], rotated["secret"]):  # both the old and the new secret verify
        standardwebhooks.Webhook(secret).verify(test_delivery.body, test_delivery.headers)

    patched = client.patch(
        f"/v1/webhooks/endpoints/{endpoint_id}", json={"namespaces": None, "enabled": False}, headers=team.headers
    ).json()
    assert patched["namespaces"] is None and patched["enabled"] is False
    assert client.delete(f"/v1/webhooks/endpoints/{endpoint_id}", headers=team.headers).status_code == 200
    assert client.get(f"/v1/webhooks/endpoints/{endpoint_id}", headers=team.headers).status_code == 404


def test_410_disables_the_endpoint_and_recover_sends_again(client, team, receiver):
    gone = {"yes": True}
    r = receiver(respond=lambda d, r: ((410 if gone["yes"] else 200), {}, 0.0))
    endpoint = create_endpoint(client, team, r.url, event_types=["workflow.succeeded"])
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    ingest(client, team, [{"id": "g1"}])
    r.wait_for(lambda r: len(r.deliveries) == 1)
    deadline = time.monotonic() + 10
    while (state := client.get(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=team.headers).json())["enabled"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "410" in state["disabled_reason"]
    ingest(client, team, [{"id": "g2"}])  # while disabled: recorded as failed, not sent
    time.sleep(1.0)
    assert len(r.deliveries) == 1

    gone["yes"] = False
    client.patch(f"/v1/webhooks/endpoints/{endpoint['id']}", json={"enabled": True}, headers=team.headers)
    recovered = client.post(
        f"/v1/webhooks/endpoints/{endpoint['id']}/recover", json={"since": since}, headers=team.headers
    ).json()
    assert recovered["requeued"] == 2
    r.wait_for(lambda r: {d.event["id"] for d in r.accepted()} == {"g1", "g2"})

    message_id = r.accepted()[0].webhook_id
    assert client.post(f"/v1/webhooks/messages/{message_id}/resend", headers=team.headers).status_code == 200
    r.wait_for(lambda r: [d.webhook_id for d in r.accepted()].count(message_id) == 2)


def test_429_retry_after_is_honoured(client, team, receiver):
    r = receiver(respond=lambda d, r: (429, {"Retry-After": "2"}, 0.0) if not r.deliveries else (200, {}, 0.0))
    create_endpoint(client, team, r.url, event_types=["workflow.succeeded"])
    ingest(client, team, [{"id": "slowdown"}])
    r.wait_for(lambda r: len(r.accepted()) == 1, timeout_s=15)
    first, second = r.deliveries
    assert second.received_at - first.received_at >= 1.9


def test_webhook_routes_need_the_admin_scope_and_hide_other_teams(client, team, backend, receiver):
    from tests.helpers import create_key

    writer = create_key(backend.database_url, team.name, ["data:write", "data:read"])
    assert client.get("/v1/webhooks/endpoints", headers=writer.headers).status_code == 403
    endpoint = create_endpoint(client, team, receiver().url)
    other = create_key(backend.database_url, team.name + "-x")
    assert client.get(f"/v1/webhooks/endpoints/{endpoint['id']}", headers=other.headers).status_code == 404
    assert client.get("/v1/webhooks/endpoints", headers=other.headers).json()["data"] == []
    bad = client.post("/v1/webhooks/endpoints", json={"url": "ftp://x"}, headers=team.headers)
    assert bad.status_code == 400 and "http" in bad.json()["error"]["message"]
    bad = client.post("/v1/webhooks/endpoints", json={"url": "http://x", "event_types": ["nope"]}, headers=team.headers)
    assert bad.status_code == 400
    bad = client.post(
        "/v1/webhooks/endpoints", json={"url": "http://x", "headers": {"webhook-id": "x"}}, headers=team.headers
    )
    assert bad.status_code == 400


def test_signature_is_standard_webhooks_hmac(client, team, receiver):
    import hashlib
    import hmac

    r = receiver()
    secret = create_endpoint(client, team, r.url, event_types=["workflow.succeeded"])["secret"]
    ingest(client, team, [{"id": "sig"}])
    r.wait_for(lambda r: len(r.accepted()) == 1)
    d = r.accepted()[0]
    signed = f"{d.headers['webhook-id']}.{d.headers['webhook-timestamp']}.".encode() + d.body
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert d.headers["webhook-signature"] == expected
    assert abs(int(d.headers["webhook-timestamp"]) - time.time()) < 60


def test_endpoint_health_is_in_metrics(client, team, receiver):
    r = receiver(respond=lambda d, r: (500, {}, 0.0))
    endpoint = create_endpoint(client, team, r.url, event_types=["workflow.succeeded"])
    ingest(client, team, [{"id": "m1"}])
    r.wait_for(lambda r: len(r.deliveries) >= 2)
    deadline = time.monotonic() + 10
    while True:
        text = client.get("/metrics").text
        line = f'vigil_webhook_endpoint_pending_messages{{endpoint_id="{endpoint["id"]}"}} 1.0'
        rate = f'vigil_webhook_endpoint_success_rate_24h{{endpoint_id="{endpoint["id"]}"}} 0.0'
        if line in text and rate in text:
            break
        assert time.monotonic() < deadline, text[-2000:]
        time.sleep(0.1)
    assert f'vigil_webhook_endpoint_disabled{{endpoint_id="{endpoint["id"]}"}} 0.0' in text
    assert f'vigil_webhook_endpoint_oldest_undelivered_seconds{{endpoint_id="{endpoint["id"]}"}}' in text
    assert "vigil_webhook_deliveries_total" in text or "vigil_webhook_delivery_seconds" in text


def test_an_import_announces_request_completed(client, team, receiver):
    r = receiver()
    create_endpoint(client, team, r.url, event_types=["request.completed"])
    created = client.post("/v1/data/products/requests/upload-url", headers=team.headers).json()
    body = b'{"id": "i1"}\n{"id": "i2"}\nnot json\n'
    assert httpx.put(created["upload_url"], content=body, timeout=30).status_code == 200
    r.wait_for(lambda r: len(r.accepted()) == 1, timeout_s=60)
    event = r.accepted()[0].event
    assert event["type"] == "request.completed" and event["request_id"] == created["requestId"]
    assert event["status"] == "succeeded" and event["object_count"] == 2


def test_an_answer_holding_a_nul_byte_is_logged(client, team, receiver):
    r = receiver(respond=lambda d, r: (200, {}, 0.0), answer_body=b"ok\x00done")
    endpoint = create_endpoint(client, team, r.url, event_types=["workflow.succeeded"])
    ingest(client, team, [{"id": "nul-answer"}])
    (message,) = messages_when(
        client, team, f"endpoint_id={endpoint['id']}", lambda found: found and found[0]["status"] == "delivered"
    )
    assert message["attempts"][0]["response_excerpt"] == "ok\ufffddone"
