"""The OpenAPI document (api/openapi.json) describes the running server exactly.

It is served as is, it is a valid OpenAPI 3.1 document, it names every route of the app and
no other, and schemathesis, throwing generated requests at the /v1 routes of a real
`vigil serve`, finds no 5xx and no answer the document does not describe.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.helpers import Process, Team, create_key, wait_status
from vigil.api.app import ROUTES
from vigil.api.docs import OPENAPI_PATH

HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
DOCUMENT: dict[str, Any] = json.loads(OPENAPI_PATH.read_bytes())

# Seeded for every generated run, and named by the document's parameter examples, so that the
# examples phase reads a namespace and an object that exist (200 answers, not only 404s).
NAMESPACE = DOCUMENT["components"]["parameters"]["Namespace"]["example"]
OBJECT_ID = DOCUMENT["components"]["parameters"]["ObjectId"]["example"]
SEED_SETTINGS = {
    "schema": {
        "title": {"display_hint": {"type": "title", "name": "Title", "order": 1}, "field_limit": 200},
        "image": {"content_type": "image_url", "display_hint": {"type": "primary_image_url"}},
        "seller": {"belongs_to": "users"},
    },
    "update_mode": "replace",
}

MAX_EXAMPLES = 30  # per operation and phase; the file stays well under a minute per backend


def _route_table() -> set[tuple[str, str]]:
    """(path, method) of every route; `{object_id:path}` is written `{object_id}`, as in OpenAPI.

    Starlette adds HEAD to every GET route on its own; the document says so once, in info.
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


def test_document_is_pretty_printed_json() -> None:
    text = OPENAPI_PATH.read_text(encoding="utf-8")
    assert text == json.dumps(DOCUMENT, indent=2, ensure_ascii=False) + "\n"
    assert DOCUMENT["openapi"].startswith("3.1.")


def test_every_route_is_documented_and_nothing_else() -> None:
    routes, documented = _route_table(), _document_table()
    assert routes - documented == set(), "routes missing from api/openapi.json"
    assert documented - routes == set(), "operations in api/openapi.json that the app does not serve"


def test_every_operation_is_described() -> None:
    for path, method, op in _operations():
        assert op.get("summary") and op.get("description"), f"{method.upper()} {path} needs a summary and description"
        assert op.get("operationId"), f"{method.upper()} {path} needs an operationId"
        for status, response in op["responses"].items():
            # written out even beside a $ref: /docs renders it without resolving references
            assert response.get("description"), f"{method.upper()} {path} {status} needs a description"
        if path.startswith("/v1/"):
            assert op["security"] == [{"bearerAuth": []}], f"{method.upper()} {path} needs the bearer key"
            for status in ("400", "401", "403"):
                assert status in op["responses"], f"{method.upper()} {path} must document {status}"
        else:
            assert op["security"] == [], f"{method.upper()} {path} needs no key"


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
    for path, _, op in _operations():
        assert path in answer.text
        assert html.escape(op["summary"]) in answer.text
        for response in op["responses"].values():
            assert html.escape(response["description"]) in answer.text


# --- the running server against the document, with generated requests -----------------------


def _seed(client: httpx.Client, team: Team) -> str:
    """A namespace with settings, an evaluated object in it, and the request that added it."""
    put = client.put(f"/v1/data/{NAMESPACE}/settings", json=SEED_SETTINGS, headers=team.headers)
    assert put.status_code == 200, put.text
    added = client.post(
        f"/v1/data/{NAMESPACE}",
        json={"data": [{"id": OBJECT_ID, "title": "Vintage camera", "image": "https://example.com/c.jpg"}]},
        headers=team.headers,
    )
    assert added.status_code == 200, added.text
    request_id: str = added.json()["requestId"]
    assert wait_status(client, NAMESPACE, request_id, team.headers)["status"] == "succeeded"
    return request_id


