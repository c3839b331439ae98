"""The blob store interface, and how `VIGIL_BLOB_URL` picks an implementation."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Protocol


class BlobStore(Protocol):
    """Keys are `/`-separated paths such as `team_…/data-api-request-input/products/req_….jsonl`."""

    kind: str  # "local" or "s3"

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store the chunks under `key` as they arrive (replacing any blob there); returns the size.

        The blob appears whole or not at all: readers never see a partial write."""
        ...

    def read(self, key: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """The blob's bytes from `offset` (`length` of them, or to the end), in chunks."""
        ...

    async def size(self, key: str) -> int | None:
        """The blob's size in bytes, or None if there is no such blob."""
        ...

    async def delete(self, key: str) -> None: ...

    def presigned_put(self, key: str, expires_s: int) -> str | None:
        """A URL that accepts one `PUT` of the blob without other credentials, or None if this
        store has no such URLs (then Vigil serves the upload itself)."""
        ...

    def presigned_get(self, key: str, expires_s: int) -> str | None:
        """Like `presigned_put`, for downloading."""
        ...


def open_store(blob_url: str, database_url: str) -> BlobStore:
    """`s3://bucket/prefix` is object storage; anything else is a local folder.

    Empty: the folder `<database file>-blobs` beside a SQLite database, or `.vigil/blobs` in the
    working directory with PostgreSQL."""
    if blob_url.startswith("s3://"):
        from vigil.blobs.s3 import S3Store

        bucket, _, prefix = blob_url[len("s3://") :].partition("/")
        return S3Store(bucket, prefix.strip("/"))
    from vigil.blobs.local import LocalStore

    if blob_url.startswith("file://"):
        return LocalStore(Path(blob_url[len("file://") :]))
    if blob_url:
        return LocalStore(Path(blob_url))
    if database_url.startswith("sqlite") and ":///" in database_url:
        path = database_url.split(":///", 1)[1].split("?", 1)[0]
        if path and path != ":memory:":
            return LocalStore(Path(path + "-blobs"))
    return LocalStore(Path(".vigil") / "blobs")
