"""Bulk import through the HTTP API of a real `vigil serve`: the upload URL, Vigil's own signed
upload URL, per-line errors, the results file and its download URL (spec §3)."""

from __future__ import annotations

import gzip
import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.blobs.support import create_upload, jsonl, numbered_lines, wait_import
from tests.helpers import create_key, query

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_upload_url_answer_has_the_spec_shape_and_the_request_waits_uploading(backend, team, client):
    created = create_upload(client, "products", team.headers)
    assert set(created) == {"status", "requestId", "objectKey", "upload_url", "expires_at"}
    assert created["status"] == "pending_upload"
    assert re.match(r"^req_[0-9a-z]{26}$", created["requestId"])
    assert created["objectKey"] == f"{team.team_id}/data-api-request-input/products/{created['requestId']}.jsonl"
    assert ISO_MS.match(created["expires_at"])
    url = urlsplit(created["upload_url"])
    assert url.path == f"/uploads/{created['requestId']}"
    assert set(parse_qs(url.query)) == {"expires", "signature"}

    status = client.get(f"/v1/data/products/requests/{created['requestId']}", headers=team.headers).json()
    assert status["status"] == "uploading" and status["data"] == [] and status["error_summary"] is None
    assert (status["lines_read"], status["lines_accepted"], status["lines_rejected"]) == (0, 0, 0)
    download = client.get(
        f"/v1/data/products/requests/{created['requestId']}/results/download-url", headers=team.headers
    ).json()
    assert (download["status"], download["data_url"], download["data_count"], download["data_expires_at"]) == (
        "uploading",
        None,
        None,
        None,
    )
    row = query(
        backend.database_url,
        "SELECT kind, status, total, pending FROM requests WHERE id = :id",
        {"id": created["requestId"]},
    )[0]
    assert tuple(row) == ("import", "uploading", 0, 1)


def test_import_alias_and_json_bodies(backend, team, client):
    alias = create_upload(client, "users", team.headers, path="import")
    assert alias["status"] == "pending_upload" and alias["objectKey"].endswith(f"/users/{alias['requestId']}.jsonl")
    empty = client.post("/v1/data/users/requests/upload-url", json={}, headers=team.headers)
    assert empty.status_code == 200
    with_schema = client.post(
        "/v1/data/users/requests/upload-url",
        json={"schema": {"name": {"display_hint": {"type": "title"}}}},
        headers=team.headers,
    )
    assert with_schema.status_code == 200
    assert client.get("/v1/data/users/settings", headers=team.headers).json()["schema"] == {
        "name": {"display_hint": {"type": "title"}}
    }
    wrong = client.post("/v1/data/users/requests/upload-url", json={"data": []}, headers=team.headers)
    assert wrong.status_code == 400 and "upload_url" in wrong.json()["error"]["message"]
    bad_ns = client.post("/v1/data/Users/requests/upload-url", headers=team.headers)
    assert bad_ns.status_code == 400
    assert client.post("/v1/data/users/requests/upload-url").status_code == 401
    reader = create_key(backend.database_url, f"{team.name}-r", ["data:read"])
    assert client.post("/v1/data/users/requests/upload-url", headers=reader.headers).status_code == 403
    count = query(backend.database_url, "SELECT count(*) AS n FROM requests WHERE team_id = :t", {"t": team.team_id})
    assert count[0].n == 3


