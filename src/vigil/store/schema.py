"""Every table, once. Alembic migrations (store/migrations) create exactly this; a test compares them.

Times are integer epoch milliseconds (`*_ms`): the same on SQLite and PostgreSQL, cheap to
compare in the queue's claim query, and unambiguous about time zones.
JSON documents are `jsonb` on PostgreSQL and text on SQLite (see `store/jsondoc.py`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData()

JSONDoc = sa.Text().with_variant(postgresql.JSONB(), "postgresql")
# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("team_id", sa.Text, sa.ForeignKey("teams.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    # The first characters of the key, shown in listings so a person can tell keys apart.
    sa.Column("prefix", sa.Text, nullable=False),
    # sha256 of the whole key: keys are 238 random bits, so a fast hash is enough.
    sa.Column("key_hash", sa.Text, nullable=False, unique=True),
    sa.Column("scopes", sa.Text, nullable=False),  # space-separated
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("revoked_at_ms", sa.BigInteger, nullable=True),
)

namespaces = sa.Table(
    "namespaces",
    metadata,
    sa.Column("team_id", sa.Text, sa.ForeignKey("teams.id"), primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("settings", JSONDoc, nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
)

# The latest state of each identity (team, namespace, object_id).
objects = sa.Table(
    "objects",
    metadata,
    sa.Column("team_id", sa.Text, primary_key=True),
    sa.Column("namespace", sa.Text, primary_key=True),
    sa.Column("object_id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("data", JSONDoc, nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
)

# Every accepted version, kept as history. A version is also its request's item:
# (request_id, request_idx) says which request brought it and where in the array.
object_versions = sa.Table(
    "object_versions",
    metadata,
    sa.Column("team_id", sa.Text, primary_key=True),
    sa.Column("namespace", sa.Text, primary_key=True),
    sa.Column("object_id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("data", JSONDoc, nullable=False),
    sa.Column("request_id", sa.Text, nullable=False),
    sa.Column("request_idx", sa.Integer, nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_object_versions_request", "request_id", "request_idx", unique=True),
)

requests = sa.Table(
    "requests",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("team_id", sa.Text, nullable=False),
    sa.Column("namespace", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # "add" (later: "import", "replay")
    sa.Column("status", sa.Text, nullable=False),  # queued → ingesting → succeeded | failed
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("pending", sa.Integer, nullable=False),  # items not yet terminal
    sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error_summary", sa.Text, nullable=True),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
)

# The per-object result of a request item: one row per evaluated version, never two.
decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("team_id", sa.Text, primary_key=True),
    sa.Column("namespace", sa.Text, primary_key=True),
    sa.Column("object_id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),  # succeeded | failed
    sa.Column("output", JSONDoc, nullable=True),  # null when the evaluation failed
    sa.Column("metadata", JSONDoc, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("policy_version", sa.Integer, nullable=True),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    # The rules that fired and their evidence (engine.models.Provenance); null without a policy.
    sa.Column("provenance", JSONDoc, nullable=True),
)

# The job queue, in the same database so a job commits with the data it is about.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.Text, nullable=False),  # "evaluate"
    sa.Column("team_id", sa.Text, nullable=False),
    sa.Column("namespace", sa.Text, nullable=False),
    sa.Column("object_id", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("request_id", sa.Text, nullable=True),
    # Claimable once this time has passed (and then not claimed, or its lease ran out).
    sa.Column("run_after_ms", sa.BigInteger, nullable=False),
    # A fresh token per claim: only the holder of the current claim may finish the job.
    sa.Column("lock_token", sa.Text, nullable=True),
    # Until when the current claim holds the job: a job whose worker died comes back by
    # itself when its lease runs out. Not indexed, so that a claim changes no index
    # (migration 0007).
    sa.Column("lease_until_ms", sa.BigInteger, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_jobs_due", "run_after_ms", "id"),  # claim order (migration 0005)
    # The import runner's claims (migration 0006): import jobs only, in claim order.
    sa.Index(
        "ix_jobs_import_due",
        "run_after_ms",
        "id",
        postgresql_where=sa.text("kind = 'import'"),
        sqlite_where=sa.text("kind = 'import'"),
    ),  # fmt: skip
)

# --- Bulk import (docs/imports.md) --------------------------------------------------------------

# One row per import request: where its upload lives and how far ingestion got. The cursor
# (lines_read, bytes_read) commits in the same transaction as the chunk of objects it covers,
# so a restarted import resumes exactly after the last committed chunk.
imports = sa.Table(
    "imports",
    metadata,
    sa.Column("request_id", sa.Text, primary_key=True),
    sa.Column("team_id", sa.Text, nullable=False),
    sa.Column("namespace", sa.Text, nullable=False),
    sa.Column("object_key", sa.Text, nullable=False),  # the upload's key in the blob store
    sa.Column("expires_at_ms", sa.BigInteger, nullable=False),  # the upload URL's expiry
    sa.Column("uploaded_at_ms", sa.BigInteger, nullable=True),  # set once, when the upload is complete
    sa.Column("bytes_uploaded", sa.BigInteger, nullable=True),
    sa.Column("lines_read", sa.Integer, nullable=False, server_default="0"),
    sa.Column("bytes_read", sa.BigInteger, nullable=False, server_default="0"),  # offset in the decoded file
    sa.Column("lines_accepted", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lines_rejected", sa.Integer, nullable=False, server_default="0"),
    sa.Column("read_at_ms", sa.BigInteger, nullable=True),  # set when the last line has been committed
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),  # chunk commits that raised
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
)

# A rejected line of an import (bad JSON, bad id, too large), by its 1-based line number.
import_errors = sa.Table(
    "import_errors",
    metadata,
    sa.Column("request_id", sa.Text, primary_key=True),
    sa.Column("line", sa.Integer, primary_key=True),
    sa.Column("object_id", sa.Text, nullable=True),  # when the line had a readable string id
    sa.Column("problem", sa.Text, nullable=False),
)

# The JSONL results file of a succeeded request, built once in the blob store.
result_files = sa.Table(
    "result_files",
    metadata,
    sa.Column("request_id", sa.Text, primary_key=True),
    sa.Column("object_key", sa.Text, nullable=False),
    sa.Column("line_count", sa.Integer, nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
)

# Secrets Vigil generates for itself (the URL-signing key), shared by every process.
server_secrets = sa.Table(
    "server_secrets",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
)

# --- policies and named lists (migration 0002) ---

# Every version of each namespace's policy; the current one is the highest version.
policies = sa.Table(
    "policies",
    metadata,
    sa.Column("team_id", sa.Text, primary_key=True),
    sa.Column("namespace", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("document", JSONDoc, nullable=False),  # the parsed document
    sa.Column("source", sa.Text, nullable=False),  # the text as sent, YAML or JSON
    sa.Column("format", sa.Text, nullable=False),  # yaml | json
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
)

# Team-wide named value lists (blocklists, allowlists, keyword lists, image hashes).
lists = sa.Table(
    "lists",
    metadata,
    sa.Column("team_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),  # keyword | string | domain | email | pdq
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("items", JSONDoc, nullable=False),  # the normalised values, a JSON array
    sa.Column("item_count", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),  # 1, then +1 on every replacement
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
)

# --- webhooks (migration 0004) ---

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),  # ep_…
    sa.Column("team_id", sa.Text, nullable=False, index=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("event_types", JSONDoc, nullable=True),  # null: every event type
    sa.Column("namespaces", JSONDoc, nullable=True),  # null: every namespace
    sa.Column("headers", JSONDoc, nullable=False),  # extra headers sent with every delivery
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("disabled_reason", sa.Text, nullable=True),
    sa.Column("secret", sa.Text, nullable=False),
    # After a rotation the old secret keeps signing beside the new one until this time.
    sa.Column("previous_secret", sa.Text, nullable=True),
    sa.Column("previous_secret_until_ms", sa.BigInteger, nullable=True),
    sa.Column("failing_since_ms", sa.BigInteger, nullable=True),  # first failure since the last success
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
)

# One message per (event, endpoint). `seq` orders messages; messages with the same
# order_key (namespace + object id) on one endpoint are delivered one at a time, in seq order.
webhook_messages = sa.Table(
    "webhook_messages",
    metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text, nullable=False, unique=True),  # msg_…, the webhook-id header
    sa.Column("team_id", sa.Text, nullable=False),
    sa.Column("endpoint_id", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("namespace", sa.Text, nullable=True),
    sa.Column("object_id", sa.Text, nullable=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("order_key", sa.Text, nullable=True),  # null: no ordering with other messages
    sa.Column("payload", sa.Text, nullable=True),  # the exact body; null once pruned
    sa.Column("status", sa.Text, nullable=False),  # pending | delivered | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_ms", sa.BigInteger, nullable=False),
    sa.Column("lock_token", sa.Text, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("delivered_at_ms", sa.BigInteger, nullable=True),
    sa.Index("ix_webhook_messages_due", "status", "next_attempt_ms"),
    sa.Index("ix_webhook_messages_order", "endpoint_id", "order_key", "status", "seq"),
    sa.Index("ix_webhook_messages_team", "team_id", "created_at_ms"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("message_seq", sa.BigInteger, nullable=False, index=True),
    sa.Column("endpoint_id", sa.Text, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("started_at_ms", sa.BigInteger, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("response_excerpt", sa.Text, nullable=False, server_default=""),
    sa.Index("ix_webhook_attempts_endpoint", "endpoint_id", "started_at_ms"),
)

# Lets a claim find, fast, whether an earlier version of the same object is still queued.
sa.Index("ix_jobs_object", jobs.c.team_id, jobs.c.namespace, jobs.c.object_id, jobs.c.version)
