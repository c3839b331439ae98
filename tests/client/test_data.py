"""`client.data` against a real `vigil serve` (SQLite and PostgreSQL): the issue's example,
add → wait → results, settings, object reads, and the server's errors as exceptions."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Backend
from tests.helpers import Process, Team, create_key, query
from vigil.client import (
    AsyncVigil,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    ResultsNotReadyError,
    Vigil,
    VigilError,
    WaitTimeoutError,
)
from vigil.client.types import Output, Result

EMPTY_OUTPUT = {"labels": [], "actions": [], "fields": {}}


def test_the_issue_example_ingest_then_wait_then_results(vigil_client: Vigil, backend: Backend, team: Team) -> None:
    response = vigil_client.data.ingest(
        "products", {"data": [{"id": "product_12345", "title": "Ceramic Mug", "price": 24.0}]}
    )
    assert response.request_id.startswith("req_") and response.status == "accepted"

    status = vigil_client.data.wait(response.request_id, "products", timeout=30)
    assert (status.namespace, status.request_id, status.status) == ("products", response.request_id, "succeeded")
    assert status.error_summary is None
    [item] = status.data
    assert isinstance(item, Result) and isinstance(item.output, Output)
    assert item.id == "product_12345" and item.output.to_dict() == EMPTY_OUTPUT
    assert "/ui/namespaces/products/objects/product_12345" in (item.url or "")

    streamed = list(vigil_client.data.iter_results(response.request_id, "products"))
    assert [r.to_dict() for r in streamed] == [item.to_dict()]
    stored = query(
        backend.database_url,
        "SELECT object_id, version FROM object_versions WHERE team_id = :t AND request_id = :r",
        {"t": team.team_id, "r": response.request_id},
    )
    assert [tuple(row) for row in stored] == [("product_12345", 1)]


def test_add_takes_one_object_or_an_iterable_and_upserts_by_id(vigil_client: Vigil) -> None:
    first = vigil_client.data.add("users", data={"id": "u1", "name": "Ann"})
    vigil_client.data.wait(first.request_id, "users", timeout=30)
    second = vigil_client.data.add("users", data=({"id": f"u{n}", "name": "Bo"} for n in (1, 2)))
    done = vigil_client.data.wait(second.request_id, namespace="users", timeout=30)
    assert [item.id for item in done.data] == ["u1", "u2"]

    latest = vigil_client.data.get_object("u1", namespace="users")
    assert (latest.namespace, latest.id, latest.version, latest.data) == ("users", "u1", 2, {"id": "u1", "name": "Bo"})
    assert latest.decision is not None and latest.decision.version == 2 and latest.decision.status == "succeeded"
    assert latest.decision.output is not None and latest.decision.output.labels == []


def test_object_ids_with_slashes_and_spaces_are_one_path_segment(vigil_client: Vigil) -> None:
    added = vigil_client.data.add("files", data={"id": "dir/a b?.txt#1"})
    vigil_client.data.wait(added.request_id, "files", timeout=30)
    assert vigil_client.data.get_object("dir/a b?.txt#1", "files").id == "dir/a b?.txt#1"


def test_settings_round_trip(vigil_client: Vigil) -> None:
    schema = {"title": {"display_hint": {"type": "title"}}, "price": {"content_type": "metadata"}}
    updated = vigil_client.data.update_settings("products", schema=schema, update_mode="merge")
    assert (updated.namespace, updated.status) == ("products", "updated")
    settings = vigil_client.data.get_settings("products")
    assert settings.schema == schema and settings.update_mode == "merge"

    added = vigil_client.data.add("products", data={"id": "p1", "title": "Mug", "price": 3})
    [item] = vigil_client.data.wait(added.request_id, "products", timeout=30).data
    assert item.metadata == {"price": 3}


def test_bad_input_raises_bad_request_with_the_servers_message_and_details(vigil_client: Vigil) -> None:
    with pytest.raises(BadRequestError) as raised:
        vigil_client.data.add("products", data=[{"id": "ok"}, {"title": "no id"}])
    error = raised.value
    assert error.status_code == 400 and error.type == "invalid_request"
    assert "data[1]" in error.message and "'id'" in error.message
    assert error.details[0]["index"] == 1
    assert error.x_request_id  # the server's id for this request, to find it in its logs

    with pytest.raises(BadRequestError, match="namespace"):
        vigil_client.data.add("Not A Namespace", data={"id": "x"})


def test_unknown_request_and_object_raise_not_found(vigil_client: Vigil) -> None:
    with pytest.raises(NotFoundError, match="req_nope"):
        vigil_client.data.get_status("req_nope", "products")
    with pytest.raises(NotFoundError):
        vigil_client.data.get_object("never-sent", "products")


def test_a_wrong_key_raises_authentication_error(server: Process) -> None:
    with (
        Vigil(api_key="sk_not_a_key", base_url=server.base_url) as client,
        pytest.raises(AuthenticationError) as raised,
    ):
        client.data.add("products", data={"id": "p1"})
    assert raised.value.status_code == 401 and raised.value.message


def test_a_key_without_the_scope_raises_permission_denied(backend: Backend, server: Process, team: Team) -> None:
    reader = create_key(backend.database_url, team.name, ["data:read"])
    with Vigil(api_key=reader.key, base_url=server.base_url) as client, pytest.raises(PermissionDeniedError) as raised:
        client.data.add("products", data={"id": "p1"})
    assert "data:write" in raised.value.message


def test_api_key_and_base_url_come_from_the_environment(
    server: Process, team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_API_KEY", team.key)
    monkeypatch.setenv("VIGIL_BASE_URL", server.base_url or "")
    with Vigil() as client:
        assert client.base_url == server.base_url
        assert client.data.add("products", data={"id": "p1"}).status == "accepted"


def test_wait_gives_up_after_its_timeout_with_the_last_status(vigil_client: Vigil) -> None:
    created = vigil_client.data.create_upload_url("products")  # stays `uploading`: no file comes
    with pytest.raises(WaitTimeoutError) as raised:
        vigil_client.data.wait(created.request_id, "products", timeout=0.5)
    assert raised.value.last_status.status == "uploading"
    assert created.request_id in str(raised.value)


def test_results_before_success_raise_results_not_ready(vigil_client: Vigil) -> None:
    created = vigil_client.data.create_upload_url("products")
    with pytest.raises(ResultsNotReadyError, match="'uploading'") as raised:
        list(vigil_client.data.iter_results(created.request_id, "products"))
    assert raised.value.status.data_url is None


def test_async_client_ingest_wait_results(server: Process, team: Team) -> None:
    async def go() -> tuple[list[str], list[str], str]:
        async with AsyncVigil(api_key=team.key, base_url=server.base_url) as client:
            added = await client.data.ingest("products", {"data": [{"id": "a1"}, {"id": "a2"}]})
            status = await client.data.wait(added.request_id, "products", timeout=30)
            streamed = [result.id async for result in client.data.iter_results(added.request_id, "products")]
            stored = await client.data.get_object("a2", "products")
            return [item.id for item in status.data], streamed, stored.id

    inline, streamed, stored = asyncio.run(go())
    assert inline == streamed == ["a1", "a2"] and stored == "a2"


def test_a_closed_client_says_so(server: Process, team: Team) -> None:
    client = Vigil(api_key=team.key, base_url=server.base_url)
    client.close()
    with pytest.raises(VigilError, match="has been closed"):
        client.data.add("products", data={"id": "p1"})
