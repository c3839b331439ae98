"""The OpenAPI document (api/openapi.json) describes the running server exactly.

It is served as is and is a valid OpenAPI 3.1 document; it names every route of the app and
no other; and schemathesis, sending generated requests to the /v1 routes of a real
`vigil serve` on each backend, finds no 5xx and no answer the document does not describe
(status, content type, headers, body).
"""

from __future__ import annotations

import copy
import html
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import Backend
from tests.helpers import Process, Team, create_key, wait_status
from tests.receiver import Receiver
from vigil.api.app import ROUTES
from vigil.api.docs import OPENAPI_PATH

HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
DOCUMENT: dict[str, Any] = json.loads(OPENAPI_PATH.read_bytes())
MAX_EXAMPLES = 15  # per operation, fuzzing phase: about 20 s per backend for 28 operations

# Seeded before each generated run and named by the document's parameter examples, so that the
# examples phase reads a namespace and an object that exist (200 answers, not only 404s). Webhook
# endpoint and message ids are made by the server: the examples stand for the seeded ones.
NAMESPACE = DOCUMENT["components"]["parameters"]["Namespace"]["example"]
OBJECT_ID = DOCUMENT["components"]["parameters"]["ObjectId"]["example"]
ENDPOINT_ID = DOCUMENT["components"]["parameters"]["EndpointId"]["example"]
MESSAGE_ID = DOCUMENT["components"]["parameters"]["MessageId"]["example"]
SEED_SETTINGS = {
    "schema": {
        "title": {"display_hint": {"type": "title", "name": "Title", "order": 1}, "field_limit": 200},
        "image": {"content_type": "image_url", "display_hint": {"type": "primary_image_url"}},
        "seller": {"belongs_to": "users"},
    },
    "update_mode": "replace",
}


def _route_table() -> set[tuple[str, str]]:
    """(path, method) of every route, `{object_id:path}` written `{object_id}` as in OpenAPI.

    Starlette adds HEAD to every GET route by itself; the document says so once, in info.
    """
    return {
        (re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path), method.lower())
        for route in ROUTES
        for method in (route.methods or set()) - {"HEAD"}
    }


def _document_table() -> set[tuple[str, str]]:
    return {(path, method) for path, item in DOCUMENT["paths"].items() for method in item if method in HTTP_METHODS}


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in DOCUMENT["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    ]


def test_document_is_pretty_printed_openapi_31() -> None:
    assert OPENAPI_PATH.read_text(encoding="utf-8") == json.dumps(DOCUMENT, indent=2, ensure_ascii=False) + "\n"
    assert DOCUMENT["openapi"].startswith("3.1.")


def test_every_route_is_documented_and_nothing_else() -> None:
    routes, documented = _route_table(), _document_table()
    missing, extra = sorted(routes - documented), sorted(documented - routes)
    assert not missing, f"routes missing from api/openapi.json: {missing}"
    assert not extra, f"operations in api/openapi.json that the app does not serve: {extra}"


def test_every_operation_is_described() -> None:
    for path, method, op in _operations():
        name = f"{method.upper()} {path}"
        assert op.get("summary") and op.get("description"), f"{name} needs a summary and a description"
        assert op.get("operationId"), f"{name} needs an operationId"
        for status, response in op["responses"].items():
            # Written out even beside a $ref: /docs renders it without resolving references.
            assert response.get("description"), f"{name} {status} needs a description"
        if path.startswith("/v1/"):
            assert op["security"] == [{"bearerAuth": []}], f"{name} needs the bearer key"
            for status in ("400", "401", "403", "500", "503"):
                assert status in op["responses"], f"{name} must document {status}"
        else:
            assert op["security"] == [], f"{name} needs no key"


def test_served_document_is_the_file_and_valid(server: Process, client: httpx.Client) -> None:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.content == OPENAPI_PATH.read_bytes()

    loaded = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    loaded.validate()  # against the OpenAPI 3.1 meta-schema
    labels = {result.ok().label for result in loaded.get_all_operations()}
    # schemathesis leaves out the operation it loaded the document from
    assert labels | {"GET /openapi.json"} == {f"{method.upper()} {path}" for path, method in _document_table()}


def test_docs_page_renders_every_operation(client: httpx.Client) -> None:
    answer = client.get("/docs")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert html.escape(DOCUMENT["info"]["description"]) in answer.text
    for path, _, op in _operations():
        assert html.escape(path) in answer.text
        assert html.escape(op["summary"]) in answer.text
        assert html.escape(op["description"]) in answer.text
        for response in op["responses"].values():
            assert html.escape(response["description"]) in answer.text


# --- the running server against the document, with generated requests -------------------------


def _config(headers: dict[str, str] | None = None) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "headers": headers or {},
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            # The coverage phase sends about 60 fixed cases per operation, whatever `max-examples`:
            # with 28 operations that is over a minute per backend. What it probes that generated
            # cases do not reach, a wrong method's 405 and its `Allow`, is checked for every path by
            # test_405_lists_every_allowed_method.
            "phases": {"coverage": {"enabled": False}},
            "checks": {
                # The contract answers 413 for too many objects in one call (spec §3).
                "negative_data_rejection": {"expected-statuses": ["400", "401", "403", "404", "405", "413"]},
            },
        }
    )


