"""Reading a request body without ever holding more than the limit."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.types import Receive

from vigil.errors import BadRequest, TooLarge


class ClientGone(Exception):
    """The client disconnected before sending the whole body: nothing was stored."""


async def read_body(request: Request, max_bytes: int) -> bytes:
    return await read_receive(request.receive, request.headers.get("content-length", ""), max_bytes)


async def read_receive(receive: Receive, declared: str, max_bytes: int) -> bytes:
    """The whole body from ASGI `receive`, refused as soon as it passes `max_bytes`."""
    if declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"the body is {declared} bytes; at most {max_bytes} are accepted")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"the body is over {max_bytes} bytes, the most accepted")
        if not message.get("more_body", False):
            return chunk if not chunks else b"".join([*chunks, chunk])
        chunks.append(chunk)


async def read_json(request: Request, max_bytes: int) -> Any:
    body = await read_body(request, max_bytes)
    if not body.strip():
        raise BadRequest("the request body is empty; send a JSON object")
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON ({exc})") from None
