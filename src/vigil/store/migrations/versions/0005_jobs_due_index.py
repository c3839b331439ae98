"""Jobs indexed in claim order: (run_after_ms, id) instead of run_after_ms alone.

A claim takes the oldest due jobs, ordered by run_after_ms then id. With the old index every
job of one ingest flush shared a run_after_ms, so PostgreSQL read and sorted the whole group
(1,000 jobs for a batch of 1,000, each with its anti-join probe) to find the first 100; in
this order the index scan stops at the LIMIT. `kind` is left out on purpose: with it leading,
stale statistics once led the planner to use this index for the claim's per-object
anti-join (docs/decisions.md, "Worker and queue").

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_due", "jobs", ["run_after_ms", "id"])
    op.drop_index("ix_jobs_run_after", "jobs")


def downgrade() -> None:
    op.create_index("ix_jobs_run_after", "jobs", ["run_after_ms"])
    op.drop_index("ix_jobs_due", "jobs")
