"""Policy routes [ext]: PUT/GET the namespace's policy, its versions, and a dry run."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from vigil.api.auth import require_scope
from vigil.api.body import read_body, read_json
from vigil.api.responses import json_response
from vigil.service import policies


async def put_policy(request: Request) -> Response:
    principal = await require_scope(request, "data:write")
    body = await read_body(request, request.app.state.settings.max_body_bytes)
    answer = await policies.put(
        request.app.state.db,
        principal.team_id,
        request.path_params["namespace"],
        body,
        request.headers.get("content-type"),
    )
    return json_response(answer)


async def get_policy(request: Request) -> Response:
    principal = await require_scope(request, "data:read")
    return json_response(
        await policies.current(request.app.state.db, principal.team_id, request.path_params["namespace"])
    )


async def list_versions(request: Request) -> Response:
    principal = await require_scope(request, "data:read")
    return json_response(
        await policies.versions(request.app.state.db, principal.team_id, request.path_params["namespace"])
    )


async def get_version(request: Request) -> Response:
    principal = await require_scope(request, "data:read")
    params = request.path_params
    return json_response(
        await policies.version(request.app.state.db, principal.team_id, params["namespace"], params["version"])
    )


async def test_policy(request: Request) -> Response:
    principal = await require_scope(request, "data:read")
    body = await read_json(request, request.app.state.settings.max_body_bytes)
    return json_response(
        await policies.dry_run(request.app.state.db, principal.team_id, request.path_params["namespace"], body)
    )
