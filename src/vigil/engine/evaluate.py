"""Evaluate one object version against its namespace's policy.

Until policies exist (the policy-engine issue), no rule applies: every object gets an empty
output. The metadata of the contract is already real: the object's fields that the
namespace schema types `content_type: metadata`, returned as they were sent.
"""

from __future__ import annotations

from typing import Any

from vigil.engine.models import Evaluation, Output


def extract_metadata(schema: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    return {
        name: obj[name]
        for name, field in schema.items()
        if isinstance(field, dict) and field.get("content_type") == "metadata" and name in obj
    }


def evaluate(settings: dict[str, Any], obj: dict[str, Any], previous: dict[str, Any] | None = None) -> Evaluation:
    schema = settings.get("schema") or {}
    return Evaluation(output=Output(), metadata=extract_metadata(schema, obj), policy_version=None)
