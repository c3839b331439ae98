"""Bulk import through the client against a real `vigil serve`: `upload()` of a JSONL file
(plain, gzip on the way, already gzip) or of an iterable, then `wait()`, then `iter_results()`."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

from tests.client.scripted import Answer, ScriptedServer
from tests.conftest import Backend
from tests.helpers import Process, Team, query
from vigil.client import AsyncVigil, Vigil

LINES = [
    b'{"id": "p1", "title": "Mug"}',
    b"{oops",  # line 2: not JSON, rejected alone
    b'{"id": "p3", "title": "Cup"}',
    b"",  # blank: skipped, no result
    b'{"id": "p5", "title": "Bowl"}',
]


def jsonl_file(tmp_path: Path, name: str = "products.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(b"\n".join(LINES) + b"\n")
    return path


def stored_ids(backend: Backend, team: Team, request_id: str) -> list[str]:
    rows = query(
        backend.database_url,
        "SELECT object_id FROM object_versions WHERE team_id = :t AND request_id = :r ORDER BY object_id",
        {"t": team.team_id, "r": request_id},
    )
    return [row.object_id for row in rows]


def check_results(client: Vigil, request_id: str) -> None:
    results = list(client.data.iter_results(request_id, "products"))
    assert [(r.line, r.id) for r in results] == [(1, "p1"), (2, None), (3, "p3"), (5, "p5")]
    assert results[1].output is None and (results[1].error or "").startswith("not valid JSON")
    assert all(r.output is not None and r.output.labels == [] for r in (results[0], results[2], results[3]))


def test_upload_a_jsonl_file_then_wait_then_iterate_results(
    vigil_client: Vigil, backend: Backend, team: Team, tmp_path: Path
) -> None:
    path = jsonl_file(tmp_path)
    upload = vigil_client.data.upload("products", path)
    assert upload.request_id.startswith("req_") and upload.object_key.endswith(f"{upload.request_id}.jsonl")
    assert upload.bytes_sent == path.stat().st_size
    assert upload.status == "ingesting" and upload.size == path.stat().st_size  # Vigil's own answer to the PUT

    status = vigil_client.data.wait(upload.request_id, "products", timeout=60)
    assert status.status == "succeeded"
    assert (status.lines_read, status.lines_accepted, status.lines_rejected) == (5, 3, 1)
    assert "line 2: not valid JSON" in (status.error_summary or "")
    assert [item.id for item in status.data] == ["p1", "p3", "p5"]

    download = vigil_client.data.get_download_url(upload.request_id, "products")
    assert download.status == "succeeded" and download.data_count == 4 and download.data_url
    check_results(vigil_client, upload.request_id)
    assert stored_ids(backend, team, upload.request_id) == ["p1", "p3", "p5"]


def test_upload_compressed_on_the_way_sends_gzip(
    vigil_client: Vigil, backend: Backend, team: Team, tmp_path: Path
) -> None:
    path = jsonl_file(tmp_path)
    upload = vigil_client.data.upload("products", str(path), gzip=True)
    assert upload.bytes_sent != path.stat().st_size  # the compressed size went over the wire
    assert upload.size == path.stat().st_size  # and Vigil stored the file decompressed
    assert vigil_client.data.wait(upload.request_id, "products", timeout=60).status == "succeeded"
    check_results(vigil_client, upload.request_id)
    assert stored_ids(backend, team, upload.request_id) == ["p1", "p3", "p5"]


def test_an_already_gzip_file_is_sent_as_it_is(vigil_client: Vigil, tmp_path: Path) -> None:
    path = tmp_path / "products.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl_file(tmp_path).read_bytes()))
    upload = vigil_client.data.upload("products", path)
    assert upload.bytes_sent == path.stat().st_size
    assert vigil_client.data.wait(upload.request_id, "products", timeout=60).status == "succeeded"
    check_results(vigil_client, upload.request_id)


def test_upload_objects_from_a_generator(vigil_client: Vigil, backend: Backend, team: Team) -> None:
    upload = vigil_client.data.upload("products", ({"id": f"g{n}", "n": n, "name": "café"} for n in range(1, 1001)))
    status = vigil_client.data.wait(upload.request_id, "products", timeout=120)
    assert status.status == "succeeded" and status.lines_accepted == 1000
    results = list(vigil_client.data.iter_results(upload.request_id, "products"))
    assert [r.id for r in results] == [f"g{n}" for n in range(1, 1001)]
    assert len(stored_ids(backend, team, upload.request_id)) == 1000


def test_async_upload_then_wait_then_iterate(server: Process, team: Team, tmp_path: Path) -> None:
    path = jsonl_file(tmp_path)

    async def go() -> list[tuple[int | None, str | None]]:
        async with AsyncVigil(api_key=team.key, base_url=server.base_url) as client:
            upload = await client.data.upload("products", path, gzip=True)
            status = await client.data.wait(upload.request_id, "products", timeout=60)
            assert status.status == "succeeded"
            return [(r.line, r.id) async for r in client.data.iter_results(upload.request_id, "products")]

    assert asyncio.run(go()) == [(1, "p1"), (2, None), (3, "p3"), (5, "p5")]


def test_the_upload_put_carries_no_api_key_and_a_content_length(scripted: ScriptedServer, tmp_path: Path) -> None:
    """Presigned S3 URLs refuse a foreign Authorization header and chunked bodies."""
    created = {
        "status": "pending_upload",
        "requestId": "req_1",
        "objectKey": "t/data-api-request-input/products/req_1.jsonl",
        "upload_url": f"{scripted.url}/bucket/req_1.jsonl?X-Amz-Signature=abc",
        "expires_at": "2030-01-01T00:00:00.000Z",
    }
    scripted.script(Answer(200, created), Answer(200, b""))
    path = jsonl_file(tmp_path)
    with Vigil(api_key="sk_test", base_url=scripted.url) as client:
        upload = client.data.upload("products", path)
    assert (upload.request_id, upload.bytes_sent) == ("req_1", path.stat().st_size)
    create, put = scripted.seen
    assert (create.method, create.path, create.body) == ("POST", "/v1/data/products/requests/upload-url", b"")
    assert (put.method, put.path) == ("PUT", "/bucket/req_1.jsonl?X-Amz-Signature=abc")
    assert "authorization" not in put.headers and "transfer-encoding" not in put.headers
    assert put.headers["content-length"] == str(path.stat().st_size) and put.body == path.read_bytes()


def test_a_failed_put_is_retried_with_the_whole_file_again(scripted: ScriptedServer, tmp_path: Path) -> None:
    created = {"requestId": "req_1", "objectKey": "k", "upload_url": f"{scripted.url}/up", "status": "pending_upload"}
    scripted.script(Answer(200, created), Answer(503, {"error": {"message": "busy"}}), Answer(200, b""))
    with Vigil(api_key="sk_test", base_url=scripted.url) as client:
        client.data.upload("products", [{"id": "a"}, b'{"id": "b"}\n'])
    first_put, second_put = scripted.seen[1:]
    assert first_put.body == second_put.body == b'{"id":"a"}\n{"id": "b"}\n'
    assert json.loads(first_put.body.splitlines()[0]) == {"id": "a"}
