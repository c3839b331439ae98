"""Fixtures for store tests that only PostgreSQL concerns."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import drop_backend, make_backend
from tests.helpers import run_sync
from vigil.store import migrate


@pytest.fixture
def postgres_url(tmp_path) -> Iterator[str]:
    """A migrated PostgreSQL database of its own, for what SQLite has no counterpart of (skips,
    or fails in CI, as the other PostgreSQL tests do when it is missing)."""
    made = make_backend("postgres", tmp_path)
    run_sync(migrate.upgrade(made.database_url))
    yield made.database_url
    drop_backend(made)
