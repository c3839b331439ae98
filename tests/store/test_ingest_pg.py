"""PostgreSQL's one-statement ingest (store/ingest_pg.py): writes everything or nothing, and
the group-commit writer falls back to a transaction when the statement declines."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from tests.helpers import run_sync
from vigil.ids import new_id
from vigil.service import ingest
from vigil.store import ingest_pg, keys, namespaces, notify, queue
from vigil.store.db import Database
from vigil.store.direct import sql
from vigil.store.requests import NewRequest


async def _counts(db: Database) -> dict[str, int]:
    async with db.direct() as conn:
        return {
            table: await conn.scalar(sql(f"SELECT count(*) FROM {table}"))
            for table in ("objects", "object_versions", "jobs", "requests")
        }


async def _setup(db: Database, teams: list[str], spaces: dict[tuple[str, str], dict]) -> None:
    async with db.write() as conn:
        for team in teams:
            await keys.insert_team(conn, team, team, 0)
        for (team, name), settings in spaces.items():
            await namespaces.put_settings(conn, team, name, settings, 0)


def _entry(team: str, ns: str, oid: str, n: int, rid: str, idx: int) -> ingest_pg.Entry:
    return ingest_pg.Entry(team, ns, oid, json.dumps({"id": oid, "n": n}), rid, idx)


def test_one_statement_writes_every_namespace_in_arrival_order_and_notifies(postgres_url):
    async def go() -> None:
        db = Database(postgres_url)
        listener = await asyncpg.connect(db.listen_dsn)
        heard: list[str] = []
        await listener.add_listener(notify.JOBS_CHANNEL, lambda *args: heard.append(args[2]))
        try:
            await _setup(db, ["t1", "t2"], {("t1", "a"): {}, ("t1", "b"): {"update_mode": "replace"}, ("t2", "a"): {}})
            entries = [
                _entry("t1", "a", "x", 1, "r1", 0),
                _entry("t2", "a", "x", 2, "r2", 0),
                _entry("t1", "a", "x", 3, "r1", 1),  # the same object twice: versions 1 then 2
                _entry("t1", "b", "x", 4, "r2", 1),
            ]
            new = [NewRequest("r1", "t1", "a", "add", 2), NewRequest("r2", "t2", "a", "add", 2)]
            async with db.direct() as conn:
                assert await ingest_pg.add(conn, entries, new, queue.EVALUATE, 5, notify.JOBS_CHANNEL) is True
            async with db.direct() as conn:
                versions = (
                    await conn.execute(
                        sql(
                            "SELECT team_id, namespace, object_id, version, data->>'n' AS n, request_id, "
                            "request_idx FROM object_versions ORDER BY team_id, namespace, version"
                        )
                    )
                ).all()
                latest = (
                    await conn.execute(
                        sql("SELECT team_id, namespace, version, data->>'n' AS n FROM objects ORDER BY 1, 2")
                    )
                ).all()
                jobs = (await conn.execute(sql("SELECT team_id, namespace, version FROM jobs ORDER BY 1, 2, 3"))).all()
                reqs = (await conn.execute(sql("SELECT id, status, total, pending FROM requests ORDER BY id"))).all()
            assert [tuple(v) for v in versions] == [
                ("t1", "a", "x", 1, "1", "r1", 0),
                ("t1", "a", "x", 2, "3", "r1", 1),
                ("t1", "b", "x", 1, "4", "r2", 1),
                ("t2", "a", "x", 1, "2", "r2", 0),
            ]
            assert [tuple(o) for o in latest] == [("t1", "a", 2, "3"), ("t1", "b", 1, "4"), ("t2", "a", 1, "2")]
            assert [tuple(j) for j in jobs] == [("t1", "a", 1), ("t1", "a", 2), ("t1", "b", 1), ("t2", "a", 1)]
            assert [tuple(r) for r in reqs] == [("r1", "queued", 2, 2), ("r2", "queued", 2, 2)]
            for _ in range(50):
                if heard:
                    break
                await asyncio.sleep(0.02)
            assert heard == [notify.JOBS_CHANNEL]
        finally:
            await listener.close()
            await db.dispose()

    run_sync(go())


def test_one_namespace_statement_numbers_versions_and_names_each_entrys_request(postgres_url):
    """The usual flush (every entry in one namespace) takes a statement of its own, which sends
    team and namespace once and each entry's request as a position: the rows are the same."""

    async def go() -> None:
        db = Database(postgres_url)
        try:
            await _setup(db, ["t1", "t2"], {("t1", "a"): {}, ("t2", "a"): {}})
            entries = [
                _entry("t1", "a", "x", 1, "r1", 0),
                _entry("t1", "a", "y", 2, "r2", 0),
                _entry("t1", "a", "x", 3, "r1", 1),  # the same object twice: versions 1 then 2
                _entry("t1", "a", "z", 4, "r_import", 7),  # a request whose row exists (an import's chunk)
                _entry("t1", "a", "x", 5, "r2", 1),
            ]
            new = [NewRequest("r1", "t1", "a", "add", 2), NewRequest("r2", "t1", "a", "add", 2)]
            async with db.direct() as conn:
                assert await ingest_pg.add(conn, entries, new, queue.EVALUATE, 5, notify.JOBS_CHANNEL) is True
                versions = (
                    await conn.execute(
                        sql(
                            "SELECT team_id, namespace, object_id, version, data->>'n' AS n, request_id, "
                            "request_idx FROM object_versions ORDER BY object_id, version"
                        )
                    )
                ).all()
                latest = (await conn.execute(sql("SELECT object_id, version, data->>'n' AS n FROM objects"))).all()
                jobs = (await conn.execute(sql("SELECT object_id, version, request_id FROM jobs ORDER BY 1, 2"))).all()
                reqs = (await conn.execute(sql("SELECT id, team_id, namespace, total FROM requests ORDER BY id"))).all()
            assert [tuple(v) for v in versions] == [
                ("t1", "a", "x", 1, "1", "r1", 0),
                ("t1", "a", "x", 2, "3", "r1", 1),
                ("t1", "a", "x", 3, "5", "r2", 1),
                ("t1", "a", "y", 1, "2", "r2", 0),
                ("t1", "a", "z", 1, "4", "r_import", 7),
            ]
            assert sorted(tuple(o) for o in latest) == [("x", 3, "5"), ("y", 1, "2"), ("z", 1, "4")]
            assert [tuple(j) for j in jobs] == [
                ("x", 1, "r1"), ("x", 2, "r1"), ("x", 3, "r2"), ("y", 1, "r2"), ("z", 1, "r_import"),
            ]  # fmt: skip
            assert [tuple(r) for r in reqs] == [("r1", "t1", "a", 2), ("r2", "t1", "a", 2)]
            # A later flush continues the numbering from the stored version.
            async with db.direct() as conn:
                assert await ingest_pg.add(conn, [_entry("t1", "a", "x", 6, "r3", 0)], [], queue.EVALUATE, 6, "c")
                assert await conn.scalar(sql("SELECT version FROM objects WHERE object_id = 'x'")) == 4
        finally:
            await db.dispose()

    run_sync(go())


