"""List detector: named domain, e-mail and exact-value lists."""

from __future__ import annotations

import pytest

from tests.engine.helpers import labels, named, policy, run
from vigil.engine.lists import normalise_value
from vigil.engine.models import PolicyInvalid


def _detector(list_name: str, lists: dict, fields: str = "") -> object:
    extra = f", fields: [{fields}]" if fields else ""
    return policy(
        f"detectors: {{hit: {{type: list, list: {list_name}{extra}}}}}\n"
        "rules: [{name: hit, when: detectors.hit.matched, labels: [hit]}]",
        lists,
    )


def test_domains_match_in_text_urls_emails_and_subdomains() -> None:
    compiled = _detector("bad", named("bad", "domain", "evil.com"))
    for obj in (
        {"title": "order at www.EVIL.com/shop"},
        {"title": "mail me: x@mail.evil.com"},
        {"website": "https://shop.evil.com/p?1"},
    ):
        result = run(compiled, {"id": "p", **obj})
        assert labels(result) == ["hit"], obj
        assert result.provenance.rules[0].evidence[0].term == "evil.com"
    for obj in ({"title": "notevil.com"}, {"title": "evil.company"}, {"website": "https://evil.com.example.org"}):
        assert labels(run(compiled, {"id": "p", **obj})) == [], obj


def test_emails_match_without_regard_to_case() -> None:
    compiled = _detector("scammers", named("scammers", "email", "scam@example.com"))
    result = run(compiled, {"id": "p", "title": "write to Scam@Example.COM today"})
    hit = result.provenance.rules[0].evidence[0]
    assert (hit.text, hit.term, hit.list) == ("Scam@Example.COM", "scam@example.com", "scammers")


def test_string_lists_compare_exact_values_of_named_fields() -> None:
    compiled = _detector("banned", named("banned", "string", "user_9", "42"), "seller, codes")
    assert labels(run(compiled, {"id": "p", "seller": "user_9"})) == ["hit"]
    assert labels(run(compiled, {"id": "p", "codes": [1, 42]})) == ["hit"]
    assert labels(run(compiled, {"id": "p", "seller": "user_99", "title": "user_9"})) == []


def test_string_lists_need_fields_and_lists_must_exist_with_the_right_kind() -> None:
    with pytest.raises(PolicyInvalid) as caught:
        _detector("banned", named("banned", "string", "x"))
    assert caught.value.problems[0]["path"] == "detectors.hit.fields"
    with pytest.raises(PolicyInvalid) as caught:
        _detector("missing", {})
    assert caught.value.problems == [
        {"path": "detectors.hit.list", "problem": "no list named 'missing'; create it first with PUT /v1/lists/missing"}
    ]
    with pytest.raises(PolicyInvalid) as caught:
        _detector("terms", named("terms", "keyword", "x"))
    assert "holds keyword values" in caught.value.problems[0]["problem"]


@pytest.mark.parametrize(
    ("kind", "value", "stored"),
    [
        ("domain", " Evil.COM. ", "evil.com"),
        ("domain", "WWW.Shop.example", "www.shop.example"),
        ("domain", "*.example.org", "example.org"),
        ("email", "A@B.example", "a@b.example"),
        ("pdq", "F" * 64, "f" * 64),
        ("string", "  user_1 ", "user_1"),
        ("keyword", "AK-47", "AK-47"),
    ],
)
def test_values_are_normalised(kind: str, value: str, stored: str) -> None:
    assert normalise_value(kind, value) == (stored, None)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("domain", "not a domain"),
        ("domain", "https://evil.example/x"),
        ("email", "nobody"),
        ("pdq", "abc"),
        ("keyword", " \t"),
        ("string", " "),
        ("string", 3),
        ("string", "x" * 1001),
    ],
)
def test_bad_values_say_why(kind: str, value: object) -> None:
    stored, problem = normalise_value(kind, value)
    assert stored is None and problem
