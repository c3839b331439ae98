"""A policy document checked and compiled into what `evaluate` runs.

    description: Marketplace listings
    detectors:
      weapons: {type: keyword, lists: [weapon-terms]}
    rules:
      - name: weapons
        when: detectors.weapons.matched
        labels:
          - label: weapons.violation
            confidence: high
            explanation: "Mentions '{{ match.term }}' in {{ match.field }}"
        actions: [unpublish]
        fields:
          risk_score: "0.9"

Rules run in order. Each rule whose `when` is true adds its labels (a label added twice
keeps its highest confidence), its actions (once each) and its fields (a later rule's value
replaces an earlier one's); `stop: true` ends the evaluation after that rule. Every problem
of a document is reported at once, each under its path (`rules[3].when`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cel

from vigil.engine.detectors import BuildContext, Detector, image_hash, keyword, lists, regex, semantic
from vigil.engine.expr import CONDITION_NAMES, OUTPUT_NAMES, Expression, compile_expression, new_context
from vigil.engine.lists import NamedList
from vigil.engine.models import CONFIDENCES, PolicyInvalid
from vigil.engine.problems import Problems
from vigil.engine.template import Template, compile_template
from vigil.engine.text import ObjectView

TOP_KEYS = ("description", "detectors", "rules")
RULE_KEYS = ("name", "description", "when", "labels", "actions", "fields", "stop")
LABEL_KEYS = ("label", "confidence", "explanation")
DEFAULT_CONFIDENCE = "medium"
MAX_RULES = 1000
MAX_DETECTORS = 100

NAME_RULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
NAME_RULE_TEXT = "1-64 letters, digits and '_', not starting with a digit (it is read in CEL as detectors.NAME)"
LABEL_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")
LABEL_RULE_TEXT = "1-128 characters of letters, digits, '_', '.', ':', '/' and '-'"
FIELD_RULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

BUILDERS = {
    "keyword": keyword.build,
    "regex": regex.build,
    "list": lists.build,
    "image_hash": image_hash.build,
    "semantic": semantic.build,  # needs the optional extra vigil[semantic]
}


def detector_types() -> tuple[str, ...]:
    return tuple(BUILDERS)


@dataclass(frozen=True)
class LabelOutput:
    label: str
    confidence: str
    explanation: Template | None


@dataclass(frozen=True)
class Rule:
    index: int
    name: str
    when: Expression
    labels: tuple[LabelOutput, ...]
    actions: tuple[str, ...]
    fields: tuple[tuple[str, Expression], ...]
    stop: bool

    @functools.cached_property
    def output_names(self) -> frozenset[str]:
        """The names the rule's outputs (explanations, fields) read."""
        names: set[str] = set()
        for _, expression in self.fields:
            names |= expression.names
        for label in self.labels:
            if label.explanation is not None:
                for expression in label.explanation.expressions:
                    names |= expression.names
        return frozenset(names)


@dataclass(frozen=True)
class CompiledPolicy:
    version: int | None
    detectors: dict[str, Detector]
    rules: tuple[Rule, ...]
    lists: dict[str, int]  # name → version of every named list the policy reads
    functions: frozenset[str]  # CEL extension functions the policy calls
    names: frozenset[str]  # the names its expressions read (object, previous, parent, detectors …)
    # object/previous/parent → the members any expression reads, or None for the whole value.
    members: dict[str, frozenset[str] | None]
    # detector → the members of its result any expression reads; None: every detector, whole.
    detector_members: dict[str, frozenset[str]] | None
    # True: expressions read detector results as flat variables (engine/flatten.py).
    flat_detectors: bool
    # The CEL context of the conditions, kept with the policy's functions registered; each
    # evaluation replaces its values.
    context: cel.Context = field(compare=False, repr=False)

    @property
    def reads_parent(self) -> bool:
        return "parent" in self.names

    def image_urls(self, view: ObjectView) -> list[str]:
        """The image URLs the evaluator must fetch and hash before `evaluate`."""
        urls: list[str] = []
        for detector in self.detectors.values():
            if isinstance(detector, image_hash.ImageHashDetector):
                urls.extend(url for url in detector.image_urls(view) if url not in urls)
        return urls


