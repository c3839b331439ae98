"""A call to the API as data: what the resources build and the clients send.

Each resource method builds a `Call` (method, path, body, the model of the answer) with the
functions of its module; `Vigil` and `AsyncVigil` send it the same way, so the sync and async
resources differ only by `await`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from vigil.client._models import Model

__all__ = ["Call", "path"]

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Call(Generic[M]):
    method: str
    path: str  # under the base URL, its segments quoted
    model: type[M]
    json: Any = None  # the JSON body; None sends no body
    content: bytes | None = None  # a raw body instead (a YAML policy)
    content_type: str = "application/json"
    params: Mapping[str, str] | None = None


def path(template: str, *segments: str | int) -> str:
    """`path("/v1/data/{}/objects/{}", "products", "a/b")` → `/v1/data/products/objects/a%2Fb`:
    every segment is percent-encoded, so an id holding `/`, `?` or `#` stays one segment."""
    return template.format(*(quote(str(segment), safe="") for segment in segments))
