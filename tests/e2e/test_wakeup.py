"""A separate `vigil worker` starts on new jobs without waiting for its poll (PostgreSQL NOTIFY)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.helpers import create_key, free_port, start, vigil_env, wait_status


def test_separate_worker_is_woken_by_commits_not_by_its_poll(fresh_backend):
    if fresh_backend.name != "postgres":
        pytest.skip("SQLite has no notifications: `vigil serve` wakes its in-process worker directly")
    url = fresh_backend.database_url
    port = free_port()
    env = vigil_env(url, VIGIL_WORKER_POLL_INTERVAL_MS="120000")  # a poll would take two minutes
    api = start(["api", "--port", str(port)], env, fresh_backend.workdir / "api.log", port)
    worker = start(["worker", "--no-migrate"], env, fresh_backend.workdir / "worker.log")
    team = create_key(url, "wake")
    try:
        with httpx.Client(base_url=api.base_url, timeout=30) as client:
            time.sleep(1.0)  # the worker is idle, waiting on its poll
            for n in range(3):
                request_id = client.post(
                    "/v1/data/products", json={"data": {"id": f"w{n}"}}, headers=team.headers
                ).json()["requestId"]
                status = wait_status(client, "products", request_id, team.headers, timeout_s=20)
                assert status["status"] == "succeeded"
    finally:
        worker.stop()
        api.stop()