# Loaded from the file (the served copy is the same bytes, see above): the base URL and the key
# are given per call, since each backend's server and each test's team are made at run time.
# (`schemathesis.pytest.from_fixture` would load it from the server, but under pytest 9.2 it
# fails: it sets `Function._nodeid`, which pytest no longer has.) A copy: schemathesis rewrites
# the dict it is given.
API = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=_config()).include(path_regex="^/v1/")


def _seed(client: httpx.Client, team: Team, wait: bool = True) -> str:
    """A namespace with settings and an object (evaluated, if `wait`); returns the request that added it."""
    put = client.put(f"/v1/data/{NAMESPACE}/settings", json=SEED_SETTINGS, headers=team.headers)
    assert put.status_code == 200, put.text
    added = client.post(
        f"/v1/data/{NAMESPACE}",
        json={"data": [{"id": OBJECT_ID, "title": "Vintage camera", "image": "https://example.com/c.jpg"}]},
        headers=team.headers,
    )
    assert added.status_code == 200, added.text
    request_id: str = added.json()["requestId"]
    if wait:
        assert wait_status(client, NAMESPACE, request_id, team.headers)["status"] == "succeeded"
    return request_id


def _seed_webhooks(client: httpx.Client, team: Team, url: str) -> dict[str, str]:
    """An endpoint delivering to `url`, with a test message; the example ids → the real ones."""
    created = client.post("/v1/webhooks/endpoints", json={"url": url}, headers=team.headers)
    assert created.status_code == 200, created.text
    endpoint_id: str = created.json()["id"]
    sent = client.post(f"/v1/webhooks/endpoints/{endpoint_id}/test", headers=team.headers)
    assert sent.status_code == 200, sent.text
    return {ENDPOINT_ID: endpoint_id, MESSAGE_ID: sent.json()["message_id"]}


@dataclass(frozen=True)
class Seeded:
    team: Team
    ids: dict[str, str]  # the document's example ids → the seeded resources' ids
    sink: str  # a URL of the test server itself (it answers 404): no delivery leaves the machine


@pytest.fixture
def seeded(team: Team, client: httpx.Client, server: Process) -> Seeded:
    sink = f"{server.base_url}/webhook-sink"
    ids = _seed_webhooks(client, team, sink)  # first: the endpoint also gets the data's events
    _seed(client, team, wait=False)  # the object and the request exist at once; their state may vary
    return Seeded(team, ids, sink)


