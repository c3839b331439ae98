"""Answers of the named value list API (`client.lists`) [Vigil extension]."""

from __future__ import annotations

from vigil.client._models import Model

__all__ = ["ListDeleted", "ListSummaries", "ListSummary", "ListUpdated", "NamedList"]


class ListUpdated(Model):
    name: str
    kind: str
    count: int
    version: int
    status: str  # "updated"


class ListSummary(Model):
    name: str
    kind: str
    description: str
    count: int
    version: int
    created_at_ms: int
    updated_at_ms: int


class NamedList(ListSummary):
    values: list[str]  # normalised, without duplicates


class ListSummaries(Model):
    lists: list[ListSummary]


class ListDeleted(Model):
    name: str
    status: str  # "deleted"
