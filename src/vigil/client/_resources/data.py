"""`client.data`: the Data API (add objects, follow requests, settings, object reads, bulk
import and results). `Data` and `AsyncData` send the same calls, built below."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from vigil.client._base import connection_error
from vigil.client._calls import Call, path
from vigil.client._config import NOT_GIVEN, NotGiven
from vigil.client._errors import ResultsNotReadyError, WaitTimeoutError
from vigil.client._resources import _files
from vigil.client._uploads import UploadSource, prepare_body
from vigil.client._wait import DEFAULT_WAIT_TIMEOUT_S, poll_delays_s, sleep_for_s
from vigil.client.types.data import (
    AddResponse,
    DownloadURL,
    NamespaceSettings,
    RequestStatus,
    Result,
    SettingsUpdated,
    StoredObject,
    Upload,
    UploadURL,
)

if TYPE_CHECKING:
    from vigil.client._async_client import AsyncVigil
    from vigil.client._client import Vigil

__all__ = ["AsyncData", "Data"]

DataObject = Mapping[str, Any]


def _ingest(namespace: str, body: Mapping[str, Any]) -> Call[AddResponse]:
    if not isinstance(body, Mapping):
        raise TypeError('ingest() takes the request body as a mapping: {"data": [{"id": …}, …]}')
    return Call("POST", path("/v1/data/{}", namespace), AddResponse, json=dict(body))


def _add(namespace: str, data: DataObject | Iterable[DataObject]) -> Call[AddResponse]:
    objects: object = dict(data) if isinstance(data, Mapping) else list(data)
    return Call("POST", path("/v1/data/{}", namespace), AddResponse, json={"data": objects})


def _get_status(request_id: str, namespace: str) -> Call[RequestStatus]:
    return Call("GET", path("/v1/data/{}/requests/{}", namespace, request_id), RequestStatus)


def _update_settings(namespace: str, schema: Mapping[str, Any], update_mode: str | NotGiven) -> Call[SettingsUpdated]:
    body: dict[str, Any] = {"schema": dict(schema)}
    if not isinstance(update_mode, NotGiven):
        body["update_mode"] = update_mode
    return Call("PUT", path("/v1/data/{}/settings", namespace), SettingsUpdated, json=body)


def _get_settings(namespace: str) -> Call[NamespaceSettings]:
    return Call("GET", path("/v1/data/{}/settings", namespace), NamespaceSettings)


def _get_object(object_id: str, namespace: str) -> Call[StoredObject]:
    return Call("GET", path("/v1/data/{}/objects/{}", namespace, object_id), StoredObject)


def _create_upload_url(namespace: str, schema: Mapping[str, Any] | NotGiven) -> Call[UploadURL]:
    body = None if isinstance(schema, NotGiven) else {"schema": dict(schema)}
    return Call("POST", path("/v1/data/{}/requests/upload-url", namespace), UploadURL, json=body)


def _get_download_url(request_id: str, namespace: str) -> Call[DownloadURL]:
    return Call("GET", path("/v1/data/{}/requests/{}/results/download-url", namespace, request_id), DownloadURL)


def _results_url(found: DownloadURL, base_url: str) -> str:
    if found.status != "succeeded" or not found.data_url:
        raise ResultsNotReadyError(found)
    return _files.absolute(base_url, found.data_url)


class Data:
    def __init__(self, client: Vigil) -> None:
        self._client = client

    def ingest(self, namespace: str, body: Mapping[str, Any]) -> AddResponse:
        """Add or update objects from a request body: `ingest("products", {"data": [{"id": "p1", …}]})`."""
        return self._client._call(_ingest(namespace, body))

    def add(self, namespace: str, *, data: DataObject | Iterable[DataObject]) -> AddResponse:
        """Add or update one object (a mapping) or several (an iterable of them), each with an `id`."""
        return self._client._call(_add(namespace, data))

    def get_status(self, request_id: str, namespace: str) -> RequestStatus:
        """The request's status, with every object's result once it has succeeded."""
        return self._client._call(_get_status(request_id, namespace))

    def wait(self, request_id: str, namespace: str, *, timeout: float | None = DEFAULT_WAIT_TIMEOUT_S) -> RequestStatus:
        """Poll until the request is `succeeded` or `failed` and return that status; raise
        WaitTimeoutError after `timeout` seconds (None: wait for ever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for delay_s in poll_delays_s():
            status = self.get_status(request_id, namespace)
            if status.is_terminal:
                return status
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise WaitTimeoutError(request_id, timeout or 0.0, status)
            time.sleep(sleep_for_s(delay_s, deadline, now))
        raise AssertionError("unreachable: poll_delays_s() never ends")

    def update_settings(
        self, namespace: str, *, schema: Mapping[str, Any], update_mode: str | NotGiven = NOT_GIVEN
    ) -> SettingsUpdated:
        """Create or replace the namespace's settings (its schema, and `update_mode`)."""
        return self._client._call(_update_settings(namespace, schema, update_mode))

    def get_settings(self, namespace: str) -> NamespaceSettings:
        return self._client._call(_get_settings(namespace))

    def get_object(self, object_id: str, namespace: str) -> StoredObject:
        """The object's latest version and its current decision."""
        return self._client._call(_get_object(object_id, namespace))

    def create_upload_url(self, namespace: str, *, schema: Mapping[str, Any] | NotGiven = NOT_GIVEN) -> UploadURL:
        """Start a bulk import: a URL to PUT a JSONL file to (`upload()` does both steps)."""
        return self._client._call(_create_upload_url(namespace, schema))

    def upload(self, namespace: str, file: UploadSource, *, gzip: bool = False) -> Upload:
        """Bulk-import a JSONL file (a path), or objects from an iterable, streaming them to the
        upload URL; `gzip=True` compresses on the way. Follow it with `wait()`."""
        body = prepare_body(file, gzip)
        try:
            created = self.create_upload_url(namespace)
            url = _files.absolute(self._client.base_url, created.upload_url)
            http, timeout = self._client._http, self._client.timeout
            response = self._client._send(lambda _: _files.put_file(http, url, body, timeout, asynchronous=False))
            return _files.uploaded(created, body, response)
        finally:
            body.close()

    def get_download_url(self, request_id: str, namespace: str) -> DownloadURL:
        """The status, with a signed URL of the results file (JSONL) once it has succeeded."""
        return self._client._call(_get_download_url(request_id, namespace))

    def iter_results(self, request_id: str, namespace: str) -> Iterator[Result]:
        """Stream the results file of a succeeded request, one `Result` per line (an import's
        rejected lines included, with `error`); the request is read at the first step of the
        loop, and raises ResultsNotReadyError before it has succeeded."""
        url = _results_url(self.get_download_url(request_id, namespace), self._client.base_url)
        http, timeout = self._client._http, self._client.timeout
        response = self._client._send(lambda _: _files.get_file(http, url, timeout), stream=True)
        try:
            for line in response.iter_lines():
                result = _files.result_line(line, response)
                if result is not None:
                    yield result
        except httpx.RequestError as exc:
            raise connection_error(response.request, exc) from exc
        finally:
            response.close()


class AsyncData:
    def __init__(self, client: AsyncVigil) -> None:
        self._client = client

    async def ingest(self, namespace: str, body: Mapping[str, Any]) -> AddResponse:
        return await self._client._call(_ingest(namespace, body))

    async def add(self, namespace: str, *, data: DataObject | Iterable[DataObject]) -> AddResponse:
        return await self._client._call(_add(namespace, data))

    async def get_status(self, request_id: str, namespace: str) -> RequestStatus:
        return await self._client._call(_get_status(request_id, namespace))

    async def wait(
        self, request_id: str, namespace: str, *, timeout: float | None = DEFAULT_WAIT_TIMEOUT_S
    ) -> RequestStatus:
        deadline = None if timeout is None else time.monotonic() + timeout
        for delay_s in poll_delays_s():
            status = await self.get_status(request_id, namespace)
            if status.is_terminal:
                return status
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise WaitTimeoutError(request_id, timeout or 0.0, status)
            await asyncio.sleep(sleep_for_s(delay_s, deadline, now))
        raise AssertionError("unreachable: poll_delays_s() never ends")

    async def update_settings(
        self, namespace: str, *, schema: Mapping[str, Any], update_mode: str | NotGiven = NOT_GIVEN
    ) -> SettingsUpdated:
        return await self._client._call(_update_settings(namespace, schema, update_mode))

    async def get_settings(self, namespace: str) -> NamespaceSettings:
        return await self._client._call(_get_settings(namespace))

    async def get_object(self, object_id: str, namespace: str) -> StoredObject:
        return await self._client._call(_get_object(object_id, namespace))

    async def create_upload_url(self, namespace: str, *, schema: Mapping[str, Any] | NotGiven = NOT_GIVEN) -> UploadURL:
        return await self._client._call(_create_upload_url(namespace, schema))

    async def upload(self, namespace: str, file: UploadSource, *, gzip: bool = False) -> Upload:
        body = prepare_body(file, gzip)
        try:
            created = await self.create_upload_url(namespace)
            url = _files.absolute(self._client.base_url, created.upload_url)
            http, timeout = self._client._http, self._client.timeout
            response = await self._client._send(lambda _: _files.put_file(http, url, body, timeout, asynchronous=True))
            return _files.uploaded(created, body, response)
        finally:
            body.close()

    async def get_download_url(self, request_id: str, namespace: str) -> DownloadURL:
        return await self._client._call(_get_download_url(request_id, namespace))

    async def iter_results(self, request_id: str, namespace: str) -> AsyncIterator[Result]:
        """`async for result in client.data.iter_results(…)`: as `Data.iter_results`."""
        url = _results_url(await self.get_download_url(request_id, namespace), self._client.base_url)
        http, timeout = self._client._http, self._client.timeout
        response = await self._client._send(lambda _: _files.get_file(http, url, timeout), stream=True)
        try:
            async for line in response.aiter_lines():
                result = _files.result_line(line, response)
                if result is not None:
                    yield result
        except httpx.RequestError as exc:
            raise connection_error(response.request, exc) from exc
        finally:
            await response.aclose()