def _server_takes_url(value: Any) -> bool:
    """The server's rule for an endpoint `url` (service/webhooks.py)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _prepare(case: schemathesis.Case, seeded: Seeded) -> None:
    """Example ids name the seeded resources; any endpoint URL the server would take is the sink."""
    if case.path_parameters:
        case.path_parameters = {
            name: seeded.ids.get(value, value) if isinstance(value, str) else value
            for name, value in case.path_parameters.items()
        }
    if case.path.startswith("/v1/webhooks/endpoints") and isinstance(case.body, dict):
        url = case.body.get("url")
        if isinstance(url, str) and not _has_nul(url) and _server_takes_url(url):
            case.body = {**case.body, "url": seeded.sink}


def _anywhere(value: Any, found: Callable[[Any], bool]) -> bool:
    """Whether `found` holds for the value, or any key or value nested in it."""
    if found(value):
        return True
    if isinstance(value, dict):
        return any(_anywhere(k, found) or _anywhere(v, found) for k, v in value.items())
    if isinstance(value, list):
        return any(_anywhere(item, found) for item in value)
    return False


def _has_nul(value: Any) -> bool:
    return isinstance(value, str) and "\x00" in value


POLICY_BODIES = {"/v1/data/{namespace}/policy", "/v1/data/{namespace}/policy/test"}


def _limit_checks(case: schemathesis.Case) -> list[Any]:
    """Checks skipped where the document states a rule in words that JSON Schema cannot carry.

    - No string may hold U+0000, at any depth of free-form JSON, nor any query parameter: a schema
      for that (a recursive "any JSON value but NUL") is not honoured by the generator, which
      still nests NULs.
      test_nul_characters_are_refused checks the rule.
    - A policy is valid when it compiles (CEL conditions, detector settings, list names): the
      schema gives its outline only, so a schema-valid policy may well be a 400.
    """
    excluded: list[Any] = []
    sends_nul = any(_anywhere(part, _has_nul) for part in (case.body, case.query, case.path_parameters))
    if sends_nul or case.path in POLICY_BODIES:
        excluded.append(positive_data_acceptance)
    return excluded


def _skipped(case: schemathesis.Case, backend: Backend) -> list[Any]:
    return _limit_checks(case)


@API.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_server_conforms_to_document(
    case: schemathesis.Case, server: Process, backend: Backend, seeded: Seeded
) -> None:
    _prepare(case, seeded)
    case.call_and_validate(
        base_url=server.base_url, headers=seeded.team.headers, excluded_checks=_skipped(case, backend)
    )


def test_links_conform(server: Process, backend: Backend, client: httpx.Client) -> None:
    """Stateful: the documented links feed one answer's ids to the next call (an add's
    `requestId` to its status, a new endpoint's `id` and a test's `message_id` to their calls).

    Each sequence runs as a team of its own, seeded alike. Hypothesis replays the start of
    earlier sequences to find new ones and requires the same draws to follow: with one shared
    team, an answer such as `GET /v1/lists` listed what earlier sequences had created, the
    link's choices changed, and the run failed with FlakyStrategyDefinition now and then."""
    teams = itertools.count()

    class Workflow(API.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            team = create_key(backend.database_url, f"links-{next(teams)}")
            sink = f"{server.base_url}/webhook-sink"
            ids = _seed_webhooks(client, team, sink)
            _seed(client, team, wait=False)
            self.seeded = Seeded(team, ids, sink)

        def before_call(self, case: schemathesis.Case) -> None:
            _prepare(case, self.seeded)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": server.base_url, "headers": self.seeded.team.headers}

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            case.validate_response(
                response,
                headers=self.seeded.team.headers,
                excluded_checks=_skipped(case, backend),
                transport_kwargs=kwargs,
            )

    Workflow.run(
        settings=settings(
            max_examples=15,
            stateful_step_count=4,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            # No shrinking: a live server's state moves on, so a replay cannot draw the same
            # steps (hypothesis then reports FlakyStrategyDefinition and hides the failure).
            # The first failing sequence is reported as found.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
        )
    )


def test_real_answers_conform(server: Process, team: Team, client: httpx.Client) -> None:
    """The answers generated requests rarely reach: a succeeded request, an object, settings, ops."""
    request_id = _seed(client, team)
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json", config=_config(team.headers))
    calls = [
        ("/v1/data/{namespace}/requests/{request_id}", {"namespace": NAMESPACE, "request_id": request_id}),
        ("/v1/data/{namespace}/objects/{object_id}", {"namespace": NAMESPACE, "object_id": OBJECT_ID}),
        ("/v1/data/{namespace}/settings", {"namespace": NAMESPACE}),
        ("/healthz", {}),
        ("/readyz", {}),
        ("/metrics", {}),
        ("/docs", {}),
    ]
    for path, parameters in calls:
        case = schema[path]["GET"].Case(path_parameters=parameters)
        response = case.call_and_validate(base_url=server.base_url, headers=team.headers)
        assert response.status_code == 200, f"GET {path}: {response.text}"
    status = client.get(f"/v1/data/{NAMESPACE}/requests/{request_id}", headers=team.headers).json()
    assert [item["id"] for item in status["data"]] == [OBJECT_ID]
    assert client.get(f"/v1/data/{NAMESPACE}/settings", headers=team.headers).json() == SEED_SETTINGS


ENDPOINTS = "/v1/webhooks/endpoints"
ENDPOINT = "/v1/webhooks/endpoints/{endpoint_id}"
MESSAGES = "/v1/webhooks/messages"
MESSAGE = "/v1/webhooks/messages/{message_id}"


def test_webhook_answers_conform(server: Process, backend: Backend, team: Team, client: httpx.Client) -> None:
    """Every webhook call with real data (delivered, failing and test messages, health), and its errors."""

    def call(method: str, path: str, expected: int = 200, key: Team = team, **parts: Any) -> Any:
        """`parts`: `body`, `query`, and the path parameters. The answer is validated against the document."""
        query, body = parts.pop("query", {}), ({"body": parts.pop("body")} if "body" in parts else {})
        case = API[path][method].Case(path_parameters=parts, query=query, **body)
        response = case.call(base_url=server.base_url, headers=key.headers)
        assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text}"
        case.validate_response(response, headers=key.headers)
        return response.json()

    receiver = Receiver().start()
    try:
        body = {"url": receiver.url, "description": "conformance", "namespaces": [NAMESPACE], "headers": {"X-A": "b"}}
        created = call("POST", ENDPOINTS, body=body)
        assert created["secret"].startswith("whsec_")
        healthy = created["id"]
        failing = call("POST", ENDPOINTS, body={"url": f"{server.base_url}/webhook-sink"})["id"]  # answers 404
        request_id = _seed(client, team)
        test_message = call("POST", f"{ENDPOINT}/test", endpoint_id=healthy)["message_id"]
        receiver.wait_for(lambda r: len(r.accepted()) == 3)  # workflow.succeeded, request.completed, webhook.test
        deadline = time.monotonic() + 15
        while True:  # the outcomes are recorded just after sending
            delivered = call("GET", MESSAGES, query={"endpoint_id": healthy})["data"]
            retried = call("GET", MESSAGES, query={"endpoint_id": failing})["data"]
            if {m["status"] for m in delivered} == {"delivered"} and all(m["attempts"] for m in retried):
                break
            assert time.monotonic() < deadline, (delivered, retried)
            time.sleep(0.1)
        assert {m["event_type"] for m in delivered} == {"workflow.succeeded", "request.completed", "webhook.test"}
        assert {m["event_type"] for m in retried} == {"workflow.succeeded", "request.completed"}
        assert {m["payload"].get("request_id") for m in delivered} == {request_id, None}

        query = {"status": "delivered", "namespace": NAMESPACE, "object_id": OBJECT_ID, "since": "2000-01-01T00:00:00Z"}
        assert len(call("GET", MESSAGES, query={**query, "until": "2999-01-01T00:00:00Z", "limit": 1})["data"]) == 1
        first = call("GET", MESSAGES, query={"limit": 2})
        assert len(first["data"]) == 2 and first["next_before"] is not None
        call("GET", MESSAGES, query={"before": int(first["next_before"])})
        assert {e["id"] for e in call("GET", ENDPOINTS)["data"]} == {healthy, failing}
        health = call("GET", ENDPOINT, endpoint_id=failing)["health"]
        assert health["last_error"] == "HTTP 404" and health["attempts_24h"] >= 1
        call("GET", MESSAGE, message_id=test_message)
        call("POST", f"{MESSAGE}/resend", message_id=test_message)
        call("POST", f"{ENDPOINT}/recover", endpoint_id=failing, body={"since": "2000-01-01T00:00:00Z"})
        call("POST", f"{ENDPOINT}/rotate-secret", endpoint_id=healthy)
        patched = call("PATCH", ENDPOINT, endpoint_id=failing, body={"enabled": False, "event_types": ["webhook.test"]})
        assert patched["disabled_reason"] == "disabled by request"
        call("DELETE", ENDPOINT, endpoint_id=failing)

        # One of each error, validated too.
        writer = create_key(backend.database_url, team.name, ["data:read", "data:write"])
        other = create_key(backend.database_url, f"{team.name}-other")
        call("GET", ENDPOINTS, 403, key=writer)
        call("GET", ENDPOINT, 404, key=other, endpoint_id=healthy)
        call("GET", MESSAGE, 404, key=other, message_id=test_message)
        call("GET", ENDPOINT, 404, endpoint_id=failing)  # deleted
        call("POST", ENDPOINTS, 400, body={"url": "ftp://x"})
        call("POST", ENDPOINTS, 400, body={"url": "http://x", "headers": {"Webhook-Signature": "forged"}})
        call("GET", MESSAGES, 400, query={"limit": 501})
        call("POST", f"{ENDPOINT}/recover", 400, endpoint_id=healthy, body={"since": "yesterday"})
        too_long = client.post(
            f"/v1/webhooks/messages/{test_message}/resend", content=b"x" * 1025, headers=team.headers
        )
        assert too_long.status_code == 413, too_long.text
    finally:
        receiver.stop()


