"""JSON documents as stored: PostgreSQL hands back decoded values, SQLite hands back text."""

from __future__ import annotations

from typing import Any

import msgspec


def load(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return msgspec.json.decode(value)
    return value


def dump(value: Any) -> str:
    return msgspec.json.encode(value).decode()
