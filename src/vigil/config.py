"""Settings: one typed table, read from `VIGIL_*` environment variables.

Units are in the names (`_ms`, `_s`, `_bytes`). Every field is documented in
docs/configuration.md, and a test keeps the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_", extra="ignore")

    database_url: str = Field(
        "sqlite:///./vigil.db",
        description="Where data, decisions and the job queue live: sqlite:///path or postgresql://…",
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL used in links Vigil hands out (result `url`, upload URLs).",
    )
    max_objects_per_request: int = Field(1000, ge=1, description="Objects accepted in one POST /v1/data call.")
    max_object_bytes: int = Field(1024 * 1024, ge=1024, description="Largest single object, JSON-encoded.")
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest request body.")
    max_inline_results_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, description="Largest inline `data` in a status answer; above it, 413."
    )
    group_commit_max_objects: int = Field(
        2000, ge=1, description="Most objects one shared ingest transaction takes from waiting requests."
    )
    group_commit_flushers: int = Field(
        0, ge=0, description="Concurrent ingest transactions per API process (0: 1 on SQLite, 2 on PostgreSQL)."
    )
    db_pool_size: int = Field(8, ge=1, description="Most PostgreSQL connections one process holds.")
    worker_batch_size: int = Field(100, ge=1, description="Jobs a worker claims in one transaction.")
    worker_concurrency: int = Field(2, ge=1, description="Claim loops per worker process.")
    serve_worker: Literal["process", "inline"] = Field(
        "process", description="How `vigil serve` runs its worker: a child process, or inline in its own."
    )
    worker_gather_ms: int = Field(
        5, ge=0, le=10_000, description="After a wake-up under load, wait this long so that more jobs share a batch."
    )
    worker_poll_interval_ms: int = Field(200, ge=1, description="Idle worker's wait between empty claims.")
    job_lease_s: float = Field(30.0, gt=0, description="A claimed job returns to the queue if not done in this time.")
    job_max_attempts: int = Field(5, ge=1, description="Evaluation attempts before an object is marked failed.")
    auth_cache_ttl_s: float = Field(
        5.0, ge=0, description="How long an API process trusts a looked-up key (revocation delay)."
    )
    blob_url: str = Field(
        "",
        description="Where import uploads and result files live: a local folder, or s3://bucket/prefix "
        "(credentials from the usual AWS_* variables). Empty: a folder beside the SQLite file, or .vigil/blobs.",
    )
    signing_secret: SecretStr = Field(
        SecretStr(""),
        description="HMAC key of the upload and download URLs Vigil signs. Empty: one is generated once and "
        "kept in the database, so that every process agrees.",
    )
    upload_url_ttl_s: float = Field(12 * 3600.0, gt=0, description="How long an import's upload URL stays valid.")
    results_url_ttl_s: float = Field(3600.0, gt=0, description="How long a results download URL stays valid.")
    import_chunk_lines: int = Field(1000, ge=1, description="Most lines of an import committed in one transaction.")
    import_chunk_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Most bytes of an import's lines committed in one transaction."
    )
    policy_cache_size: int = Field(
        256, ge=1, description="Compiled policies a process keeps, one per (team, namespace, policy and list versions)."
    )
    fetch_allowed_networks: str = Field(
        "",
        description="Comma-separated IP networks (127.0.0.1/32, 10.0.0.0/8) that image fetches may reach although "
        "they are loopback, private, link-local or otherwise not public. Empty: only public addresses.",
    )
    fetch_timeout_s: float = Field(10.0, gt=0, description="Longest fetch of one image, redirects included.")
    fetch_max_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest image body read.")
    fetch_max_redirects: int = Field(3, ge=0, description="Redirects followed per image fetch, each re-checked.")
    fetch_concurrency: int = Field(8, ge=1, description="Images fetched at once per evaluation batch.")
    webhook_timeout_s: float = Field(15.0, gt=0, description="A delivery succeeds on a 2xx within this time.")
    webhook_retry_schedule_s: str = Field(
        "0,5,300,1800,7200,18000,36000,36000",
        description="Seconds before each delivery attempt (the first is the wait before attempt 1), "
        "comma-separated; each gets ±20 % jitter. After the last, the message is failed.",
    )
    webhook_max_in_flight: int = Field(256, ge=1, description="Deliveries in flight at once per worker process.")
    webhook_endpoint_concurrency: int = Field(
        16, ge=1, description="Deliveries in flight at once to one endpoint, per worker process."
    )
    webhook_disable_after_s: float = Field(
        5 * 86400.0, gt=0, description="An endpoint failing this long without one success is disabled."
    )
    webhook_retention_days: float = Field(
        30.0, gt=0, description="Delivered and failed messages (payloads and attempts) are kept this long."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="debug, info, warning or error."
    )
    log_json: bool = Field(False, description="Write logs as JSON lines instead of console text.")


class SettingsError(Exception):
    """A VIGIL_* variable has a bad value; the message names the variable."""


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"VIGIL_{str(err['loc'][0]).upper()}: {err['msg']} (got {err.get('input')!r})" for err in exc.errors()
        )
        raise SettingsError(problems) from None


def unknown_variables(environ: dict[str, str]) -> list[str]:
    """VIGIL_* variables that name no setting: usually a typo worth a warning."""
    known = {f"VIGIL_{name.upper()}" for name in Settings.model_fields}
    return sorted(name for name in environ if name.startswith("VIGIL_") and name not in known)
