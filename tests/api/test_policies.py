"""Policies through the API: PUT/GET versions, validation errors with paths, evaluation of
ingested objects (labels, actions, fields, provenance), dry runs that store nothing, and
image fetching that refuses private addresses unless they are allow-listed."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Backend, drop_backend, make_backend
from tests.engine.images import encoded, picture
from tests.helpers import Process, Team, create_key, free_port, query, start, vigil_env, wait_status
from vigil.engine.detectors.image_hash import hash_image
from vigil.store import jsondoc

YAML = {"content-type": "application/yaml"}

POLICY = """
description: listings
detectors:
  drugs: {type: keyword, terms: [mdma, cocaine]}
rules:
  - name: drugs
    when: detectors.drugs.matched
    labels:
      - {label: drugs.violation, confidence: high, explanation: "Mentions '{{ match.term }}' in {{ match.field }}"}
    actions: [unpublish]
    fields: {risk_score: "0.9"}
  - name: price_drop
    when: previous != null && has(object.price) && object.price < previous.price * 0.5
    labels: [price.anomaly]
    actions: [review]
  - name: new_seller
    when: parent.seller != null && parent.seller.age_days < 7
    labels: [{label: seller.new, explanation: "seller {{ parent.seller.id }} is {{ parent.seller.age_days }} days old"}]
