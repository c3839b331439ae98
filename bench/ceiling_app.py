"""HTTP ceiling: a bare ASGI app that answers Vigil's ingest POST without storing anything.

    .venv/bin/python bench/ceiling_app.py --port 8200

It does what Vigil's `POST /v1/data/{ns}` does before the database: read the whole body,
insist on a bearer key, decode the JSON with msgspec, check that `data` is an object or an
array of objects each with a string `id`, and answer 200 `{"requestId": "req_…", "status":
"accepted"}`. No framework, no middleware, no storage.

It runs under the same server settings as `vigil api` / `vigil serve` (src/vigil/cli.py):
one process, uvicorn with `loop="none"` inside `uvloop.run`, httptools, lifespan on, no
access log, log level warning. So "Vigil req/s ÷ this app's req/s" is the share of the
HTTP ceiling that Vigil keeps.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import msgspec

_decode = msgspec.json.decode
_encode = msgspec.json.encode
_JSON = [(b"content-type", b"application/json")]


def _bad(message: str) -> tuple[int, bytes]:
    return 400, _encode({"error": {"type": "invalid_request", "message": message, "details": []}})


def _answer(body: bytes, authorized: bool) -> tuple[int, bytes]:
    if not authorized:
        return 401, _encode({"error": {"type": "unauthorized", "message": "missing API key", "details": []}})
    try:
        doc = _decode(body)
    except msgspec.DecodeError:
        return _bad("the body is not valid JSON")
    data = doc.get("data") if isinstance(doc, dict) else None
    entries = [data] if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        return _bad("send {'data': {...}} or {'data': [...]}")
    for obj in entries:
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
            return _bad("every object needs a string 'id'")
    request_id = "req_" + os.urandom(13).hex()[:26]
    return 200, _encode({"requestId": request_id, "status": "accepted"})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    if scope["method"] == "GET":  # readiness probe of the harness
        status, answer = 200, b'{"status":"ok"}'
    else:
        authorized = any(k == b"authorization" and v.startswith(b"Bearer ") for k, v in scope["headers"])
        status, answer = _answer(b"".join(chunks), authorized)
    await send({"type": "http.response.start", "status": status, "headers": _JSON})
    await send({"type": "http.response.body", "body": answer})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200)
    args = parser.parse_args()

    import uvicorn
    import uvloop

    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        loop="none",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=30,
    )
    uvloop.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
