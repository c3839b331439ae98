"""A job's lease gets a column of its own, so that a claim changes no indexed column.

Until now a claim moved `run_after_ms` one lease ahead. That column leads the claim-order
index (and the import jobs' partial index), so PostgreSQL wrote every claimed job as a new
row version with a new entry in each of the table's four indexes, on the same right-most
index pages that ingest's job inserts were writing (measured: docs/decisions.md, "A claim
changes no indexed column"). Now `run_after_ms` says only when a job may first run (or run
again after a failure) and `lease_until_ms` how long the current claim holds it. On
PostgreSQL the table also keeps room in each page (fillfactor 40: a claimed row grows by its
token and lease), so that the claim's new row version fits beside the old one (a HOT update:
no index entries at all).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("lease_until_ms", sa.BigInteger, nullable=True))
    # Jobs claimed when the upgrade runs keep their lease (it was in run_after_ms).
    op.execute("UPDATE jobs SET lease_until_ms = run_after_ms WHERE lock_token IS NOT NULL")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE jobs SET (fillfactor = 40)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE jobs RESET (fillfactor)")
    op.execute(
        "UPDATE jobs SET run_after_ms = lease_until_ms WHERE lock_token IS NOT NULL AND lease_until_ms IS NOT NULL"
    )
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("lease_until_ms")