"""


def put_policy(client: httpx.Client, team: Team, source: str, namespace: str = "products", **headers: str):
    return client.put(f"/v1/data/{namespace}/policy", content=source, headers={**team.headers, **(headers or YAML)})


def ingest(client: httpx.Client, team: Team, objects: list[dict], namespace: str = "products") -> dict:
    answer = client.post(f"/v1/data/{namespace}", json={"data": objects}, headers=team.headers)
    assert answer.status_code == 200, answer.text
    return wait_status(client, namespace, answer.json()["requestId"], team.headers)


def decision(backend: Backend, team: Team, object_id: str, version: int = 1):
    return query(
        backend.database_url,
        "SELECT status, output, error, policy_version, provenance FROM decisions "
        "WHERE team_id = :t AND object_id = :o AND version = :v",
        {"t": team.team_id, "o": object_id, "v": version},
    )[0]


def count(backend: Backend, table: str, team: Team) -> int:
    return query(backend.database_url, f"SELECT count(*) AS n FROM {table} WHERE team_id = :t", {"t": team.team_id})[
        0
    ].n


# --- writing and reading -----------------------------------------------------------------------


def test_put_stores_versions_and_get_reads_them(client, team, backend):
    answer = put_policy(client, team, POLICY)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"namespace": "products", "version": 1, "status": "updated", "rules": 3, "detectors": 1}
    again = put_policy(client, team, POLICY)  # a retried PUT: no new version
    assert again.json()["status"] == "unchanged" and again.json()["version"] == 1
    second = put_policy(client, team, '{"rules": [{"name": "all", "when": "true", "labels": ["seen"]}]}',
                        **{"content-type": "application/json"})  # fmt: skip
    assert second.json()["version"] == 2

    rows = query(
        backend.database_url,
        "SELECT version, format, source FROM policies WHERE team_id = :t ORDER BY version",
        {"t": team.team_id},
    )
    assert [(r.version, r.format) for r in rows] == [(1, "yaml"), (2, "json")]
    assert rows[0].source == POLICY

    current = client.get("/v1/data/products/policy", headers=team.headers).json()
    assert current["version"] == 2 and current["format"] == "json" and current["policy"]["rules"][0]["name"] == "all"
    first = client.get("/v1/data/products/policy/versions/1", headers=team.headers).json()
    assert first["source"] == POLICY and first["policy"]["detectors"]["drugs"]["terms"] == ["mdma", "cocaine"]
    versions = client.get("/v1/data/products/policy/versions", headers=team.headers).json()
    assert versions["current"] == 2 and [v["version"] for v in versions["versions"]] == [2, 1]
    assert client.get("/v1/data/products/policy/versions/3", headers=team.headers).status_code == 404
    assert client.get("/v1/data/products/policy/versions/x", headers=team.headers).status_code == 400


def test_an_invalid_policy_is_a_400_naming_each_path_and_is_not_stored(client, team, backend):
    answer = put_policy(
        client, team, "detectors: {d: {type: keyword}}\nrules:\n  - {name: a, when: 'object.price >'}\n  - {name: b}"
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "invalid_request" and answer.headers["x-should-retry"] == "false"
    assert [d["path"] for d in error["details"]] == ["detectors.d", "rules[0].when", "rules[1].when"]
    assert error["message"].startswith("invalid policy: detectors.d: a keyword detector needs 'terms', 'lists'")
    assert put_policy(client, team, "rules: [").json()["error"]["details"][0]["path"] == "(document)"
    assert put_policy(client, team, "").status_code == 400
    assert count(backend, "policies", team) == 0
    assert client.get("/v1/data/products/policy", headers=team.headers).status_code == 404


def test_policies_belong_to_their_team_and_need_the_write_scope(client, team, backend):
    put_policy(client, team, POLICY)
    other = create_key(backend.database_url, f"{team.name}-other")
    assert client.get("/v1/data/products/policy", headers=other.headers).status_code == 404
    assert client.get("/v1/data/products/policy/versions/1", headers=other.headers).status_code == 404
    reader = create_key(backend.database_url, team.name, ["data:read"])
    assert put_policy(client, reader, POLICY).status_code == 403
    assert client.get("/v1/data/products/policy", headers=reader.headers).status_code == 200
    assert count(backend, "policies", team) == 1


# --- evaluation of ingested objects ----------------------------------------------------------


def test_ingested_objects_get_labels_actions_fields_and_provenance(client, team, backend):
    client.put("/v1/data/products/settings", json={"schema": {"seller": {"belongs_to": "users"}}}, headers=team.headers)
    ingest(client, team, [{"id": "u1", "age_days": 2}], namespace="users")
    put_policy(client, team, POLICY)
    status = ingest(
        client,
        team,
        [
            {"id": "p1", "title": "Pure MDMA crystals", "price": 40, "seller": "u1"},
            {"id": "p2", "title": "Ceramic mug", "price": 12, "seller": "u404"},
        ],
    )
    assert status["status"] == "succeeded" and status["error_summary"] is None
    flagged, clean = status["data"]
    assert flagged["output"] == {
        "labels": [
            {"label": "drugs.violation", "explanation": "Mentions 'mdma' in title", "confidence": "high"},
            {"label": "seller.new", "explanation": "seller u1 is 2 days old", "confidence": "medium"},
        ],
        "actions": ["unpublish"],
        "fields": {"risk_score": 0.9},
    }
    assert clean["output"] == {"labels": [], "actions": [], "fields": {}}

    stored = decision(backend, team, "p1")
    assert (stored.status, stored.policy_version) == ("succeeded", 1)
    provenance = jsondoc.load(stored.provenance)
    assert [rule["name"] for rule in provenance["rules"]] == ["drugs", "new_seller"]
    assert provenance["rules"][0]["evidence"] == [
        {"detector": "drugs", "type": "keyword", "field": "title", "text": "MDMA", "term": "mdma", "start": 5, "end": 9}
    ]
    assert provenance["policy_version"] == 1 and provenance["detectors"] == {"drugs": 1}
    assert jsondoc.load(decision(backend, team, "p2").provenance)["rules"] == []


def test_change_rules_read_the_previous_version(client, team, backend):
    put_policy(client, team, POLICY)
    ingest(client, team, [{"id": "cam", "title": "Leica M3", "price": 1500}])
    status = ingest(client, team, [{"id": "cam", "title": "Leica M3", "price": 150.5}])
    assert [label["label"] for label in status["data"][0]["output"]["labels"]] == ["price.anomaly"]
    assert status["data"][0]["output"]["actions"] == ["review"]
    assert jsondoc.load(decision(backend, team, "cam", 2).output)["labels"][0]["label"] == "price.anomaly"
    assert jsondoc.load(decision(backend, team, "cam", 1).output)["labels"] == []


def test_a_rule_that_fails_on_an_object_fails_that_object_at_once(client, team, backend):
    put_policy(client, team, "rules: [{name: pricey, when: object.price > 100, labels: [expensive]}]")
    started = time.monotonic()
    status = ingest(client, team, [{"id": "ok", "price": 500}, {"id": "no-price", "title": "x"}])
    assert time.monotonic() - started < 10  # not retried: it would fail the same way
    assert status["status"] == "succeeded"
    ok, failed = status["data"]
    assert ok["output"]["labels"] == [
        {"label": "expensive", "explanation": "rule 'pricey' matched", "confidence": "medium"}
    ]
    assert failed["output"] is None
    assert status["error_summary"].startswith(
        "1 of 2 objects failed evaluation: no-price: rules[0] 'pricey' when: no such"
    )
    stored = decision(backend, team, "no-price")
    assert stored.status == "failed" and stored.output is None and "has(object.price)" in stored.error


# --- dry run -------------------------------------------------------------------------------------


def test_dry_run_uses_the_current_policy_or_a_draft_and_stores_nothing(client, team, backend):
    put_policy(client, team, POLICY)
    ingest(client, team, [{"id": "cam", "title": "Leica", "price": 1000}])
    before = {table: count(backend, table, team) for table in ("object_versions", "decisions", "policies")}

    answer = client.post(
        "/v1/data/products/policy/test",
        json={"data": [{"id": "cam", "title": "Leica", "price": 100}, {"id": "new", "title": "cocaine"}]},
        headers=team.headers,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["policy_version"] == 1 and body["draft"] is False
    cam, new = body["results"]
    assert cam["output"]["labels"][0]["label"] == "price.anomaly"  # previous: the stored version
    assert new["output"]["labels"][0]["label"] == "drugs.violation"
    assert new["provenance"]["rules"][0]["evidence"][0]["term"] == "cocaine" and new["error"] is None

    draft = "rules: [{name: big, when: object.price >= 100, labels: [{label: big, explanation: '{{ object.price }}'}]}]"
    answer = client.post(
        "/v1/data/products/policy/test",
        json={"data": {"id": "cam", "price": 100}, "policy": draft, "previous": {"cam": None}},
        headers=team.headers,
    )
    body = answer.json()
    assert body["draft"] is True and body["policy_version"] is None
    assert body["results"][0]["output"]["labels"] == [{"label": "big", "explanation": "100", "confidence": "medium"}]
    broken = client.post(
        "/v1/data/products/policy/test",
        json={"data": {"id": "x"}, "policy": {"rules": [{"name": "a", "when": "nope"}]}},
        headers=team.headers,
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["details"][0]["path"] == "policy.rules[0].when"
    failing = client.post(
        "/v1/data/products/policy/test",
        json={"data": {"id": "x"}, "policy": "rules: [{name: a, when: object.price > 1}]"},
        headers=team.headers,
    ).json()
    assert failing["results"][0]["output"] is None and "no such key 'price'" in failing["results"][0]["error"]
    for bad in ({"data": []}, {"data": [{"title": "no id"}]}, {"objects": []}, []):
        assert client.post("/v1/data/products/policy/test", json=bad, headers=team.headers).status_code == 400

    after = {table: count(backend, table, team) for table in ("object_versions", "decisions", "policies")}
    assert after == before


# --- images: SSRF-safe fetching ------------------------------------------------------------------


class _ImageHandler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.seen.append(self.path)
        status, headers, body = self.routes.get(self.path, (404, {}, b"no such image"))
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 with a known image, redirects and a non-image."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ImageHandler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    _ImageHandler.routes = {
        "/bad.jpg": (200, {"Content-Type": "image/jpeg"}, encoded(picture(0), quality=80)),
        "/other.png": (200, {"Content-Type": "image/png"}, encoded(picture(4), "PNG")),
        "/page.html": (200, {"Content-Type": "text/html"}, b"<html>hello</html>"),
        "/huge.png": (200, {"Content-Type": "image/png"}, b"\0" * 300_000),
        "/to-bad": (302, {"Location": "/bad.jpg"}, b""),
        "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    server.server_close()


IMAGE_POLICY = """
detectors:
  known: {type: image_hash, list: known-bad-images}
