"""What an evaluation produces: the contract's `output` (labels, actions, fields), the
evidence behind it, and the engine's own errors."""

from __future__ import annotations

from typing import Any

import msgspec

CONFIDENCES = ("low", "medium", "high")


class Label(msgspec.Struct, omit_defaults=True):
    label: str
    explanation: str | None = None
    confidence: str | None = None  # "low" | "medium" | "high"


class Output(msgspec.Struct):
    labels: list[Label] = msgspec.field(default_factory=list)
    actions: list[str] = msgspec.field(default_factory=list)
    fields: dict[str, Any] = msgspec.field(default_factory=dict)


class Hit(msgspec.Struct, omit_defaults=True):
    """One thing a detector found: where (field, offsets into the field's text) and what."""

    detector: str
    type: str  # keyword | regex | list | image_hash | semantic
    field: str
    text: str = ""  # the part of the field that matched, as sent
    term: str | None = None  # keyword: the listed term; regex: the pattern; list: the listed value
    start: int | None = None
    end: int | None = None
    list: str | None = None  # the named list the term or value came from
    distance: int | None = None  # image_hash: Hamming distance to the listed hash
    score: float | None = None  # semantic: cosine similarity to the nearest example
    label: str | None = None  # semantic: the label of the nearest example


class FiredRule(msgspec.Struct):
    """Provenance of one rule that matched: what it added and the evidence it saw."""

    index: int
    name: str
    labels: list[str]
    actions: list[str]
    fields: list[str]
    evidence: list[Hit]


class Provenance(msgspec.Struct):
    policy_version: int | None
    rules: list[FiredRule]
    detectors: dict[str, int]  # hits per detector, matched or not
    lists: dict[str, int]  # version of each named list the policy read


class Evaluation(msgspec.Struct):
    output: Output
    metadata: dict[str, Any]
    policy_version: int | None = None
    provenance: Provenance | None = None


class EvaluationError(Exception):
    """Evaluating one object failed. `retry` says whether another attempt could succeed
    (a fetch that timed out) or not (a condition that fails on this object's data)."""

    def __init__(self, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


class PolicyInvalid(Exception):
    """A policy document that cannot be compiled; `problems` name each bad part by its path."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        self.problems = problems
        first = problems[0]
        more = f" (and {len(problems) - 1} more problems in details)" if len(problems) > 1 else ""
        super().__init__(f"{first['path']}: {first['problem']}{more}")
