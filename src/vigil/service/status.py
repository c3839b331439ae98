"""Request status with inline results (GET /v1/data/{namespace}/requests/{requestId})."""

from __future__ import annotations

from typing import Any

import msgspec

from vigil.errors import NotFound, TooLarge
from vigil.service import validate
from vigil.service.links import object_url
from vigil.store import imports, requests
from vigil.store.db import Database

FIRST_ERRORS_SHOWN = 5
FIRST_LINE_ERRORS_SHOWN = 10  # an import's rejected lines named in error_summary (all are in its results file)
# No item encodes to fewer bytes than this ({"id":"…","url":"…","metadata":{},"output":null}): a request
# with more items than the inline limit allows at this size is refused before any item is read.
MIN_ITEM_BYTES = 64


async def request_status(
    db: Database, team_id: str, namespace: str, request_id: str, base_url: str, max_inline_bytes: int
) -> bytes:
    """The status answer, already encoded (its size decides between 200 and 413)."""
    validate.namespace(namespace)
    async with db.read() as conn:
        record = await requests.get(conn, team_id, namespace, request_id)
        if record is None:
            raise NotFound(f"no request {request_id!r} in namespace {namespace!r} for this API key's team")
        data: list[dict[str, Any]] = []
        if record.status == requests.SUCCEEDED and record.total * MIN_ITEM_BYTES > max_inline_bytes:
            raise _too_large(f"over {record.total * MIN_ITEM_BYTES}", max_inline_bytes, namespace, request_id)
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
        error_summary, extra = await summarize(conn, record)
    answer = msgspec.json.encode(
        {
            "namespace": namespace,
            "request_id": request_id,
            "status": record.status,
            "data": data,
            "error_summary": error_summary,
            **extra,
        }
    )
    if len(answer) > max_inline_bytes:
        raise _too_large(str(len(answer)), max_inline_bytes, namespace, request_id)
    return answer


def _too_large(size: str, max_inline_bytes: int, namespace: str, request_id: str) -> TooLarge:
    return TooLarge(
        f"the results of this request are {size} bytes, above the {max_inline_bytes}-byte inline "
        f"limit; fetch them from GET /v1/data/{namespace}/requests/{request_id}/results/download-url"
    )


async def summarize(conn: Any, record: requests.RequestRecord) -> tuple[str | None, dict[str, Any]]:
    """The error summary, and (for an import) its progress counters as extra fields."""
    parts = [record.error_summary] if record.error_summary else []  # the request as a whole failed
    extra: dict[str, Any] = {}
    if record.kind == "import":
        progress = await imports.get(conn, record.id)
        if progress is not None:
            extra = {
                "lines_read": progress.lines_read,
                "lines_accepted": progress.lines_accepted,
                "lines_rejected": progress.lines_rejected,
            }
            if progress.lines_rejected:
                first = await imports.errors_after(conn, record.id, 0, FIRST_LINE_ERRORS_SHOWN)
                shown = "; ".join(f"line {e.line}: {e.problem}" for e in first)
                more = "; …" if progress.lines_rejected > len(first) else ""
                counted = progress.lines_accepted + progress.lines_rejected
                parts.append(
                    f"{progress.lines_rejected} of {counted} lines were rejected (all are listed in the "
                    f"results file): {shown}{more}"
                )
    if record.failed:
        failures = await requests.failed_items(conn, record.id, FIRST_ERRORS_SHOWN)
        shown = "; ".join(f"{oid}: {error}" for oid, error in failures)
        parts.append(f"{record.failed} of {record.total} objects failed evaluation: {shown}")
    return ("; ".join(parts) or None), extra
