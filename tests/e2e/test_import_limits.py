"""Import limits on a `vigil serve` of its own with small settings: an upload URL that expires
unused, a line over the object size limit, chunks of a few lines, and the inline 413."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.blobs.support import create_upload, jsonl, numbered_lines, wait_import
from tests.conftest import drop_backend, make_backend
from tests.helpers import Process, create_key, free_port, query, start, vigil_env

MAX_OBJECT_BYTES = 2048


@pytest.fixture(scope="module")
def small(backend, tmp_path_factory) -> Iterator[tuple[Process, str]]:
    chosen = make_backend(backend.name, tmp_path_factory.mktemp(f"limits-{backend.name}"))
    port = free_port()
    env = vigil_env(
        chosen.database_url,
        VIGIL_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        VIGIL_UPLOAD_URL_TTL_S="2",
        VIGIL_MAX_OBJECT_BYTES=str(MAX_OBJECT_BYTES),
        VIGIL_MAX_INLINE_RESULTS_BYTES="4096",
        VIGIL_IMPORT_CHUNK_LINES="7",
        VIGIL_WORKER_POLL_INTERVAL_MS="20",
        VIGIL_AUTH_CACHE_TTL_S="0",
    )
    process = start(["serve", "--port", str(port)], env, chosen.workdir / "serve.log", port)
    yield process, chosen.database_url
    process.stop()
    drop_backend(chosen)


def test_upload_url_expiring_unused_fails_the_request(small):
    server, url = small
    team = create_key(url, "expiry")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        created = create_upload(client, "products", team.headers)
        time.sleep(2.5)
        late = httpx.put(created["upload_url"], content=jsonl([{"id": "late"}]))
        assert late.status_code == 400 and "expired" in late.json()["error"]["message"]
        done = wait_import(client, "products", created["requestId"], team.headers, timeout_s=30)
        assert done["status"] == "failed"
        assert "upload URL expired" in done["error_summary"] and "before a file was uploaded" in done["error_summary"]
        assert done["data_url"] is None
        status = client.get(f"/v1/data/products/requests/{created['requestId']}", headers=team.headers).json()
        assert (status["status"], status["data"]) == ("failed", [])
    row = query(url, "SELECT uploaded_at_ms FROM imports WHERE request_id = :r", {"r": created["requestId"]})[0]
    assert row.uploaded_at_ms is None
    assert query(url, "SELECT count(*) AS n FROM jobs WHERE request_id = :r", {"r": created["requestId"]})[0].n == 0


def test_line_over_the_size_limit_is_rejected_and_the_rest_goes_on(small):
    server, url = small
    team = create_key(url, "oversize")
    big = json.dumps({"id": "big", "blob": "z" * (3 * MAX_OBJECT_BYTES)}).encode()
    huge = json.dumps({"id": "huge", "blob": "z" * (600 * 1024)}).encode()  # spans several read chunks
    body = numbered_lines(20, {4: big, 15: huge})
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        created = create_upload(client, "products", team.headers)
        assert httpx.put(created["upload_url"], content=body).status_code == 200
        done = wait_import(client, "products", created["requestId"], team.headers)
    assert (done["status"], done["lines_accepted"], done["lines_rejected"]) == ("succeeded", 18, 2)
    assert f"line 4: the line is {len(big)} bytes; at most {MAX_OBJECT_BYTES} are allowed" in done["error_summary"]
    assert f"line 15: the line is {len(huge)} bytes" in done["error_summary"]
    ids = query(
        url,
        "SELECT object_id FROM object_versions WHERE request_id = :r ORDER BY request_idx",
        {"r": created["requestId"]},
    )
    assert [r.object_id for r in ids] == [f"p{n}" for n in range(1, 21) if n not in (4, 15)]


def test_inline_results_over_the_limit_answer_413_pointing_to_the_download_url(small):
    server, url = small
    team = create_key(url, "inline")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        created = create_upload(client, "products", team.headers)
        assert httpx.put(created["upload_url"], content=numbered_lines(100)).status_code == 200
        done = wait_import(client, "products", created["requestId"], team.headers)
        assert done["status"] == "succeeded" and done["data_count"] == 100
        status = client.get(f"/v1/data/products/requests/{created['requestId']}", headers=team.headers)
        assert status.status_code == 413
        assert status.headers["x-should-retry"] == "false"
        assert "/results/download-url" in status.json()["error"]["message"]
        lines = httpx.get(done["data_url"]).text.splitlines()
    assert len(lines) == 100 and json.loads(lines[-1])["id"] == "p100"
    chunks = query(
        url, "SELECT lines_read, bytes_read FROM imports WHERE request_id = :r", {"r": created["requestId"]}
    )[0]
    assert chunks.lines_read == 100 and chunks.bytes_read == len(numbered_lines(100))
