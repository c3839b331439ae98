"""`client.lists` [Vigil extension]: a team's named value lists, read by its policies."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from vigil.client._calls import Call, path
from vigil.client._config import NOT_GIVEN, NotGiven
from vigil.client.types.lists import ListDeleted, ListSummaries, ListUpdated, NamedList

if TYPE_CHECKING:
    from vigil.client._async_client import AsyncVigil
    from vigil.client._client import Vigil

__all__ = ["AsyncLists", "Lists"]


def _update(name: str, kind: str, values: Iterable[str], description: str | NotGiven) -> Call[ListUpdated]:
    body: dict[str, Any] = {"kind": kind, "values": list(values)}
    if not isinstance(description, NotGiven):
        body["description"] = description
    return Call("PUT", path("/v1/lists/{}", name), ListUpdated, json=body)


def _get(name: str) -> Call[NamedList]:
    return Call("GET", path("/v1/lists/{}", name), NamedList)


def _list() -> Call[ListSummaries]:
    return Call("GET", "/v1/lists", ListSummaries)


def _delete(name: str) -> Call[ListDeleted]:
    return Call("DELETE", path("/v1/lists/{}", name), ListDeleted)


class Lists:
    def __init__(self, client: Vigil) -> None:
        self._client = client

    def update(
        self, name: str, *, kind: str, values: Iterable[str], description: str | NotGiven = NOT_GIVEN
    ) -> ListUpdated:
        """Create or replace a list (each write is a new version). `kind` fixes how values are
        normalised and matched, such as "domain" or "keyword"; see docs/client.md."""
        return self._client._call(_update(name, kind, values, description))

    def get(self, name: str) -> NamedList:
        return self._client._call(_get(name))

    def list(self) -> ListSummaries:
        return self._client._call(_list())

    def delete(self, name: str) -> ListDeleted:
        """Refused (BadRequestError) while a current policy reads the list."""
        return self._client._call(_delete(name))


class AsyncLists:
    def __init__(self, client: AsyncVigil) -> None:
        self._client = client

    async def update(
        self, name: str, *, kind: str, values: Iterable[str], description: str | NotGiven = NOT_GIVEN
    ) -> ListUpdated:
        return await self._client._call(_update(name, kind, values, description))

    async def get(self, name: str) -> NamedList:
        return await self._client._call(_get(name))

    async def list(self) -> ListSummaries:
        return await self._client._call(_list())

    async def delete(self, name: str) -> ListDeleted:
        return await self._client._call(_delete(name))