rules:
  - name: known
    when: detectors.known.matched
    labels: [{label: image.known_bad, confidence: high, explanation: "{{ match.field }} matches a listed image"}]
    actions: [unpublish]
"""
IMAGE_SCHEMA = {"schema": {"images": {"content_type": "image_url"}}}


def _image_setup(client: httpx.Client, team: Team) -> None:
    listed = hash_image(encoded(picture(0), "PNG")).hex
    assert (
        client.put(
            "/v1/lists/known-bad-images", json={"kind": "pdq", "values": [listed]}, headers=team.headers
        ).status_code
        == 200
    )
    assert client.put("/v1/data/products/settings", json=IMAGE_SCHEMA, headers=team.headers).status_code == 200
    assert put_policy(client, team, IMAGE_POLICY).status_code == 200


def _dry_run(client: httpx.Client, team: Team, url: str) -> dict:
    answer = client.post(
        "/v1/data/products/policy/test", json={"data": {"id": "p", "images": [url]}}, headers=team.headers
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["results"][0]


def test_loopback_images_are_refused_without_the_allow_list(client, team, backend, image_server):
    _image_setup(client, team)
    seen = len(_ImageHandler.seen)
    result = _dry_run(client, team, f"{image_server}/bad.jpg")
    assert result["output"] is None
    assert "refused to connect to 127.0.0.1: 127.0.0.1 is a loopback address" in result["error"]
    assert "VIGIL_FETCH_ALLOWED_NETWORKS" in result["error"]
    for url in ("http://[::1]/x.jpg", "http://169.254.169.254/latest", "http://10.1.2.3/a.png", "file:///etc/passwd"):
        assert _dry_run(client, team, url)["output"] is None, url

    started = time.monotonic()
    status = ingest(client, team, [{"id": "p", "images": [f"{image_server}/bad.jpg"]}])
    assert time.monotonic() - started < 10  # a refusal is not retried
    assert status["data"][0]["output"] is None and "loopback address" in status["error_summary"]
    assert decision(backend, team, "p").status == "failed"
    assert len(_ImageHandler.seen) == seen  # nothing ever reached the image server


@pytest.fixture(scope="module")
def allowing_server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Process, Backend]]:
    """A `vigil serve` of its own (database and worker) that may fetch from 127.0.0.1."""
    own = make_backend(backend.name, tmp_path_factory.mktemp(f"allow-{backend.name}"))
    port = free_port()
    env = vigil_env(
        own.database_url,
        VIGIL_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        VIGIL_AUTH_CACHE_TTL_S="0",
        VIGIL_FETCH_ALLOWED_NETWORKS="127.0.0.1/32",
        VIGIL_FETCH_MAX_BYTES="200000",
    )
    process = start(["serve", "--port", str(port)], env, Path(own.workdir) / "serve.log", port)
    yield process, own
    process.stop()
    drop_backend(own)


def test_allow_listed_images_are_fetched_hashed_and_matched(allowing_server, image_server):
    process, own = allowing_server
    team = create_key(own.database_url, "images")
    with httpx.Client(base_url=process.base_url, timeout=30) as client:
        _image_setup(client, team)
        matched = _dry_run(client, team, f"{image_server}/bad.jpg")
        assert matched["output"]["labels"] == [
            {"label": "image.known_bad", "explanation": "images[0] matches a listed image", "confidence": "high"}
        ]
        evidence = matched["provenance"]["rules"][0]["evidence"][0]
        assert evidence["list"] == "known-bad-images" and evidence["distance"] <= 31
        assert _dry_run(client, team, f"{image_server}/to-bad")["output"]["labels"][0]["label"] == "image.known_bad"
        assert _dry_run(client, team, f"{image_server}/other.png")["output"]["labels"] == []

        redirected = _dry_run(client, team, f"{image_server}/to-metadata")
        assert "169.254.169.254 is a cloud metadata address" in redirected["error"]
        assert "not a decodable image" in _dry_run(client, team, f"{image_server}/page.html")["error"]
        assert "at most 200000 are read" in _dry_run(client, team, f"{image_server}/huge.png")["error"]
        assert "HTTP 404" in _dry_run(client, team, f"{image_server}/missing.jpg")["error"]

        status = ingest(
            client,
            team,
            [
                {"id": "bad", "images": [f"{image_server}/bad.jpg"]},
                {"id": "fine", "images": [f"{image_server}/other.png"]},
            ],
        )
        assert status["error_summary"] is None
        assert status["data"][0]["output"]["actions"] == ["unpublish"]
        assert status["data"][1]["output"]["labels"] == []
    stored = decision(own, team, "bad")
    assert stored.status == "succeeded" and stored.policy_version == 1
    assert jsondoc.load(stored.provenance)["rules"][0]["evidence"][0]["field"] == "images[0]"
