"""Accepting objects: validate everything, then commit objects, versions, request and
evaluation jobs in one transaction before answering (spec §3, POST /v1/data/{namespace})."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from vigil import metrics
from vigil.errors import BadRequest, TooLarge
from vigil.ids import new_id
from vigil.service import validate
from vigil.service.merge_patch import merge_patch
from vigil.store import ingest_pg, namespaces, notify, objects, queue, requests
from vigil.store.clock import now_ms
from vigil.store.db import Database

_encode = msgspec.json.encode
BODY_SHAPE = 'send {"data": {"id": "…", …}} or {"data": [{"id": "…", …}, …]}'


@dataclass(frozen=True)
class Limits:
    max_objects: int
    max_object_bytes: int


@dataclass
class Submission:
    """One accepted call's objects, validated and encoded, waiting for its commit."""

    team_id: str
    namespace: str
    request_id: str
    items: list[tuple[str, dict[str, Any], str]]  # (object_id, object, object as JSON)
    schema_patch: dict[str, Any] | None = None
    kind: str = "add"
    # Imports: their request row already exists, and an item's index is its line (0-based).
    new_request: bool = True
    indexes: list[int] | None = None
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = len(self.items)


def parse_body(body: bytes, limits: Limits) -> tuple[list[tuple[str, dict[str, Any], str]], dict[str, Any] | None]:
    """Decode and check a POST body. All or nothing: every bad object is named at once."""
    if not body.strip():
        raise BadRequest(f"the request body is empty; {BODY_SHAPE}")
    try:
        doc = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON ({exc}); {BODY_SHAPE}") from None
    if not isinstance(doc, dict) or "data" not in doc:
        raise BadRequest(f"the body has no 'data' field; {BODY_SHAPE}")
    data = doc["data"]
    if isinstance(data, dict):
        entries, path = [data], "data"
    elif isinstance(data, list):
        entries, path = data, "data[{}]"
    else:
        raise BadRequest(f"'data' must be an object or an array of objects; {BODY_SHAPE}")
    if not entries:
        raise BadRequest("'data' is an empty array; send at least one object")
    if len(entries) > limits.max_objects:
        raise TooLarge(
            f"'data' has {len(entries)} objects; at most {limits.max_objects} are accepted per call. "
            "Split the array, or use the bulk import (POST /v1/data/{namespace}/requests/upload-url)."
        )
    schema_patch = None
    if "schema" in doc:  # legacy clients send the schema along; merged into the settings
        schema_patch = validate.schema(doc["schema"], where="schema")

    items: list[tuple[str, dict[str, Any], str]] = []
    problems: list[dict[str, Any]] = []
    oversized: list[dict[str, Any]] = []
    may_hold_nul = validate.NUL_ESCAPE in body
    for index, obj in enumerate(entries):
        problem = validate.object_id_problem(obj)
        if problem is None and may_hold_nul and (where := validate.nul_path(obj)):
            problem = f"{where} {validate.NUL_PROBLEM}"
        if problem is not None:
            problems.append({"index": index, "path": path.format(index), "problem": problem})
            continue
        encoded = _encode(obj)
        if len(encoded) > limits.max_object_bytes:
            oversized.append(
                {
                    "index": index,
                    "path": path.format(index),
                    "problem": f"object is {len(encoded)} bytes; at most {limits.max_object_bytes} are allowed",
                }
            )
            continue
        items.append((obj["id"], obj, encoded.decode()))
    if problems or oversized:
        every = sorted(problems + oversized, key=lambda p: p["index"])
        first = every[0]
        more = f" (and {len(every) - 1} more; see details)" if len(every) > 1 else ""
        message = f"{first['path']}: {first['problem']}{more}. Nothing was stored."
        error = BadRequest if problems else TooLarge
        raise error(message, details=every)
    return items, schema_patch


def prepare(team_id: str, namespace: str, body: bytes, limits: Limits) -> Submission:
    validate.namespace(namespace)
    items, schema_patch = parse_body(body, limits)
    return Submission(team_id, namespace, new_id("req"), items, schema_patch)


async def write_submissions(db: Database, submissions: Sequence[Submission]) -> None:
    """Every submission's rows in one transaction."""
    await write_taken(db, lambda: submissions)


async def write_taken(db: Database, take: Callable[[], Sequence[Submission]]) -> None:
    """The group-commit writer (service/group_commit.py): the submissions `take()` returns, in
    one transaction.

    On SQLite they are taken once this process holds the write lock, so that the calls that
    arrive while it waits share this commit. On PostgreSQL they are taken at once."""
    started = time.perf_counter()
    if db.is_sqlite:
        async with db.write_direct() as conn:
            submissions = take()
            if submissions:
                await write_in(conn, submissions, now_ms())
    else:
        submissions = take()
        if submissions:
            await _write_pg(db, submissions, now_ms())
    if submissions:  # none: every caller went away before its write
        metrics.INGEST_COMMIT_SECONDS.observe(time.perf_counter() - started)
        metrics.INGEST_COMMIT_SUBMISSIONS.observe(len(submissions))


