"""Splitting a stored upload into numbered lines: offsets for resuming, gzip, overlong lines."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import pytest

from vigil.blobs.lines import Line, UnreadableFile, decoded, gunzip, split_lines
from vigil.blobs.local import LocalStore


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _split(data: bytes, size: int, first: int = 1, start: int = 0, limit: int = 100) -> list[Line]:
    async def go() -> list[Line]:
        return [line async for batch in split_lines(_chunks(data, size), first, start, limit) for line in batch]

    return asyncio.run(go())


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_lines_and_their_end_offsets_whatever_the_chunking(size):
    data = b'{"id":"a"}\n\n{"id":"b"}\r\n{"id":"c"}'
    lines = _split(data, size)
    assert [(line.number, line.data) for line in lines] == [
        (1, b'{"id":"a"}'), (2, b""), (3, b'{"id":"b"}\r'), (4, b'{"id":"c"}')
    ]  # fmt: skip
    assert [line.end for line in lines] == [11, 12, 24, 34]
    resumed = _split(data[12:], size, first=3, start=12)
    assert [(line.number, line.end) for line in resumed] == [(3, 24), (4, 34)]


@pytest.mark.parametrize("size", [1, 5, 64, 4096])
def test_overlong_lines_are_skipped_with_their_size(size):
    data = b"x" * 150 + b"\n" + b"y" * 100 + b"\n" + b"z" * 101 + b"\n" + b"w" * 300
    lines = _split(data, size)
    assert [(line.number, line.data is None, line.size) for line in lines] == [
        (1, True, 150), (2, False, 100), (3, True, 101), (4, True, 300)
    ]  # fmt: skip
    assert lines[-1].end == len(data)


def test_gzip_members_and_broken_gzip():
    data = gzip.compress(b"a\nb\n") + gzip.compress(b"c\n")

    async def read(blob: bytes) -> bytes:
        return b"".join([chunk async for chunk in gunzip(_chunks(blob, 3))])

    assert asyncio.run(read(data)) == b"a\nb\nc\n"
    with pytest.raises(UnreadableFile, match="truncated"):
        asyncio.run(read(data[:-8]))
    with pytest.raises(UnreadableFile, match="not valid gzip"):
        asyncio.run(read(b"\x1f\x8b" + b"junk" * 10))


def test_decoded_resumes_from_an_offset_plain_or_gzip(tmp_path):
    store = LocalStore(tmp_path)
    text = b"".join(b'{"id":"%d"}\n' % n for n in range(1000))

    async def go() -> None:
        await store.write("plain.jsonl", _chunks(text, 4096))
        await store.write("packed.jsonl", _chunks(gzip.compress(text), 4096))
        for key in ("plain.jsonl", "packed.jsonl"):
            assert b"".join([c async for c in decoded(store, key, 0)]) == text
            assert b"".join([c async for c in decoded(store, key, 5000)]) == text[5000:]
        with pytest.raises(UnreadableFile, match="gone"):
            [c async for c in decoded(store, "missing.jsonl", 0)]

    asyncio.run(go())


def test_local_store_rejects_keys_leaving_its_folder(tmp_path):
    with pytest.raises(ValueError):
        LocalStore(tmp_path).path("a/../../etc/passwd")