def test_documented_errors_conform(server: Process, backend: Backend, team: Team) -> None:
    """One of each documented 4xx, validated against the document."""
    reader = create_key(backend.database_url, f"{team.name}-reader", ["data:read"])
    add = API["/v1/data/{namespace}"]["POST"]
    status = API["/v1/data/{namespace}/requests/{request_id}"]["GET"]
    put_settings = API["/v1/data/{namespace}/settings"]["PUT"]
    one = {"data": {"id": "x"}}
    cases = [
        (add.Case(path_parameters={"namespace": "Bad"}, body=one), team.headers, 400),
        (add.Case(path_parameters={"namespace": "ok"}, body={"data": [{"id": 1}, {}]}), team.headers, 400),
        (add.Case(path_parameters={"namespace": "ok"}, body=one), {}, 401),
        (add.Case(path_parameters={"namespace": "ok"}, body=one), {"Authorization": "Bearer sk_unknown"}, 401),
        (add.Case(path_parameters={"namespace": "ok"}, body=one), reader.headers, 403),
        (add.Case(path_parameters={"namespace": "ok"}, body={"data": [{"id": "x"}] * 1001}), team.headers, 413),
        (
            status.Case(path_parameters={"namespace": "ok", "request_id": "req_01h2m7qdmdjckc30e1mnq6xqfd"}),
            team.headers,
            404,
        ),
        (
            put_settings.Case(path_parameters={"namespace": "ok"}, body={"schema": {"t": {"content_type": "gif"}}}),
            team.headers,
            400,
        ),
    ]
    for case, headers, expected in cases:
        response = case.call(base_url=server.base_url, headers=headers)
        assert response.status_code == expected, response.text
        case.validate_response(response, headers=headers)
        assert response.headers["x-should-retry"] == ["false"]


