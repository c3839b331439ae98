"""A worker killed with SIGKILL mid-evaluation loses nothing and applies nothing twice.

`vigil api` and `vigil worker` run as separate real processes on one database. The worker
takes small batches under a 1-second lease, is killed while it holds claimed jobs, and a new
worker finishes the queue: every accepted object reaches a terminal state with exactly one
decision per version.
"""

from __future__ import annotations

import time

import httpx

from tests.helpers import create_key, free_port, query, start, vigil_env, wait_status


def test_worker_sigkill_mid_evaluation_then_restart_loses_and_duplicates_nothing(fresh_backend):
    url = fresh_backend.database_url
    port = free_port()
    env = vigil_env(
        url,
        VIGIL_WORKER_BATCH_SIZE="5",
        VIGIL_JOB_LEASE_S="1",
        VIGIL_WORKER_POLL_INTERVAL_MS="20",
    )
    api = start(["api", "--port", str(port)], env, fresh_backend.workdir / "api.log", port)
    team = create_key(url, "crash")
    try:
        with httpx.Client(base_url=api.base_url, timeout=30) as client:
            request_ids = []
            for batch in range(20):
                # ids repeat across batches, so objects get several versions
                body = {"data": [{"id": f"obj-{(batch * 100 + i) % 1500}", "batch": batch} for i in range(100)]}
                answer = client.post("/v1/data/products", json=body, headers=team.headers)
                assert answer.status_code == 200
                request_ids.append(answer.json()["requestId"])

            held_by_killed_worker = 0
            for attempt in range(10):
                worker = start(["worker", "--no-migrate"], env, fresh_backend.workdir / f"worker{attempt}.log")
                # let it get going, then kill it while it holds claimed jobs
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    done = query(url, "SELECT count(*) AS n FROM decisions")[0].n
                    if done >= 100 * (attempt + 1):
                        break
                    time.sleep(0.01)
                worker.kill()
                held_by_killed_worker = query(url, "SELECT count(*) AS n FROM jobs WHERE lock_token IS NOT NULL")[0].n
                if held_by_killed_worker:
                    break
            assert held_by_killed_worker > 0, "never caught the worker holding a claim"
            remaining = query(url, "SELECT count(*) AS n FROM jobs")[0].n
            assert remaining > 0, "the worker finished everything before it was killed"

            survivor = start(["worker", "--no-migrate"], env, fresh_backend.workdir / "survivor.log")
            try:
                for request_id in request_ids:
                    assert (
                        wait_status(client, "products", request_id, team.headers, timeout_s=60)["status"] == "succeeded"
                    )
            finally:
                survivor.stop()

        versions = query(url, "SELECT count(*) AS n FROM object_versions")[0].n
        assert versions == 2000
        per_version = query(
            url,
            "SELECT v.object_id, v.version, count(d.version) AS n FROM object_versions v LEFT JOIN decisions d "
            "ON d.team_id = v.team_id AND d.namespace = v.namespace AND d.object_id = v.object_id "
            "AND d.version = v.version GROUP BY v.object_id, v.version",
        )
        assert len(per_version) == 2000
        assert all(row.n == 1 for row in per_version)
        assert query(url, "SELECT count(*) AS n FROM decisions")[0].n == 2000
        assert query(url, "SELECT count(*) AS n FROM jobs")[0].n == 0
        pending = query(url, "SELECT sum(pending) AS pend, sum(total) AS tot FROM requests")[0]
        assert (pending.pend, pending.tot) == (0, 2000)
        # the current decision of every object is its latest version's
        stale = query(
            url,
            "SELECT count(*) AS n FROM objects o LEFT JOIN decisions d ON d.team_id = o.team_id "
            "AND d.namespace = o.namespace AND d.object_id = o.object_id AND d.version = o.version "
            "WHERE d.version IS NULL",
        )[0].n
        assert stale == 0
    finally:
        api.stop()