async def _write_pg(db: Database, submissions: Sequence[Submission], now: int) -> None:
    """First tried as one statement on its own (store/ingest_pg.py: one round trip instead of
    five); it declines, writing nothing, when a namespace is new or in merge mode, and the
    transaction below handles those."""
    if all(s.schema_patch is None for s in submissions):
        async with db.direct() as conn:
            if await ingest_pg.add(
                conn, _pg_entries(submissions), _new_requests(submissions), queue.EVALUATE, now, notify.JOBS_CHANNEL
            ):
                return
    async with db.write_direct() as conn:
        await write_in(conn, submissions, now)


async def write_in(conn: Any, submissions: Sequence[Submission], now: int) -> None:
    """Objects, versions, requests and evaluation jobs of `submissions`, in the caller's transaction."""
    groups: dict[tuple[str, str], list[Submission]] = defaultdict(list)
    for submission in submissions:
        groups[(submission.team_id, submission.namespace)].append(submission)
    pg = conn.dialect.name == "postgresql"
    jobs: list[queue.NewJob] = []
    replace: list[Submission] = []  # PostgreSQL, replace mode: written by one statement below
    # Sorted, so concurrent transactions take namespace and object locks in one order.
    for (team_id, namespace), group in sorted(groups.items()):
        settings = await namespaces.ensure(conn, team_id, namespace, now)
        patches = [s.schema_patch for s in group if s.schema_patch]
        if patches:
            schema = dict(settings.get("schema") or {})
            for patch in patches:
                schema.update(patch)
            settings = {**settings, "schema": schema, "update_mode": settings.get("update_mode", "replace")}
            await namespaces.put_settings(conn, team_id, namespace, settings, now)
        merge = settings.get("update_mode") == "merge"
        if pg and not merge:
            replace.extend(group)
            continue
        versions = await _store_versions(conn, team_id, namespace, group, merge, now)
        jobs.extend(
            queue.NewJob(queue.EVALUATE, team_id, namespace, v.object_id, v.version, v.request_id) for v in versions
        )
    await queue.enqueue(conn, jobs, now)
    if pg:
        # With the request rows and NOTIFY (delivered to workers when this commits).
        written = await ingest_pg.add(
            conn, _pg_entries(replace), _new_requests(submissions), queue.EVALUATE, now, notify.JOBS_CHANNEL
        )
        if not written:  # a namespace was removed or switched to merge mode since ensure() read it
            raise RuntimeError("a namespace's settings changed during the ingest transaction")
        return
    new_requests = _new_requests(submissions)
    if new_requests:
        await requests.insert_many(conn, new_requests, now)


def _new_requests(submissions: Sequence[Submission]) -> list[requests.NewRequest]:
    """Rows for the calls of several objects: a call of one object is told by its version and
    decision alone (store/requests.py: single_object)."""
    return [
        requests.NewRequest(s.request_id, s.team_id, s.namespace, s.kind, s.size)
        for s in submissions
        if s.new_request and s.size > 1
    ]


def _pg_entries(submissions: Sequence[Submission]) -> list[ingest_pg.Entry]:
    return [
        ingest_pg.Entry(s.team_id, s.namespace, object_id, doc, request_id, index)
        for s in submissions
        for object_id, _, doc, request_id, index in _entries([s])
    ]


def _entries(group: Sequence[Submission]) -> list[tuple[str, dict[str, Any], str, str, int]]:
    """(object_id, object, object as JSON, request_id, index in its request), in arrival order."""
    return [
        (object_id, obj, doc, submission.request_id, index)
        for submission in group
        for index, (object_id, obj, doc) in zip(
            submission.indexes or range(submission.size), submission.items, strict=True
        )
    ]


async def _store_versions(
    conn: Any, team_id: str, namespace: str, group: list[Submission], merge: bool, now: int
) -> list[objects.NewVersion]:
    """Give every object its next version, in arrival order, and store latest state and history
    (SQLite, and merge mode on PostgreSQL: the current versions are read, under lock, first)."""
    versions: list[objects.NewVersion] = []
    entries = _entries(group)
    current = await objects.lock_latest(conn, team_id, namespace, [e[0] for e in entries], now, with_data=merge)
    state: dict[str, tuple[int, Any, str]] = {oid: (v, data, "") for oid, (v, data) in current.items()}
    for object_id, obj, doc, request_id, index in entries:
        version, previous, _ = state.get(object_id, (0, None, ""))
        if merge and previous is not None:
            obj = merge_patch(previous, obj)
            doc = _encode(obj).decode()
        state[object_id] = (version + 1, obj, doc)
        versions.append(objects.NewVersion(object_id, version + 1, doc, request_id, index))
    latest = [objects.Latest(oid, v, doc) for oid, (v, _, doc) in state.items() if doc]
    await objects.write_latest(conn, team_id, namespace, latest, now)
    await objects.insert_versions(conn, team_id, namespace, versions, now)
    return versions
