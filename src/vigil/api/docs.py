"""The OpenAPI document (kept in the repo as api/openapi.json) and a readable page of it."""

from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

OPENAPI_PATH = Path(__file__).with_name("openapi.json")


@lru_cache
def openapi_bytes() -> bytes:
    return OPENAPI_PATH.read_bytes()


async def openapi_json(request: Request) -> Response:
    return Response(openapi_bytes(), media_type="application/json")


@lru_cache
def _page() -> str:
    spec: dict[str, Any] = json.loads(openapi_bytes())
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Vigil API</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
        "h2{border-top:1px solid #ddd;padding-top:1rem}code,pre{background:#f5f5f5;padding:.1rem .3rem}"
        "pre{padding:.6rem;overflow:auto}.m{font-weight:bold;text-transform:uppercase;margin-right:.5rem}</style>",
        "</head><body>",
        f"<h1>{html.escape(spec['info']['title'])} <small>{html.escape(spec['info']['version'])}</small></h1>",
        f"<p>{html.escape(spec['info'].get('description', ''))}</p>",
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a></p>",
    ]
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if method not in ("get", "put", "post", "patch", "delete"):
                continue
            parts.append(f"<h2><span class='m'>{method}</span><code>{html.escape(path)}</code></h2>")
            parts.append(f"<p><b>{html.escape(op.get('summary', ''))}</b></p>")
            if op.get("description"):
                parts.append(f"<p>{html.escape(op['description'])}</p>")
            for status, response in op.get("responses", {}).items():
                parts.append(f"<p><code>{status}</code> {html.escape(response.get('description', ''))}</p>")
    parts.append("</body></html>")
    return "".join(parts)


async def docs_page(request: Request) -> Response:
    return HTMLResponse(_page())
