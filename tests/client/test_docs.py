"""docs/client.md's examples run as written: every ```python block, in order and in one
namespace, against a real `vigil serve` (the base URL swapped for the test server's)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import Process, Team

CLIENT_MD = Path(__file__).resolve().parents[2] / "docs" / "client.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_every_python_example_runs(
    server: Process, team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = BLOCK.findall(CLIENT_MD.read_text())
    assert len(blocks) >= 8, "docs/client.md lost its examples"
    monkeypatch.chdir(tmp_path)  # the import example writes products.jsonl
    namespace: dict[str, object] = {"KEY": team.key, "__name__": "docs_client_md"}
    try:
        for number, block in enumerate(blocks, 1):
            code = block.replace("http://127.0.0.1:8000", server.base_url or "")
            try:
                exec(compile(code, f"docs/client.md python block {number}", "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"docs/client.md python block {number} failed: {exc!r}\n{block}") from exc
        client = namespace["client"]
        assert client.data.get_object("async_1", namespace="products").id == "async_1"  # type: ignore[attr-defined]
    finally:
        if "client" in namespace:
            namespace["client"].close()  # type: ignore[attr-defined]
    printed = capsys.readouterr().out
    assert "succeeded 2 1" in printed  # the import example's status line, as the comment says
    assert "['drugs.violation', 'seller.banned']" in printed
    assert "data[1]: missing required field 'id'" in printed


README = CLIENT_MD.parents[1] / "README.md"


def test_the_readme_python_client_example_runs(server: Process, team: Team, capsys: pytest.CaptureFixture[str]) -> None:
    block = next((b for b in BLOCK.findall(README.read_text()) if "from vigil.client import" in b), None)
    assert block, "README.md lost its Python client example"
    namespace: dict[str, object] = {"KEY": team.key}
    try:
        exec(compile(block.replace("http://127.0.0.1:8000", server.base_url or ""), "README.md", "exec"), namespace)
    finally:
        namespace["client"].close()  # type: ignore[attr-defined]
    assert capsys.readouterr().out.startswith("succeeded Output(labels=[], actions=[], fields={})")
