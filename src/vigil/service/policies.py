"""Policies of a namespace: written (checked, versioned), read, and run.

`prepare` gives a batch of objects (the worker's, or a dry run's) everything the pure engine
reads: the compiled policy of each namespace, from an in-process LRU cache keyed by team,
namespace, policy version and the versions of the lists it reads; the parent objects; and
the fetched, hashed images. `Prepared.evaluate` then runs the engine on each object.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.config import get_settings
from vigil.engine import document as policy_document
from vigil.engine.cache import LRUCache
from vigil.engine.evaluate import evaluate, parent_references
from vigil.engine.lists import NamedList
from vigil.engine.models import Evaluation, EvaluationError, PolicyInvalid
from vigil.engine.policy import CompiledPolicy, compile_policy, referenced_lists
from vigil.engine.text import ObjectView
from vigil.errors import BadRequest, NotFound
from vigil.fetch.client import Fetcher, FetchLimits
from vigil.fetch.guard import AddressGuard, parse_networks
from vigil.fetch.images import fetch_and_hash
from vigil.service import validate
from vigil.service.merge_patch import merge_patch
from vigil.store import lists as list_store
from vigil.store import namespaces
from vigil.store import policies as store
from vigil.store.clock import now_ms
from vigil.store.db import Database

log = structlog.get_logger("vigil.policies")

VERSION_RULE = re.compile(r"[1-9][0-9]{0,8}")  # fullmatch: as the OpenAPI document says, no final newline
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")


# --- writing and reading policies ------------------------------------------------------------


def source_format(content_type: str | None, body: bytes) -> str:
    """YAML or JSON, by Content-Type; without one, a body starting with '{' is JSON."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in YAML_TYPES:
        return "yaml"
    if kind == "application/json" or kind.endswith("+json"):
        return "json"
    return "json" if body.lstrip().startswith(b"{") else "yaml"


def _bad_policy(exc: PolicyInvalid, where: str = "") -> BadRequest:
    """`where` prefixes the paths when the policy sits inside a larger body ("policy.")."""

    def full(path: str) -> str:
        return (where.rstrip(".") or path) if path == "(document)" else where + path

    details = [{**problem, "path": full(problem["path"])} for problem in exc.problems]
    first = details[0]
    more = f" (and {len(details) - 1} more problems in details)" if len(details) > 1 else ""
    return BadRequest(f"invalid policy: {first['path']}: {first['problem']}{more}", details=details)


def _decode(body: bytes) -> str:
    if not body.strip():
        raise BadRequest("the policy is empty; send a YAML or JSON document with 'rules'")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the policy is not UTF-8 text") from None
    if "\x00" in text:
        raise BadRequest(f"the policy {validate.NUL_PROBLEM}")
    return text


async def put(db: Database, team_id: str, namespace: str, body: bytes, content_type: str | None) -> dict[str, Any]:
    """Check a policy document and store it as the namespace's next version (or report it
    unchanged when it is the current document again, as a retried PUT would send)."""
    validate.namespace(namespace)
    fmt = source_format(content_type, body)
    source = _decode(body)
    try:
        document = policy_document.parse(source, fmt)
        where = validate.nul_path(document)
        if where:
            raise BadRequest(
                f"{where} {validate.NUL_PROBLEM}", details=[{"path": where, "problem": validate.NUL_PROBLEM}]
            )
        async with db.read() as conn:
            named = await _named_lists(conn, team_id, referenced_lists(document))
        compiled = compile_policy(document, named)
    except PolicyInvalid as exc:
        raise _bad_policy(exc) from None
    async with db.write() as conn:
        now = now_ms()
        await namespaces.ensure(conn, team_id, namespace, now)
        await store.lock_namespace(conn, team_id, namespace)
        current = await store.current(conn, team_id, namespace)
        if current is not None and current.document == document:
            version, status = current.version, "unchanged"
        else:
            version = await store.insert_next(conn, team_id, namespace, document, source, fmt, now)
            status = "updated"
    log.info("policy.put", team_id=team_id, namespace=namespace, version=version, status=status)
    return {
        "namespace": namespace,
        "version": version,
        "status": status,
        "rules": len(compiled.rules),
        "detectors": len(compiled.detectors),
    }


def _present(namespace: str, record: store.PolicyRecord) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "version": record.version,
        "format": record.format,
        "created_at_ms": record.created_at_ms,
        "policy": record.document,
        "source": record.source,
    }


