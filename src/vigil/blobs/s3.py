"""Blobs in S3-compatible object storage, through boto3.

Credentials, region and endpoint come from the usual AWS settings (`AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` for MinIO, moto and the
like, or `~/.aws`). With a custom endpoint, path-style addressing is used, which every
S3-compatible server understands. boto3 is blocking, so each call runs in a thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

READ_CHUNK_BYTES = 1024 * 1024
# S3 parts are at least 5 MiB (but the last); 8 MiB keeps memory small and requests few.
PART_BYTES = 8 * 1024 * 1024


class S3Store:
    kind = "s3"

    def __init__(self, bucket: str, prefix: str) -> None:
        import boto3
        from botocore.config import Config

        if not bucket:
            raise ValueError("VIGIL_BLOB_URL must name a bucket: s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = prefix
        custom_endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        config = Config(
            s3={"addressing_style": "path" if custom_endpoint else "auto"},
            signature_version="s3v4",
            retries={"max_attempts": 5, "mode": "standard"},
        )
        self.client: Any = boto3.session.Session().client("s3", config=config)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """One PUT for a small blob; a multipart upload of 8 MiB parts otherwise (never more in memory)."""
        full = self._key(key)
        buffer = bytearray()
        parts: list[dict[str, Any]] = []
        upload_id: str | None = None
        size = 0
        try:
            async for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= PART_BYTES:
                    if upload_id is None:
                        created = await asyncio.to_thread(
                            self.client.create_multipart_upload, Bucket=self.bucket, Key=full
                        )
                        upload_id = created["UploadId"]
                    parts.append(await self._upload_part(full, upload_id, len(parts) + 1, bytes(buffer)))
                    buffer.clear()
            if upload_id is None:
                await asyncio.to_thread(self.client.put_object, Bucket=self.bucket, Key=full, Body=bytes(buffer))
                return size
            if buffer or not parts:
                parts.append(await self._upload_part(full, upload_id, len(parts) + 1, bytes(buffer)))
            await asyncio.to_thread(
                self.client.complete_multipart_upload,
                Bucket=self.bucket,
                Key=full,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
            return size
        except BaseException:
            if upload_id is not None:
                await asyncio.to_thread(
                    self.client.abort_multipart_upload, Bucket=self.bucket, Key=full, UploadId=upload_id
                )
            raise

    async def _upload_part(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        answer = await asyncio.to_thread(
            self.client.upload_part, Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        return {"ETag": answer["ETag"], "PartNumber": number}

    async def read(self, key: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        if length == 0:
            return
        size = await self.size(key)
        if size is None:
            raise FileNotFoundError(key)
        if offset >= size:
            return
        end = "" if length is None else str(min(offset + length, size) - 1)
        answer = await asyncio.to_thread(
            self.client.get_object, Bucket=self.bucket, Key=self._key(key), Range=f"bytes={offset}-{end}"
        )
        body = answer["Body"]
        try:
            while True:
                chunk = await asyncio.to_thread(body.read, READ_CHUNK_BYTES)
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    async def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            answer = await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(answer["ContentLength"])

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    def presigned_put(self, key: str, expires_s: int) -> str | None:
        return str(
            self.client.generate_presigned_url(
                "put_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires_s
            )
        )

    def presigned_get(self, key: str, expires_s: int) -> str | None:
        return str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires_s
            )
        )
