"""A worker killed with SIGKILL mid-delivery and restarted: every message still arrives."""

from __future__ import annotations

import time

import httpx

from tests.helpers import create_key, free_port, query, start, vigil_env, wait_status
from tests.receiver import Receiver


def test_worker_sigkill_mid_delivery_then_restart_loses_nothing(fresh_backend):
    url = fresh_backend.database_url
    port = free_port()
    env = vigil_env(
        url,
        VIGIL_WEBHOOK_TIMEOUT_S="1",  # a claimed message's lease: 2 × 1 + 5 = 7 s
        VIGIL_WEBHOOK_ENDPOINT_CONCURRENCY="4",
        VIGIL_WORKER_POLL_INTERVAL_MS="20",
    )
    receiver = Receiver(respond=lambda d, r: (200, {}, 0.1)).start()
    api = start(["api", "--port", str(port)], env, fresh_backend.workdir / "api.log", port)
    team = create_key(url, "crash")
    worker = None
    try:
        with httpx.Client(base_url=api.base_url, timeout=30) as client:
            endpoint = client.post(
                "/v1/webhooks/endpoints",
                json={"url": receiver.url, "event_types": ["workflow.succeeded"]},
                headers=team.headers,
            )
            assert endpoint.status_code == 200
            request_ids = [
                client.post(
                    "/v1/data/products", json={"data": [{"id": f"w{b}-{i}"} for i in range(100)]}, headers=team.headers
                ).json()["requestId"]
                for b in range(3)
            ]
            worker = start(["worker", "--no-migrate"], env, fresh_backend.workdir / "worker1.log")
            receiver.wait_for(lambda r: len(r.deliveries) >= 30)
            worker.kill()
            in_flight = query(url, "SELECT count(*) AS n FROM webhook_messages WHERE lock_token IS NOT NULL")[0].n
            undelivered = query(url, "SELECT count(*) AS n FROM webhook_messages WHERE status = 'pending'")[0].n
            assert in_flight > 0, "the worker was not caught mid-delivery"
            assert undelivered > 0

            worker = start(["worker", "--no-migrate"], env, fresh_backend.workdir / "worker2.log")
            for request_id in request_ids:
                assert wait_status(client, "products", request_id, team.headers)["status"] == "succeeded"
            receiver.wait_for(lambda r: len({d.webhook_id for d in r.accepted()}) == 300, timeout_s=60)
        ids = {d.event["id"] for d in receiver.accepted()}
        assert ids == {f"w{b}-{i}" for b in range(3) for i in range(100)}
        # Deliveries the killed worker made but never recorded go out again once their lease
        # ends (at-least-once): then every message is recorded as delivered.
        deadline = time.monotonic() + 30
        while True:
            statuses = query(url, "SELECT status, count(*) AS n FROM webhook_messages GROUP BY status")
            if [(row.status, row.n) for row in statuses] == [("delivered", 300)] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert [(row.status, row.n) for row in statuses] == [("delivered", 300)]
    finally:
        if worker is not None:
            worker.stop()
        api.stop()
        receiver.stop()
