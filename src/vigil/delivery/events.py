"""Event payloads, exactly as the contract shapes them (spec §4); extra keys are allowed."""

from __future__ import annotations

from typing import Any

WORKFLOW_SUCCEEDED = "workflow.succeeded"
WORKFLOW_FAILED = "workflow.failed"
REQUEST_COMPLETED = "request.completed"
TEST = "webhook.test"
EVENT_TYPES = (WORKFLOW_SUCCEEDED, WORKFLOW_FAILED, REQUEST_COMPLETED, TEST)


def workflow_event(
    *,
    namespace: str,
    object_id: str,
    version: int,
    request_id: str | None,
    url: str,
    status: str,
    output: Any,
    metadata: dict[str, Any],
    error: str | None,
    timestamp: str,
) -> dict[str, Any]:
    if status == "succeeded":
        return {
            "type": WORKFLOW_SUCCEEDED,
            "namespace": namespace,
            "id": object_id,
            "request_id": request_id,
            "url": url,
            "metadata": metadata,
            "output": output,
            "version": version,
            "timestamp": timestamp,
        }
    return {
        "type": WORKFLOW_FAILED,
        "namespace": namespace,
        "id": object_id,
        "request_id": request_id,
        "error": error,
        "version": version,
        "timestamp": timestamp,
    }


def request_completed(
    *, namespace: str, request_id: str, status: str, total: int, failed: int, timestamp: str
) -> dict[str, Any]:
    return {
        "type": REQUEST_COMPLETED,
        "namespace": namespace,
        "request_id": request_id,
        "status": status,
        "object_count": total,
        "failed_count": failed,
        "timestamp": timestamp,
    }