# --- rules the document states in words (once server bugs, now fixed) ----------------------------


def test_nul_characters_are_refused(team: Team, client: httpx.Client) -> None:
    """U+0000 anywhere in an object or a schema is a 400 on both databases; an id holding it, a 404."""
    bodies = [{"data": {"id": "n1", "a\x00b": 1}}, {"data": {"id": "n\x00"}}, {"data": [{"id": "n2", "t": ["x\x00"]}]}]
    for body in bodies:
        answer = client.post("/v1/data/nul", json=body, headers=team.headers)
        assert answer.status_code == 400, f"POST {body!r}: {answer.status_code} {answer.text}"
        assert "NUL" in answer.json()["error"]["message"]
    settings_answer = client.put("/v1/data/nul/settings", json={"schema": {"a\x00": {}}}, headers=team.headers)
    assert settings_answer.status_code == 400, settings_answer.text
    for path in ("/v1/data/nul/objects/a%00", "/v1/data/nul/requests/req_%00"):
        answer = client.get(path, headers=team.headers)
        assert answer.status_code == 404, f"GET {path}: {answer.status_code} {answer.text}"


def test_405_lists_every_allowed_method(team: Team, client: httpx.Client) -> None:
    """On every path, a method it does not serve is a 405 whose `Allow` lists exactly the documented
    methods (and HEAD beside GET), even where one route's `{parameter}` could claim another's path."""
    examples = {
        parameter["name"]: parameter["example"]
        for parameter in DOCUMENT["components"]["parameters"].values()
        if parameter["in"] == "path" and "example" in parameter
    }
    for path, item in DOCUMENT["paths"].items():
        documented = {method.upper() for method in item if method in HTTP_METHODS}
        allowed = documented | ({"HEAD"} if "GET" in documented else set())
        url = re.sub(r"\{(\w+)\}", lambda m: examples.get(m[1], "x"), path)
        answer = client.request("OPTIONS", url, headers=team.headers)
        assert answer.status_code == 405, f"OPTIONS {url}: {answer.status_code} {answer.text}"
        assert answer.json()["error"]["type"] == "method_not_allowed"
        assert {m.strip() for m in answer.headers["allow"].split(",")} == allowed, f"OPTIONS {url}"


