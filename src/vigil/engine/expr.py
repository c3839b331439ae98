"""CEL expressions (conditions, computed fields, template parts) through the
`common-expression-language` package (cel-rust): compiled once per policy version,
executed against one shared context per object.

Names an expression may read:

- `object`: the version being evaluated; `previous`: the version before it, or null;
- `parent`: for each field the schema marks `belongs_to`/`namespace_ref`, the parent object
  it names (null when there is none);
- `detectors`: each detector's result: `matched`, `count`, `hits`, `terms`, `fields`;
- in the outputs of a rule that fired: `match` (its first piece of evidence), `hits` (all of
  it) and `fields` (the fields computed so far).

cel-go's string, math, list and set extensions (`lowerAscii`, `math.greatest`, `sort`, …)
are available; each is registered only on policies that call it. `matches()` runs Rust's
regex engine, which is linear-time like RE2.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from typing import Any

import cel
from cel.stdlib import STDLIB_FUNCTIONS

from vigil.engine.flatten import rewrite
from vigil.engine.problems import Problems

CONDITION_NAMES = ("object", "previous", "parent", "detectors")
OUTPUT_NAMES = (*CONDITION_NAMES, "match", "hits", "fields")
DETECTOR_RESULT = ("matched", "count", "hits", "terms", "fields")
MAX_EXPRESSION_CHARS = 4000

# cel-rust implements these natively; its own versions are faster and stricter.
_NATIVE = frozenset({"contains"})
_EXTRA_FUNCTIONS = {name: f for name, f in STDLIB_FUNCTIONS.items() if name not in _NATIVE}
# `math.greatest(…)` parses as a call of `greatest` on a name `math`.
_FUNCTION_NAMESPACES = frozenset(name.split(".")[0] for name in _EXTRA_FUNCTIONS if "." in name)
# Names bound by comprehension macros: `list.exists(x, …)` binds x.
_MACRO_BINDING = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
# Names whose values can be handed to CEL cut down to the members the expressions read.
PRUNABLE = ("object", "previous", "parent")
_ROOT = {name: re.compile(rf"(?<![.\w]){name}\b") for name in PRUNABLE}
_MEMBER = {name: re.compile(rf"(?<![.\w]){name}\s*\.\s*([A-Za-z_]\w*)") for name in PRUNABLE}
# `previous != null` reads no member: a cut-down value is null exactly when the value is.
_NULL_CHECK = {
    name: re.compile(rf"(?<![.\w]){name}\s*[!=]=\s*null\b|\bnull\s*[!=]=\s*{name}\b(?!\s*\.)") for name in PRUNABLE
}
_DETECTOR_REFERENCE = re.compile(r"\bdetectors\s*\.\s*([A-Za-z_]\w*)|\bdetectors\s*\[\s*[\"']([^\"']+)[\"']\s*\]")
_ROOT_DETECTORS = re.compile(r"(?<![.\w])detectors\b")
_DETECTOR_MEMBER = re.compile(r"(?<![.\w])detectors\s*\.\s*([A-Za-z_]\w*)\s*\.\s*([A-Za-z_]\w*)")


NOT_CONSTANT = object()


class Expression:
    """A compiled expression with what it reads: the detectors it names, the functions it calls."""

    __slots__ = (
        "source", "program", "nested", "detectors", "functions", "names", "members", "detector_members", "constant"
    )  # fmt: skip

    def __init__(self, source: str, program: cel.Program, detectors: tuple[str, ...]) -> None:
        self.source = source
        self.program = program
        self.nested = (program, frozenset())  # the program and names before `flatten`
        self.detectors = detectors
        called = set(program.functions())
        read = set(program.variables())
        dotted = {f"{space}.{name}" for space in read & _FUNCTION_NAMESPACES for name in called}
        self.functions = frozenset((called | dotted) & _EXTRA_FUNCTIONS.keys())
        self.names = frozenset(read - _FUNCTION_NAMESPACES)
        self.nested = (program, self.names)
        # For object, previous and parent: the members read (`object.price`), or None when the
        # expression uses the whole value (`size(object)`, `object["x"]`) or cannot be told.
        self.members: dict[str, frozenset[str] | None] = {
            name: _members(source, name) for name in PRUNABLE if name in self.names
        }
        # The same for each detector's result (`detectors.weapons.matched` needs only `matched`).
        self.detector_members = _detector_members(source) if "detectors" in self.names else {}
        # An expression that reads nothing (`"0.9"`) is worked out once, here.
        self.constant: Any = NOT_CONSTANT
        if not read and not self.functions:
            try:
                self.constant = program.execute(cel.Context())
            except Exception:  # noqa: BLE001 - it fails again, and is reported, at evaluation
                pass

    def run(self, context: cel.Context) -> Any:
        if self.constant is not NOT_CONSTANT:
            return self.constant
        return self.program.execute(context)

    def flatten(self) -> bool:
        """Read detector results from flat variables (`engine/flatten.py`); False if the
        rewritten expression does not compile, and then nothing changed."""
        if "detectors" not in self.names:
            return True
        try:
            program = cel.compile(rewrite(self.source))
        except (ValueError, RuntimeError):
            return False
        self.program = program
        self.names = frozenset(set(program.variables()) - _FUNCTION_NAMESPACES)
        return True

    def unflatten(self) -> None:
        self.program, self.names = self.nested


def compile_expression(
    source: Any, path: str, problems: Problems, names: tuple[str, ...], detectors: Iterable[str]
) -> Expression | None:
    """Compile `source`, or record why not under `path` and return None."""
    if isinstance(source, bool):
        source = "true" if source else "false"
    elif isinstance(source, int | float):
        source = repr(source)
    if not isinstance(source, str) or not source.strip():
        problems.add(path, "must be a CEL expression (a string such as 'detectors.weapons.matched')")
        return None
    if len(source) > MAX_EXPRESSION_CHARS:
        problems.add(path, f"is {len(source)} characters; at most {MAX_EXPRESSION_CHARS} are allowed")
        return None
    try:
        program = cel.compile(source)
    except (ValueError, RuntimeError) as exc:
        problems.add(path, f"not a valid CEL expression: {_first_lines(str(exc))}")
        return None
    bound = set(_MACRO_BINDING.findall(source))
    unknown = sorted(set(program.variables()) - set(names) - bound - _FUNCTION_NAMESPACES)
    if unknown:
        hint = f" (for the text {unknown[0]!r}, quote it: \"'{unknown[0]}'\")" if source.strip() == unknown[0] else ""
        problems.add(path, f"unknown name {unknown[0]!r}; an expression here can read {', '.join(names)}{hint}")
        return None
    known = set(detectors)
    named = tuple(dict.fromkeys(a or b for a, b in _DETECTOR_REFERENCE.findall(source)))
    missing = sorted(set(named) - known)
    if missing:
        declared = ", ".join(sorted(known)) or "none"
        problems.add(path, f"no detector named {missing[0]!r}; declared detectors: {declared}")
        return None
    for _, member in _DETECTOR_MEMBER.findall(source):
        if member not in DETECTOR_RESULT:
            problems.add(path, f"a detector's result has no {member!r}; it has {', '.join(DETECTOR_RESULT)}")
            return None
    return Expression(source, program, named)


def _members(source: str, name: str) -> frozenset[str] | None:
    members = _MEMBER[name].findall(source)
    roots = len(_ROOT[name].findall(source))
    checks = len(_NULL_CHECK[name].findall(source))
    return frozenset(members) if roots and len(members) + checks == roots else None


def _detector_members(source: str) -> dict[str, frozenset[str]] | None:
    """Detector → the members of its result read, or None if `detectors` is used otherwise."""
    members = _DETECTOR_MEMBER.findall(source)
    if len(_ROOT_DETECTORS.findall(source)) != len(members):
        return None
    found: dict[str, set[str]] = {}
    for name, member in members:
        found.setdefault(name, set()).add(member)
    return {name: frozenset(read) for name, read in found.items()}


def new_context(variables: dict[str, Any], functions: frozenset[str]) -> cel.Context:
    context = cel.Context(variables)
    for name in functions:
        context.add_function(name, _EXTRA_FUNCTIONS[name])
    return context


def json_numbers(value: Any) -> Any:
    """JSON data as CEL reads JSON: every number a double, as cel-go reads a JSON value.
    Objects mix 100 and 99.5 in one field, and CEL does no arithmetic between int and double,
    so `object.price * 0.5` must not depend on how a client wrote the price."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {key: json_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_numbers(item) for item in value]
    return value


def to_json(value: Any) -> Any:
    """A CEL result as a JSON value: timestamps as RFC 3339 text, durations in seconds."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, cel.OptionalValue):
        return to_json(value.value()) if value.has_value() else None
    return str(value)


def _first_lines(message: str, lines: int = 3) -> str:
    return " ".join(line.strip() for line in message.strip().splitlines()[:lines])