def _config(**headers: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "headers": headers,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "checks": {
                # The contract answers 413 for too many objects in one call (spec §3).
                "negative_data_rejection": {
                    "expected-statuses": ["400", "401", "403", "404", "405", "413"],
                },
            },
        }
    )


def _load(server: Process, team: Team) -> OpenApiSchema:
    return schemathesis.openapi.from_url(f"{server.base_url}/openapi.json", config=_config(**team.headers))


# Loaded from the file (the served copy is the same bytes, see above); the base URL and the
# key are given per call, because each backend's server and each test's team are made at run time.
API = schemathesis.openapi.from_dict(DOCUMENT, config=_config()).include(path_regex="^/v1/")


@pytest.fixture
def seeded_team(team: Team, client: httpx.Client) -> Team:
    _seed(client, team)
    return team


@API.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_server_conforms_to_document(case: schemathesis.Case, server: Process, seeded_team: Team) -> None:
    case.call_and_validate(base_url=server.base_url, headers=seeded_team.headers)


def test_real_answers_conform(server: Process, team: Team, client: httpx.Client) -> None:
    """The answers generated requests rarely reach: a succeeded request, an object, settings, ops."""
    request_id = _seed(client, team)
    schema = _load(server, team)
    calls = [
        ("/v1/data/{namespace}/requests/{request_id}", "GET", {"namespace": NAMESPACE, "request_id": request_id}),
        ("/v1/data/{namespace}/objects/{object_id}", "GET", {"namespace": NAMESPACE, "object_id": OBJECT_ID}),
        ("/v1/data/{namespace}/settings", "GET", {"namespace": NAMESPACE}),
        ("/healthz", "GET", {}),
        ("/readyz", "GET", {}),
        ("/metrics", "GET", {}),
        ("/openapi.json", "GET", {}),
        ("/docs", "GET", {}),
    ]
    for path, method, parameters in calls:
        case = schema[path][method].Case(path_parameters=parameters)
        response = case.call_and_validate(base_url=server.base_url, headers=team.headers)
        assert response.status_code == 200, f"{method} {path}: {response.text}"
    status = client.get(f"/v1/data/{NAMESPACE}/requests/{request_id}", headers=team.headers).json()
    assert [item["id"] for item in status["data"]] == [OBJECT_ID]


def test_documented_errors_conform(server: Process, team: Team, backend: Any) -> None:
    """One of each documented error, validated against the document."""
    schema = _load(server, team)
    reader = create_key(backend.database_url, f"{team.name}-reader", ["data:read"])
    add = schema["/v1/data/{namespace}"]["POST"]
    cases = [
        # (case, headers, expected status)
        (add.Case(path_parameters={"namespace": "Bad"}, body={"data": {"id": "x"}}), team.headers, 400),
        (add.Case(path_parameters={"namespace": "ok"}, body={"data": [{"id": 1}, {}]}), team.headers, 400),
        (add.Case(path_parameters={"namespace": "ok"}, body={"data": {"id": "x"}}), {}, 401),
        (add.Case(path_parameters={"namespace": "ok"}, body={"data": {"id": "x"}}), reader.headers, 403),
        (add.Case(path_parameters={"namespace": "ok"}, body={"data": [{"id": "x"}] * 1001}), team.headers, 413),
        (
            schema["/v1/data/{namespace}/requests/{request_id}"]["GET"].Case(
                path_parameters={"namespace": "ok", "request_id": "req_01h2m7qdmdjckc30e1mnq6xqfd"}
            ),
            team.headers,
            404,
        ),
        (
            schema["/v1/data/{namespace}/settings"]["PUT"].Case(
                path_parameters={"namespace": "ok"}, body={"schema": {"t": {"content_type": "gif"}}}
            ),
            team.headers,
            400,
        ),
    ]
    for case, headers, expected in cases:
        response = case.call(base_url=server.base_url, headers=headers)
        assert response.status_code == expected, response.text
        case.validate_response(response, headers=headers)
        assert response.headers["x-should-retry"] == ["false"]
