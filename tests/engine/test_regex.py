"""Regex detector: RE2 patterns, refused with their path when RE2 cannot run them in linear
time, and linear on inputs that make backtracking engines explode."""

from __future__ import annotations

import time

import pytest

from tests.engine.helpers import labels, policy, run
from vigil.engine.models import PolicyInvalid

CONTACT = r"""
detectors:
  contact:
    type: regex
    patterns: ['\bwhats\s*app\b', '\+?\d[\d\s().-]{7,}\d']
rules:
  - name: contact
    when: detectors.contact.matched
    labels: [{label: contact, explanation: "{{ hits.map(h, h.text) }}"}]
"""


def test_patterns_match_case_insensitively_with_spans() -> None:
    title = "Message me on WhatsApp: +44 7700 900123"
    result = run(policy(CONTACT), {"id": "p", "title": title})
    assert labels(result) == ["contact"]
    hits = result.provenance.rules[0].evidence
    assert [(h.text, title[h.start : h.end]) for h in hits] == [("WhatsApp", "WhatsApp"), ("+44 7700 900123",) * 2]
    assert result.output.labels[0].explanation == "WhatsApp, +44 7700 900123"
    assert labels(run(policy(CONTACT), {"id": "p", "title": "What's up, app lovers"})) == []


def test_ignore_case_false_is_case_sensitive() -> None:
    source = "detectors: {r: {type: regex, patterns: ['SKU-[0-9]+'], ignore_case: false}}\nrules: []"
    assert run(policy(source), {"id": "p", "t": "sku-12"}).provenance.detectors == {"r": 0}
    assert run(policy(source), {"id": "p", "t": "SKU-12"}).provenance.detectors == {"r": 1}


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [(r"(a)\1", "invalid escape sequence"), ("(?<=a)b", "invalid perl operator"), ("(unclosed", "missing )")],
)
def test_patterns_re2_cannot_run_are_refused_with_their_path(pattern: str, reason: str) -> None:
    with pytest.raises(PolicyInvalid) as caught:
        policy({"detectors": {"r": {"type": "regex", "patterns": ["ok", pattern]}}, "rules": []})
    [problem] = caught.value.problems
    assert problem["path"] == "detectors.r.patterns[1]"
    assert problem["problem"].startswith("RE2 cannot compile this pattern") and reason in problem["problem"]


def test_catastrophic_backtracking_patterns_stay_linear() -> None:
    compiled = policy({"detectors": {"r": {"type": "regex", "patterns": ["(a+)+$", "(x+x+)+y"]}}, "rules": []})
    text = "a" * 50_000 + "!" + "x" * 50_000
    started = time.perf_counter()
    result = run(compiled, {"id": "p", "t": text})
    assert time.perf_counter() - started < 1.0
    assert result.provenance.detectors == {"r": 0}
