"""POST /v1/data/{namespace} and GET …/requests/{id}: answers, stored state, and errors."""

from __future__ import annotations

import concurrent.futures

import httpx

from tests.helpers import Team, create_key, query, wait_status


def post(
    client: httpx.Client, team: Team, body: object, namespace: str = "products", **kwargs: object
) -> httpx.Response:
    return client.post(f"/v1/data/{namespace}", json=body, headers=team.headers, **kwargs)  # type: ignore[arg-type]


def stored_versions(backend, team: Team, object_id: str, namespace: str = "products") -> list[int]:
    rows = query(
        backend.database_url,
        "SELECT version FROM object_versions WHERE team_id = :t AND namespace = :n AND object_id = :o ORDER BY version",
        {"t": team.team_id, "n": namespace, "o": object_id},
    )
    return [row.version for row in rows]


def count_rows(backend, table: str, team: Team) -> int:
    return query(backend.database_url, f"SELECT count(*) AS n FROM {table} WHERE team_id = :t", {"t": team.team_id})[
        0
    ].n


def test_add_answers_accepted_and_request_succeeds_with_one_item_per_object(client, team, backend):
    answer = post(client, team, {"data": [{"id": "a", "title": "Mug"}, {"id": "b", "price": 3}]})
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"requestId", "status"} and body["status"] == "accepted"
    assert body["requestId"].startswith("req_") and len(body["requestId"]) == 30

    status = wait_status(client, "products", body["requestId"], team.headers)
    assert status["status"] == "succeeded"
    assert status["namespace"] == "products" and status["request_id"] == body["requestId"]
    assert status["error_summary"] is None
    assert [item["id"] for item in status["data"]] == ["a", "b"]
    for item in status["data"]:
        assert item["output"] == {"labels": [], "actions": [], "fields": {}}
        assert item["url"].startswith("http://127.0.0.1:")
        assert item["metadata"] == {}
    assert stored_versions(backend, team, "a") == [1]
    assert count_rows(backend, "decisions", team) == 2


def test_single_object_body_is_accepted(client, team, backend):
    answer = post(client, team, {"data": {"id": "solo", "title": "x"}})
    assert answer.status_code == 200
    assert wait_status(client, "products", answer.json()["requestId"], team.headers)["status"] == "succeeded"
    assert stored_versions(backend, team, "solo") == [1]


def test_status_is_queued_or_later_and_data_empty_until_succeeded(client, team):
    answer = post(client, team, {"data": [{"id": f"q{i}"} for i in range(50)]})
    status = client.get(f"/v1/data/products/requests/{answer.json()['requestId']}", headers=team.headers).json()
    assert status["status"] in ("queued", "ingesting", "succeeded")
    if status["status"] != "succeeded":
        assert status["data"] == []


def test_same_id_three_times_keeps_three_versions_and_decision_of_the_third(client, team, backend):
    for title in ("a", "b", "c"):
        answer = post(client, team, {"data": {"id": "p1", "title": title}})
        assert answer.status_code == 200
    wait_status(client, "products", answer.json()["requestId"], team.headers)
    assert stored_versions(backend, team, "p1") == [1, 2, 3]
    obj = client.get("/v1/data/products/objects/p1", headers=team.headers).json()
    assert obj["version"] == 3 and obj["data"]["title"] == "c"
    assert obj["decision"]["version"] == 3 and obj["decision"]["status"] == "succeeded"


def test_same_id_sent_concurrently_from_several_clients_gets_distinct_versions(server, team, backend):
    def send(n: int) -> str:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            answer = post(http, team, {"data": {"id": "hot", "n": n}})
            assert answer.status_code == 200, answer.text
            return answer.json()["requestId"]

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        request_ids = list(pool.map(send, range(12)))
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        for request_id in request_ids:
            assert wait_status(http, "products", request_id, team.headers)["status"] == "succeeded"
        obj = http.get("/v1/data/products/objects/hot", headers=team.headers).json()
    assert stored_versions(backend, team, "hot") == list(range(1, 13))
    assert obj["version"] == 12 and obj["decision"]["version"] == 12
    # the latest state is the body of the highest version
    latest = query(
        backend.database_url,
        "SELECT data FROM object_versions WHERE team_id = :t AND object_id = 'hot' AND version = 12",
        {"t": team.team_id},
    )[0].data
    assert (latest if isinstance(latest, dict) else __import__("json").loads(latest))["n"] == obj["data"]["n"]
    decisions = query(
        backend.database_url,
        "SELECT version, count(*) AS n FROM decisions WHERE team_id = :t AND object_id = 'hot' GROUP BY version",
        {"t": team.team_id},
    )
    assert sorted((row.version, row.n) for row in decisions) == [(v, 1) for v in range(1, 13)]


