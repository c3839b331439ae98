"""`client.webhooks` [Vigil extension]: `.endpoints` (create, read, change, delete, rotate the
secret, send a test, recover) and `.messages` (the delivery log, resend). Needs the `admin` scope."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vigil.client._calls import Call, path
from vigil.client._config import NOT_GIVEN, NotGiven
from vigil.client.types.webhooks import (
    Endpoint,
    EndpointDeleted,
    EndpointList,
    Message,
    MessagePage,
    MessageQueued,
    Recovered,
    SecretRotated,
)

if TYPE_CHECKING:
    from vigil.client._async_client import AsyncVigil
    from vigil.client._client import Vigil

__all__ = ["AsyncWebhooks", "Webhooks"]

Time = str | datetime  # ISO 8601 text, or a datetime (naive means UTC)


def _iso(value: Time) -> str:
    return value.isoformat() if isinstance(value, datetime) else value


def _given(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if not isinstance(value, NotGiven)}


def _create(fields: dict[str, Any]) -> Call[Endpoint]:
    return Call("POST", "/v1/webhooks/endpoints", Endpoint, json=fields)


def _list() -> Call[EndpointList]:
    return Call("GET", "/v1/webhooks/endpoints", EndpointList)


def _endpoint_path(endpoint_id: str, action: str = "") -> str:
    return path("/v1/webhooks/endpoints/{}", endpoint_id) + action


def _get(endpoint_id: str) -> Call[Endpoint]:
    return Call("GET", _endpoint_path(endpoint_id), Endpoint)


def _update(endpoint_id: str, fields: dict[str, Any]) -> Call[Endpoint]:
    return Call("PATCH", _endpoint_path(endpoint_id), Endpoint, json=fields)


def _delete(endpoint_id: str) -> Call[EndpointDeleted]:
    return Call("DELETE", _endpoint_path(endpoint_id), EndpointDeleted)


def _rotate_secret(endpoint_id: str) -> Call[SecretRotated]:
    return Call("POST", _endpoint_path(endpoint_id, "/rotate-secret"), SecretRotated)


def _send_test(endpoint_id: str) -> Call[MessageQueued]:
    return Call("POST", _endpoint_path(endpoint_id, "/test"), MessageQueued)


def _recover(endpoint_id: str, since: Time) -> Call[Recovered]:
    return Call("POST", _endpoint_path(endpoint_id, "/recover"), Recovered, json={"since": _iso(since)})


def _messages(filters: dict[str, Any]) -> Call[MessagePage]:
    params = {name: _iso(value) if isinstance(value, datetime) else str(value) for name, value in filters.items()}
    return Call("GET", "/v1/webhooks/messages", MessagePage, params=params)


def _message(message_id: str) -> Call[Message]:
    return Call("GET", path("/v1/webhooks/messages/{}", message_id), Message)


def _resend(message_id: str) -> Call[MessageQueued]:
    return Call("POST", path("/v1/webhooks/messages/{}/resend", message_id), MessageQueued)


class Endpoints:
    def __init__(self, client: Vigil) -> None:
        self._client = client

    def create(
        self,
        *,
        url: str,
        event_types: Sequence[str] | None | NotGiven = NOT_GIVEN,
        namespaces: Sequence[str] | None | NotGiven = NOT_GIVEN,
        headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        description: str | NotGiven = NOT_GIVEN,
    ) -> Endpoint:
        """A new endpoint; its `secret` is in this answer only. `event_types` and `namespaces`
        left out (or None) mean every one."""
        fields = _given(
            url=url, event_types=event_types, namespaces=namespaces, headers=headers, description=description
        )
        return self._client._call(_create(fields))

    def list(self) -> EndpointList:
        return self._client._call(_list())

    def get(self, endpoint_id: str) -> Endpoint:
        """The endpoint with its `health`."""
        return self._client._call(_get(endpoint_id))

    def update(
        self,
        endpoint_id: str,
        *,
        url: str | NotGiven = NOT_GIVEN,
        event_types: Sequence[str] | None | NotGiven = NOT_GIVEN,
        namespaces: Sequence[str] | None | NotGiven = NOT_GIVEN,
        headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        description: str | NotGiven = NOT_GIVEN,
        enabled: bool | NotGiven = NOT_GIVEN,
    ) -> Endpoint:
        """Change the fields given; `enabled=True` re-enables a disabled endpoint."""
        fields = _given(
            url=url, event_types=event_types, namespaces=namespaces, headers=headers,
            description=description, enabled=enabled,
        )  # fmt: skip
        return self._client._call(_update(endpoint_id, fields))

    def delete(self, endpoint_id: str) -> EndpointDeleted:
        return self._client._call(_delete(endpoint_id))

    def rotate_secret(self, endpoint_id: str) -> SecretRotated:
        """A new secret; the old one keeps signing beside it for 24 hours."""
        return self._client._call(_rotate_secret(endpoint_id))

    def send_test(self, endpoint_id: str) -> MessageQueued:
        """Queue a `webhook.test` event to the endpoint."""
        return self._client._call(_send_test(endpoint_id))

    def recover(self, endpoint_id: str, *, since: Time) -> Recovered:
        """Send again every failed message created since then."""
        return self._client._call(_recover(endpoint_id, since))


class Messages:
    def __init__(self, client: Vigil) -> None:
        self._client = client

    def list(
        self,
        *,
        endpoint_id: str | NotGiven = NOT_GIVEN,
        status: str | NotGiven = NOT_GIVEN,
        namespace: str | NotGiven = NOT_GIVEN,
        object_id: str | NotGiven = NOT_GIVEN,
        since: Time | NotGiven = NOT_GIVEN,
        until: Time | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        before: str | NotGiven = NOT_GIVEN,
    ) -> MessagePage:
        """The delivery log, newest first, each message with its attempts; pass the answer's
        `next_before` as `before` for the next page."""
        filters = _given(
            endpoint_id=endpoint_id, status=status, namespace=namespace, object_id=object_id,
            since=since, until=until, limit=limit, before=before,
        )  # fmt: skip
        return self._client._call(_messages(filters))

    def get(self, message_id: str) -> Message:
        return self._client._call(_message(message_id))

    def resend(self, message_id: str) -> MessageQueued:
        """Send one message again, whatever its state."""
        return self._client._call(_resend(message_id))


class Webhooks:
    def __init__(self, client: Vigil) -> None:
        self.endpoints = Endpoints(client)
        self.messages = Messages(client)


class AsyncEndpoints:
    def __init__(self, client: AsyncVigil) -> None:
        self._client = client

    async def create(
        self,
        *,
        url: str,
        event_types: Sequence[str] | None | NotGiven = NOT_GIVEN,
        namespaces: Sequence[str] | None | NotGiven = NOT_GIVEN,
        headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        description: str | NotGiven = NOT_GIVEN,
    ) -> Endpoint:
        fields = _given(
            url=url, event_types=event_types, namespaces=namespaces, headers=headers, description=description
        )
        return await self._client._call(_create(fields))

    async def list(self) -> EndpointList:
        return await self._client._call(_list())

    async def get(self, endpoint_id: str) -> Endpoint:
        return await self._client._call(_get(endpoint_id))

    async def update(
        self,
        endpoint_id: str,
        *,
        url: str | NotGiven = NOT_GIVEN,
        event_types: Sequence[str] | None | NotGiven = NOT_GIVEN,
        namespaces: Sequence[str] | None | NotGiven = NOT_GIVEN,
        headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
        description: str | NotGiven = NOT_GIVEN,
        enabled: bool | NotGiven = NOT_GIVEN,
    ) -> Endpoint:
        fields = _given(
            url=url, event_types=event_types, namespaces=namespaces, headers=headers,
            description=description, enabled=enabled,
        )  # fmt: skip
        return await self._client._call(_update(endpoint_id, fields))

    async def delete(self, endpoint_id: str) -> EndpointDeleted:
        return await self._client._call(_delete(endpoint_id))

    async def rotate_secret(self, endpoint_id: str) -> SecretRotated:
        return await self._client._call(_rotate_secret(endpoint_id))

    async def send_test(self, endpoint_id: str) -> MessageQueued:
        return await self._client._call(_send_test(endpoint_id))

    async def recover(self, endpoint_id: str, *, since: Time) -> Recovered:
        return await self._client._call(_recover(endpoint_id, since))


class AsyncMessages:
    def __init__(self, client: AsyncVigil) -> None:
        self._client = client

    async def list(
        self,
        *,
        endpoint_id: str | NotGiven = NOT_GIVEN,
        status: str | NotGiven = NOT_GIVEN,
        namespace: str | NotGiven = NOT_GIVEN,
        object_id: str | NotGiven = NOT_GIVEN,
        since: Time | NotGiven = NOT_GIVEN,
        until: Time | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        before: str | NotGiven = NOT_GIVEN,
    ) -> MessagePage:
        filters = _given(
            endpoint_id=endpoint_id, status=status, namespace=namespace, object_id=object_id,
            since=since, until=until, limit=limit, before=before,
        )  # fmt: skip
        return await self._client._call(_messages(filters))

    async def get(self, message_id: str) -> Message:
        return await self._client._call(_message(message_id))

    async def resend(self, message_id: str) -> MessageQueued:
        return await self._client._call(_resend(message_id))


class AsyncWebhooks:
    def __init__(self, client: AsyncVigil) -> None:
        self.endpoints = AsyncEndpoints(client)
        self.messages = AsyncMessages(client)
