"""Keyword detector: Aho-Corasick over folded text, at word boundaries, from inline terms and
named lists; the evidence points at the text as sent."""

from __future__ import annotations

import random
import string
import time

import pytest

from tests.engine.helpers import labels, named, policy, run
from vigil.engine.models import PolicyInvalid

WEAPONS = """
detectors:
  weapons: {type: keyword, terms: [glock, ghost gun, ak-47, "大麻"], lists: [more-weapons]}
rules:
  - name: weapons
    when: detectors.weapons.matched
    labels: [{label: weapons, explanation: "'{{ match.term }}' in {{ match.field }}: {{ match.text }}"}]
"""
LISTS = named("more-weapons", "keyword", "suppressor", "bump stock")


@pytest.mark.parametrize(
    ("title", "term", "text"),
    [
        ("Brand new GLOCK 19", "glock", "GLOCK"),
        ("G L 0 C K", None, None),  # letters spaced out are not a word
        ("gl0ck for sale", "glock", "gl0ck"),
        ("Glöck", "glock", "Glöck"),
        ("Glосk (Cyrillic)", "glock", "Glосk"),
        ("ghost-gun kit", "ghost gun", "ghost-gun"),
        ("GHOST   GUN", "ghost gun", "GHOST   GUN"),
        ("AK 47 parts", "ak-47", "AK 47"),
        ("threaded suppressor", "suppressor", "suppressor"),
        ("bump-stock", "bump stock", "bump-stock"),
        ("出售大麻种子", "大麻", "大麻"),  # no word boundaries in Chinese
        ("glockenspiel for kids", None, None),  # not at a word boundary
        ("a begun task", None, None),
        ("", None, None),
    ],
)
def test_terms_match_folded_text_at_word_boundaries(title: str, term: str | None, text: str | None) -> None:
    result = run(policy(WEAPONS, LISTS), {"id": "p", "title": title})
    if term is None:
        assert labels(result) == []
        assert result.provenance.detectors == {"weapons": 0}
        return
    assert labels(result) == ["weapons"]
    hit = result.provenance.rules[0].evidence[0]
    assert (hit.term, hit.field, hit.text) == (term, "title", text)
    assert title[hit.start : hit.end] == text
    assert result.output.labels[0].explanation == f"'{term}' in title: {text}"


def test_listed_terms_name_their_list_and_fields_limit_the_search() -> None:
    source = """
detectors:
  weapons: {type: keyword, lists: [more-weapons], fields: [description]}
rules: [{name: w, when: detectors.weapons.matched, labels: [w]}]
"""
    compiled = policy(source, LISTS)
    assert labels(run(compiled, {"id": "p", "title": "suppressor"})) == []
    found = run(compiled, {"id": "p", "description": ["fine", {"note": "a suppressor"}]})
    hit = found.provenance.rules[0].evidence[0]
    assert (hit.list, hit.field, hit.text) == ("more-weapons", "description[1].note", "suppressor")


def test_text_fields_exclude_ids_metadata_urls_and_parent_references() -> None:
    source = "detectors: {w: {type: keyword, terms: [glock]}}\nrules: [{name: w, when: detectors.w.matched}]"
    obj = {
        "id": "glock",
        "price": "glock",  # metadata
        "images": ["https://x/glock.jpg"],  # image_url
        "website": "https://glock.example",  # website_url
        "seller": "glock",  # belongs_to
        "title": "nothing here",
    }
    assert run(policy(source), obj).provenance.detectors == {"w": 0}
    assert run(policy(source), {**obj, "note": "GLOCK"}).provenance.detectors == {"w": 1}


def test_field_limit_cuts_text_and_arrays() -> None:
    settings = {"schema": {"title": {"field_limit": 10}, "tags": {"field_limit": 2}}}
    source = "detectors: {w: {type: keyword, terms: [glock]}}\nrules: [{name: w, when: detectors.w.matched}]"
    compiled = policy(source)
    assert run(compiled, {"id": "p", "title": "0123456789 glock"}, settings=settings).provenance.detectors["w"] == 0
    assert run(compiled, {"id": "p", "tags": ["a", "b", "glock"]}, settings=settings).provenance.detectors["w"] == 0
    assert run(compiled, {"id": "p", "tags": ["glock", "b"]}, settings=settings).provenance.detectors["w"] == 1


def test_terms_that_fold_to_nothing_are_refused_with_their_path() -> None:
    with pytest.raises(PolicyInvalid) as caught:
        policy("detectors: {w: {type: keyword, terms: [ok, '!!!']}}\nrules: []")
    assert caught.value.problems == [
        {"path": "detectors.w.terms[1]", "problem": "'!!!' has no letters or digits to match"}
    ]


def _scan_seconds(terms: list[str], text: str) -> float:
    compiled = policy({"detectors": {"k": {"type": "keyword", "terms": terms}}, "rules": []})
    detector = compiled.detectors["k"]
    from vigil.engine.text import ObjectView

    best = float("inf")
    for _ in range(7):
        view = ObjectView({}, {"id": "x", "text": text})
        view.texts[0].folded  # noqa: B018 - fold outside the timing
        started = time.perf_counter()
        for _ in range(200):
            detector.detect(view, {})
        best = min(best, time.perf_counter() - started)
    return best


def test_ten_thousand_terms_cost_about_what_ten_cost() -> None:
    rng = random.Random(5)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 9))) for _ in range(10_000)]
    text = (
        "Selling my father's camera from 1958. Shutter speeds tested and accurate, rangefinder bright and "
        "aligned. The lens has light cleaning marks that do not affect images. Comes with the original case, "
        "a strap and two rolls of film. Shipping insured and tracked within two working days. "
    ) * 3
    small, large = _scan_seconds(words[:10], text), _scan_seconds(words, text)
    assert large < small * 3, (small, large)
