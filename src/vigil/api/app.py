"""The ASGI application."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from vigil.api import data, docs, errors, imports, lists, ops, policies, webhooks
from vigil.api.ingest_endpoint import IngestEndpoint, is_ingest
from vigil.api.middleware import RequestContext
from vigil.api.routing import route
from vigil.config import Settings
from vigil.errors import VigilError
from vigil.service import ingest
from vigil.service.group_commit import GroupCommitter
from vigil.service.keys import Authenticator
from vigil.store.db import Database

ROUTES = [
    Route("/v1/data/{namespace}", data.add_data, methods=["POST"]),
    route("/v1/data/{namespace}/settings", GET=data.get_settings, PUT=data.put_settings),
    # Before the status route: its {request_id} would otherwise claim this path's 405 (Allow).
    Route("/v1/data/{namespace}/requests/upload-url", imports.create_upload_url, methods=["POST"]),
    Route("/v1/data/{namespace}/requests/{request_id}", data.get_request, methods=["GET"]),
    Route("/v1/data/{namespace}/objects/{object_id:path}", data.get_object, methods=["GET"]),
    Route("/v1/data/{namespace}/import", imports.create_upload_url, methods=["POST"]),
    Route("/v1/data/{namespace}/requests/{request_id}/results/download-url", imports.get_download_url, methods=["GET"]),
    Route("/uploads/{request_id}", imports.put_upload, methods=["PUT"]),
    Route("/results/{request_id}.jsonl", imports.get_results_file, methods=["GET"]),
    route("/v1/data/{namespace}/policy", GET=policies.get_policy, PUT=policies.put_policy),
    Route("/v1/data/{namespace}/policy/versions", policies.list_versions, methods=["GET"]),
    Route("/v1/data/{namespace}/policy/versions/{version}", policies.get_version, methods=["GET"]),
    Route("/v1/data/{namespace}/policy/test", policies.test_policy, methods=["POST"]),
    Route("/v1/lists", lists.list_lists, methods=["GET"]),
    route("/v1/lists/{name}", GET=lists.get_list, PUT=lists.put_list, DELETE=lists.delete_list),
    route("/v1/webhooks/endpoints", GET=webhooks.list_endpoints, POST=webhooks.create_endpoint),
    route(
        "/v1/webhooks/endpoints/{endpoint_id}",
        GET=webhooks.get_endpoint,
        PATCH=webhooks.update_endpoint,
        DELETE=webhooks.delete_endpoint,
    ),
    Route("/v1/webhooks/endpoints/{endpoint_id}/rotate-secret", webhooks.rotate_secret, methods=["POST"]),
    Route("/v1/webhooks/endpoints/{endpoint_id}/test", webhooks.send_test, methods=["POST"]),
    Route("/v1/webhooks/endpoints/{endpoint_id}/recover", webhooks.recover, methods=["POST"]),
    Route("/v1/webhooks/messages", webhooks.list_messages, methods=["GET"]),
    Route("/v1/webhooks/messages/{message_id}", webhooks.get_message, methods=["GET"]),
    Route("/v1/webhooks/messages/{message_id}/resend", webhooks.resend, methods=["POST"]),
    Route("/healthz", ops.healthz, methods=["GET"]),
    Route("/readyz", ops.readyz, methods=["GET"]),
    Route("/metrics", ops.metrics_endpoint, methods=["GET"]),
    Route("/openapi.json", docs.openapi_json, methods=["GET"]),
    Route("/docs", docs.docs_page, methods=["GET"]),
]


class VigilApp:
    """Starlette with the hot ingest route in front of it (see api/ingest_endpoint.py)."""

    def __init__(self, starlette: Starlette, ingest_endpoint: IngestEndpoint) -> None:
        self.starlette = starlette
        self.state = starlette.state
        self._ingest = ingest_endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_ingest(scope):
            await self._ingest(scope, receive, send)
        else:
            await self.starlette(scope, receive, send)


def create_app(
    settings: Settings,
    db: Database | None = None,
    on_commit: Callable[[], None] | None = None,
    merge_metrics_from: Callable[[], Sequence[int]] = tuple,
) -> VigilApp:
    """`on_commit` is called after each committed ingest (waking workers: store/wake.py, or
    `vigil serve`'s in-process worker); `/metrics` adds in the metrics served on the loopback
    ports `merge_metrics_from()` names at each scrape (`vigil serve`'s worker child)."""
    database = db or Database(settings.database_url, settings.db_pool_size)
    flushers = settings.group_commit_flushers or (1 if database.is_sqlite else 2)
    committer: GroupCommitter[ingest.Submission] = GroupCommitter(
        lambda take: ingest.write_taken(database, take), settings.group_commit_max_objects, flushers
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await committer.close()
        if db is None:
            await database.dispose()

    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(RequestContext)],
        exception_handlers={
            VigilError: errors.vigil_error,
            HTTPException: errors.http_error,
        },
        lifespan=lifespan,
    )
    auth = Authenticator(database, settings.auth_cache_ttl_s)
    limits = ingest.Limits(settings.max_objects_per_request, settings.max_object_bytes)
    commit_hook = on_commit or (lambda: None)
    app.state.settings = settings
    app.state.db = database
    app.state.auth = auth
    app.state.committer = committer
    app.state.limits = limits
    app.state.on_commit = commit_hook
    app.state.merge_metrics_from = merge_metrics_from
    app.state.last_scrapes = {}  # port → the last complete /metrics text from it
    return VigilApp(app, IngestEndpoint(auth, committer, limits, settings.max_body_bytes, commit_hook))
