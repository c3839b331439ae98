"""The S3 blob store against a real S3-speaking server (moto's server mode) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.blobs.support import S3Server, start_moto


@pytest.fixture(scope="module")
def s3(tmp_path_factory) -> Iterator[S3Server]:
    yield from start_moto(tmp_path_factory.mktemp("moto") / "moto.log")


@pytest.fixture
def store(s3: S3Server, monkeypatch: pytest.MonkeyPatch):
    bucket = s3.make_bucket()
    for name, value in s3.env(bucket).items():
        monkeypatch.setenv(name, value)
    from vigil.blobs.base import open_store

    chosen = open_store(os.environ["VIGIL_BLOB_URL"], "sqlite:///unused.db")
    assert chosen.kind == "s3"
    return chosen


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _read(store, key: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, offset, length)])


def test_write_read_ranges_size_and_delete(store):
    async def go() -> None:
        data = bytes(range(256)) * 1000
        assert await store.write("a/b/small.jsonl", _pieces(data, 7000)) == len(data)
        assert await store.size("a/b/small.jsonl") == len(data)
        assert await _read(store, "a/b/small.jsonl") == data
        assert await _read(store, "a/b/small.jsonl", 1000) == data[1000:]
        assert await _read(store, "a/b/small.jsonl", 10, 2) == data[10:12]
        assert await _read(store, "a/b/small.jsonl", len(data)) == b""
        assert await store.size("a/b/missing") is None
        await store.delete("a/b/small.jsonl")
        assert await store.size("a/b/small.jsonl") is None

    asyncio.run(go())


def test_large_write_goes_up_in_parts(store):
    async def go() -> None:
        data = os.urandom(1024) * (20 * 1024)  # 20 MiB: three parts of at most 8 MiB
        assert await store.write("big.bin", _pieces(data, 1024 * 1024)) == len(data)
        assert await store.size("big.bin") == len(data)
        assert await _read(store, "big.bin", 9 * 1024 * 1024, 1024) == data[9 * 1024 * 1024 : 9 * 1024 * 1024 + 1024]

    asyncio.run(go())


def test_presigned_urls_work_with_a_plain_http_client(store):
    put_url = store.presigned_put("up/file.jsonl", 600)
    assert put_url.startswith(os.environ["AWS_ENDPOINT_URL"]) and "Signature" in put_url
    assert httpx.put(put_url, content=b'{"id": "a"}\n').status_code == 200
    assert asyncio.run(store.size("up/file.jsonl")) == 12
    got = httpx.get(store.presigned_get("up/file.jsonl", 600))
    assert got.status_code == 200 and got.content == b'{"id": "a"}\n'
