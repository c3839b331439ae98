"""Property: whatever the batches and duplicates, each id's versions are 1..n in arrival
order, the latest state is the last body sent, and every version has one evaluation job."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import run_sync
from vigil.ids import new_id
from vigil.service import ingest
from vigil.store import jsondoc, keys, migrate
from vigil.store.db import Database

ids = st.sampled_from(["a", "b", "c", "d", "é/ü", "x" * 40])
objects = st.builds(lambda i, n: {"id": i, "n": n}, ids, st.integers(0, 1000))
batches = st.lists(st.lists(objects, min_size=1, max_size=6), min_size=1, max_size=6)


@pytest.fixture(scope="module")
def db_urls(backend, tmp_path_factory):
    from tests.conftest import drop_backend, make_backend

    made = make_backend(backend.name, tmp_path_factory.mktemp("props"))
    run_sync(migrate.upgrade(made.database_url))
    yield made.database_url
    drop_backend(made)


def submission(team: str, batch: list[dict]) -> ingest.Submission:
    items = [(o["id"], o, json.dumps(o)) for o in batch]
    return ingest.Submission(team, "ns", new_id("req"), items)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=batches, shared=st.booleans())
def test_versions_follow_arrival_order(db_urls, batches, shared):
    team = new_id("team")

    async def go() -> tuple[list, list, int]:
        db = Database(db_urls)
        try:
            async with db.write() as conn:
                await keys.insert_team(conn, team, team, 0)
            subs = [submission(team, b) for b in batches]
            if shared:  # all in one group-commit transaction
                await ingest.write_submissions(db, subs)
            else:  # concurrently, each in its own
                await asyncio.gather(*(ingest.write_submissions(db, [s]) for s in subs))
            async with db.read() as conn:
                from sqlalchemy import text

                versions = (
                    await conn.execute(
                        text(
                            "SELECT object_id, version, data, request_id, request_idx FROM object_versions "
                            "WHERE team_id = :t"
                        ),
                        {"t": team},
                    )
                ).all()
                latest = (
                    await conn.execute(
                        text("SELECT object_id, version, data FROM objects WHERE team_id = :t"), {"t": team}
                    )
                ).all()
                jobs = (await conn.execute(text("SELECT count(*) FROM jobs WHERE team_id = :t"), {"t": team})).scalar()
            return versions, latest, jobs
        finally:
            await db.dispose()

    versions, latest, jobs = run_sync(go())
    sent = [o for b in batches for o in b]
    assert jobs == len(sent) == len(versions)
    by_id: dict[str, list] = {}
    for row in versions:
        by_id.setdefault(row.object_id, []).append(row)
    for object_id, rows in by_id.items():
        assert sorted(r.version for r in rows) == list(range(1, len(rows) + 1))
        assert len(rows) == sum(1 for o in sent if o["id"] == object_id)
    for row in latest:
        newest = max(by_id[row.object_id], key=lambda r: r.version)
        assert row.version == newest.version
        assert jsondoc.load(row.data) == jsondoc.load(newest.data)
    if shared:
        # one transaction: versions follow the order of submissions, then array order
        for rows in by_id.values():
            ranked = sorted(rows, key=lambda r: r.version)
            assert [jsondoc.load(r.data) for r in ranked] == [o for o in sent if o["id"] == ranked[0].object_id]
    else:
        # concurrent transactions: each submission's own objects still keep array order
        for rows in by_id.values():
            for request_id in {r.request_id for r in rows}:
                mine = sorted((r for r in rows if r.request_id == request_id), key=lambda r: r.version)
                assert [r.request_idx for r in mine] == sorted(r.request_idx for r in mine)
