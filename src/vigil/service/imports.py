"""Bulk import (spec §3 upload-url; docs/imports.md): the upload URL, the upload, and ingestion.

    POST …/requests/upload-url ─→ uploading ─(PUT of the file)─→ ingesting ─→ succeeded | failed

A request row, an `imports` row (the upload's key and the ingestion cursor) and one queue job
of kind `import` are created together. The worker's import runner (`run_once`) takes that
job through its phases: wait for the upload (or its expiry), read the file chunk by chunk,
wait for the evaluations, build the results file, and succeed. Each chunk's objects,
versions, evaluation jobs, rejected lines and the cursor commit in one transaction, fenced
by the job's lease, so a worker killed mid-import is resumed exactly where it stopped.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import structlog

from vigil import metrics
from vigil.blobs import lines as blob_lines
from vigil.blobs.base import BlobStore, open_store
from vigil.blobs.signing import BadSignature, Expired, UrlSigner
from vigil.config import Settings
from vigil.errors import BadRequest, Forbidden, NotFound, StoreUnavailable
from vigil.ids import new_id
from vigil.service import ingest, results, validate, webhook_events, webhooks
from vigil.service.results import iso_ms
from vigil.store import imports, namespaces, queue, requests
from vigil.store.clock import now_ms
from vigil.store.db import Database

log = structlog.get_logger("vigil.imports")

IMPORT = queue.IMPORT  # the queue kind of the import runner's jobs
UPLOAD_PATH = "/uploads/{request_id}"
SECRET_NAME = "url_signing"
# How often the runner looks for an upload in object storage (it cannot see the PUT): from
# 0.5 s, doubling, up to 10 s. A local upload wakes the runner itself.
UPLOAD_POLL_MS = (500, 10_000)
EVALUATION_POLL_MS = 250  # while the evaluations of a fully read import finish
MAX_CHUNK_FAILURES = 5  # a chunk that fails to commit this often fails the import

_decode = msgspec.json.decode
_encode = msgspec.json.encode


@dataclass
class ImportEnv:
    """What the import and results use cases need besides the database; one per process."""

    store: BlobStore
    signer: UrlSigner
    settings: Settings


async def open_env(db: Database, settings: Settings) -> ImportEnv:
    secret = settings.signing_secret.get_secret_value()
    if not secret:
        async with db.write() as conn:
            secret = await imports.get_or_create_secret(conn, SECRET_NAME, secrets.token_hex(32), now_ms())
    store = open_store(settings.blob_url, settings.database_url)
    return ImportEnv(store, UrlSigner(secret.encode(), settings.public_base_url), settings)


def input_key(team_id: str, namespace: str, request_id: str) -> str:
    return f"{team_id}/data-api-request-input/{namespace}/{request_id}.jsonl"


# --- the upload URL and the upload ----------------------------------------------------------


async def create_upload(db: Database, env: ImportEnv, team_id: str, namespace: str, body: bytes) -> dict[str, Any]:
    """A new import request waiting for its file, and the URL to PUT the file to."""
    validate.namespace(namespace)
    schema_patch = _upload_body(body)
    request_id = new_id("req")
    key = input_key(team_id, namespace, request_id)
    ttl_s = int(env.settings.upload_url_ttl_s)
    now = now_ms()
    expires_ms = (now // 1000 + ttl_s) * 1000  # whole seconds, as in the signed URL
    async with db.write() as conn:
        if schema_patch:
            current = await namespaces.ensure(conn, team_id, namespace, now)
            schema = {**(current.get("schema") or {}), **schema_patch}
            merged = {**current, "schema": schema, "update_mode": current.get("update_mode", "replace")}
            await namespaces.put_settings(conn, team_id, namespace, merged, now)
        await requests.insert_import(conn, request_id, team_id, namespace, now)
        await imports.insert(conn, request_id, team_id, namespace, key, expires_ms, now)
        await queue.enqueue(conn, [queue.NewJob(IMPORT, team_id, namespace, "", 0, request_id)], now)
    upload_url = env.store.presigned_put(key, ttl_s) or env.signer.sign(
        "PUT", UPLOAD_PATH.format(request_id=request_id), expires_ms // 1000
    )
    return {
        "status": "pending_upload",
        "requestId": request_id,
        "objectKey": key,
        "upload_url": upload_url,
        "expires_at": iso_ms(expires_ms),
    }


def _upload_body(body: bytes) -> dict[str, Any] | None:
    """No body, `{}`, or (older clients) `{"schema": {…}}`, merged into the namespace settings."""
    if not body.strip():
        return None
    try:
        doc = _decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON ({exc}); send no body, or {{}}") from None
    if not isinstance(doc, dict) or any(k != "schema" for k in doc):
        raise BadRequest('send no body, {}, or {"schema": {…}}; the file itself goes to the upload_url')
    return validate.schema(doc["schema"]) if "schema" in doc else None


async def receive_upload(
    db: Database,
    env: ImportEnv,
    request_id: str,
    expires: str | None,
    signature: str | None,
    body: AsyncIterable[bytes],
    content_encoding: str,
) -> dict[str, Any]:
    """Vigil's own upload URL: store the file as it arrives (decompressing gzip), then start ingesting."""
    path = UPLOAD_PATH.format(request_id=request_id)
    try:
        env.signer.verify("PUT", path, expires, signature, time.time())
    except BadSignature as exc:
        raise Forbidden(f"{exc}") from None
    except Expired:
        raise BadRequest(
            f"this upload URL expired at {iso_ms(int(expires or 0) * 1000)}; create a new one with "
            "POST /v1/data/{namespace}/requests/upload-url"
        ) from None
    async with db.read() as conn:
        record = await imports.get(conn, request_id)
    if record is None:
        raise NotFound(f"no import {request_id!r}")
    if record.uploaded_at_ms is not None:
        raise BadRequest(_used_message(record))
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        chunks = body
    elif encoding in ("gzip", "x-gzip"):
        chunks = blob_lines.gunzip(body)
    else:
        raise BadRequest(f"Content-Encoding {content_encoding!r} is not supported; send the file plain or gzip")
    try:
        size = await env.store.write(record.object_key, chunks)
    except blob_lines.UnreadableFile as exc:
        raise BadRequest(f"{exc}; nothing was stored, the upload URL can be used again") from None
    async with db.write() as conn:
        now = now_ms()
        if not await imports.mark_uploaded(conn, request_id, size, now):
            raise BadRequest(_used_message(await imports.get(conn, request_id)))
        await requests.start_ingesting(conn, request_id, now)
        await imports.wake_job(conn, request_id, now)
    return {"requestId": request_id, "status": "ingesting", "objectKey": record.object_key, "size": size}


