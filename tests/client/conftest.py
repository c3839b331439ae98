"""Fixtures for the client's tests: a `Vigil` for the session server and a fresh team, and a
scripted HTTP server for what a healthy Vigil never answers (503s, 429s, slow answers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.scripted import ScriptedServer
from tests.helpers import Process, Team
from vigil.client import Vigil


@pytest.fixture
def vigil_client(server: Process, team: Team) -> Iterator[Vigil]:
    assert server.base_url is not None
    with Vigil(api_key=team.key, base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    fake = ScriptedServer().start()
    yield fake
    fake.stop()
