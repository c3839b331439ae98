"""Reading a policy document from its source text, YAML or JSON, into plain JSON values.

YAML is read with the safe loader. Anchors and aliases are refused (an alias repeated in
layers expands exponentially once written out as JSON), keys must be strings, and the
scalars YAML has but JSON lacks (dates) become strings.
"""

from __future__ import annotations

import datetime
from typing import Any

import msgspec
import yaml

from vigil.engine.models import PolicyInvalid

FORMATS = ("yaml", "json")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse(source: str, format: str) -> dict[str, Any]:
    """The document as a JSON object. Raises PolicyInvalid naming the line of a syntax error."""
    if format == "json":
        try:
            document = msgspec.json.decode(source)
        except msgspec.DecodeError as exc:
            raise _invalid(f"not valid JSON: {exc}") from None
    else:
        try:
            document = yaml.load(source, Loader=_Loader)  # noqa: S506 - a safe loader
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise _invalid(f"not valid YAML{where}: {exc.problem}") from None
        except yaml.YAMLError as exc:
            raise _invalid(f"not valid YAML: {exc}") from None
        document = _plain(document, "", set())
    if not isinstance(document, dict):
        raise _invalid("a policy must be an object with 'rules' (and usually 'detectors')")
    return document


def _plain(value: Any, path: str, seen: set[int]) -> Any:
    if isinstance(value, dict | list):
        if id(value) in seen:
            raise _invalid(f"YAML anchors and aliases are not supported (at {path or 'the top'})")
        seen.add(id(value))
    if isinstance(value, dict):
        plain = {}
        for key, item in value.items():
            if not isinstance(key, str):
                hint = " (YAML reads unquoted yes/no/on/off as booleans: quote it)" if isinstance(key, bool) else ""
                raise _invalid(f"key {key!r} at {path or 'the top'} must be a string{hint}")
            plain[key] = _plain(item, f"{path}.{key}" if path else key, seen)
        return plain
    if isinstance(value, list):
        return [_plain(item, f"{path}[{index}]", seen) for index, item in enumerate(value)]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        raise _invalid(f"binary values are not supported (at {path})")
    return value


def _invalid(problem: str) -> PolicyInvalid:
    return PolicyInvalid([{"path": "(document)", "problem": problem}])
