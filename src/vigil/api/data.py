"""The Data API routes (spec §3): add objects, settings, request status, object reads."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from vigil import metrics
from vigil.api.auth import require_scope
from vigil.api.body import read_body, read_json
from vigil.api.responses import json_response
from vigil.service import ingest, objects, settings, status


async def add_data(request: Request) -> Response:
    principal = await require_scope(request, "data:write")
    state = request.app.state
    body = await read_body(request, state.settings.max_body_bytes)
    submission = ingest.prepare(principal.team_id, request.path_params["namespace"], body, state.limits)
    await state.committer.submit(submission)
    metrics.OBJECTS_INGESTED.labels("add").inc(submission.size)
    state.on_commit()
    return json_response({"requestId": submission.request_id, "status": "accepted"})


async def put_settings(request: Request) -> Response:
    principal = await require_scope(request, "data:write")
    namespace = request.path_params["namespace"]
    body = await read_json(request, request.app.state.settings.max_body_bytes)
    await settings.replace(request.app.state.db, principal.team_id, namespace, body)
    return json_response({"namespace": namespace, "status": "updated"})


async def get_settings(request: Request) -> Response:
    principal = await require_scope(request, "data:read")
    namespace = request.path_params["namespace"]
    return json_response(await settings.get(request.app.state.db, principal.team_id, namespace))


async def get_request(request: Request) -> Response:
    principal = await require_scope(request, "data:read")
    state = request.app.state
    answer = await status.request_status(
        state.db,
        principal.team_id,
        request.path_params["namespace"],
        request.path_params["request_id"],
        state.settings.public_base_url,
        state.settings.max_inline_results_bytes,
    )
    return json_response(answer)


async def get_object(request: Request) -> Response:
    principal = await require_scope(request, "data:read")
    state = request.app.state
    return json_response(
        await objects.latest(
            state.db,
            principal.team_id,
            request.path_params["namespace"],
            request.path_params["object_id"],
            state.settings.public_base_url,
        )
    )
