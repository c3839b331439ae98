"""Named value list routes [ext]: PUT/GET/DELETE /v1/lists/{name}, GET /v1/lists."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from vigil.api.auth import require_scope
from vigil.api.body import read_json
from vigil.api.responses import json_response
from vigil.service import lists


async def put_list(request: Request) -> Response:
    principal = await require_scope(request, "data:write")
    body = await read_json(request, request.app.state.settings.max_body_bytes)
    return json_response(await lists.put(request.app.state.db, principal.team_id, request.path_params["name"], body))


async def get_list(request: Request) -> Response:
    principal = await require_scope(request, "data:read")
    return json_response(await lists.get(request.app.state.db, principal.team_id, request.path_params["name"]))


async def delete_list(request: Request) -> Response:
    principal = await require_scope(request, "data:write")
    return json_response(await lists.delete(request.app.state.db, principal.team_id, request.path_params["name"]))


async def list_lists(request: Request) -> Response:
    principal = await require_scope(request, "data:read")
    return json_response(await lists.list_all(request.app.state.db, principal.team_id))
