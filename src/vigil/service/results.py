"""Results files (spec §3 download-url): a request's results as JSONL in the blob store.

The file is built once, by streaming pages of results from the database into the blob store,
so no more than a page is ever in memory: by the import runner before an import succeeds,
and on the first download-url call for an add request. An import's file has one line per
non-blank line of the upload, in order: the result (the shape of a status `data` item, plus
`line`) or, for a rejected line, `{"line", "id", "output": null, "error"}`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec

from vigil.blobs.base import BlobStore
from vigil.blobs.signing import BadSignature, Expired, UrlSigner
from vigil.config import Settings
from vigil.errors import BadRequest, Forbidden, NotFound
from vigil.service import status, validate
from vigil.service.links import object_url
from vigil.store import imports, requests
from vigil.store.clock import now_ms
from vigil.store.db import Database

RESULTS_PATH = "/results/{request_id}.jsonl"  # Vigil's own download URL, signed
PAGE_ROWS = 2000
WRITE_BYTES = 256 * 1024  # bytes gathered before handing a piece to the blob store

_encode = msgspec.json.encode


def results_key(team_id: str, namespace: str, request_id: str) -> str:
    return f"{team_id}/data-api-request-results/{namespace}/{request_id}.jsonl"


async def ensure_file(
    db: Database, store: BlobStore, team_id: str, namespace: str, request_id: str, base_url: str
) -> imports.ResultFile:
    """The request's results file, built now if it is not yet (call only once the items are terminal)."""
    async with db.read() as conn:
        found = await imports.get_result_file(conn, request_id)
        record = await requests.get(conn, team_id, namespace, request_id)
    if found is not None:
        return found
    if record is None:
        raise NotFound(f"no request {request_id!r} in namespace {namespace!r} for this API key's team")
    key = results_key(team_id, namespace, request_id)
    counter = [0]
    await store.write(key, _pieces(db, record, base_url, counter))
    async with db.write() as conn:
        await imports.put_result_file(conn, request_id, key, counter[0], now_ms())
        return await imports.get_result_file(conn, request_id) or imports.ResultFile(key, counter[0])


async def _pieces(
    db: Database, record: requests.RequestRecord, base_url: str, counter: list[int]
) -> AsyncIterator[bytes]:
    buffer = bytearray()
    async for line in _lines(db, record, base_url):
        buffer += line
        counter[0] += 1
        if len(buffer) >= WRITE_BYTES:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


async def _lines(db: Database, record: requests.RequestRecord, base_url: str) -> AsyncIterator[bytes]:
    """Results in request order, merged by line with the rejected lines of an import."""
    is_import = record.kind == "import"
    after_index, after_line = -1, 0
    items: list[imports.ResultRow] = []
    errors: list[imports.LineError] = []
    items_done = errors_done = False
    while True:
        if not items and not items_done:
            async with db.read() as conn:
                items = await imports.results_after(conn, record.id, after_index, PAGE_ROWS)
            items_done = len(items) < PAGE_ROWS
            items.reverse()  # popped from the end
        if not errors and not errors_done:
            if is_import:
                async with db.read() as conn:
                    errors = await imports.errors_after(conn, record.id, after_line, PAGE_ROWS)
            errors_done = not is_import or len(errors) < PAGE_ROWS
            errors.reverse()
        if not items and not errors:
            if items_done and errors_done:
                return
            continue
        if items and (not errors or items[-1].index + 1 < errors[-1].line):
            item = items.pop()
            after_index = item.index
            yield _encode(_item(item, record.namespace, base_url, is_import)) + b"\n"
        else:
            error = errors.pop()
            after_line = error.line
            yield _encode({"line": error.line, "id": error.object_id, "output": None, "error": error.problem}) + b"\n"


def _item(row: imports.ResultRow, namespace: str, base_url: str, is_import: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": row.object_id,
        "url": object_url(base_url, namespace, row.object_id, row.version),
        "metadata": row.metadata or {},
        "output": row.output,
    }
    if is_import:
        item["line"] = row.index + 1
    return item


async def download_url(
    db: Database, store: BlobStore, signer: UrlSigner, settings: Settings, team_id: str, namespace: str, request_id: str
) -> dict[str, Any]:
    """The download-url answer: always the URL shape; the `data_*` fields are null until `succeeded`."""
    validate.namespace(namespace)
    async with db.read() as conn:
        record = await requests.get(conn, team_id, namespace, request_id)
        if record is None:
            raise NotFound(f"no request {request_id!r} in namespace {namespace!r} for this API key's team")
        error_summary, extra = await status.summarize(conn, record)
    answer: dict[str, Any] = {
        "namespace": namespace,
        "request_id": request_id,
        "status": record.status,
        "data_url": None,
        "data_count": None,
        "data_expires_at": None,
        "error_summary": error_summary,
        **extra,
    }
    if record.status != requests.SUCCEEDED:
        return answer
    built = await ensure_file(db, store, team_id, namespace, request_id, settings.public_base_url)
    ttl_s = int(settings.results_url_ttl_s)
    expires_s = int(time.time()) + ttl_s
    path = RESULTS_PATH.format(request_id=request_id)
    url = store.presigned_get(built.object_key, ttl_s) or signer.sign("GET", path, expires_s)
    answer.update(data_url=url, data_count=built.line_count, data_expires_at=iso_ms(expires_s * 1000))
    return answer


async def open_download(
    db: Database, store: BlobStore, signer: UrlSigner, request_id: str, expires: str | None, signature: str | None
) -> AsyncIterator[bytes]:
    """Vigil's own results URL: check the signature, then stream the file."""
    try:
        signer.verify("GET", RESULTS_PATH.format(request_id=request_id), expires, signature, time.time())
    except BadSignature as exc:
        raise Forbidden(str(exc)) from None
    except Expired:
        raise BadRequest(
            "this results URL has expired; get a new one from "
            "GET /v1/data/{namespace}/requests/{request_id}/results/download-url"
        ) from None
    async with db.read() as conn:
        found = await imports.get_result_file(conn, request_id)
    if found is None:
        raise NotFound(f"no results file for {request_id!r}")
    return store.read(found.object_key)


def iso_ms(epoch_ms: int) -> str:
    """`2026-02-19T12:34:56.000Z`, the timestamp format of the spec's answers."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
