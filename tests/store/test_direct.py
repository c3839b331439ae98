"""Direct driver connections (store/direct.py): the statement text they send."""

from __future__ import annotations

import pytest

from vigil.store.direct import _returns_rows, _to_numbered, sql


def test_named_parameters_become_numbered_ones_reused_by_name():
    text, names = _to_numbered("SELECT :a, :b WHERE x = :a AND y = CAST(:c AS text[])")
    assert text == "SELECT $1, $2 WHERE x = $1 AND y = CAST($3 AS text[])"
    assert names == ("a", "b", "c")


@pytest.mark.parametrize("cast", ["'{}'::jsonb", "x::text", "now()::date"])
def test_postgresql_casts_are_not_parameters(cast):
    text, names = _to_numbered(f"SELECT {cast}, :p")
    assert text == f"SELECT {cast}, $1" and names == ("p",)


def test_statements_that_return_rows():
    assert _returns_rows("SELECT 1") and _returns_rows("  with t AS (SELECT 1) SELECT * FROM t")
    assert _returns_rows("DELETE FROM jobs WHERE id = :id RETURNING id")
    assert not _returns_rows("UPDATE jobs SET attempts = 0 WHERE id = :id")


def test_statements_are_built_once():
    assert sql("SELECT :x") is sql("SELECT :x")
