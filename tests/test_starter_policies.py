"""The starter policies in policies/: their examples give the expected labels, and the
README's Policies walk-through works as written against a running Vigil."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from vigil.engine.document import parse
from vigil.engine.evaluate import evaluate
from vigil.engine.policy import CompiledPolicy, compile_policy

ROOT = Path(__file__).resolve().parent.parent
MARKETPLACE = ROOT / "policies" / "marketplace"
README = ROOT / "README.md"
EXAMPLES = yaml.safe_load((MARKETPLACE / "examples.yaml").read_text())
SETTINGS = json.loads((MARKETPLACE / "settings.json").read_text())


@pytest.fixture(scope="module")
def marketplace() -> CompiledPolicy:
    return compile_policy(parse((MARKETPLACE / "policy.yaml").read_text(), "yaml"), {}, 1)


@pytest.mark.parametrize("example", EXAMPLES["flagged"], ids=lambda e: e["object"]["id"])
def test_flagged_listings_get_their_labels(marketplace: CompiledPolicy, example: dict[str, Any]) -> None:
    result = evaluate(marketplace, SETTINGS, example["object"], example.get("previous"))
    assert sorted(label.label for label in result.output.labels) == sorted(example["labels"])
    for label in result.output.labels:
        assert label.explanation and "{{" not in label.explanation
    if "actions" in example:
        assert result.output.actions == example["actions"]
    assert 0.0 < result.output.fields["risk_score"] <= 1.0
    if "risk_score" in example:
        assert result.output.fields["risk_score"] == example["risk_score"]


@pytest.mark.parametrize("obj", EXAMPLES["clean"], ids=lambda o: o["id"])
def test_clean_listings_get_no_labels(marketplace: CompiledPolicy, obj: dict[str, Any]) -> None:
    result = evaluate(marketplace, SETTINGS, obj, None)
    assert result.output.labels == [], [(label.label, label.explanation) for label in result.output.labels]
    assert result.output.actions == [] and result.output.fields == {"risk_score": 0.0}


def _walkthrough() -> list[str]:
    """The shell commands of the README's "Policies" section, in order: each starts with
    `curl` and runs until the next command or comment."""
    section = README.read_text().split("\n## Policies", 1)[1].split("\n## ", 1)[0]
    commands: list[list[str]] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        open_command = False
        for line in block.splitlines():
            if line.startswith("curl "):
                commands.append([line])
                open_command = True
            elif line.startswith("#") or not line.strip():
                open_command = False
            elif open_command:
                commands[-1].append(line)
    return ["\n".join(lines) for lines in commands]


def test_readme_walkthrough_installs_the_starter_policy_and_shows_outputs(server, team) -> None:
    def run(command: str) -> Any:
        command = command.replace("http://127.0.0.1:8000", server.base_url)
        done = subprocess.run(
            ["bash", "-c", command],
            env={"KEY": team.key, "PATH": "/usr/bin:/bin", "REQ": state.get("request_id", "")},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout)

    state: dict[str, str] = {}
    settings, policy, added, status = _walkthrough()
    assert run(settings) == {"namespace": "products", "status": "updated"}
    installed = run(policy)
    assert installed["status"] == "updated" and installed["version"] >= 1 and installed["rules"] > 10
    state["request_id"] = run(added)["requestId"]
    deadline = time.monotonic() + 30
    while (answer := run(status))["status"] != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.05)
    outputs = {item["id"]: item["output"] for item in answer["data"]}
    assert [label["label"] for label in outputs["listing_1"]["labels"]] == ["weapons.firearm"]
    assert outputs["listing_1"]["actions"] == ["unpublish"] and outputs["listing_1"]["fields"]["risk_score"] == 0.9
    assert {label["label"] for label in outputs["listing_2"]["labels"]} == {"counterfeit.violation"}
    assert outputs["listing_3"] == {"labels": [], "actions": [], "fields": {"risk_score": 0.0}}
    assert {item["id"]: item["metadata"] for item in answer["data"]}["listing_3"] == {"price": 12}