def test_put_then_results_with_per_line_errors(backend, team, client):
    bad = {3: b"{not json", 5: b'{"title": "no id"}', 8: b'{"id": 8}', 9: b"[1, 2]"}
    body = numbered_lines(10, bad) + b"\n"  # a trailing blank line is skipped
    created = create_upload(client, "products", team.headers)
    put = httpx.put(created["upload_url"], content=body)
    assert put.status_code == 200, put.text
    assert put.json()["status"] == "ingesting" and put.json()["size"] == len(body)

    done = wait_import(client, "products", created["requestId"], team.headers)
    assert done["status"] == "succeeded"
    assert (done["lines_read"], done["lines_accepted"], done["lines_rejected"]) == (11, 6, 4)
    assert done["data_count"] == 10 and ISO_MS.match(done["data_expires_at"])
    summary = done["error_summary"]
    assert summary.startswith("4 of 10 lines were rejected")
    assert [int(n) for n in re.findall(r"line (\d+):", summary)] == [3, 5, 8, 9]
    assert "missing required field 'id'" in summary and "'id' must be a string" in summary

    status = client.get(f"/v1/data/products/requests/{created['requestId']}", headers=team.headers).json()
    assert [item["id"] for item in status["data"]] == ["p1", "p2", "p4", "p6", "p7", "p10"]
    assert status["error_summary"] == summary

    results = httpx.get(done["data_url"])
    assert results.status_code == 200
    lines = [json.loads(line) for line in results.text.splitlines()]
    assert [line["line"] for line in lines] == list(range(1, 11))
    assert [line.get("id") for line in lines] == ["p1", "p2", None, "p4", None, "p6", "p7", None, None, "p10"]
    assert lines[0]["output"] == {"labels": [], "actions": [], "fields": {}}
    assert lines[0]["url"].startswith(client.base_url.scheme)
    assert lines[2] == {"line": 3, "id": None, "output": None, "error": lines[2]["error"]}
    assert lines[2]["error"].startswith("not valid JSON")

    stored = query(
        backend.database_url,
        "SELECT object_id, version, request_idx FROM object_versions WHERE request_id = :r ORDER BY request_idx",
        {"r": created["requestId"]},
    )
    assert [tuple(r) for r in stored] == [
        ("p1", 1, 0),
        ("p2", 1, 1),
        ("p4", 1, 3),
        ("p6", 1, 5),
        ("p7", 1, 6),
        ("p10", 1, 9),
    ]
    errors = query(
        backend.database_url,
        "SELECT line FROM import_errors WHERE request_id = :r ORDER BY line",
        {"r": created["requestId"]},
    )
    assert [r.line for r in errors] == [3, 5, 8, 9]
    assert (
        query(
            backend.database_url, "SELECT count(*) AS n FROM jobs WHERE request_id = :r", {"r": created["requestId"]}
        )[0].n
        == 0
    )


def test_second_put_is_400_and_changes_nothing(backend, team, client):
    created = create_upload(client, "products", team.headers)
    assert httpx.put(created["upload_url"], content=jsonl([{"id": "a1"}])).status_code == 200
    again = httpx.put(created["upload_url"], content=jsonl([{"id": "b1"}, {"id": "b2"}]))
    assert again.status_code == 400
    assert "already used" in again.json()["error"]["message"]
    assert again.headers["x-should-retry"] == "false"
    done = wait_import(client, "products", created["requestId"], team.headers)
    assert done["status"] == "succeeded" and done["lines_accepted"] == 1
    stored = query(
        backend.database_url, "SELECT object_id FROM object_versions WHERE request_id = :r", {"r": created["requestId"]}
    )
    assert [r.object_id for r in stored] == ["a1"]


def test_altered_or_unsigned_upload_url_is_refused(team, client):
    created = create_upload(client, "products", team.headers)
    url = created["upload_url"]
    tampered = re.sub(r"expires=(\d+)", lambda m: f"expires={int(m.group(1)) + 60}", url)
    answer = httpx.put(tampered, content=b'{"id": "x"}\n')
    assert answer.status_code == 403 and "signature" in answer.json()["error"]["message"]
    assert httpx.put(url.split("?")[0], content=b'{"id": "x"}\n').status_code == 403
    status = client.get(f"/v1/data/products/requests/{created['requestId']}", headers=team.headers).json()
    assert status["status"] == "uploading"


