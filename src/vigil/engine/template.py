"""Explanation templates: text with CEL expressions in double braces, filled in when a rule
fires, e.g. `"Mentions '{{ match.term }}' in {{ match.field }}"`.

The expressions read what a rule's outputs read (see `engine/expr.py`), `match` and `hits`
included. A value is written as text: strings as they are, null as nothing, lists joined with
", ", anything else as JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import cel
import msgspec

from vigil.engine.expr import OUTPUT_NAMES, Expression, compile_expression, to_json
from vigil.engine.problems import Problems

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
# `match.term`, `object.price`, `parent.seller.id`: read straight from the values, no CEL.
_PATH = re.compile(r"^(match|object|previous|parent|fields)(?:\s*\.\s*[A-Za-z_]\w*)+$")
MAX_TEMPLATE_CHARS = 2000


class Path:
    """A placeholder that is a plain path of names, looked up in Python as CEL would."""

    __slots__ = ("keys",)

    def __init__(self, source: str) -> None:
        self.keys = [key.strip() for key in source.split(".")]

    def lookup(self, values: dict[str, Any]) -> Any:
        value: Any = values
        for key in self.keys:
            if not isinstance(value, dict):
                raise TypeError(f"{'.'.join(self.keys)}: {key!r} of {_text(value) or 'null'}, which has no fields")
            value = value[key]  # KeyError: reported as "no such key", like CEL's
        return value


class Template:
    __slots__ = ("parts", "expressions")

    def __init__(self, parts: list[str | Path | Expression], expressions: list[Expression]) -> None:
        self.parts = parts
        self.expressions = expressions  # every placeholder's, paths included: they name what it reads

    def render(self, values: dict[str, Any], context: Callable[[], cel.Context]) -> str:
        """`values` are the Python values of the names; `context()` makes the CEL context,
        when a placeholder is more than a path."""
        text = []
        for part in self.parts:
            if isinstance(part, str):
                text.append(part)
            elif isinstance(part, Path):
                text.append(_text(part.lookup(values)))
            else:
                text.append(_text(part.run(context())))
        return "".join(text)


def compile_template(source: Any, path: str, problems: Problems, detectors: Iterable[str]) -> Template | None:
    if not isinstance(source, str):
        problems.add(path, "must be a string; write values in as {{ expression }}")
        return None
    if len(source) > MAX_TEMPLATE_CHARS:
        problems.add(path, f"is {len(source)} characters; at most {MAX_TEMPLATE_CHARS} are allowed")
        return None
    parts: list[str | Path | Expression] = []
    expressions: list[Expression] = []
    position = 0
    ok = True
    for found in _PLACEHOLDER.finditer(source):
        if found.start() > position:
            parts.append(source[position : found.start()])
        code = found.group(1).strip()
        expression = compile_expression(code, path, problems, OUTPUT_NAMES, detectors)
        ok = ok and expression is not None
        if expression is not None:
            expressions.append(expression)
            parts.append(Path(code) if _PATH.match(code) else expression)
        position = found.end()
    if position < len(source):
        parts.append(source[position:])
    return Template(parts, expressions) if ok else None


def _text(value: Any) -> str:
    value = to_json(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # JSON numbers reach CEL as doubles: 100, not 100.0
    return msgspec.json.encode(value).decode()