def referenced_lists(document: Any) -> set[str]:
    """The names of the lists a (valid) document reads, without compiling it."""
    names: set[str] = set()
    detectors = document.get("detectors") if isinstance(document, dict) else None
    for spec in (detectors or {}).values() if isinstance(detectors, dict) else ():
        if isinstance(spec, dict):
            if isinstance(spec.get("list"), str):
                names.add(spec["list"])
            if isinstance(spec.get("lists"), list):
                names.update(name for name in spec["lists"] if isinstance(name, str))
    return names


def compile_policy(document: Any, named_lists: Mapping[str, NamedList], version: int | None = None) -> CompiledPolicy:
    """Check and compile a document. Raises PolicyInvalid listing every problem with its path."""
    problems = Problems()
    doc = problems.object(document, "(document)")
    if doc is None:
        raise PolicyInvalid(problems.found)
    problems.only_keys(doc, "(document)", TOP_KEYS)
    if "description" in doc and not isinstance(doc["description"], str):
        problems.add("description", "must be a string")
    context = BuildContext(problems, named_lists)
    detectors, declared = _detectors(doc.get("detectors", {}), context)
    rules = _rules(doc.get("rules"), problems, declared)
    if problems.found:
        raise PolicyInvalid(problems.found)
    used_lists = {named.name: named.version for d in detectors.values() for named in d.lists}
    expressions = [e for rule in rules for e in _expressions(rule)]
    functions = frozenset(f for e in expressions for f in e.functions)
    names = frozenset(name for e in expressions for name in e.names)
    detector_members = _detector_members(expressions)
    return CompiledPolicy(
        version=version,
        detectors=detectors,
        rules=tuple(rules),
        lists=used_lists,
        functions=functions,
        names=names,
        members=_members(expressions),
        detector_members=detector_members,
        flat_detectors="detectors" in names and detector_members is not None and _flatten(expressions),
        context=new_context({}, functions),
    )


def _flatten(expressions: list[Expression]) -> bool:
    """Rewrite every expression to flat detector variables, or none of them."""
    if not all(expression.flatten() for expression in expressions):
        for expression in expressions:
            expression.unflatten()
        return False
    return True


def _members(expressions: list[Expression]) -> dict[str, frozenset[str] | None]:
    merged: dict[str, frozenset[str] | None] = {}
    for expression in expressions:
        for name, members in expression.members.items():
            if members is None or (name in merged and merged[name] is None):
                merged[name] = None
            else:
                merged[name] = (merged.get(name) or frozenset()) | members
    return merged


def _detector_members(expressions: list[Expression]) -> dict[str, frozenset[str]] | None:
    merged: dict[str, frozenset[str]] = {}
    for expression in expressions:
        if "detectors" not in expression.names:
            continue
        if expression.detector_members is None:
            return None
        for name, members in expression.detector_members.items():
            merged[name] = merged.get(name, frozenset()) | members
    return merged


def _expressions(rule: Rule) -> list[Expression]:
    found = [rule.when, *(e for _, e in rule.fields)]
    for label in rule.labels:
        if label.explanation is not None:
            found.extend(label.explanation.expressions)
    return found


def _detectors(value: Any, context: BuildContext) -> tuple[dict[str, Detector], list[str]]:
    """The detectors built, and the names declared (a detector with a bad spec is still
    declared, so that the rules reading it are not reported as well)."""
    problems = context.problems
    specs = problems.object(value, "detectors")
    if specs is None:
        return {}, []
    if len(specs) > MAX_DETECTORS:
        problems.add("detectors", f"{len(specs)} detectors; at most {MAX_DETECTORS} are allowed")
        return {}, list(specs)
    built: dict[str, Detector] = {}
    for name, raw in specs.items():
        path = f"detectors.{name}"
        if not NAME_RULE.fullmatch(name):
            problems.add(path, f"invalid detector name: {NAME_RULE_TEXT}")
            continue
        spec = problems.object(raw, path)
        if spec is None:
            continue
        kind = spec.get("type")
        builder = BUILDERS.get(kind) if isinstance(kind, str) else None
        if builder is None:
            problems.add(f"{path}.type", f"{kind!r} is not a detector type; one of: {', '.join(BUILDERS)}")
            continue
        detector = builder(name, spec, path, context)
        if detector is not None:
            built[name] = detector
    return built, [name for name in specs if NAME_RULE.fullmatch(name)]


