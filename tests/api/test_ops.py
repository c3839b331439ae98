"""/healthz, /readyz, /metrics, request ids, and docs pages."""

from __future__ import annotations

import concurrent.futures
import re
import time

import httpx

from tests.helpers import free_port, start, vigil_env


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readyz_is_503_and_says_why_when_migrations_are_missing(fresh_backend):
    port = free_port()
    env = vigil_env(fresh_backend.database_url)
    process = start(["api", "--port", str(port), "--no-migrate"], env, fresh_backend.workdir / "api.log")
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, process.log()
                time.sleep(0.05)
        assert answer.status_code == 503
        assert "vigil migrate" in answer.json()["problems"][0]
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    finally:
        process.stop()


def test_metrics_count_requests_by_route_and_status_and_objects_ingested(client, team):
    before = client.get("/metrics").text
    client.post("/v1/data/products", json={"data": [{"id": "m1"}, {"id": "m2"}]}, headers=team.headers)
    client.post("/v1/data/products", json={"data": [{"title": "no id"}]}, headers=team.headers)
    after = client.get("/metrics").text
    route = "/v1/data/{namespace}"
    assert (
        metric(after, "vigil_http_requests_total", route=route, status="200")
        - metric(before, "vigil_http_requests_total", route=route, status="200")
        == 1
    )
    assert (
        metric(after, "vigil_http_requests_total", route=route, status="400")
        - metric(before, "vigil_http_requests_total", route=route, status="400")
        == 1
    )
    assert metric(after, "vigil_objects_ingested_total") - metric(before, "vigil_objects_ingested_total") == 2
    assert re.search(r'^vigil_queue_depth\{kind="evaluate"\} \d', after, re.M)
    assert "vigil_evaluation_seconds_bucket" in after and "vigil_decision_lag_seconds_count" in after


def test_concurrent_single_posts_share_commits(server, team):
    """Group commit: many concurrent one-object POSTs take fewer transactions than requests."""
    with httpx.Client(base_url=server.base_url) as http:
        before = http.get("/metrics").text

    def send(n: int) -> int:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            return http.post("/v1/data/products", json={"data": {"id": f"g{n}"}}, headers=team.headers).status_code

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        assert set(pool.map(send, range(400))) == {200}
    with httpx.Client(base_url=server.base_url) as http:
        after = http.get("/metrics").text
    commits = metric(after, "vigil_ingest_commit_submissions_count") - metric(
        before, "vigil_ingest_commit_submissions_count"
    )
    submissions = metric(after, "vigil_ingest_commit_submissions_sum") - metric(
        before, "vigil_ingest_commit_submissions_sum"
    )
    assert submissions == 400
    assert commits < 400


def test_request_id_is_echoed_or_made(client):
    assert client.get("/healthz", headers={"x-request-id": "abc-123"}).headers["x-request-id"] == "abc-123"
    assert client.get("/healthz").headers["x-request-id"].startswith("http_")


def test_the_ingest_route_echoes_or_makes_request_ids_on_answers_and_errors(client, team):
    """POST /v1/data/{ns} is served in front of Starlette (api/ingest_endpoint.py): same ids."""
    ok = client.post(
        "/v1/data/products", json={"data": {"id": "rid-1"}}, headers={**team.headers, "x-request-id": "abc-9"}
    )
    assert ok.status_code == 200 and ok.headers["x-request-id"] == "abc-9"
    assert ok.json()["requestId"].startswith("req_") and ok.headers["content-type"] == "application/json"
    refused = client.post("/v1/data/products", json={"data": {"id": "rid-2"}})
    assert refused.status_code == 401 and refused.headers["x-request-id"].startswith("http_")
    assert refused.headers["x-should-retry"] == "false" and refused.json()["error"]["type"] == "unauthorized"
    # Other methods on that path are still Starlette's: 405 with the methods allowed.
    wrong = client.get("/v1/data/products", headers=team.headers)
    assert wrong.status_code == 405 and "POST" in wrong.headers["allow"]
    assert wrong.headers["x-request-id"].startswith("http_")


def test_docs_page_and_openapi_are_served(client):
    assert client.get("/openapi.json").json()["openapi"].startswith("3.")
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
