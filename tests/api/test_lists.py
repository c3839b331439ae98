"""PUT/GET/DELETE /v1/lists/{name} and GET /v1/lists: named value lists of a team, usable
from every policy; answers and stored state."""

from __future__ import annotations

import httpx

from tests.helpers import Team, create_key, query, wait_status
from vigil.store import jsondoc


def put_list(client: httpx.Client, team: Team, name: str, kind: str, values: list, **extra: object) -> httpx.Response:
    return client.put(f"/v1/lists/{name}", json={"kind": kind, "values": values, **extra}, headers=team.headers)


def stored_list(backend, team: Team, name: str):
    rows = query(
        backend.database_url,
        "SELECT kind, description, items, item_count, version FROM lists WHERE team_id = :t AND name = :n",
        {"t": team.team_id, "n": name},
    )
    return rows[0] if rows else None


def test_put_stores_normalised_values_and_each_put_is_a_new_version(client, team, backend):
    answer = put_list(
        client, team, "bad-domains", "domain", ["Evil.COM", " www.scam.example. ", "evil.com"], description="d"
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"name": "bad-domains", "kind": "domain", "count": 2, "version": 1, "status": "updated"}
    row = stored_list(backend, team, "bad-domains")
    assert (row.kind, row.description, row.item_count, row.version) == ("domain", "d", 2, 1)
    assert jsondoc.load(row.items) == ["evil.com", "www.scam.example"]

    assert put_list(client, team, "bad-domains", "domain", ["other.example"]).json()["version"] == 2
    got = client.get("/v1/lists/bad-domains", headers=team.headers).json()
    assert got["values"] == ["other.example"] and got["version"] == 2 and got["count"] == 1
    assert got["created_at_ms"] <= got["updated_at_ms"]
    listing = client.get("/v1/lists", headers=team.headers).json()
    assert [(item["name"], item["version"]) for item in listing["lists"]] == [("bad-domains", 2)]
    assert "values" not in listing["lists"][0]


def test_bad_lists_are_400s_naming_what_to_fix(client, team, backend):
    answer = put_list(client, team, "emails", "email", ["ok@example.com", "nobody", 7])
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "invalid_request" and answer.headers["x-should-retry"] == "false"
    assert [d["path"] for d in error["details"]] == ["values[1]", "values[2]"]
    assert error["message"].startswith("values[1]: 'nobody' is not an e-mail address like name@example.com")
    assert put_list(client, team, "x", "colours", []).json()["error"]["message"].startswith("kind 'colours' is not one")
    assert put_list(client, team, "Bad Name", "string", []).status_code == 400
    assert client.put("/v1/lists/x", json={"kind": "string"}, headers=team.headers).status_code == 400
    assert stored_list(backend, team, "emails") is None


def test_delete_removes_the_list(client, team, backend):
    put_list(client, team, "sellers", "string", ["u1"])
    answer = client.delete("/v1/lists/sellers", headers=team.headers)
    assert answer.status_code == 200 and answer.json() == {"name": "sellers", "status": "deleted"}
    assert stored_list(backend, team, "sellers") is None
    assert client.get("/v1/lists/sellers", headers=team.headers).status_code == 404
    assert client.delete("/v1/lists/sellers", headers=team.headers).status_code == 404


def test_a_list_in_use_cannot_be_deleted_or_change_kind(client, team, backend):
    put_list(client, team, "banned", "string", ["u1"])
    policy = (
        "detectors: {b: {type: list, list: banned, fields: [seller]}}\nrules: [{name: b, when: detectors.b.matched}]"
    )
    put = client.put(
        "/v1/data/listings/policy", content=policy, headers={**team.headers, "content-type": "application/yaml"}
    )
    assert put.status_code == 200, put.text
    refused = client.delete("/v1/lists/banned", headers=team.headers)
    assert refused.status_code == 400
    assert refused.json()["error"]["details"] == [{"path": "name", "problem": "in use", "namespaces": ["listings"]}]
    assert put_list(client, team, "banned", "email", ["a@b.example"]).status_code == 400
    assert put_list(client, team, "banned", "string", ["u2"]).json()["version"] == 2
    assert stored_list(backend, team, "banned").kind == "string"


def test_lists_belong_to_their_team(client, team, backend):
    put_list(client, team, "private", "string", ["secret"])
    other = create_key(backend.database_url, f"{team.name}-other")
    assert client.get("/v1/lists/private", headers=other.headers).status_code == 404
    assert client.get("/v1/lists", headers=other.headers).json() == {"lists": []}
    assert client.delete("/v1/lists/private", headers=other.headers).status_code == 404
    reader = create_key(backend.database_url, team.name, ["data:read"])
    assert put_list(client, reader, "private", "string", []).status_code == 403
    assert client.get("/v1/lists/private", headers=reader.headers).status_code == 200


def test_a_new_list_version_is_used_by_the_next_evaluation(client, team, backend):
    put_list(client, team, "terms", "keyword", ["widget"])
    policy = (
        "detectors: {k: {type: keyword, lists: [terms]}}\nrules: [{name: k, when: detectors.k.matched, labels: [hit]}]"
    )
    client.put("/v1/data/things/policy", content=policy, headers={**team.headers, "content-type": "application/yaml"})

    def labels_of(title: str) -> list[str]:
        request_id = client.post(
            "/v1/data/things", json={"data": {"id": title, "title": title}}, headers=team.headers
        ).json()["requestId"]
        status = wait_status(client, "things", request_id, team.headers)
        return [label["label"] for label in status["data"][0]["output"]["labels"]]

    assert labels_of("gadget") == []
    put_list(client, team, "terms", "keyword", ["widget", "gadget"])
    assert labels_of("gadget pro") == ["hit"]
    rows = query(
        backend.database_url,
        "SELECT provenance FROM decisions WHERE team_id = :t AND object_id = 'gadget pro'",
        {"t": team.team_id},
    )
    assert jsondoc.load(rows[0].provenance)["lists"] == {"terms": 2}
