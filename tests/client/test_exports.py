"""The public surface: `vigil.client.__all__` (and each `types` module's) is sorted and
complete, and every error is a VigilError (STYLE item 12)."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

import vigil.client
import vigil.client.types
import vigil.client.webhooks
from vigil.client import types as client_types


def public_names(module: ModuleType) -> set[str]:
    return {name for name in vars(module) if not name.startswith("_") and name != "annotations"}


@pytest.mark.parametrize(
    "module",
    [
        vigil.client,
        vigil.client.types,
        client_types.data,
        client_types.lists,
        client_types.policies,
        client_types.webhooks,
        vigil.client.webhooks,
    ],
    ids=lambda m: m.__name__,
)
def test_all_is_sorted_and_resolves(module: ModuleType) -> None:
    assert module.__all__ == sorted(module.__all__)
    assert [name for name in module.__all__ if not hasattr(module, name)] == []


def test_the_package_exports_everything_it_defines() -> None:
    exported = set(vigil.client.__all__)
    assert public_names(vigil.client) - exported == set()  # nothing public left out
    assert {"Vigil", "AsyncVigil", "VigilError", "__version__"} <= exported


def test_types_exports_every_model() -> None:
    models = {
        name
        for module in (client_types.data, client_types.lists, client_types.policies, client_types.webhooks)
        for name, value in vars(module).items()
        if inspect.isclass(value) and issubclass(value, client_types.Model) and value.__module__ == module.__name__
    }
    assert models - set(vigil.client.types.__all__) == set()


def test_every_exported_exception_is_a_vigil_error() -> None:
    classes = [getattr(vigil.client, name) for name in vigil.client.__all__]
    errors = [cls for cls in classes if inspect.isclass(cls) and issubclass(cls, Exception)]
    assert len(errors) == 18
    assert all(issubclass(cls, vigil.client.VigilError) for cls in errors)
