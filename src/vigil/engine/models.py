"""What an evaluation produces: the contract's `output` (labels, actions, fields)."""

from __future__ import annotations

from typing import Any

import msgspec


class Label(msgspec.Struct, omit_defaults=True):
    label: str
    explanation: str | None = None
    confidence: str | None = None  # "low" | "medium" | "high"


class Output(msgspec.Struct):
    labels: list[Label] = msgspec.field(default_factory=list)
    actions: list[str] = msgspec.field(default_factory=list)
    fields: dict[str, Any] = msgspec.field(default_factory=dict)


class Evaluation(msgspec.Struct):
    output: Output
    metadata: dict[str, Any]
    policy_version: int | None = None
