"""Webhook endpoints and the message log [ext]. Every route needs the `admin` scope."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from vigil.api.auth import require_scope
from vigil.api.body import read_body, read_json
from vigil.api.responses import json_response
from vigil.errors import NotFound
from vigil.service import webhooks
from vigil.store import webhook_log

SCOPE = "admin"


async def _team(request: Request) -> str:
    return (await require_scope(request, SCOPE)).team_id


async def create_endpoint(request: Request) -> Response:
    team_id = await _team(request)
    body = await read_json(request, request.app.state.settings.max_body_bytes)
    return json_response(await webhooks.create(request.app.state.db, team_id, body))


async def list_endpoints(request: Request) -> Response:
    team_id = await _team(request)
    return json_response({"data": await webhooks.list_all(request.app.state.db, team_id)})


async def get_endpoint(request: Request) -> Response:
    team_id = await _team(request)
    return json_response(await webhooks.get(request.app.state.db, team_id, request.path_params["endpoint_id"]))


async def update_endpoint(request: Request) -> Response:
    team_id = await _team(request)
    body = await read_json(request, request.app.state.settings.max_body_bytes)
    endpoint_id = request.path_params["endpoint_id"]
    return json_response(await webhooks.update(request.app.state.db, team_id, endpoint_id, body))


async def delete_endpoint(request: Request) -> Response:
    team_id = await _team(request)
    endpoint_id = request.path_params["endpoint_id"]
    await webhooks.delete(request.app.state.db, team_id, endpoint_id)
    return json_response({"id": endpoint_id, "deleted": True})


async def rotate_secret(request: Request) -> Response:
    team_id = await _team(request)
    return json_response(
        await webhooks.rotate_secret(request.app.state.db, team_id, request.path_params["endpoint_id"])
    )


async def send_test(request: Request) -> Response:
    team_id = await _team(request)
    answer = await webhooks.send_test(request.app.state.db, team_id, request.path_params["endpoint_id"])
    request.app.state.on_commit()
    return json_response(answer)


async def recover(request: Request) -> Response:
    team_id = await _team(request)
    body = await read_json(request, request.app.state.settings.max_body_bytes)
    answer = await webhooks.recover(request.app.state.db, team_id, request.path_params["endpoint_id"], body)
    request.app.state.on_commit()
    return json_response(answer)


async def list_messages(request: Request) -> Response:
    team_id = await _team(request)
    return json_response(await webhooks.list_messages(request.app.state.db, team_id, dict(request.query_params)))


async def get_message(request: Request) -> Response:
    team_id = await _team(request)
    message_id = request.path_params["message_id"]
    async with request.app.state.db.read() as conn:
        found = await webhook_log.message_by_id(conn, team_id, message_id)
    if found is None:
        raise NotFound(f"no webhook message {message_id!r}")
    return json_response(webhooks.present_message(found))


async def resend(request: Request) -> Response:
    team_id = await _team(request)
    await read_body(request, 1024)  # bodiless POST: an empty body (or {}) is fine
    answer = await webhooks.resend(request.app.state.db, team_id, request.path_params["message_id"])
    request.app.state.on_commit()
    return json_response(answer)
