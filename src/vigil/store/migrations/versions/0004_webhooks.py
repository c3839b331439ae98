"""Webhook endpoints, messages and attempts; jobs indexed by object for in-order evaluation.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSONDoc = sa.Text().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("team_id", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("event_types", JSONDoc, nullable=True),
        sa.Column("namespaces", JSONDoc, nullable=True),
        sa.Column("headers", JSONDoc, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("disabled_reason", sa.Text, nullable=True),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("previous_secret", sa.Text, nullable=True),
        sa.Column("previous_secret_until_ms", sa.BigInteger, nullable=True),
        sa.Column("failing_since_ms", sa.BigInteger, nullable=True),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_webhook_endpoints_team_id", "webhook_endpoints", ["team_id"])
    op.create_table(
        "webhook_messages",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("team_id", sa.Text, nullable=False),
        sa.Column("endpoint_id", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("namespace", sa.Text, nullable=True),
        sa.Column("object_id", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("order_key", sa.Text, nullable=True),
        sa.Column("payload", sa.Text, nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_ms", sa.BigInteger, nullable=False),
        sa.Column("lock_token", sa.Text, nullable=True),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("delivered_at_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_webhook_messages_due", "webhook_messages", ["status", "next_attempt_ms"])
    op.create_index("ix_webhook_messages_order", "webhook_messages", ["endpoint_id", "order_key", "status", "seq"])
    op.create_index("ix_webhook_messages_team", "webhook_messages", ["team_id", "created_at_ms"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("message_seq", sa.BigInteger, nullable=False),
        sa.Column("endpoint_id", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("started_at_ms", sa.BigInteger, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("response_excerpt", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_webhook_attempts_message_seq", "webhook_attempts", ["message_seq"])
    op.create_index("ix_webhook_attempts_endpoint", "webhook_attempts", ["endpoint_id", "started_at_ms"])
    op.create_index("ix_jobs_object", "jobs", ["team_id", "namespace", "object_id", "version"])


def downgrade() -> None:
    op.drop_index("ix_jobs_object", "jobs")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_messages")
    op.drop_table("webhook_endpoints")
