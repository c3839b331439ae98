"""Answers of the policy API (`client.policies`) [Vigil extension]."""

from __future__ import annotations

from typing import Any

from vigil.client._models import Model
from vigil.client.types.data import Output

__all__ = ["DryRun", "DryRunResult", "Policy", "PolicyUpdated", "PolicyVersion", "PolicyVersions"]


class PolicyUpdated(Model):
    namespace: str
    version: int
    status: str  # "updated", or "unchanged" when the document is the current one again
    rules: int
    detectors: int


class Policy(Model):
    namespace: str
    version: int
    format: str  # "yaml" | "json": how it was sent
    created_at_ms: int
    policy: dict[str, Any]  # the parsed document
    source: str  # the document as sent


class PolicyVersion(Model):
    version: int
    format: str
    created_at_ms: int


class PolicyVersions(Model):
    namespace: str
    current: int
    versions: list[PolicyVersion]


class DryRunResult(Model):
    id: str
    output: Output | None
    metadata: dict[str, Any]
    provenance: dict[str, Any] | None  # which rules fired, on what evidence
    error: str | None


class DryRun(Model):
    """`POST …/policy/test`: what the policy (or the draft sent) would decide; nothing stored."""

    namespace: str
    draft: bool
    policy_version: int | None
    results: list[DryRunResult]
