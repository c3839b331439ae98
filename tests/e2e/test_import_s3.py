"""Bulk import with S3-compatible storage (moto's server mode, a real subprocess on 127.0.0.1):
the SDK gets a real presigned S3 upload URL, httpx PUTs the file to S3, Vigil notices it,
reads it from the bucket, and hands out a presigned S3 URL of the results file."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from safetykit import Safetykit

from tests.blobs.support import S3Server, numbered_lines, start_moto
from tests.conftest import drop_backend, make_backend
from tests.helpers import Process, create_key, free_port, query, start, vigil_env


@pytest.fixture(scope="module")
def s3(tmp_path_factory) -> Iterator[S3Server]:
    yield from start_moto(tmp_path_factory.mktemp("moto") / "moto.log")


@pytest.fixture(scope="module")
def s3_vigil(backend, s3, tmp_path_factory) -> Iterator[tuple[Process, str, str]]:
    chosen = make_backend(backend.name, tmp_path_factory.mktemp(f"s3-{backend.name}"))
    bucket = s3.make_bucket()
    port = free_port()
    env = vigil_env(
        chosen.database_url,
        VIGIL_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        VIGIL_WORKER_POLL_INTERVAL_MS="20",
        **s3.env(bucket),
    )
    process = start(["serve", "--port", str(port)], env, chosen.workdir / "serve.log", port)
    yield process, chosen.database_url, bucket
    process.stop()
    drop_backend(chosen)


def _wait(client: Safetykit, request_id: str) -> object:
    deadline = time.monotonic() + 60
    while True:
        status = client.data.get_download_url(request_id, namespace="products")
        if status.status in ("succeeded", "failed") or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def test_sdk_import_through_s3_presigned_urls(s3, s3_vigil):
    server, url, bucket = s3_vigil
    team = create_key(url, "s3")
    with Safetykit(api_key=team.key, base_url=server.base_url) as client:
        created = client.data.create_upload_url("products")
        assert created.upload_url.startswith(s3.endpoint) and "X-Amz-Signature" in created.upload_url
        assert client.data.get_status(created.request_id, namespace="products").status == "uploading"
        body = numbered_lines(2000, {10: b"nope"})
        assert httpx.put(created.upload_url, content=body).status_code == 200

        done = _wait(client, created.request_id)
        assert done.status == "succeeded" and done.data_count == 2000
        assert done.data_url.startswith(s3.endpoint)
        assert len(client.data.get_status(created.request_id, namespace="products").data) == 1999
    lines = [json.loads(line) for line in httpx.get(done.data_url).text.splitlines()]
    assert [line["line"] for line in lines] == list(range(1, 2001)) and "error" in lines[9]
    assert (
        query(url, "SELECT count(*) AS n FROM object_versions WHERE request_id = :r", {"r": created.request_id})[0].n
        == 1999
    )
    row = query(url, "SELECT bytes_uploaded, lines_read FROM imports WHERE request_id = :r", {"r": created.request_id})[
        0
    ]
    assert (row.bytes_uploaded, row.lines_read) == (len(body), 2000)


def test_gzip_object_in_s3_is_read_decompressed(s3_vigil):
    server, url, _ = s3_vigil
    team = create_key(url, "s3gz")
    with Safetykit(api_key=team.key, base_url=server.base_url) as client:
        created = client.data.create_upload_url("products")
        packed = gzip.compress(numbered_lines(300, prefix="z"))
        assert httpx.put(created.upload_url, content=packed, headers={"Content-Encoding": "gzip"}).status_code == 200
        done = _wait(client, created.request_id)
    assert done.status == "succeeded" and done.model_extra["lines_accepted"] == 300
