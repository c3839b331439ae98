"""The official SafetyKit SDK (from PyPI, unchanged) against a running Vigil."""

from __future__ import annotations

import time

import pytest
from safetykit import AuthenticationError, BadRequestError, NotFoundError, Safetykit


def wait_succeeded(client: Safetykit, request_id: str, namespace: str):
    deadline = time.monotonic() + 30
    while True:
        status = client.data.get_status(request_id, namespace=namespace)
        if status.status in ("succeeded", "failed") or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_sdk_add_then_get_status_reaches_succeeded_with_one_item_per_object(server, team):
    with Safetykit(api_key=team.key, base_url=server.base_url) as client:
        check_add_and_status(client, server.base_url)


def check_add_and_status(client: Safetykit, base_url: str) -> None:
    objects = [
        {"id": "product_12345", "title": "Ceramic Mug", "images": ["https://example.com/m.jpg"], "price": 24.0},
        {"id": "product_67890", "title": "Tea Pot", "price": 31.5},
    ]
    response = client.data.add("products", data=objects)
    assert response.status == "accepted"
    assert response.request_id.startswith("req_")
    status = wait_succeeded(client, response.request_id, "products")
    assert status.status == "succeeded"
    assert status.request_id == response.request_id
    assert [item.id for item in status.data] == ["product_12345", "product_67890"]
    for item in status.data:
        assert item.output is not None
        assert item.output.labels == [] and item.output.actions == [] and item.output.fields == {}
        assert item.url.startswith(base_url)


def test_sdk_single_object_and_namespace_keyword(server, team):
    with Safetykit(api_key=team.key, base_url=server.base_url) as client:
        response = client.data.add(namespace="users", data={"id": "user-1", "name": "Ann"})
        assert wait_succeeded(client, response.request_id, "users").data[0].id == "user-1"


def test_sdk_maps_errors_to_its_exception_classes(server, team):
    with Safetykit(api_key=team.key, base_url=server.base_url, max_retries=0) as client:
        with pytest.raises(BadRequestError) as bad:
            client.data.add("products", data=[{"id": "a"}, {"title": "no id"}])
        assert "data[1]" in str(bad.value)
        with pytest.raises(NotFoundError):
            client.data.get_status("req_01h2m7qdmdjckc30e1mnq6xqfd", namespace="products")
    with Safetykit(api_key="sk_wrong", base_url=server.base_url, max_retries=0) as wrong:
        with pytest.raises(AuthenticationError):
            wrong.data.add("products", data={"id": "a"})