async def current(db: Database, team_id: str, namespace: str) -> dict[str, Any]:
    validate.namespace(namespace)
    async with db.read() as conn:
        record = await store.current(conn, team_id, namespace)
    if record is None:
        raise NotFound(f"namespace {namespace!r} has no policy yet; set one with PUT /v1/data/{namespace}/policy")
    return _present(namespace, record)


async def version(db: Database, team_id: str, namespace: str, number: str) -> dict[str, Any]:
    validate.namespace(namespace)
    if not VERSION_RULE.fullmatch(number):
        raise BadRequest(f"policy version {number!r} is not a number from 1 up (no leading zeros)")
    async with db.read() as conn:
        record = await store.get(conn, team_id, namespace, int(number))
    if record is None:
        raise NotFound(f"namespace {namespace!r} has no policy version {int(number)}")
    return _present(namespace, record)


async def versions(db: Database, team_id: str, namespace: str) -> dict[str, Any]:
    validate.namespace(namespace)
    async with db.read() as conn:
        found = await store.versions(conn, team_id, namespace)
    if not found:
        raise NotFound(f"namespace {namespace!r} has no policy yet; set one with PUT /v1/data/{namespace}/policy")
    return {
        "namespace": namespace,
        "current": found[0][0],
        "versions": [{"version": v, "format": f, "created_at_ms": at} for v, f, at in found],
    }


# --- compiling, with the cache ----------------------------------------------------------------


async def _named_lists(conn: AsyncConnection, team_id: str, names: Iterable[str]) -> dict[str, NamedList]:
    records = await list_store.items(conn, [(team_id, name) for name in names])
    return {
        name: NamedList(name, record.summary.kind, tuple(record.items), record.summary.version)
        for (_, name), record in records.items()
    }


@dataclass
class _Entry:
    policy: CompiledPolicy | None
    error: str | None
    list_versions: dict[str, tuple[str, int] | None]  # name → (kind, version) when compiled


class Runtime:
    """What a process keeps to run policies: compiled policies and the fetch settings."""

    def __init__(self, cache_size: int, limits: FetchLimits, guard: AddressGuard, fetch_concurrency: int) -> None:
        self.cache: LRUCache[_Entry] = LRUCache(cache_size)
        self.limits = limits
        self.guard = guard
        self.fetch_concurrency = fetch_concurrency

    async def compiled(
        self, conn: Any, keys: Iterable[tuple[str, str]], db: Database | None = None, cached_only: bool = False
    ) -> dict[tuple[str, str], _Entry] | None:
        """The current compiled policy of each (team, namespace) that has one.

        `conn` reads the version numbers (cheap, every batch); a policy missing from the cache
        is loaded through `db` when given (`conn` may then be a direct connection, which runs
        only the statements of the hot path), else through `conn`. `cached_only`: None if one
        is missing, for a caller inside a write transaction (SQLite's pool may hold only one
        connection, and a compile there would hold the write lock).
        """
        versions = await store.current_versions(conn, keys)
        if not versions:
            return {}
        list_versions = await list_store.versions(conn, {team for team, _ in versions})
        found: dict[tuple[str, str], _Entry] = {}
        misses: dict[tuple[str, str], int] = {}
        for (team_id, namespace), number in versions.items():
            entry = self.cache.get((team_id, namespace, number))
            if entry is not None and all(
                list_versions.get((team_id, name)) == seen for name, seen in entry.list_versions.items()
            ):
                found[(team_id, namespace)] = entry
            else:
                misses[(team_id, namespace)] = number
        if misses:
            if cached_only:
                return None
            if db is None:
                found.update(await self._compile(conn, misses, list_versions))
            else:
                async with db.read() as loading:
                    found.update(await self._compile(loading, misses, list_versions))
        return found

    async def _compile(
        self, conn: AsyncConnection, misses: dict[tuple[str, str], int], list_versions: dict
    ) -> dict[tuple[str, str], _Entry]:
        found: dict[tuple[str, str], _Entry] = {}
        for (team_id, namespace), number in misses.items():
            cache_key: Hashable = (team_id, namespace, number)
            record = await store.get(conn, team_id, namespace, number)
            assert record is not None
            names = referenced_lists(record.document)
            entry = _Entry(None, None, {name: list_versions.get((team_id, name)) for name in names})
            try:
                named = await _named_lists(conn, team_id, names)
                entry.policy = compile_policy(record.document, named, number)
            except PolicyInvalid as exc:
                # A list it reads was changed since the policy was written.
                entry.error = f"policy version {number} no longer compiles: {exc}"
                log.error("policy.compile_failed", team_id=team_id, namespace=namespace, version=number, error=str(exc))
            self.cache.put(cache_key, entry)
            found[(team_id, namespace)] = entry
        return found


