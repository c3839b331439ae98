"""The official SafetyKit SDK (unchanged) drives a bulk import: create_upload_url, a PUT of the
file with httpx, get_status and get_download_url; 10,000 lines of which 5 are bad."""

from __future__ import annotations

import json
import re
import time

import httpx
from safetykit import Safetykit

from tests.blobs.support import numbered_lines
from tests.helpers import query

BAD_LINES = {17: b"{oops", 2500: b'{"id": 2500}', 5001: b'{"no_id": true}', 7777: b"null", 10000: b'{"id": ""}'}


def wait_terminal(client: Safetykit, request_id: str, namespace: str, timeout_s: float = 120.0):
    deadline = time.monotonic() + timeout_s
    while True:
        status = client.data.get_download_url(request_id, namespace=namespace)
        if status.status in ("succeeded", "failed") or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def test_sdk_imports_10000_lines_with_5_bad_ones(backend, server, team):
    body = numbered_lines(10_000, BAD_LINES)
    with Safetykit(api_key=team.key, base_url=server.base_url) as client:
        created = client.data.create_upload_url("products")
        assert created.status == "pending_upload"
        assert created.object_key.endswith(f"{created.request_id}.jsonl")
        assert client.data.get_status(created.request_id, namespace="products").status == "uploading"

        put = httpx.put(created.upload_url, content=body, headers={"Content-Type": "application/json"}, timeout=60)
        assert put.status_code == 200, put.text

        done = wait_terminal(client, created.request_id, "products")
        assert done.status == "succeeded"
        assert done.data_count == 10_000 and done.data_url and done.data_expires_at
        assert [int(n) for n in re.findall(r"line (\d+):", done.error_summary or "")] == sorted(BAD_LINES)
        assert done.model_extra["lines_accepted"] == 9_995

        status = client.data.get_status(created.request_id, namespace="products")
        assert status.status == "succeeded"
        assert len(status.data) == 9_995
        assert status.data[0].id == "p1" and status.data[-1].id == "p9999"
        assert all(item.output is not None for item in status.data)
        assert status.error_summary == done.error_summary

    lines = [json.loads(line) for line in httpx.get(done.data_url, timeout=60).text.splitlines()]
    assert [line["line"] for line in lines] == list(range(1, 10_001))
    assert sorted(line["line"] for line in lines if "error" in line) == sorted(BAD_LINES)
    assert lines[16]["error"].startswith("not valid JSON")

    url = backend.database_url
    stored = query(
        url,
        "SELECT count(*) AS n, max(version) AS v FROM object_versions WHERE request_id = :r",
        {"r": created.request_id},
    )[0]
    assert (stored.n, stored.v) == (9_995, 1)
    decided = query(
        url,
        "SELECT count(*) AS n FROM decisions d JOIN object_versions v ON v.team_id = d.team_id AND "
        "v.namespace = d.namespace AND v.object_id = d.object_id AND v.version = d.version WHERE v.request_id = :r",
        {"r": created.request_id},
    )[0].n
    assert decided == 9_995
    request = query(
        url, "SELECT total, pending, failed, status FROM requests WHERE id = :r", {"r": created.request_id}
    )[0]
    assert tuple(request) == (9_995, 0, 0, "succeeded")
