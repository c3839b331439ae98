"""Bulk import routes (spec §3): the upload URL (and its `/import` alias), Vigil's own signed
upload and results URLs, and the results download URL."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from vigil.api.auth import require_scope
from vigil.api.body import read_body
from vigil.api.responses import json_response
from vigil.service import imports, results


async def _env(request: Request) -> imports.ImportEnv:
    """Opened on first use: the signing secret may have to be read from the database."""
    state = request.app.state
    env = getattr(state, "imports_env", None)
    if env is None:
        env = await imports.open_env(state.db, state.settings)
        state.imports_env = env
    return env


async def create_upload_url(request: Request) -> Response:
    principal = await require_scope(request, "data:write")
    state = request.app.state
    body = await read_body(request, state.settings.max_body_bytes)
    answer = await imports.create_upload(
        state.db, await _env(request), principal.team_id, request.path_params["namespace"], body
    )
    # on_commit wakes an in-process worker's evaluation loops only; its import runner finds
    # the new job at its next poll (VIGIL_WORKER_POLL_INTERVAL_MS).
    state.on_commit()
    return json_response(answer)


async def put_upload(request: Request) -> Response:
    state = request.app.state
    answer = await imports.receive_upload(
        state.db,
        await _env(request),
        request.path_params["request_id"],
        request.query_params.get("expires"),
        request.query_params.get("signature"),
        request.stream(),
        request.headers.get("content-encoding", ""),
    )
    state.on_commit()
    return json_response(answer)


async def get_download_url(request: Request) -> Response:
    principal = await require_scope(request, "data:read")
    state = request.app.state
    env = await _env(request)
    answer = await results.download_url(
        state.db,
        env.store,
        env.signer,
        state.settings,
        principal.team_id,
        request.path_params["namespace"],
        request.path_params["request_id"],
    )
    return json_response(answer)


async def get_results_file(request: Request) -> Response:
    env = await _env(request)
    chunks = await results.open_download(
        request.app.state.db,
        env.store,
        env.signer,
        request.path_params["request_id"],
        request.query_params.get("expires"),
        request.query_params.get("signature"),
    )
    return StreamingResponse(chunks, media_type="application/jsonl")
