"""Helpers for the import tests: JSONL files, waiting for an import, and a real S3 server (moto)."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import free_port

TERMINAL = ("succeeded", "failed")


def jsonl(objects: list[Any]) -> bytes:
    return b"".join(json.dumps(obj).encode() + b"\n" for obj in objects)


def numbered_lines(count: int, bad: dict[int, bytes] | None = None, prefix: str = "p") -> bytes:
    """`count` lines, line n being {"id": "<prefix>n", …}, except the 1-based lines in `bad`."""
    bad = bad or {}
    out = bytearray()
    for n in range(1, count + 1):
        out += bad.get(n) or json.dumps({"id": f"{prefix}{n}", "title": f"item {n}", "n": n}).encode()
        out += b"\n"
    return bytes(out)


def create_upload(client: httpx.Client, namespace: str, headers: dict[str, str], path: str = "upload-url") -> dict:
    url = f"/v1/data/{namespace}/requests/upload-url" if path == "upload-url" else f"/v1/data/{namespace}/import"
    answer = client.post(url, headers={**headers, "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_import(
    client: httpx.Client, namespace: str, request_id: str, headers: dict[str, str], timeout_s: float = 60.0
) -> dict[str, Any]:
    """Poll the download-url answer (it has no inline data to load) until the import is terminal."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = client.get(f"/v1/data/{namespace}/requests/{request_id}/results/download-url", headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if body["status"] in TERMINAL or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


@dataclass
class S3Server:
    endpoint: str
    popen: subprocess.Popen[bytes]

    def env(self, bucket: str) -> dict[str, str]:
        return {
            "VIGIL_BLOB_URL": f"s3://{bucket}/vigil",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def make_bucket(self) -> str:
        import boto3

        bucket = f"vigil-{secrets.token_hex(4)}"
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=bucket)
        return bucket


def start_moto(log_path: Path) -> Iterator[S3Server]:
    """moto's S3-speaking server as a real subprocess on 127.0.0.1."""
    port = free_port()
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    popen = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    log.close()
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{endpoint}/moto-api/", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if popen.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"moto server did not start:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.1)
    try:
        yield S3Server(endpoint, popen)
    finally:
        popen.terminate()
        popen.wait(10)
