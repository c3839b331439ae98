"""PUT/GET /v1/data/{namespace}/settings and update modes."""

from __future__ import annotations

from tests.helpers import query, wait_status

SCHEMA = {
    "title": {"display_hint": {"type": "title"}},
    "images": {"content_type": "image_url", "display_hint": {"type": "primary_image_url", "order": 1}},
    "price": {"content_type": "metadata"},
    "seller": {"belongs_to": "users", "field_limit": 200},
}


def test_put_settings_answers_updated_and_get_returns_them(client, team, backend):
    answer = client.put("/v1/data/products/settings", json={"schema": SCHEMA}, headers=team.headers)
    assert answer.status_code == 200
    assert answer.json() == {"namespace": "products", "status": "updated"}
    got = client.get("/v1/data/products/settings", headers=team.headers).json()
    assert got == {"schema": SCHEMA, "update_mode": "replace"}
    rows = query(backend.database_url, "SELECT name FROM namespaces WHERE team_id = :t", {"t": team.team_id})
    assert [row.name for row in rows] == ["products"]


def test_put_replaces_previous_settings(client, team):
    client.put("/v1/data/products/settings", json={"schema": SCHEMA}, headers=team.headers)
    client.put("/v1/data/products/settings", json={"schema": {"title": {}}}, headers=team.headers)
    assert client.get("/v1/data/products/settings", headers=team.headers).json()["schema"] == {"title": {}}


def test_unknown_enum_value_is_a_400_listing_allowed_values(client, team):
    answer = client.put(
        "/v1/data/products/settings",
        json={"schema": {"t": {"display_hint": {"type": "headline"}}}},
        headers=team.headers,
    )
    assert answer.status_code == 400
    message = answer.json()["error"]["message"]
    assert "schema.t.display_hint.type" in message and "primary_image_url" in message
    assert client.get("/v1/data/products/settings", headers=team.headers).status_code == 404


def test_bad_settings_are_400s(client, team):
    for body in (
        {"schema": {"t": {"content_type": "pdf"}}},
        {"schema": {"t": {"field_limit": 0}}},
        {"schema": {"t": {"colour": "red"}}},
        {"schema": []},
        {"update_mode": "patch"},
        {"schemas": {}},
    ):
        answer = client.put("/v1/data/products/settings", json=body, headers=team.headers)
        assert answer.status_code == 400, body


def test_get_settings_of_unknown_namespace_is_404(client, team):
    assert client.get("/v1/data/nothing-here/settings", headers=team.headers).status_code == 404


def test_namespace_exists_after_its_first_object(client, team):
    request_id = client.post("/v1/data/listings", json={"data": {"id": "x"}}, headers=team.headers).json()["requestId"]
    wait_status(client, "listings", request_id, team.headers)
    assert client.get("/v1/data/listings/settings", headers=team.headers).json() == {
        "schema": {},
        "update_mode": "replace",
    }


def test_merge_mode_applies_json_merge_patch_and_keeps_every_version(client, team, backend):
    client.put("/v1/data/users/settings", json={"update_mode": "merge"}, headers=team.headers)
    client.post(
        "/v1/data/users", json={"data": {"id": "u1", "name": "Ann", "tags": {"a": 1, "b": 2}}}, headers=team.headers
    )
    client.post(
        "/v1/data/users",
        json={"data": [{"id": "u1", "tags": {"b": None}}, {"id": "u1", "age": 30}]},
        headers=team.headers,
    )
    obj = client.get("/v1/data/users/objects/u1", headers=team.headers).json()
    assert obj["version"] == 3
    assert obj["data"] == {"id": "u1", "name": "Ann", "tags": {"a": 1}, "age": 30}
    rows = query(
        backend.database_url,
        "SELECT version FROM object_versions WHERE team_id = :t AND object_id = 'u1' ORDER BY version",
        {"t": team.team_id},
    )
    assert [row.version for row in rows] == [1, 2, 3]


def test_metadata_fields_come_back_in_results(client, team):
    client.put("/v1/data/products/settings", json={"schema": SCHEMA}, headers=team.headers)
    answer = client.post(
        "/v1/data/products", json={"data": {"id": "m", "price": 9.5, "title": "T"}}, headers=team.headers
    )
    status = wait_status(client, "products", answer.json()["requestId"], team.headers)
    assert status["data"][0]["metadata"] == {"price": 9.5}


def test_whole_number_floats_are_integers(client, team):
    body = {"schema": {"t": {"field_limit": 5.0, "display_hint": {"type": "title", "order": 1.0}}}}
    assert client.put("/v1/data/floats/settings", json=body, headers=team.headers).status_code == 200
    stored = client.get("/v1/data/floats/settings", headers=team.headers).json()["schema"]["t"]
    assert stored == {"field_limit": 5, "display_hint": {"type": "title", "order": 1}}
    bad = {"schema": {"t": {"field_limit": 5.5}}}
    assert client.put("/v1/data/floats/settings", json=bad, headers=team.headers).status_code == 400


def test_wrong_method_lists_every_allowed_method(client, team):
    answer = client.delete("/v1/data/products/settings", headers=team.headers)
    assert answer.status_code == 405
    assert set(answer.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "PUT"}


def test_nul_in_a_schema_field_name_is_a_400(client, team):
    answer = client.put("/v1/data/products/settings", content=b'{"schema": {"a\\u0000": {}}}', headers=team.headers)
    assert answer.status_code == 400 and "NUL" in answer.json()["error"]["message"]
