"""The objects every benchmark sends or writes: ~336 bytes of JSON each, the shape measured in
shared/research/perf-limits.md (id, title, 150-character description, two image URLs, price).

bench/post.lua builds the same text for wrk; keep the two in step.
"""

from __future__ import annotations

DESCRIPTION = (
    "Hand-thrown stoneware mug with a matte glaze, dishwasher and microwave safe, "
    "holds 350 ml; each piece varies slightly in colour and texture. Ships in 2 days."
)


def object_id(prefix: str, conn: int, n: int, i: int) -> str:
    return f"{prefix}-{conn}-{n}-{i}"


def object_json(oid: str, n: int) -> str:
    return (
        f'{{"id":"{oid}","title":"Ceramic mug number {n}","description":"{DESCRIPTION}",'
        f'"images":["https://img.example.com/p/{n}/front.jpg","https://img.example.com/p/{n}/side.jpg"],'
        f'"price":42.99}}'
    )


def body(prefix: str, conn: int, n: int, batch: int) -> bytes:
    """A POST body: one object (`batch` 0, the `{"data": {...}}` form) or an array of `batch`."""
    if batch == 0:
        return ('{"data":' + object_json(object_id(prefix, conn, n, 0), n) + "}").encode()
    parts = [object_json(object_id(prefix, conn, n, i), n) for i in range(1, batch + 1)]
    return ('{"data":[' + ",".join(parts) + "]}").encode()
