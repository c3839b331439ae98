"""A list of values as one bound parameter, on both databases.

One statement text whatever the length (no `IN (?, ?, …)` expanded per call), so it is
prepared once, and it runs on SQLAlchemy connections and on direct driver connections alike
(store/direct.py). PostgreSQL takes a typed array; SQLite a JSON array read by json_each.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vigil.store import jsondoc


def any_of(conn: Any, expr: str, name: str, pg_type: str = "text") -> str:
    """SQL for "`expr` is one of the values of parameter `name`" (bind it with `values`)."""
    if conn.dialect.name == "postgresql":
        return f"{expr} = ANY(CAST(:{name} AS {pg_type}[]))"
    return f"{expr} IN (SELECT value FROM json_each(:{name}))"


def values(conn: Any, items: Iterable[Any]) -> Any:
    listed = list(items)
    return listed if conn.dialect.name == "postgresql" else jsondoc.dump(listed)