_RUNTIME: Runtime | None = None


def runtime() -> Runtime:
    """This process's runtime, made from its settings on first use."""
    global _RUNTIME
    if _RUNTIME is None:
        settings = get_settings()
        _RUNTIME = Runtime(
            settings.policy_cache_size,
            FetchLimits(settings.fetch_timeout_s, settings.fetch_max_bytes, settings.fetch_max_redirects),
            AddressGuard(parse_networks(settings.fetch_allowed_networks)),
            settings.fetch_concurrency,
        )
    return _RUNTIME


# --- preparing a batch and evaluating it ----------------------------------------------------------


@dataclass(frozen=True)
class Item:
    key: Hashable  # the caller's name for this object (a job id, an index)
    team_id: str
    namespace: str
    settings: dict[str, Any]
    data: dict[str, Any]


@dataclass
class Prepared:
    policies: dict[tuple[str, str], _Entry] = field(default_factory=dict)
    parents: dict[Hashable, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, Any] = field(default_factory=dict)

    def evaluate(self, item: Item, previous: dict[str, Any] | None) -> Evaluation:
        entry = self.policies.get((item.team_id, item.namespace))
        if entry is not None and entry.error is not None:
            raise EvaluationError(entry.error)
        policy = None if entry is None else entry.policy
        return evaluate(policy, item.settings, item.data, previous, self.parents.get(item.key), self.images)


async def prepare(
    db: Database, items: Sequence[Item], draft: CompiledPolicy | None = None, run: Runtime | None = None
) -> Prepared:
    """Load what the engine reads for these objects: policies (or `draft` for all), parents,
    images. One read (`load`); the images are fetched after it."""
    run = run or runtime()
    async with db.direct() as conn:
        prepared = await load(conn, items, db, draft, run)
    assert prepared is not None
    await fetch_images(prepared, items, run)
    return prepared


async def load(
    conn: Any,
    items: Sequence[Item],
    db: Database,
    draft: CompiledPolicy | None = None,
    run: Runtime | None = None,
    cached_only: bool = False,
) -> Prepared | None:
    """The policies (or `draft` for all) and parents of these objects, read through `conn`
    (a SQLite worker's claim transaction, or a direct connection); a policy missing from the
    cache is compiled from a read of its own on `db` (`cached_only`: None instead). Images are
    fetched apart (`fetch_images`), outside any transaction."""
    run = run or runtime()
    prepared = Prepared()
    if draft is not None:
        prepared.policies = {(i.team_id, i.namespace): _Entry(draft, None, {}) for i in items}
    else:
        found = await run.compiled(conn, {(i.team_id, i.namespace) for i in items}, db, cached_only)
        if found is None:
            return None
        prepared.policies = found
    prepared.parents = await _parents(conn, items, prepared.policies)
    return prepared


async def fetch_images(prepared: Prepared, items: Sequence[Item], run: Runtime | None = None) -> None:
    """Fetch and hash the images the policies of these objects read, into `prepared`."""
    run = run or runtime()
    urls: list[str] = []
    for item in items:
        entry = prepared.policies.get((item.team_id, item.namespace))
        if entry is not None and entry.policy is not None:
            urls.extend(entry.policy.image_urls(ObjectView(item.settings.get("schema") or {}, item.data)))
    if urls:
        async with Fetcher(run.limits, run.guard, run.fetch_concurrency) as fetcher:
            prepared.images = await fetch_and_hash(fetcher, urls, run.fetch_concurrency)


async def _parents(
    conn: AsyncConnection, items: Sequence[Item], policies: Mapping[tuple[str, str], _Entry]
) -> dict[Hashable, dict[str, Any]]:
    wanted: dict[Hashable, tuple[str, dict[str, tuple[str, str]]]] = {}
    for item in items:
        entry = policies.get((item.team_id, item.namespace))
        if entry is not None and entry.policy is not None and entry.policy.reads_parent:
            refs = parent_references(item.settings, item.data)
            if refs:
                wanted[item.key] = (item.team_id, refs)
    by_team: dict[str, set[tuple[str, str]]] = {}
    for team_id, refs in wanted.values():
        by_team.setdefault(team_id, set()).update(refs.values())
    loaded = {team_id: await store.parent_objects(conn, team_id, keys) for team_id, keys in by_team.items()}
    return {
        key: {name: loaded[team_id].get(ref) for name, ref in refs.items()} for key, (team_id, refs) in wanted.items()
    }


