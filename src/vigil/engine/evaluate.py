"""Evaluate one object version against its namespace's compiled policy.

Pure: everything the policy reads arrives as arguments. The caller loads the previous
version and the parent objects, and fetches and hashes the images the policy asks for
(`CompiledPolicy.image_urls`). Without a policy no rule applies and the output is empty.
The metadata of the contract is the object's fields that the namespace schema types
`content_type: metadata`, returned as they were sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cel
import msgspec

from vigil.engine.expr import NOT_CONSTANT, json_numbers, new_context, to_json
from vigil.engine.flatten import flat_name
from vigil.engine.models import (
    CONFIDENCES,
    Evaluation,
    EvaluationError,
    FiredRule,
    Hit,
    Label,
    Output,
    Provenance,
)
from vigil.engine.policy import CompiledPolicy, Rule
from vigil.engine.text import ObjectView

# What `match` reads when a rule fired on no detector's evidence (a price rule, say), so
# that a template such as "{{ match.term }}" renders as nothing instead of failing.
_NO_MATCH = {"detector": "", "type": "", "field": "", "text": "", "term": ""}


def extract_metadata(schema: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    return {
        name: obj[name]
        for name, field in schema.items()
        if isinstance(field, dict) and field.get("content_type") == "metadata" and name in obj
    }


def parent_references(settings: dict[str, Any], obj: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """field → (namespace, id) for each field the schema marks `belongs_to`/`namespace_ref`
    and the object fills with an id."""
    found = {}
    for name, field in (settings.get("schema") or {}).items():
        if not isinstance(field, dict):
            continue
        namespace = field.get("belongs_to") or field.get("namespace_ref")
        value = obj.get(name)
        if namespace and isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            found[name] = (namespace, str(value))
    return found


def evaluate(
    policy: CompiledPolicy | None,
    settings: dict[str, Any],
    obj: dict[str, Any],
    previous: dict[str, Any] | None = None,
    parents: Mapping[str, Any] | None = None,
    images: Mapping[str, Any] | None = None,
) -> Evaluation:
    """Raises EvaluationError when this object cannot be evaluated (a condition fails on its
    data, an image could not be fetched)."""
    schema = settings.get("schema") or {}
    metadata = extract_metadata(schema, obj)
    if policy is None:
        return Evaluation(output=Output(), metadata=metadata, policy_version=None)

    view = ObjectView(schema, obj)
    found = {name: detector.detect(view, images or {}) for name, detector in policy.detectors.items()}
    values = _values(policy, found, obj, previous, _parents(schema, parents or {}))
    context = policy.context
    for name, value in values.items():
        context.add_variable(name, value)

    labels: dict[str, Label] = {}
    actions: dict[str, None] = {}
    fields: dict[str, Any] = {}
    fired: list[FiredRule] = []
    for rule in policy.rules:
        matched = _run(rule, "when", rule.when.run, context)
        if not isinstance(matched, bool):
            raise EvaluationError(f"rules[{rule.index}] {rule.name!r}: 'when' gave {matched!r}, not true or false")
        if not matched:
            continue
        evidence = [hit for name in rule.when.detectors for hit in found[name]]
        outputs = _Outputs(policy, rule, values, evidence, fields)
        for output in rule.labels:
            if output.explanation is not None:
                explanation = _run(rule, "explanation", output.explanation.render, outputs.values, outputs.context)
            else:
                explanation = _default_explanation(rule, evidence)
            _add_label(labels, Label(output.label, explanation, output.confidence))
        for action in rule.actions:
            actions[action] = None
        for name, expression in rule.fields:
            value = expression.constant
            if value is NOT_CONSTANT:
                value = _run(rule, f"fields.{name}", expression.run, outputs.context())
            fields[name] = to_json(value)
        fired.append(
            FiredRule(
                index=rule.index,
                name=rule.name,
                labels=[label.label for label in rule.labels],
                actions=list(rule.actions),
                fields=[name for name, _ in rule.fields],
                evidence=evidence,
            )
        )
        if rule.stop:
            break

    return Evaluation(
        output=Output(labels=list(labels.values()), actions=list(actions), fields=fields),
        metadata=metadata,
        policy_version=policy.version,
        provenance=Provenance(
            policy_version=policy.version,
            rules=fired,
            detectors={name: len(hits) for name, hits in found.items()},
            lists=dict(policy.lists),
        ),
    )


def _values(
    policy: CompiledPolicy,
    found: dict[str, list[Hit]],
    obj: dict[str, Any],
    previous: dict[str, Any] | None,
    parents: dict[str, Any],
) -> dict[str, Any]:
    """What the conditions read, cut down to what the policy's expressions name.

    CEL converts every value it is handed, and that is the costliest step of an evaluation:
    so only the names the policy reads, only the members it reads of them (`object.price`
    needs only `price`), and of each detector's result only the members read
    (`detectors.weapons.matched` needs only `matched`)."""
    values: dict[str, Any] = {}
    for name, value in (("object", obj), ("previous", previous), ("parent", parents)):
        if name in policy.names:
            members = policy.members.get(name)
            if members is not None and name == "parent":
                value = {key: value.get(key) for key in members}  # null: no such parent (field)
            elif members is not None and isinstance(value, dict):
                value = {key: value[key] for key in members if key in value}
            values[name] = json_numbers(value)
    if "detectors" in policy.names:
        wanted = policy.detector_members
        if policy.flat_detectors and wanted is not None:
            for name, members in wanted.items():
                for member, value in _detector_result(found[name], members).items():
                    values[flat_name(name, member)] = value
        else:
            values["detectors"] = {
                name: _detector_result(hits, None if wanted is None else wanted.get(name, frozenset()))
                for name, hits in found.items()
            }
    return values


class _Outputs:
    """What a fired rule's outputs read: the object's values, this rule's evidence (`match`,
    `hits`) and the fields so far, as Python values; and, made only if an output needs more
    than a constant or a plain path, a CEL context of its own holding only those names."""

    def __init__(
        self, policy: CompiledPolicy, rule: Rule, values: dict[str, Any], evidence: list[Hit], fields: dict[str, Any]
    ) -> None:
        names = rule.output_names
        self.values = {name: value for name, value in values.items() if name in names}
        if "match" in names:
            self.values["match"] = _cel_hit(evidence[0]) if evidence else _NO_MATCH
        if "hits" in names:
            self.values["hits"] = [_cel_hit(hit) for hit in evidence]
        if "fields" in names:
            self.values["fields"] = json_numbers(to_json(fields))
        self._policy = policy
        self._context: cel.Context | None = None

    def context(self) -> cel.Context:
        if self._context is None:
            self._context = new_context(self.values, self._policy.functions)
        return self._context


def _parents(schema: dict[str, Any], parents: Mapping[str, Any]) -> dict[str, Any]:
    """Every parent field of the schema, null where the parent is missing."""
    return {
        name: parents.get(name)
        for name, field in schema.items()
        if isinstance(field, dict) and (field.get("belongs_to") or field.get("namespace_ref"))
    }


def _detector_result(hits: list[Hit], members: frozenset[str] | None) -> dict[str, Any]:
    """A detector's result as CEL reads it: `matched`, `count`, `hits`, `terms`, `fields`
    (only the `members` asked for; None: all)."""
    result: dict[str, Any] = {}
    if members is None or "matched" in members:
        result["matched"] = bool(hits)
    if members is None or "count" in members:
        result["count"] = len(hits)
    if members is None or "hits" in members:
        result["hits"] = [_cel_hit(hit) for hit in hits]
    if members is None or "terms" in members:
        result["terms"] = list(dict.fromkeys(hit.term for hit in hits if hit.term is not None))
    if members is None or "fields" in members:
        result["fields"] = list(dict.fromkeys(hit.field for hit in hits))
    return result


def _cel_hit(hit: Hit) -> dict[str, Any]:
    """A hit as CEL reads it: `detector`, `type`, `field`, `text` and `term` always, the rest
    (`start`, `end`, `list`, `distance`, `score`, `label`) where the detector sets them."""
    value = msgspec.to_builtins(hit)
    value.setdefault("term", "")
    return value


def _run(rule: Rule, part: str, run: Any, *arguments: Any) -> Any:
    try:
        return run(*arguments)
    except EvaluationError:
        raise
    except KeyError as exc:
        raise EvaluationError(
            f"rules[{rule.index}] {rule.name!r} {part}: no such key {exc.args[0]!r} "
            f"(guard optional fields with has(), e.g. has(object.{exc.args[0]}))"
        ) from None
    except Exception as exc:  # CEL raises TypeError, ValueError, RuntimeError, ZeroDivisionError …
        raise EvaluationError(f"rules[{rule.index}] {rule.name!r} {part}: {exc}") from None


def _default_explanation(rule: Rule, evidence: list[Hit]) -> str:
    if not evidence:
        return f"rule {rule.name!r} matched"
    hit = evidence[0]
    shown = f" ({hit.text!r})" if hit.text and hit.text != hit.term else ""
    return f"rule {rule.name!r} matched: {hit.type} {hit.term!r} in {hit.field}{shown}"


def _add_label(labels: dict[str, Label], label: Label) -> None:
    """A label added twice keeps its highest confidence and that rule's explanation."""
    current = labels.get(label.label)
    if current is None or CONFIDENCES.index(label.confidence or "low") > CONFIDENCES.index(current.confidence or "low"):
        labels[label.label] = label
