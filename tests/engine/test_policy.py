"""Policies: validation with paths, CEL conditions over object/previous/parent/detectors,
outputs with templated explanations, and the provenance of each decision."""

from __future__ import annotations

import pytest

from tests.engine.helpers import labels, policy, run
from vigil.engine.document import parse
from vigil.engine.models import EvaluationError, PolicyInvalid

MARKET = """
description: a small marketplace policy
detectors:
  drugs: {type: keyword, terms: [cocaine, mdma]}
rules:
  - name: baseline
    when: "true"
    fields: {risk_score: "0.0"}
  - name: drugs
    when: detectors.drugs.matched
    labels:
      - {label: drugs.violation, confidence: high, explanation: "Mentions '{{ match.term }}' in {{ match.field }}"}
      - drugs.review
    actions: [unpublish, notify]
    fields: {risk_score: "fields.risk_score + 0.8", terms: detectors.drugs.terms}
  - name: price_drop
    when: previous != null && has(previous.price) && has(object.price) && object.price < previous.price * 0.5
    labels: [{label: price.anomaly, explanation: "{{ previous.price }} → {{ object.price }}"}]
    actions: [review, notify]
  - name: new_seller
    when: parent.seller != null && parent.seller.age_days < 7
    labels: [{label: seller.new, confidence: low}]
    stop: true
  - name: never_reached_after_stop
    when: detectors.drugs.matched
    labels: [after.stop]
"""


def test_outputs_and_provenance_of_a_matching_object() -> None:
    result = run(
        policy(MARKET, version=3),
        {"id": "p1", "title": "pure MDMA", "price": 10},
        previous={"id": "p1", "title": "x", "price": 100},
        parents={"seller": {"id": "u1", "age_days": 2}},
    )
    out = result.output
    assert [(label.label, label.confidence, label.explanation) for label in out.labels] == [
        ("drugs.violation", "high", "Mentions 'mdma' in title"),
        ("drugs.review", "medium", "rule 'drugs' matched: keyword 'mdma' in title ('MDMA')"),
        ("price.anomaly", "medium", "100 → 10"),
        ("seller.new", "low", "rule 'new_seller' matched"),
    ]
    assert out.actions == ["unpublish", "notify", "review"]
    assert out.fields == {"risk_score": 0.8, "terms": ["mdma"]}
    assert result.policy_version == 3
    prov = result.provenance
    assert [(r.index, r.name) for r in prov.rules] == [
        (0, "baseline"),
        (1, "drugs"),
        (2, "price_drop"),
        (3, "new_seller"),
    ]
    assert prov.rules[1].evidence[0].text == "MDMA" and prov.rules[1].fields == ["risk_score", "terms"]
    assert prov.detectors == {"drugs": 1} and prov.lists == {}


def test_a_clean_object_gets_only_the_baseline() -> None:
    result = run(policy(MARKET), {"id": "p2", "title": "Ceramic mug", "price": 12, "seller": "u2"})
    assert labels(result) == [] and result.output.actions == []
    assert result.output.fields == {"risk_score": 0.0}
    assert [r.name for r in result.provenance.rules] == ["baseline"]


def test_metadata_is_returned_without_a_policy() -> None:
    result = run(None, {"id": "p", "price": 3})
    assert result.metadata == {"price": 3} and result.provenance is None and result.output.labels == []


def test_a_label_from_two_rules_keeps_the_higher_confidence() -> None:
    source = """
rules:
  - {name: a, when: "true", labels: [{label: x, confidence: low, explanation: first}]}
  - {name: b, when: "true", labels: [{label: x, confidence: high, explanation: second}]}
  - {name: c, when: "true", labels: [{label: x, confidence: medium, explanation: third}]}
"""
    assert [(label.confidence, label.explanation) for label in run(policy(source), {"id": "p"}).output.labels] == [
        ("high", "second")
    ]


def test_every_problem_is_reported_with_its_path() -> None:
    source = """
detectors:
  weapons: {type: keyword, terms: [gun]}
  bad: {type: telepathy}
  phone: {type: regex, patterns: ['(a)\\1'], colour: red}
rules:
  - {name: ok, when: detectors.weapons.matched}
  - {name: ok, when: "object.price >"}
  - {name: c, when: obejct.price > 1}
  - {name: d, when: detectors.nope.matched}
  - {name: e, when: detectors.weapons.found}
  - {name: f, when: "true", labels: [{label: "has space"}, {label: y, confidence: total}], actions: [1]}
  - {name: g, when: "true", fields: {score: weapons, "2x": "1"}}
  - {name: h, when: "true", labels: [{label: z, explanation: "{{ object. }}"}]}
  - {when: "true"}
  - nope
"""
    with pytest.raises(PolicyInvalid) as caught:
        policy(source)
    paths = [p["path"] for p in caught.value.problems]
    assert paths == [
        "detectors.bad.type",
        "detectors.phone.colour",
        "detectors.phone.patterns[0]",
        "rules[1].name",
        "rules[1].when",
        "rules[2].when",
        "rules[3].when",
        "rules[4].when",
        "rules[5].labels[0].label",
        "rules[5].labels[1].confidence",
        "rules[5].actions[0]",
        "rules[6].fields.score",
        "rules[6].fields.2x",
        "rules[7].labels[0].explanation",
        "rules[8].name",
        "rules[9]",
    ]
    problems = {p["path"]: p["problem"] for p in caught.value.problems}
    assert "unknown name 'obejct'" in problems["rules[2].when"]
    assert "no detector named 'nope'; declared detectors: bad, phone, weapons" == problems["rules[3].when"]
    assert "has no 'found'" in problems["rules[4].when"]
    assert "quote it" in problems["rules[6].fields.score"]
    assert problems["rules[1].when"].startswith("not a valid CEL expression")


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("rules: [", "not valid YAML at line 2, column 1"),
        ("- a\n- b", "a policy must be an object"),
        ("rules: []\nyes: 1", "must be a string (YAML reads unquoted yes/no/on/off as booleans"),
        ("a: &x [1]\nb: *x\nrules: []", "anchors and aliases are not supported"),
    ],
)
def test_documents_that_do_not_parse_say_where(source: str, problem: str) -> None:
    with pytest.raises(PolicyInvalid) as caught:
        parse(source, "yaml")
    assert problem in caught.value.problems[0]["problem"]


def test_runtime_errors_name_the_rule_and_are_not_retried() -> None:
    compiled = policy("rules: [{name: pricey, when: object.price > 100}]")
    with pytest.raises(EvaluationError) as caught:
        run(compiled, {"id": "p"})
    assert "rules[0] 'pricey' when: no such key 'price'" in str(caught.value)
    assert caught.value.retry is False
    with pytest.raises(EvaluationError, match="not true or false"):
        run(policy("rules: [{name: n, when: object.price}]"), {"id": "p", "price": 3})


def test_extension_functions_and_members_pruning_keep_semantics() -> None:
    source = """
rules:
  - name: shouting
    when: object.title.upperAscii() == object.title && size(object.title) > 3
    fields: {loudest: "math.greatest([1, 5, 3])", tags: "object.tags.map(t, t.lowerAscii())", n: "size(object)"}
"""
    result = run(policy(source), {"id": "p", "title": "BUY NOW", "tags": ["A", "B"]})
    assert result.output.fields == {"loudest": 5, "tags": ["a", "b"], "n": 3}
