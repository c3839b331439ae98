"""Request status with inline results (GET /v1/data/{namespace}/requests/{requestId})."""

from __future__ import annotations

from typing import Any

import msgspec

from vigil.errors import NotFound, TooLarge
from vigil.service import validate
from vigil.service.links import object_url
from vigil.store import requests
from vigil.store.db import Database

FIRST_ERRORS_SHOWN = 5


async def request_status(
    db: Database, team_id: str, namespace: str, request_id: str, base_url: str, max_inline_bytes: int
) -> bytes:
    """The status answer, already encoded (its size decides between 200 and 413)."""
    validate.namespace(namespace)
    async with db.read() as conn:
        record = None if "\x00" in request_id else await requests.get(conn, team_id, namespace, request_id)
        if record is None:
            raise NotFound(f"no request {request_id!r} in namespace {namespace!r} for this API key's team")
        data: list[dict[str, Any]] = []
        if record.status == requests.SUCCEEDED:
            for item in await requests.items(conn, request_id):
                data.append(
                    {
                        "id": item.object_id,
                        "url": object_url(base_url, namespace, item.object_id, item.version),
                        "metadata": item.metadata or {},
                        "output": item.output,
                    }
                )
        error_summary = None
        if record.failed:
            failures = await requests.failed_items(conn, request_id, FIRST_ERRORS_SHOWN)
            shown = "; ".join(f"{oid}: {error}" for oid, error in failures)
            error_summary = f"{record.failed} of {record.total} objects failed evaluation: {shown}"
    answer = msgspec.json.encode(
        {
            "namespace": namespace,
            "request_id": request_id,
            "status": record.status,
            "data": data,
            "error_summary": error_summary,
        }
    )
    if len(answer) > max_inline_bytes:
        raise TooLarge(
            f"the results of this request are {len(answer)} bytes, above the {max_inline_bytes}-byte inline "
            f"limit; fetch them from GET /v1/data/{namespace}/requests/{request_id}/results/download-url"
        )
    return answer
