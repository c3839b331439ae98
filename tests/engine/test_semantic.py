"""Semantic detector (optional extra vigil[semantic]): nearest labelled example by sentence
embedding. Runs when the extra is installed, and is skipped with the reason otherwise."""

from __future__ import annotations

import pytest

from tests.engine.helpers import labels, policy, run
from vigil.engine.detectors.semantic import EXTRA_MISSING, embedder
from vigil.engine.models import PolicyInvalid

needs_extra = pytest.mark.skipif(embedder() is None, reason=f"not installed: {EXTRA_MISSING}")

SCAMS = """
detectors:
  scam_like:
    type: semantic
    threshold: 0.6
    fields: [description]
    examples:
      - {text: "Send a deposit by Western Union and the courier will deliver your puppy", label: advance_fee}
      - {text: "I am overseas, pay first and my shipping agent sends the item", label: advance_fee}
      - "Guaranteed returns, double your money in a week"
rules:
  - name: scam_like
    when: detectors.scam_like.matched
    labels: [{label: fraud.scam_like, explanation: "like a {{ match.label }} scam ({{ match.score }})"}]
"""


@needs_extra
def test_paraphrases_of_examples_match_and_other_text_does_not() -> None:
    compiled = policy(SCAMS)
    flagged = run(
        compiled,
        {"id": "p", "description": "Please pay a deposit through Western Union first; then the agent brings the dog."},
    )
    assert labels(flagged) == ["fraud.scam_like"]
    hit = flagged.provenance.rules[0].evidence[0]
    assert hit.label == "advance_fee" and hit.field == "description" and 0.6 <= hit.score <= 1.0
    assert hit.term.startswith("Send a deposit")
    assert flagged.output.labels[0].explanation.startswith("like a advance_fee scam (0.")
    for text in ("Handmade ceramic mug, dishwasher safe.", "Vintage Leica M3 camera, shutter tested."):
        assert labels(run(compiled, {"id": "p", "description": text})) == [], text
    assert run(compiled, {"id": "p", "title": "Send a deposit by Western Union"}).provenance.detectors == {
        "scam_like": 0
    }  # only the description is read


@needs_extra
def test_examples_are_checked_with_their_paths() -> None:
    with pytest.raises(PolicyInvalid) as caught:
        policy("detectors: {s: {type: semantic, examples: ['ok', {label: x}], threshold: 2}}\nrules: []")
    assert [p["path"] for p in caught.value.problems] == ["detectors.s.threshold", "detectors.s.examples[1]"]
