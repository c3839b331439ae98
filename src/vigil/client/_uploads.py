"""The body of an upload: a JSONL file sent as a stream, plain or gzip, with its length.

What `upload()` accepts:
- a path (`str` or `os.PathLike`): sent straight from disk; a file that is already gzip
  (it starts with the gzip magic bytes) is sent as is, with `Content-Encoding: gzip`;
- an iterable of objects (mappings, one JSON line each) and/or `bytes` chunks (sent as they
  are), such as a generator reading another system;
- a binary file object.
Anything other than a plain path, and any body to compress, is first spooled to a temporary
file (in memory up to 8 MiB, on disk beyond): memory stays bounded, the length is known (S3
presigned URLs refuse chunked uploads), and a retry can send the same bytes again.
"""

from __future__ import annotations

import json
import os
import tempfile
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, Final, Protocol

__all__ = ["UploadBody", "UploadSource", "prepare_body"]

CHUNK_BYTES: Final = 1024 * 1024
SPOOL_IN_MEMORY_BYTES: Final = 8 * 1024 * 1024
GZIP_MAGIC: Final = b"\x1f\x8b"
GZIP_WBITS: Final = 31  # zlib's window bits for a gzip header and trailer


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


UploadSource = str | os.PathLike[str] | _Readable | Iterable[Mapping[str, Any] | bytes]


@dataclass
class UploadBody:
    file: IO[bytes]
    size: int  # bytes to send
    gzip: bool  # send `Content-Encoding: gzip`

    def headers(self) -> dict[str, str]:
        found = {"Content-Type": "application/json", "Content-Length": str(self.size)}
        if self.gzip:
            found["Content-Encoding"] = "gzip"
        return found

    def chunks(self) -> Iterator[bytes]:
        """The whole body from its start (again, on a retry)."""
        self.file.seek(0)
        while chunk := self.file.read(CHUNK_BYTES):
            yield chunk

    async def achunks(self) -> AsyncIterator[bytes]:
        # Reads of a local file (or of the spool) in 1 MiB pieces: short enough to do inline.
        for chunk in self.chunks():
            yield chunk

    def close(self) -> None:
        self.file.close()


def prepare_body(source: UploadSource, compress: bool) -> UploadBody:
    if isinstance(source, (str, os.PathLike)):
        return _from_path(os.fspath(source), compress)
    if hasattr(source, "read"):
        return _spool(_read_chunks(source), compress)  # type: ignore[arg-type]
    if isinstance(source, (bytes, bytearray, Mapping)):
        raise TypeError("upload() takes a path, a binary file, or an iterable of objects or bytes chunks")
    return _spool(_lines(source), compress)


def _from_path(path: str, compress: bool) -> UploadBody:
    file = open(path, "rb")  # noqa: SIM115 - closed by UploadBody.close
    try:
        already_gzip = file.read(len(GZIP_MAGIC)) == GZIP_MAGIC
        file.seek(0)
        if compress and not already_gzip:
            with file:
                return _spool(_read_chunks(file), compress=True)
        return UploadBody(file, os.fstat(file.fileno()).st_size, gzip=already_gzip)
    except BaseException:
        file.close()
        raise


def _read_chunks(file: _Readable) -> Iterator[bytes]:
    file_chunks = iter(lambda: file.read(CHUNK_BYTES), b"")
    for chunk in file_chunks:
        if not isinstance(chunk, bytes):
            raise TypeError("upload() reads files in binary mode: open it with open(path, 'rb')")
        yield chunk


def _lines(items: Iterable[Mapping[str, Any] | bytes]) -> Iterator[bytes]:
    for index, item in enumerate(items):
        if isinstance(item, Mapping):
            yield json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        elif isinstance(item, (bytes, bytearray)):
            yield bytes(item)
        else:
            raise TypeError(f"upload() item {index} is a {type(item).__name__}; send mappings (objects) or bytes")


def _spool(chunks: Iterator[bytes], compress: bool) -> UploadBody:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115 - owned by the body
    try:
        first = True
        gzip = compress
        packer = zlib.compressobj(wbits=GZIP_WBITS) if compress else None
        for chunk in chunks:
            if first and chunk:
                first = False
                if chunk.startswith(GZIP_MAGIC):  # already compressed: keep it as it is
                    packer, gzip = None, True
            spool.write(packer.compress(chunk) if packer else chunk)
        if packer:
            spool.write(packer.flush())
        return UploadBody(spool, spool.tell(), gzip)
    except BaseException:
        spool.close()
        raise
