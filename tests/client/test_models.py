"""The model layer: snake_case attributes over mixed-case wire keys, nested models, and
unknown keys kept (no server needed)."""

from __future__ import annotations

import pytest

from vigil.client.types import AddResponse, Label, Output, RequestStatus, Result, StoredObject, UploadURL

STATUS = {
    "namespace": "products",
    "request_id": "req_1",
    "status": "succeeded",
    "data": [
        {
            "id": "p1",
            "url": "http://x/ui/p1",
            "metadata": {},
            "output": {
                "labels": [{"label": "drugs.violation", "confidence": "high", "score": 0.9}],
                "actions": ["unpublish"],
                "fields": {},
            },
        },
        {"id": "p2", "url": "http://x/ui/p2", "metadata": {}, "output": None},
    ],
    "error_summary": "1 of 2 objects failed evaluation: p2: boom",
    "lines_read": 2,
    "newer_field": {"kept": True},
}


def test_camel_case_wire_keys_read_as_snake_case_attributes() -> None:
    added = AddResponse({"requestId": "req_1", "status": "accepted"})
    assert (added.request_id, added.status) == ("req_1", "accepted")
    created = UploadURL({"requestId": "req_2", "objectKey": "k", "upload_url": "u", "expires_at": "t", "status": "s"})
    assert (created.request_id, created.object_key, created.upload_url) == ("req_2", "k", "u")
    assert added.to_dict() == {"requestId": "req_1", "status": "accepted"}  # the wire form, unchanged


def test_nested_objects_become_models_and_nulls_stay_none() -> None:
    status = RequestStatus(STATUS)
    first, second = status.data
    assert isinstance(first, Result) and isinstance(first.output, Output)
    assert isinstance(first.output.labels[0], Label) and first.output.labels[0].label == "drugs.violation"
    assert first.output.labels[0].explanation is None  # absent: None, as the SDK's lenient parsing
    assert first.output.labels[0].score == 0.9  # an undeclared key, still readable
    assert second.output is None
    assert status.is_terminal and status.lines_read == 2


def test_unknown_keys_are_kept_and_listed_in_model_extra() -> None:
    status = RequestStatus(STATUS)
    assert status.model_extra == {"newer_field": {"kept": True}}
    assert status.newer_field == {"kept": True}
    assert status.to_dict() == STATUS
    with pytest.raises(AttributeError, match="no field 'nothing'"):
        _ = status.nothing


def test_models_compare_by_content_and_show_their_fields() -> None:
    assert AddResponse({"requestId": "r", "status": "accepted"}) == AddResponse(
        {"requestId": "r", "status": "accepted"}
    )
    assert AddResponse({"requestId": "r"}) != AddResponse({"requestId": "s"})
    assert (
        repr(AddResponse({"requestId": "r", "status": "accepted"})) == "AddResponse(request_id='r', status='accepted')"
    )


def test_an_object_read_with_no_decision_yet() -> None:
    stored = StoredObject({"namespace": "n", "id": "p1", "version": 2, "data": {"id": "p1"}, "decision": None})
    assert stored.decision is None and stored.version == 2