def _used_message(record: imports.ImportRecord | None) -> str:
    when = iso_ms(record.uploaded_at_ms) if record and record.uploaded_at_ms else "an earlier time"
    return (
        f"this upload URL was already used: a file was uploaded to it at {when}, and each upload URL takes one "
        "file. Create a new one with POST /v1/data/{namespace}/requests/upload-url"
    )


# --- the runner's use case ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunnerPolicy:
    lease_ms: int
    chunk_lines: int
    chunk_bytes: int
    max_line_bytes: int


class LeaseLost(Exception):
    """Another worker took the import over (this one was too slow, or presumed dead)."""


async def run_once(
    db: Database,
    env: ImportEnv,
    policy: RunnerPolicy,
    stopping: Callable[[], bool],
    jobs_committed: Callable[[], None] = lambda: None,
) -> bool:
    """Claim one import job and move it on as far as it goes. False when there was none ready.
    `jobs_committed` is called after each chunk commits its evaluation jobs (to wake the
    evaluation loops of this process; PostgreSQL also notifies every worker)."""
    token = secrets.token_hex(12)
    async with db.write() as conn:
        claimed = await queue.claim(conn, IMPORT, token, 1, now_ms(), policy.lease_ms)
    if not claimed:
        return False
    job = claimed[0]
    request_id = job.request_id or ""
    async with db.read() as conn:
        record = await imports.get(conn, request_id)
        request = await requests.get(conn, job.team_id, job.namespace, request_id)
    if record is None or request is None or request.status in (requests.FAILED, requests.SUCCEEDED):
        await _finish(db, job, token)
        return True
    if record.read_at_ms is not None:
        await _complete_when_evaluated(db, env, job, token, request)
        return True
    if record.uploaded_at_ms is None and not await _upload_arrived(db, env, job, token, record):
        return True
    try:
        await _ingest(db, env, policy, job, token, request_id, stopping, jobs_committed)
    except LeaseLost:
        log.warning("import.lease_lost", request_id=request_id)
    except blob_lines.UnreadableFile as exc:
        await _fail(db, job, token, f"the uploaded file could not be read: {exc}")
    except StoreUnavailable:
        raise  # the lease brings the job back; the cursor says where to resume
    except Exception as exc:
        # A bug or a row the database refuses: retried from the last committed chunk, a few times.
        log.exception("import.chunk_failed", request_id=request_id)
        async with db.write() as conn:
            failures = await imports.count_failure(conn, request_id, now_ms())
            if failures < MAX_CHUNK_FAILURES:
                await queue.retry_later(conn, token, job.id, now_ms() + 2000 * failures, repr(exc))
        if failures >= MAX_CHUNK_FAILURES:
            await _fail(db, job, token, f"ingestion failed {failures} times after line {record.lines_read}: {exc!r}")
    return True


