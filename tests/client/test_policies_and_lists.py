"""`client.policies` and `client.lists` against a real `vigil serve`: a policy that reads a
named list labels the objects the client adds, dry runs store nothing, and errors name paths."""

from __future__ import annotations

import pytest

from tests.conftest import Backend
from tests.helpers import Team, query
from vigil.client import BadRequestError, NotFoundError, Vigil

POLICY = """
description: listings
detectors:
  drugs: {type: keyword, terms: [mdma, cocaine]}
rules:
  - name: drugs
    when: detectors.drugs.matched
    labels: [{label: drugs.violation, confidence: high}]
    actions: [unpublish]
"""

LIST_POLICY = {
    "detectors": {"banned": {"type": "list", "list": "banned-domains", "fields": ["seller_site"]}},
    "rules": [
        {"name": "banned", "when": "detectors.banned.matched", "labels": ["domain.banned"], "actions": ["review"]}
    ],
}


def test_a_yaml_policy_labels_what_the_client_adds(vigil_client: Vigil, backend: Backend, team: Team) -> None:
    updated = vigil_client.policies.update("products", POLICY)
    assert (updated.namespace, updated.version, updated.status, updated.rules) == ("products", 1, "updated", 1)
    assert vigil_client.policies.update("products", POLICY).status == "unchanged"

    added = vigil_client.data.add("products", data=[{"id": "p1", "title": "pure MDMA"}, {"id": "p2", "title": "mug"}])
    first, second = vigil_client.data.wait(added.request_id, "products", timeout=30).data
    assert first.output is not None and [label.label for label in first.output.labels] == ["drugs.violation"]
    assert first.output.actions == ["unpublish"] and first.output.labels[0].confidence == "high"
    assert second.output is not None and second.output.labels == []
    stored = query(
        backend.database_url,
        "SELECT policy_version FROM decisions WHERE team_id = :t AND object_id = 'p1'",
        {"t": team.team_id},
    )
    assert [row.policy_version for row in stored] == [1]

    policy = vigil_client.policies.get("products")
    assert (policy.version, policy.format, policy.source) == (1, "yaml", POLICY)
    assert policy.policy["rules"][0]["name"] == "drugs"


def test_versions_and_dry_runs(vigil_client: Vigil) -> None:
    vigil_client.policies.update("products", POLICY)
    x_policy = {
        "detectors": {"d": {"type": "keyword", "terms": ["x"]}},
        "rules": [{"name": "x", "when": "detectors.d.matched", "labels": ["x"]}],
    }
    assert vigil_client.policies.update("products", x_policy).version == 2  # a mapping goes as JSON
    versions = vigil_client.policies.list_versions("products")
    assert versions.current == 2
    assert [(v.version, v.format) for v in versions.versions] == [(2, "json"), (1, "yaml")]  # newest first
    assert vigil_client.policies.get_version("products", 1).source == POLICY

    dry = vigil_client.policies.dry_run("products", data={"id": "d1", "title": "x marks"})
    assert (dry.draft, dry.policy_version) == (False, 2)
    [result] = dry.results
    assert result.id == "d1" and result.output is not None and [label.label for label in result.output.labels] == ["x"]
    draft = vigil_client.policies.dry_run("products", data=[{"id": "d1", "title": "cocaine"}], policy=POLICY)
    assert draft.draft is True and draft.results[0].output is not None
    assert draft.results[0].output.labels[0].label == "drugs.violation"
    with pytest.raises(NotFoundError):
        vigil_client.data.get_object("d1", "products")  # a dry run stores nothing


def test_an_invalid_policy_is_a_bad_request_naming_the_path(vigil_client: Vigil) -> None:
    with pytest.raises(BadRequestError, match="invalid policy") as raised:
        vigil_client.policies.update("products", "rules:\n  - name: r\n    when: detectors.nope.matched\n")
    assert raised.value.details and "path" in raised.value.details[0]
    with pytest.raises(NotFoundError, match="no policy"):
        vigil_client.policies.get("empty")


def test_named_lists_feed_policies(vigil_client: Vigil) -> None:
    written = vigil_client.lists.update("banned-domains", kind="domain", values=["Evil.COM", "scam.example"])
    assert (written.name, written.kind, written.count, written.version) == ("banned-domains", "domain", 2, 1)
    read = vigil_client.lists.get("banned-domains")
    assert read.values == ["evil.com", "scam.example"] and read.description == ""
    assert [summary.name for summary in vigil_client.lists.list().lists] == ["banned-domains"]

    vigil_client.policies.update("listings", LIST_POLICY)
    added = vigil_client.data.add("listings", data={"id": "l1", "seller_site": "https://shop.evil.com/x"})
    [item] = vigil_client.data.wait(added.request_id, "listings", timeout=30).data
    assert item.output is not None and [label.label for label in item.output.labels] == ["domain.banned"]

    with pytest.raises(BadRequestError, match="read by the current policy"):
        vigil_client.lists.delete("banned-domains")
    vigil_client.lists.update("unused", kind="keyword", values=["a"], description="spare")
    assert vigil_client.lists.delete("unused").status == "deleted"
    with pytest.raises(NotFoundError):
        vigil_client.lists.get("unused")