def test_duplicate_ids_in_one_array_are_versions_in_array_order(client, team, backend):
    answer = post(client, team, {"data": [{"id": "d", "v": 1}, {"id": "e"}, {"id": "d", "v": 2}]})
    status = wait_status(client, "products", answer.json()["requestId"], team.headers)
    assert [item["id"] for item in status["data"]] == ["d", "e", "d"]
    assert stored_versions(backend, team, "d") == [1, 2]
    assert client.get("/v1/data/products/objects/d", headers=team.headers).json()["data"] == {"id": "d", "v": 2}


def test_missing_id_at_index_2_is_a_400_naming_it_and_stores_nothing(client, team, backend):
    answer = post(client, team, {"data": [{"id": "ok1"}, {"id": "ok2"}, {"title": "no id"}]})
    assert answer.status_code == 400
    assert answer.headers["x-should-retry"] == "false"
    error = answer.json()["error"]
    assert error["type"] == "invalid_request"
    assert "data[2]" in error["message"] and "'id'" in error["message"]
    assert error["details"] == [{"index": 2, "path": "data[2]", "problem": "missing required field 'id'"}]
    for table in ("objects", "object_versions", "requests", "jobs"):
        assert count_rows(backend, table, team) == 0


def test_every_bad_index_is_named(client, team):
    answer = post(client, team, {"data": [{"id": 1}, {"id": "fine"}, "text", {"id": ""}]})
    assert answer.status_code == 400
    assert [d["index"] for d in answer.json()["error"]["details"]] == [0, 2, 3]


def test_non_string_id_is_a_400(client, team, backend):
    answer = post(client, team, {"data": {"id": 12345}})
    assert answer.status_code == 400
    assert "'id' must be a string, got a number" in answer.json()["error"]["message"]
    assert count_rows(backend, "objects", team) == 0


def test_too_long_id_is_a_400(client, team):
    answer = post(client, team, {"data": {"id": "x" * 513}})
    assert answer.status_code == 400
    assert "at most 512" in answer.json()["error"]["message"]


def test_bad_namespace_name_is_a_400_that_says_the_rule(client, team, backend):
    for bad in ("Products", "_x", "a" * 65, "sp%20ace", "d%C3%A9j%C3%A0"):
        answer = client.post(f"/v1/data/{bad}", json={"data": {"id": "x"}}, headers=team.headers)
        assert answer.status_code == 400, bad
        assert "a-z, 0-9" in answer.json()["error"]["message"]
    assert count_rows(backend, "objects", team) == 0


def test_malformed_json_is_a_400(client, team, backend):
    answer = client.post("/v1/data/products", content=b'{"data": [{"id": "a"', headers=team.headers)
    assert answer.status_code == 400
    assert "not valid JSON" in answer.json()["error"]["message"]
    assert count_rows(backend, "objects", team) == 0


def test_wrong_shapes_are_400s_that_show_the_expected_shape(client, team):
    for body in ({"items": []}, {"data": 3}, {"data": []}, [1, 2]):
        answer = post(client, team, body)
        assert answer.status_code == 400, body
        assert "data" in answer.json()["error"]["message"]


def test_empty_body_is_a_400(client, team):
    answer = client.post("/v1/data/products", content=b"", headers={**team.headers, "Content-Type": "application/json"})
    assert answer.status_code == 400
    assert "empty" in answer.json()["error"]["message"]


def test_oversized_body_is_a_413_and_stores_nothing(client, team, backend):
    big = "x" * (900 * 1024)
    body = {"data": [{"id": f"big{i}", "blob": big} for i in range(12)]}  # ~10.8 MB > 10 MiB
    answer = post(client, team, body)
    assert answer.status_code == 413
    assert answer.headers["x-should-retry"] == "false"
    assert answer.json()["error"]["type"] == "too_large"
    assert count_rows(backend, "objects", team) == 0


def test_oversized_object_is_a_413_naming_its_index(client, team, backend):
    answer = post(client, team, {"data": [{"id": "small"}, {"id": "huge", "blob": "x" * (1024 * 1024)}]})
    assert answer.status_code == 413
    assert answer.json()["error"]["details"][0]["index"] == 1
    assert count_rows(backend, "objects", team) == 0


def test_more_than_1000_objects_is_a_413(client, team):
    answer = post(client, team, {"data": [{"id": str(i)} for i in range(1001)]})
    assert answer.status_code == 413
    assert "at most 1000" in answer.json()["error"]["message"]


