"""Detectors: one file per kind, each turning an object's fields into `Hit`s.

Every detector is built once per policy version (`build(name, spec, context)`) and then
asked `detect(view, images)` for each object. Building checks the spec and records problems
under the spec's path; detecting does no I/O (images arrive already fetched and hashed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from vigil.engine.lists import NamedList
from vigil.engine.models import Hit
from vigil.engine.problems import Problems
from vigil.engine.text import ObjectView

# Hits kept per detector and object: enough to explain, bounded so a spammy text cannot
# bloat a decision.
MAX_HITS = 20

COMMON_KEYS = ("type", "fields", "description")


@dataclass(frozen=True)
class BuildContext:
    problems: Problems
    lists: Mapping[str, NamedList]

    def named_list(self, name: str | None, path: str, kinds: tuple[str, ...]) -> NamedList | None:
        if name is None:
            return None
        found = self.lists.get(name)
        if found is None:
            self.problems.add(path, f"no list named {name!r}; create it first with PUT /v1/lists/{name}")
            return None
        if found.kind not in kinds:
            self.problems.add(
                path, f"list {name!r} holds {found.kind} values; this detector reads {' or '.join(kinds)}"
            )
            return None
        return found

    def fields(self, spec: dict[str, Any], path: str) -> frozenset[str] | None:
        """The top-level fields a detector is limited to, or None for all of its kind."""
        if "fields" not in spec:
            return None
        return frozenset(self.problems.strings(spec, "fields", path))


class Detector(Protocol):
    name: str
    type: str
    lists: tuple[NamedList, ...]

    def detect(self, view: ObjectView, images: Mapping[str, Any]) -> list[Hit]: ...