# --- dry run ----------------------------------------------------------------------------------

MAX_DRY_RUN_OBJECTS = 100
DRY_RUN_KEYS = ("data", "policy", "previous")


async def dry_run(db: Database, team_id: str, namespace: str, body: Any) -> dict[str, Any]:
    """Evaluate objects as if they were sent now, under the current policy or a draft, and
    store nothing. `previous` defaults to each id's stored latest version; in merge mode the
    object is merged onto it first, as an upsert would."""
    validate.namespace(namespace)
    objects, given_previous, draft_source = _dry_run_body(body)
    async with db.read() as conn:
        settings = await namespaces.get_settings(conn, team_id, namespace) or {}
        stored = await store.parent_objects(conn, team_id, [(namespace, obj["id"]) for obj in objects])
        draft = None
        if draft_source is not None:
            draft = await _compile_draft(conn, team_id, draft_source)
    items = []
    for index, obj in enumerate(objects):
        latest = stored.get((namespace, obj["id"]))
        data = merge_patch(latest, obj) if latest is not None and settings.get("update_mode") == "merge" else obj
        items.append(Item(index, team_id, namespace, settings, data))
    prepared = await prepare(db, items, draft=draft)
    results = []
    for item in items:
        oid = item.data["id"]
        previous = given_previous[oid] if oid in given_previous else stored.get((namespace, oid))
        try:
            result = prepared.evaluate(item, previous)
        except EvaluationError as exc:
            results.append({"id": oid, "output": None, "metadata": {}, "provenance": None, "error": str(exc)})
            continue
        results.append(
            {
                "id": oid,
                "output": msgspec.to_builtins(result.output),
                "metadata": result.metadata,
                "provenance": msgspec.to_builtins(result.provenance),
                "error": None,
            }
        )
    entry = prepared.policies.get((team_id, namespace))
    version = None if draft is not None or entry is None or entry.policy is None else entry.policy.version
    return {"namespace": namespace, "draft": draft is not None, "policy_version": version, "results": results}


def _dry_run_body(body: Any) -> tuple[list[dict[str, Any]], dict[str, Any], Any]:
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object like {"data": [{"id": "…", …}], "policy": …}')
    where = validate.nul_path(body)
    if where:
        raise BadRequest(f"{where} {validate.NUL_PROBLEM}", details=[{"path": where, "problem": validate.NUL_PROBLEM}])
    unknown = [key for key in body if key not in DRY_RUN_KEYS]
    if unknown:
        raise BadRequest(
            f"unknown key {unknown[0]!r}; allowed: {', '.join(DRY_RUN_KEYS)}",
            details=[{"path": key, "problem": "unknown key"} for key in unknown],
        )
    data = body.get("data")
    objects = [data] if isinstance(data, dict) else data
    if not isinstance(objects, list) or not objects:
        raise BadRequest("'data' must be an object or a non-empty array of objects, each with an 'id'")
    if len(objects) > MAX_DRY_RUN_OBJECTS:
        raise BadRequest(f"'data' has {len(objects)} objects; a dry run takes at most {MAX_DRY_RUN_OBJECTS}")
    problems = []
    for index, obj in enumerate(objects):
        problem = validate.object_id_problem(obj)
        if problem is not None:
            problems.append({"path": f"data[{index}]", "index": index, "problem": problem})
    if problems:
        first = problems[0]
        raise BadRequest(f"{first['path']}: {first['problem']}", details=problems)
    previous = body.get("previous", {})
    if not isinstance(previous, dict) or not all(v is None or isinstance(v, dict) for v in previous.values()):
        raise BadRequest("'previous' must map object ids to their previous version (an object, or null for none)")
    return objects, previous, body.get("policy")


async def _compile_draft(conn: AsyncConnection, team_id: str, source: Any) -> CompiledPolicy:
    try:
        if isinstance(source, str):
            fmt = "json" if source.lstrip().startswith("{") else "yaml"
            document = policy_document.parse(source, fmt)
        elif isinstance(source, dict):
            document = source
        else:
            raise BadRequest("'policy' must be a policy document: an object, or its YAML or JSON text")
        named = await _named_lists(conn, team_id, referenced_lists(document))
        return compile_policy(document, named)
    except PolicyInvalid as exc:
        raise _bad_policy(exc, "policy.") from None