def test_unknown_key_is_a_401(client, team):
    answer = client.post("/v1/data/products", json={"data": {"id": "a"}}, headers={"Authorization": "Bearer sk_nope"})
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "unauthorized"
    assert client.post("/v1/data/products", json={"data": {"id": "a"}}).status_code == 401


def test_missing_scope_is_a_403(client, backend, team):
    reader = create_key(backend.database_url, team.name, ["data:read"])
    answer = client.post("/v1/data/products", json={"data": {"id": "a"}}, headers=reader.headers)
    assert answer.status_code == 403
    assert "data:write" in answer.json()["error"]["message"]
    writer = create_key(backend.database_url, team.name, ["data:write"])
    request_id = post(client, writer, {"data": {"id": "a"}}).json()["requestId"]
    assert client.get(f"/v1/data/products/requests/{request_id}", headers=writer.headers).status_code == 403
    assert client.get(f"/v1/data/products/requests/{request_id}", headers=reader.headers).status_code == 200


def test_another_teams_request_and_object_are_404(client, team, backend):
    other = create_key(backend.database_url, team.name + "-other")
    request_id = post(client, team, {"data": {"id": "mine"}}).json()["requestId"]
    wait_status(client, "products", request_id, team.headers)
    assert client.get(f"/v1/data/products/requests/{request_id}", headers=other.headers).status_code == 404
    assert client.get("/v1/data/products/objects/mine", headers=other.headers).status_code == 404
    # the same request id under another namespace is not found either
    assert client.get(f"/v1/data/users/requests/{request_id}", headers=team.headers).status_code == 404


def test_unknown_request_is_a_404(client, team):
    answer = client.get("/v1/data/products/requests/req_01h2m7qdmdjckc30e1mnq6xqfd", headers=team.headers)
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "not_found"


def test_bodiless_post_with_json_content_type_is_a_clear_400(client, team):
    answer = client.post("/v1/data/products", headers={**team.headers, "Content-Type": "application/json"})
    assert answer.status_code == 400


def test_legacy_inline_schema_is_merged_into_settings(client, team):
    client.put(
        "/v1/data/legacy/settings",
        json={"schema": {"title": {"display_hint": {"type": "title"}}}},
        headers=team.headers,
    )
    body = {"data": {"id": "l1", "price": 3}, "schema": {"price": {"content_type": "metadata"}}}
    answer = post(client, team, body, namespace="legacy")
    assert answer.status_code == 200
    settings = client.get("/v1/data/legacy/settings", headers=team.headers).json()
    assert settings["schema"] == {
        "title": {"display_hint": {"type": "title"}},
        "price": {"content_type": "metadata"},
    }
    status = wait_status(client, "legacy", answer.json()["requestId"], team.headers)
    assert status["data"][0]["metadata"] == {"price": 3}


def test_unknown_route_and_method_are_json_errors(client, team):
    answer = client.get("/v1/nothing", headers=team.headers)
    assert answer.status_code == 404 and answer.json()["error"]["type"] == "not_found"
    answer = client.delete("/v1/data/products", headers=team.headers)
    assert answer.status_code == 405 and answer.json()["error"]["type"] == "method_not_allowed"


def test_nul_characters_are_a_400_on_every_database(client, team, backend):
    for body in (
        '{"data": {"id": "p1", "a\\u0000b": 1}}',
        '{"data": {"id": "p\\u0000"}}',
        '{"data": [{"id": "ok"}, {"id": "p2", "t": ["x", "y\\u0000"]}]}',
    ):
        answer = client.post("/v1/data/products", content=body.encode(), headers=team.headers)
        assert answer.status_code == 400, body
        assert "NUL" in answer.json()["error"]["message"]
    # a literal backslash-u0000 (escaped backslash) is ordinary text
    literal = client.post(
        "/v1/data/products", content=b'{"data": {"id": "lit", "t": "\\\\u0000"}}', headers=team.headers
    )
    assert literal.status_code == 200
    assert count_rows(backend, "objects", team) == 1
    assert client.get("/v1/data/products/objects/a%00", headers=team.headers).status_code == 404
    assert client.get("/v1/data/products/requests/req_%00", headers=team.headers).status_code == 404


def test_namespace_with_a_trailing_newline_is_a_400(client, team, backend):
    answer = client.post("/v1/data/abc%0A", json={"data": {"id": "nl"}}, headers=team.headers)
    assert answer.status_code == 400
    assert count_rows(backend, "objects", team) == 0
