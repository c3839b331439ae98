"""Bulk import: imports (upload and cursor), import_errors, result_files, server_secrets.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("request_id", sa.Text, primary_key=True),
        sa.Column("team_id", sa.Text, nullable=False),
        sa.Column("namespace", sa.Text, nullable=False),
        sa.Column("object_key", sa.Text, nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger, nullable=False),
        sa.Column("uploaded_at_ms", sa.BigInteger, nullable=True),
        sa.Column("bytes_uploaded", sa.BigInteger, nullable=True),
        sa.Column("lines_read", sa.Integer, nullable=False, server_default="0"),
        sa.Column("bytes_read", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("lines_accepted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lines_rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("read_at_ms", sa.BigInteger, nullable=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "import_errors",
        sa.Column("request_id", sa.Text, primary_key=True),
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("object_id", sa.Text, nullable=True),
        sa.Column("problem", sa.Text, nullable=False),
    )
    op.create_table(
        "result_files",
        sa.Column("request_id", sa.Text, primary_key=True),
        sa.Column("object_key", sa.Text, nullable=False),
        sa.Column("line_count", sa.Integer, nullable=False),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("server_secrets", "result_files", "import_errors", "imports"):
        op.drop_table(table)