def test_namespace_with_trailing_newline_is_rejected(team: Team, client: httpx.Client) -> None:
    answer = client.post("/v1/data/abc%0A", json={"data": {"id": "x"}}, headers=team.headers)
    assert answer.status_code == 400, answer.text
    ref = client.put("/v1/data/abc/settings", json={"schema": {"f": {"belongs_to": "users\n"}}}, headers=team.headers)
    assert ref.status_code == 400, ref.text


def test_names_with_a_trailing_newline_are_rejected(team: Team, client: httpx.Client) -> None:
    """List names and policy versions are full-matched too."""
    listed = client.put("/v1/lists/abc%0A", json={"kind": "keyword", "values": ["a"]}, headers=team.headers)
    assert listed.status_code == 400, listed.text
    put = client.put("/v1/data/nl/policy", json={"rules": [{"name": "r", "when": "true"}]}, headers=team.headers)
    assert put.status_code == 200, put.text
    version = client.get("/v1/data/nl/policy/versions/1%0A", headers=team.headers)
    assert version.status_code == 400, version.text


def test_integral_float_limits_are_integers(team: Team, client: httpx.Client) -> None:
    """`field_limit` and `display_hint.order` are JSON Schema integers, which 5.0 is."""
    body = {"schema": {"t": {"field_limit": 5.0, "display_hint": {"type": "title", "order": 1.0}}}}
    answer = client.put("/v1/data/floats/settings", json=body, headers=team.headers)
    assert answer.status_code == 200, answer.text


# --- server bugs found by the run above, fixed since: each stays as a test -----------------------


def test_webhook_nul_is_refused(
    request: pytest.FixtureRequest, backend: Backend, team: Team, client: httpx.Client
) -> None:
    for body in (
        {"url": "http://127.0.0.1:9/x\x00"},
        {"url": "http://127.0.0.1:9/x", "description": "a\x00"},
        {"url": "http://127.0.0.1:9/x", "headers": {"X-A\x00": "b"}},
        {"url": "http://127.0.0.1:9/x", "headers": {"X-A": "b\x00"}},
    ):
        answer = client.post("/v1/webhooks/endpoints", json=body, headers=team.headers)
        assert answer.status_code == 400, f"POST {body!r}: {answer.status_code} {answer.text}"


def test_webhook_nul_in_path_or_query_is_not_a_server_fault(
    request: pytest.FixtureRequest, backend: Backend, team: Team, client: httpx.Client
) -> None:
    for path in (
        "/v1/webhooks/endpoints/ep_%00",
        "/v1/webhooks/messages/msg_%00",
        "/v1/webhooks/messages?namespace=%00",
        "/v1/webhooks/messages?object_id=%00",
    ):
        answer = client.get(path, headers=team.headers)
        assert answer.status_code < 500, f"GET {path}: {answer.status_code} {answer.text}"
    answer = client.post("/v1/webhooks/messages/msg_%00/resend", headers=team.headers)
    assert answer.status_code == 404, answer.text


def test_unparsable_webhook_url_is_a_400(
    request: pytest.FixtureRequest, backend: Backend, team: Team, client: httpx.Client
) -> None:
    answer = client.post("/v1/webhooks/endpoints", json={"url": "http://["}, headers=team.headers)
    assert answer.status_code == 400, answer.text


def test_cursor_outside_64_bits_is_a_400(
    request: pytest.FixtureRequest, backend: Backend, team: Team, client: httpx.Client
) -> None:
    for before in (str(2**63), str(-(2**63) - 1)):
        answer = client.get("/v1/webhooks/messages", params={"before": before}, headers=team.headers)
        assert answer.status_code == 400, f"before={before}: {answer.status_code} {answer.text}"


def test_download_url_of_a_nul_request_id_is_a_404(
    request: pytest.FixtureRequest, backend: Backend, team: Team, client: httpx.Client
) -> None:
    answer = client.get("/v1/data/nul/requests/req_%00/results/download-url", headers=team.headers)
    assert answer.status_code == 404, answer.text