def test_gzip_upload_with_content_encoding(backend, team, client):
    body = numbered_lines(500, prefix="g")
    created = create_upload(client, "products", team.headers)
    put = httpx.put(created["upload_url"], content=gzip.compress(body), headers={"Content-Encoding": "gzip"})
    assert put.status_code == 200, put.text
    assert put.json()["size"] == len(body)  # stored decompressed
    done = wait_import(client, "products", created["requestId"], team.headers)
    assert (done["status"], done["lines_accepted"], done["data_count"]) == ("succeeded", 500, 500)
    count = query(
        backend.database_url,
        "SELECT count(*) AS n FROM object_versions WHERE request_id = :r",
        {"r": created["requestId"]},
    )
    assert count[0].n == 500


def test_broken_gzip_is_400_and_the_url_stays_usable(team, client):
    created = create_upload(client, "products", team.headers)
    broken = httpx.put(created["upload_url"], content=b"\x1f\x8bnot gzip at all", headers={"Content-Encoding": "gzip"})
    assert broken.status_code == 400 and "gzip" in broken.json()["error"]["message"]
    retry = httpx.put(created["upload_url"], content=jsonl([{"id": "ok"}]))
    assert retry.status_code == 200
    assert wait_import(client, "products", created["requestId"], team.headers)["status"] == "succeeded"


def test_duplicate_ids_in_one_file_become_versions_in_line_order(backend, team, client):
    body = jsonl([{"id": "d", "v": 1}, {"id": "e"}, {"id": "d", "v": 2}, {"id": "d", "v": 3}])
    created = create_upload(client, "dups", team.headers)
    assert httpx.put(created["upload_url"], content=body).status_code == 200
    assert wait_import(client, "dups", created["requestId"], team.headers)["status"] == "succeeded"
    obj = client.get("/v1/data/dups/objects/d", headers=team.headers).json()
    assert obj["version"] == 3 and obj["data"]["v"] == 3
    rows = query(
        backend.database_url,
        "SELECT version, request_idx FROM object_versions WHERE request_id = :r AND object_id = 'd' ORDER BY version",
        {"r": created["requestId"]},
    )
    assert [tuple(r) for r in rows] == [(1, 0), (2, 2), (3, 3)]


def test_download_url_of_an_add_request_builds_its_results_file(backend, team, client):
    added = client.post("/v1/data/products", json={"data": [{"id": "x1"}, {"id": "x2"}]}, headers=team.headers)
    request_id = added.json()["requestId"]
    done = wait_import(client, "products", request_id, team.headers)
    assert done["status"] == "succeeded" and done["data_count"] == 2
    lines = [json.loads(line) for line in httpx.get(done["data_url"]).text.splitlines()]
    assert [line["id"] for line in lines] == ["x1", "x2"]
    assert set(lines[0]) == {"id", "url", "metadata", "output"}  # exactly a status `data` item
    assert (
        query(backend.database_url, "SELECT line_count FROM result_files WHERE request_id = :r", {"r": request_id})[
            0
        ].line_count
        == 2
    )


def test_unknown_request_and_other_teams_get_404(backend, team, client):
    created = create_upload(client, "products", team.headers)
    other = create_key(backend.database_url, f"{team.name}-other")
    path = f"/v1/data/products/requests/{created['requestId']}/results/download-url"
    assert client.get(path, headers=other.headers).status_code == 404
    missing = "/v1/data/products/requests/req_01h2m7qdmdjckc30e1mnq6xqfd/results/download-url"
    assert client.get(missing, headers=team.headers).status_code == 404


def test_a_line_holding_nul_is_rejected_with_the_add_paths_message(backend, team, client):
    body = b'{"id": "ok"}\n{"id": "bad", "t": ["x", "y\\u0000"]}\n{"id": "lit", "t": "\\\\u0000"}\n'
    created = create_upload(client, "nuls", team.headers)
    assert httpx.put(created["upload_url"], content=body).status_code == 200
    done = wait_import(client, "nuls", created["requestId"], team.headers)
    assert done["status"] == "succeeded"
    assert "line 2" in done["error_summary"] and "t[1] contains the NUL character" in done["error_summary"]
    status = client.get(f"/v1/data/nuls/requests/{created['requestId']}", headers=team.headers).json()
    assert sorted(item["id"] for item in status["data"]) == ["lit", "ok"]  # an escaped backslash is plain text
