"""Fetching and hashing the images a policy asks for, concurrently, for a batch of objects.

Hashing (decoding the image, PDQ) runs in a thread so that the event loop keeps serving.
Each URL's outcome is an `ImageHash` or an `ImageFailure` with the reason; the engine turns
a failure into that object's evaluation error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from vigil.engine.detectors.image_hash import ImageFailure, ImageHash, ImageResult, hash_image
from vigil.fetch.client import Fetcher, FetchError


async def fetch_and_hash(fetcher: Fetcher, urls: Iterable[str], concurrency: int) -> dict[str, ImageResult]:
    unique = list(dict.fromkeys(urls))
    gate = asyncio.Semaphore(max(concurrency, 1))

    async def one(url: str) -> ImageResult:
        async with gate:
            try:
                body = await fetcher.get(url)
            except FetchError as exc:
                return ImageFailure(str(exc), exc.retry)
        try:
            return await asyncio.to_thread(hash_image, body)
        except ValueError as exc:
            return ImageFailure(str(exc), retry=False)

    results = await asyncio.gather(*(one(url) for url in unique))
    return dict(zip(unique, results, strict=True))


__all__ = ["ImageHash", "ImageFailure", "fetch_and_hash"]
