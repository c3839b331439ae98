"""A partial index of import jobs in claim order.

The import runner claims `kind = 'import'` jobs several times a second. Through the shared
claim-order index (run_after_ms, id) such a claim walked every due evaluation job to find
none: with an import's own backlog of evaluations, O(queue) at every poll (7.5 ms a poll with
180,000 queued). Import jobs are few, so this index is small; the claim statement names the
kind as a literal so that cached generic plans can use it. `kind` still does not lead the
shared index (see 0005).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_WHERE = sa.text("kind = 'import'")


def upgrade() -> None:
    op.create_index("ix_jobs_import_due", "jobs", ["run_after_ms", "id"], postgresql_where=_WHERE, sqlite_where=_WHERE)


def downgrade() -> None:
    op.drop_index("ix_jobs_import_due", "jobs")
