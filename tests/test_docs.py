"""Tests to ensure certain things are documented, and documented as they are.

No database and no server: these read docs/ and import Vigil's modules.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from prometheus_client.metrics import MetricWrapperBase

from vigil import errors, metrics
from vigil.config import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"
HEADING = re.compile(r"^### (VIGIL_[A-Z0-9_]+)\s*$", re.MULTILINE)
ANY_HEADING = re.compile(r"^#{1,3} ", re.MULTILINE)
DEFAULT = re.compile(r"^- Default: `([^`]*)`", re.MULTILINE)


def _read(name: str) -> str:
    path = DOCS / name
    if not path.exists():
        pytest.fail(f"docs/{name} does not exist")
    return path.read_text()


def _env_name(field: str) -> str:
    return f"VIGIL_{field.upper()}"


def _as_env_value(value: object) -> str:
    """How a default is written as an environment variable."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _setting_sections() -> dict[str, str]:
    """Each `### VIGIL_…` heading of configuration.md and the text up to the next heading."""
    text = _read("configuration.md")
    sections = {}
    for match in HEADING.finditer(text):
        following = ANY_HEADING.search(text, match.end())
        sections[match.group(1)] = text[match.end() : following.start() if following else len(text)]
    return sections


def test_every_setting_has_a_heading_in_configuration_md() -> None:
    documented = set(_setting_sections())
    expected = {_env_name(field) for field in Settings.model_fields}
    undocumented, unknown = sorted(expected - documented), sorted(documented - expected)
    # (settings without a '### VIGIL_…' heading, headings that name no Settings field)
    assert (undocumented, unknown) == ([], [])


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_documented_default_is_the_code_default(field: str) -> None:
    section = _setting_sections().get(_env_name(field))
    if section is None:
        pytest.fail(f"docs/configuration.md has no heading for {_env_name(field)}")
    found = DEFAULT.search(section)
    assert found, f"the {_env_name(field)} section needs a line '- Default: `…`'"
    assert found.group(1) == _as_env_value(Settings.model_fields[field].default)


def _error_types() -> list[str]:
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.VigilError) and value.__module__ == errors.__name__
    ]
    return sorted({cls.type for cls in classes})


def test_every_error_type_is_in_api_md() -> None:
    text = _read("api.md")
    missing = [t for t in _error_types() if not re.search(rf"(?<![\w.]){re.escape(t)}(?![\w])", text)]
    assert missing == [], "error types from src/vigil/errors.py that docs/api.md does not mention"


def _metrics() -> dict[str, MetricWrapperBase]:
    """Every metric in vigil.metrics, by the name Prometheus shows (counters end in _total)."""
    found = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            family = value.describe()[0]
            name = family.name + "_total" if family.type == "counter" else family.name
            found[name] = value
    return found


def test_every_metric_is_in_operations_md() -> None:
    text = _read("operations.md")
    assert _metrics(), "found no metrics in vigil.metrics"
    missing = [name for name in sorted(_metrics()) if f"`{name}`" not in text]
    assert missing == [], "metrics from vigil.metrics that docs/operations.md does not mention"


@pytest.mark.parametrize("name", sorted(_metrics()))
def test_metric_row_names_its_labels(name: str) -> None:
    row = next((line for line in _read("operations.md").splitlines() if line.startswith(f"| `{name}` |")), None)
    assert row is not None, f"docs/operations.md has no table row for `{name}`"
    labels = getattr(_metrics()[name], "_labelnames", ())
    missing = [label for label in labels if f"`{label}`" not in row]
    assert missing == [], f"the row of `{name}` in docs/operations.md does not name these labels"


def _gen_cli() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vigil_docs_gen_cli", DOCS / "gen_cli.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_md_help_blocks_are_current() -> None:
    gen_cli = _gen_cli()
    text = _read("cli.md")
    documented = {match["command"]: match["body"] for match in gen_cli.BLOCK.finditer(text)}
    fresh = gen_cli.render_blocks()
    assert sorted(documented) == sorted(fresh), "docs/cli.md must have one help block per vigil command"
    stale = [command for command, body in fresh.items() if documented[command] != body]
    assert stale == [], "stale help blocks in docs/cli.md: run .venv/bin/python docs/gen_cli.py"
