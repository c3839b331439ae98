"""Requests to the file URLs the API hands out: the upload URL (PUT) and the results URL (GET).

They are signed URLs, on Vigil itself or on S3: they carry no API key (S3 would refuse an
`Authorization` header it did not sign), and a relative one is taken from the base URL.
"""

from __future__ import annotations

import json

import httpx

from vigil.client._config import USER_AGENT
from vigil.client._errors import APIResponseValidationError
from vigil.client._uploads import UploadBody
from vigil.client.types.data import Result, Upload, UploadURL


def absolute(base_url: str, url: str) -> str:
    return url if url.startswith(("http://", "https://")) else base_url + "/" + url.lstrip("/")


def put_file(
    http: httpx.Client | httpx.AsyncClient, url: str, body: UploadBody, timeout: httpx.Timeout, asynchronous: bool
) -> httpx.Request:
    content = body.achunks() if asynchronous else body.chunks()
    # With Content-Length given, httpx streams the chunks without chunked transfer encoding.
    headers = {**body.headers(), "User-Agent": USER_AGENT}
    return http.build_request("PUT", url, content=content, headers=headers, timeout=timeout)


def get_file(http: httpx.Client | httpx.AsyncClient, url: str, timeout: httpx.Timeout) -> httpx.Request:
    return http.build_request("GET", url, headers={"User-Agent": USER_AGENT}, timeout=timeout)


def uploaded(created: UploadURL, body: UploadBody, response: httpx.Response) -> Upload:
    """Vigil's own upload URL answers JSON (status, size); S3 answers with no body to keep."""
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    answer = parsed if isinstance(parsed, dict) else {}
    return Upload({**answer, "requestId": created.request_id, "objectKey": created.object_key, "bytes_sent": body.size})


def result_line(line: str, response: httpx.Response) -> Result | None:
    """One line of the results file; None for a blank one."""
    if not line.strip():
        return None
    try:
        parsed = json.loads(line)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise APIResponseValidationError(f"a line of the results file is not a JSON object: {line[:200]!r}", response)
    return Result(parsed)