def _rules(value: Any, problems: Problems, detectors: list[str]) -> list[Rule]:
    if value is None:
        problems.add("rules", "is required: a list of rules, each with a name and a 'when' condition")
        return []
    if not isinstance(value, list):
        problems.add("rules", "must be a list of rules")
        return []
    if len(value) > MAX_RULES:
        problems.add("rules", f"{len(value)} rules; at most {MAX_RULES} are allowed")
        return []
    rules: list[Rule] = []
    names: set[str] = set()
    for index, raw in enumerate(value):
        path = f"rules[{index}]"
        spec = problems.object(raw, path)
        if spec is None:
            continue
        problems.only_keys(spec, path, RULE_KEYS)
        name = problems.string(spec, "name", path, required=True)
        if name is not None:
            if not LABEL_RULE.fullmatch(name):
                problems.add(f"{path}.name", f"invalid rule name: {LABEL_RULE_TEXT}")
            elif name in names:
                problems.add(f"{path}.name", f"another rule is already named {name!r}")
            names.add(name)
        when = compile_expression(spec.get("when"), f"{path}.when", problems, CONDITION_NAMES, detectors)
        labels = _labels(spec.get("labels", []), f"{path}.labels", problems, detectors)
        actions = _actions(spec.get("actions", []), f"{path}.actions", problems)
        fields = _fields(spec.get("fields", {}), f"{path}.fields", problems, detectors)
        stop = problems.boolean(spec, "stop", path, False)
        if "when" not in spec:
            continue  # compile_expression recorded it
        if name is not None and when is not None:
            rules.append(Rule(index, name, when, tuple(labels), tuple(actions), tuple(fields), stop))
    return rules


def _labels(value: Any, path: str, problems: Problems, detectors: list[str]) -> list[LabelOutput]:
    if not isinstance(value, list):
        problems.add(path, 'must be a list of labels: "name" or {label, confidence, explanation}')
        return []
    labels = []
    for index, raw in enumerate(value):
        where = f"{path}[{index}]"
        spec = {"label": raw} if isinstance(raw, str) else problems.object(raw, where)
        if spec is None:
            continue
        problems.only_keys(spec, where, LABEL_KEYS)
        label = problems.string(spec, "label", where, required=True)
        if label is not None and not LABEL_RULE.fullmatch(label):
            problems.add(f"{where}.label", f"invalid label: {LABEL_RULE_TEXT}")
            label = None
        confidence = spec.get("confidence", DEFAULT_CONFIDENCE)
        if confidence not in CONFIDENCES:
            problems.add(f"{where}.confidence", f"{confidence!r} is not one of: {', '.join(CONFIDENCES)}")
        explanation = None
        if "explanation" in spec:
            explanation = compile_template(spec["explanation"], f"{where}.explanation", problems, detectors)
        if label is not None:
            labels.append(LabelOutput(label, confidence, explanation))
    return labels


def _actions(value: Any, path: str, problems: Problems) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        problems.add(path, "must be a list of action names")
        return []
    actions = []
    for index, action in enumerate(value):
        if isinstance(action, str) and LABEL_RULE.fullmatch(action):
            actions.append(action)
        else:
            problems.add(f"{path}[{index}]", f"an action is a string of {LABEL_RULE_TEXT}")
    return actions


def _fields(value: Any, path: str, problems: Problems, detectors: list[str]) -> list[tuple[str, Expression]]:
    specs = problems.object(value, path)
    if specs is None:
        return []
    fields = []
    for name, source in specs.items():
        where = f"{path}.{name}"
        if not FIELD_RULE.fullmatch(name):
            problems.add(where, "a field name is 1-64 letters, digits and '_', not starting with a digit")
            continue
        expression = compile_expression(source, where, problems, OUTPUT_NAMES, detectors)
        if expression is not None:
            fields.append((name, expression))
    return fields
