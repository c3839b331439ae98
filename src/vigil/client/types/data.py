"""Answers of the Data API (`client.data`): adds, request status and results, uploads,
settings and object reads. Attribute names are snake_case whatever the wire uses."""

from __future__ import annotations

from typing import Any

from vigil.client._models import Model

__all__ = [
    "AddResponse",
    "Decision",
    "DownloadURL",
    "Label",
    "NamespaceSettings",
    "Output",
    "RequestStatus",
    "Result",
    "SettingsUpdated",
    "StoredObject",
    "Upload",
    "UploadURL",
]

TERMINAL_STATUSES = ("succeeded", "failed")


class AddResponse(Model):
    """`POST /v1/data/{namespace}`: the objects are stored; evaluation goes on."""

    _aliases = {"request_id": "requestId"}
    request_id: str
    status: str  # "accepted"


class Label(Model):
    label: str
    explanation: str | None
    confidence: str | None  # "low" | "medium" | "high"


class Output(Model):
    labels: list[Label]
    actions: list[str]
    fields: dict[str, Any]


class Result(Model):
    """One object's result: an item of `RequestStatus.data`, or a line of the results file
    (an import's lines also carry `line`, and a rejected line `error` with a null `output`)."""

    id: str | None
    url: str | None
    metadata: dict[str, Any] | None
    output: Output | None
    line: int | None
    error: str | None


class RequestStatus(Model):
    """`GET …/requests/{request_id}`: `queued` → (`uploading`) → `ingesting` → `succeeded` | `failed`."""

    namespace: str
    request_id: str
    status: str
    data: list[Result]  # [] until succeeded
    error_summary: str | None
    # Imports only: progress through the uploaded file.
    lines_read: int | None
    lines_accepted: int | None
    lines_rejected: int | None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class DownloadURL(Model):
    """`GET …/results/download-url`: the `data_*` fields are None until `succeeded`."""

    namespace: str
    request_id: str
    status: str
    data_url: str | None
    data_count: int | None
    data_expires_at: str | None
    error_summary: str | None
    lines_read: int | None
    lines_accepted: int | None
    lines_rejected: int | None


class UploadURL(Model):
    """`POST …/requests/upload-url`: PUT a JSONL file to `upload_url` before `expires_at`."""

    _aliases = {"request_id": "requestId", "object_key": "objectKey"}
    request_id: str
    object_key: str
    upload_url: str
    expires_at: str
    status: str  # "pending_upload"


class Upload(Model):
    """What `upload()` did: the import request it created and the bytes it sent. With Vigil's
    own upload URL the server's answer to the PUT is kept too (`status`, `size`)."""

    _aliases = {"request_id": "requestId", "object_key": "objectKey"}
    request_id: str
    object_key: str
    bytes_sent: int


class SettingsUpdated(Model):
    namespace: str
    status: str  # "updated"


class NamespaceSettings(Model):
    schema: dict[str, Any]
    update_mode: str  # "replace" | "merge"


class Decision(Model):
    """The current decision of an object's latest version."""

    version: int
    status: str
    output: Output | None
    metadata: dict[str, Any] | None
    error: str | None
    policy_version: int | None
    decided_at_ms: int | None


class StoredObject(Model):
    """`GET …/objects/{id}`: the latest version, and its decision (None while being evaluated)."""

    namespace: str
    id: str
    version: int
    data: dict[str, Any]
    created_at_ms: int
    updated_at_ms: int
    url: str
    decision: Decision | None