async def _upload_arrived(db: Database, env: ImportEnv, job: queue.Job, token: str, record: Any) -> bool:
    """Whether the file is there to read; else the request fails (expired) or the job waits."""
    now = now_ms()
    size = await env.store.size(record.object_key) if env.store.kind == "s3" else None
    if size is not None:  # object storage: Vigil never sees the PUT, so it looks for the object
        async with db.write() as conn:
            await imports.mark_uploaded(conn, record.request_id, size, now)
            await requests.start_ingesting(conn, record.request_id, now)
        return True
    if now >= record.expires_at_ms:
        await _fail(
            db,
            job,
            token,
            f"the upload URL expired at {iso_ms(record.expires_at_ms)} before a file was uploaded to it; "
            "create a new one with POST /v1/data/{namespace}/requests/upload-url",
        )
        return False
    if env.store.kind == "s3":
        delay = min(max(UPLOAD_POLL_MS[0], (now - record.created_at_ms) // 10), UPLOAD_POLL_MS[1])
        wake_at = min(now + delay, record.expires_at_ms)
    else:
        wake_at = record.expires_at_ms  # the PUT wakes the job before that
    async with db.write() as conn:
        if await imports.upload_finished(conn, record.request_id):
            wake_at = now_ms()  # the PUT finished while this worker held the job: its wake-up found it taken
        await queue.retry_later(conn, token, job.id, wake_at, "waiting for the upload")
    return False


@dataclass
class _Chunk:
    items: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)
    errors: list[imports.LineError] = field(default_factory=list)
    lines: int = 0
    bytes: int = 0
    last_line: int = 0
    end: int = 0

    def add(self, line: blob_lines.Line, max_line_bytes: int) -> None:
        self.lines += 1
        self.bytes += line.size
        self.last_line, self.end = line.number, line.end
        if line.data is None:
            problem = f"the line is {line.size} bytes; at most {max_line_bytes} are allowed"
            self.errors.append(imports.LineError(line.number, None, problem))
            return
        if not line.data.strip():
            return  # blank lines are skipped
        try:
            obj = _decode(line.data)
        except msgspec.DecodeError as exc:
            self.errors.append(imports.LineError(line.number, None, f"not valid JSON ({exc})"))
            return
        problem = validate.object_id_problem(obj)
        if problem is not None:
            oid = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
            self.errors.append(imports.LineError(line.number, oid, problem))
            return
        doc = _encode(obj)
        if validate.NUL_ESCAPE in doc and (where := validate.nul_path(obj)):  # the add path's rule
            self.errors.append(imports.LineError(line.number, obj["id"], f"{where} {validate.NUL_PROBLEM}"))
            return
        self.items.append((obj["id"], obj, doc.decode()))
        self.indexes.append(line.number - 1)


async def _ingest(
    db: Database,
    env: ImportEnv,
    policy: RunnerPolicy,
    job: queue.Job,
    token: str,
    request_id: str,
    stopping: Callable[[], bool],
    jobs_committed: Callable[[], None],
) -> None:
    async with db.read() as conn:
        record = await imports.get(conn, request_id)
    assert record is not None
    log.info("import.reading", request_id=request_id, from_line=record.lines_read + 1, offset=record.bytes_read)
    chunks = blob_lines.decoded(env.store, record.object_key, record.bytes_read)
    chunk = _Chunk(last_line=record.lines_read, end=record.bytes_read)
    async for batch in blob_lines.split_lines(chunks, record.lines_read + 1, record.bytes_read, policy.max_line_bytes):
        for line in batch:
            chunk.add(line, policy.max_line_bytes)
            if chunk.lines >= policy.chunk_lines or chunk.bytes >= policy.chunk_bytes:
                await _commit_chunk(db, policy, job, token, request_id, chunk, last=False)
                jobs_committed()
                chunk = _Chunk(last_line=chunk.last_line, end=chunk.end)
        if stopping():  # hand the import to the next worker now rather than after the lease
            if chunk.lines:
                await _commit_chunk(db, policy, job, token, request_id, chunk, last=False)
                jobs_committed()
            async with db.write() as conn:
                await queue.retry_later(conn, token, job.id, now_ms(), "worker stopped")
            return
    await _commit_chunk(db, policy, job, token, request_id, chunk, last=True)
    jobs_committed()
    log.info("import.read", request_id=request_id, lines=chunk.last_line)


async def _commit_chunk(
    db: Database, policy: RunnerPolicy, job: queue.Job, token: str, request_id: str, chunk: _Chunk, last: bool
) -> None:
    """The chunk's objects, versions, evaluation jobs, rejected lines and the cursor: one transaction."""
    async with db.write() as conn:
        now = now_ms()
        if not await imports.extend_lease(conn, job.id, token, now + policy.lease_ms):
            raise LeaseLost(request_id)
        if chunk.items:
            submission = ingest.Submission(
                job.team_id,
                job.namespace,
                request_id,
                chunk.items,
                kind=IMPORT,
                new_request=False,
                indexes=chunk.indexes,
            )
            await ingest.write_in(conn, [submission], now)
        await imports.insert_errors(conn, request_id, chunk.errors)
        await imports.advance(
            conn, request_id, chunk.last_line, chunk.end, len(chunk.items), len(chunk.errors), last, now
        )
        await requests.add_items(conn, request_id, len(chunk.items), False, now)
        if last:
            await queue.retry_later(conn, token, job.id, now, "read; waiting for the evaluations")
    metrics.OBJECTS_INGESTED.labels(IMPORT).inc(len(chunk.items))


async def _complete_when_evaluated(
    db: Database, env: ImportEnv, job: queue.Job, token: str, request: requests.RequestRecord
) -> None:
    """Once only the reading unit is pending, build the results file, then take the unit off: the
    request succeeds with its results file in place."""
    if request.pending > 1:
        async with db.write() as conn:
            await queue.retry_later(conn, token, job.id, now_ms() + EVALUATION_POLL_MS, "waiting for the evaluations")
        return
    await results.ensure_file(db, env.store, job.team_id, job.namespace, request.id, env.settings.public_base_url)
    async with db.write() as conn:
        now = now_ms()
        if await imports.extend_lease(conn, job.id, token, now + 1000):
            await requests.add_items(conn, request.id, 0, True, now)
            await queue.finish(conn, token, [job.id])
            await _announce_completion(conn, job, now)
    log.info("import.succeeded", request_id=request.id)


async def _fail(db: Database, job: queue.Job, token: str, summary: str) -> None:
    async with db.write() as conn:
        now = now_ms()
        await requests.mark_failed(conn, job.request_id or "", summary, now)
        await queue.finish(conn, token, [job.id])
        await _announce_completion(conn, job, now)
    log.warning("import.failed", request_id=job.request_id, reason=summary)


async def _announce_completion(conn: Any, job: queue.Job, now: int) -> None:
    """`request.completed` to the team's webhook endpoints, in the transaction that completes it."""
    record = await requests.get(conn, job.team_id, job.namespace, job.request_id or "")
    if record is not None:
        await webhooks.fan_out(conn, [webhook_events.request_completed(record, now)], now)


async def _finish(db: Database, job: queue.Job, token: str) -> None:
    async with db.write() as conn:
        await queue.finish(conn, token, [job.id])
