"""Reading a stored upload back as numbered lines, gzip or not, from any byte offset.

Memory stays bounded whatever the file: chunks of at most 1 MiB in, and a line longer than
`max_line_bytes` is skipped as it streams past (reported with its size), never held whole.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from vigil.blobs.base import BlobStore

GZIP_MAGIC = b"\x1f\x8b"
_OUT_BYTES = 1024 * 1024  # the most one decompression step produces: bounds a "zip bomb"


class UnreadableFile(Exception):
    """The stored upload cannot be read (not valid gzip, or gone)."""


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based
    end: int  # the offset just after this line (and its newline) in the decoded file
    data: bytes | None  # None when the line is longer than allowed
    size: int  # bytes, without the newline


async def gunzip(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Decompress gzip, including several members one after the other (as `cat a.gz b.gz`)."""
    decoder = zlib.decompressobj(wbits=31)
    fed = False
    try:
        async for chunk in chunks:
            pending = chunk
            while pending:
                fed = True
                out = decoder.decompress(pending, _OUT_BYTES)
                if out:
                    yield out
                if decoder.eof:
                    pending = decoder.unused_data
                    decoder = zlib.decompressobj(wbits=31)
                    fed = False
                else:
                    pending = decoder.unconsumed_tail
        if fed and not decoder.eof:
            tail = decoder.flush()
            if tail:
                yield tail
            raise UnreadableFile("the gzip stream ends early (truncated upload)")
    except zlib.error as exc:
        raise UnreadableFile(f"the file is not valid gzip ({exc})") from None


async def decoded(store: BlobStore, key: str, offset: int = 0) -> AsyncIterator[bytes]:
    """The blob's bytes from `offset` of its decoded form: gzip is decompressed (and, to resume,
    read from the start and skipped up to `offset`); plain files are read from `offset` directly."""
    try:
        head = b"".join([chunk async for chunk in store.read(key, 0, 2)])
    except FileNotFoundError:
        raise UnreadableFile("the uploaded file is gone from the blob store") from None
    if head != GZIP_MAGIC:
        async for chunk in store.read(key, offset):
            yield chunk
        return
    skip = offset
    async for chunk in gunzip(store.read(key)):
        if skip:
            if len(chunk) <= skip:
                skip -= len(chunk)
                continue
            chunk, skip = chunk[skip:], 0
        yield chunk


async def split_lines(
    chunks: AsyncIterable[bytes], first_number: int, start: int, max_line_bytes: int
) -> AsyncIterator[list[Line]]:
    """The lines in `chunks`, a list per chunk read. `start` is the offset of the first byte."""
    number, offset = first_number, start
    carry = bytearray()
    overlong = -1  # while skipping a line that is too long: its bytes so far
    async for chunk in chunks:
        lines: list[Line] = []
        pos = 0
        while True:
            newline = chunk.find(b"\n", pos)
            piece = chunk[pos:] if newline < 0 else chunk[pos:newline]
            if newline < 0:
                if overlong >= 0:
                    overlong += len(piece)
                else:
                    carry += piece
                    if len(carry) > max_line_bytes:
                        overlong, carry = len(carry), bytearray()
                break
            size = (overlong if overlong >= 0 else len(carry)) + len(piece)
            offset += size + 1
            if overlong >= 0 or size > max_line_bytes:
                lines.append(Line(number, offset, None, size))
            else:
                lines.append(Line(number, offset, bytes(carry) + piece if carry else piece, size))
            carry.clear()
            overlong = -1
            number += 1
            pos = newline + 1
        if lines:
            yield lines
    if carry or overlong >= 0:  # a last line without a newline
        size = overlong if overlong >= 0 else len(carry)
        data = None if overlong >= 0 else bytes(carry)
        yield [Line(number, offset + size, data, size)]