@pytest.mark.parametrize("case", ["new namespace", "merge mode"])
def test_one_namespace_statement_declines_when_settings_are_needed(postgres_url, case):
    async def go() -> None:
        db = Database(postgres_url)
        try:
            await _setup(db, ["t1"], {("t1", "m"): {"update_mode": "merge"}})
            name = "new" if case == "new namespace" else "m"
            before = await _counts(db)
            async with db.direct() as conn:
                written = await ingest_pg.add(
                    conn, [_entry("t1", name, "x", 1, "r1", 0)], [NewRequest("r1", "t1", name, "add", 1)],
                    queue.EVALUATE, 5, notify.JOBS_CHANNEL,
                )  # fmt: skip
            assert written is False
            assert await _counts(db) == before
        finally:
            await db.dispose()

    run_sync(go())


@pytest.mark.parametrize("case", ["new namespace", "merge mode"])
def test_statement_declines_and_writes_nothing_when_settings_are_needed(postgres_url, case):
    async def go() -> None:
        db = Database(postgres_url)
        try:
            spaces = {("t1", "a"): {}}
            if case == "merge mode":
                spaces[("t1", "m")] = {"update_mode": "merge"}
            await _setup(db, ["t1"], spaces)
            other = "new" if case == "new namespace" else "m"
            entries = [_entry("t1", "a", "x", 1, "r1", 0), _entry("t1", other, "y", 2, "r1", 1)]
            before = await _counts(db)
            async with db.direct() as conn:
                written = await ingest_pg.add(
                    conn, entries, [NewRequest("r1", "t1", "a", "add", 2)], queue.EVALUATE, 5, notify.JOBS_CHANNEL
                )
            assert written is False
            assert await _counts(db) == before
        finally:
            await db.dispose()

    run_sync(go())


def test_writer_falls_back_to_a_transaction_for_new_and_merge_namespaces(postgres_url):
    """write_submissions: a new namespace is created, a merge-mode one is merged, and a
    replace-mode one shares the same commit."""

    async def go() -> None:
        db = Database(postgres_url)
        try:
            await _setup(db, ["t1"], {("t1", "m"): {"update_mode": "merge"}, ("t1", "r"): {}})

            def sub(ns: str, obj: dict) -> ingest.Submission:
                return ingest.Submission("t1", ns, new_id("req"), [(obj["id"], obj, json.dumps(obj))])

            await ingest.write_submissions(db, [sub("m", {"id": "x", "a": 1}), sub("r", {"id": "x", "a": 1})])
            await ingest.write_submissions(db, [sub("m", {"id": "x", "b": 2}), sub("r", {"id": "x", "b": 2})])
            await ingest.write_submissions(db, [sub("r", {"id": "y"}), sub("fresh", {"id": "x", "c": 3})])
            async with db.direct() as conn:
                rows = (
                    await conn.execute(
                        sql("SELECT namespace, version, data::text AS data FROM objects ORDER BY namespace, object_id")
                    )
                ).all()
                made = await conn.scalar(sql("SELECT count(*) FROM namespaces WHERE name = 'fresh'"))
                jobs = await conn.scalar(sql("SELECT count(*) FROM jobs"))
                reqs = await conn.scalar(sql("SELECT count(*) FROM requests"))
            assert [(r.namespace, r.version, json.loads(r.data)) for r in rows] == [
                ("fresh", 1, {"id": "x", "c": 3}),
                ("m", 2, {"id": "x", "a": 1, "b": 2}),
                ("r", 2, {"id": "x", "b": 2}),
                ("r", 1, {"id": "y"}),
            ]
            assert (made, jobs, reqs) == (1, 6, 0)  # calls of one object have no request row
        finally:
            await db.dispose()

    run_sync(go())
