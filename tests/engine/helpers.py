"""Building and running policies in tests of the pure engine."""

from __future__ import annotations

from typing import Any

from vigil.engine.document import parse
from vigil.engine.evaluate import evaluate
from vigil.engine.lists import NamedList
from vigil.engine.models import Evaluation
from vigil.engine.policy import CompiledPolicy, compile_policy

SETTINGS: dict[str, Any] = {
    "schema": {
        "title": {"display_hint": {"type": "title"}},
        "price": {"content_type": "metadata"},
        "images": {"content_type": "image_url"},
        "website": {"content_type": "website_url"},
        "seller": {"belongs_to": "users"},
    }
}


def policy(source: str | dict[str, Any], lists: dict[str, NamedList] | None = None, version: int = 1) -> CompiledPolicy:
    document = parse(source, "yaml") if isinstance(source, str) else source
    return compile_policy(document, lists or {}, version)


def named(name: str, kind: str, *values: str, version: int = 1) -> dict[str, NamedList]:
    return {name: NamedList(name, kind, tuple(values), version)}


def run(compiled: CompiledPolicy, obj: dict[str, Any], **kwargs: Any) -> Evaluation:
    return evaluate(compiled, kwargs.pop("settings", SETTINGS), obj, **kwargs)


def labels(result: Evaluation) -> list[str]:
    return [label.label for label in result.output.labels]
