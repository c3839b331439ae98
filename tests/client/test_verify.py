"""`verify` agrees with the reference `standardwebhooks` library both ways (no server needed);
deliveries made by a running Vigil are in test_webhooks.py."""

from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks

from vigil.client import WebhookVerificationError
from vigil.client.webhooks import verify

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
BODY = json.dumps({"type": "workflow.succeeded", "namespace": "products", "id": "p1"}).encode()


def signed_by_the_library(msg_id: str, stamp: int, body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    signature = standardwebhooks.Webhook(secret).sign(msg_id, datetime.fromtimestamp(stamp, UTC), body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": signature}


def test_verifies_what_the_reference_library_signs() -> None:
    headers = signed_by_the_library("msg_1", int(time.time()))
    event = verify(BODY, headers, SECRET)
    assert (event.type, event.id, event.webhook_id) == ("workflow.succeeded", "p1", "msg_1")
    assert verify(BODY, headers, SECRET.removeprefix("whsec_")).id == "p1"  # the bare base64 secret too


def test_one_matching_signature_among_several_is_enough() -> None:
    stamp = int(time.time())
    headers = signed_by_the_library("msg_1", stamp)
    other = signed_by_the_library("msg_1", stamp, secret="whsec_" + base64.b64encode(b"x" * 32).decode())
    headers["webhook-signature"] = f"v1a,ignored {other['webhook-signature']} {headers['webhook-signature']}"
    assert verify(BODY, headers, SECRET).id == "p1"


def test_header_names_are_case_insensitive_and_svix_names_work() -> None:
    headers = signed_by_the_library("msg_1", int(time.time()))
    svix = {name.replace("webhook-", "Svix-").title(): value for name, value in headers.items()}
    assert verify(BODY, svix, SECRET).webhook_id == "msg_1"


def test_the_reference_library_verifies_the_same_headers_vigil_sends() -> None:
    """A receiver can switch between our verify and the library without a change on Vigil's side."""
    stamp = int(time.time())
    headers = signed_by_the_library("msg_2", stamp)
    assert standardwebhooks.Webhook(SECRET).verify(BODY, headers) == verify(BODY, headers, SECRET).to_dict()


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"not json", "not JSON"), (b"[1, 2]", "not a JSON object")],
)
def test_a_genuine_body_that_is_not_an_object_is_refused(body: bytes, message: str) -> None:
    headers = signed_by_the_library("msg_3", int(time.time()), body)
    with pytest.raises(WebhookVerificationError, match=message):
        verify(body, headers, SECRET)


def test_no_headers_at_all_says_it_is_not_a_delivery() -> None:
    with pytest.raises(WebhookVerificationError, match="no webhook-id"):
        verify(BODY, {}, SECRET)
