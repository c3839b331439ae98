"""Verify webhook deliveries from Vigil (Standard Webhooks signatures), with no other library.

    from vigil.client.webhooks import WebhookVerificationError, verify

    try:
        event = verify(request_body_bytes, request.headers, secret)   # secret: "whsec_…"
    except WebhookVerificationError:
        return 400
    if seen(event.webhook_id): return 204        # retries carry the same id
    handle(event.type, event)

A delivery carries `webhook-id`, `webhook-timestamp` and `webhook-signature` (and the same
three as `svix-*`; either family is accepted). The signature header holds one or more
space-separated `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` (two during a secret
rotation); one of them must match, computed with the base64-decoded secret after `whsec_`.
Verify the raw body bytes as received, before any JSON parsing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Final, Protocol

from vigil.client._errors import WebhookVerificationError
from vigil.client.types.webhooks import WebhookEvent

__all__ = ["DEFAULT_TOLERANCE_S", "WebhookEvent", "WebhookVerificationError", "verify"]

DEFAULT_TOLERANCE_S: Final = 300.0  # 5 minutes either way, as the standardwebhooks and svix libraries
SECRET_PREFIX: Final = "whsec_"
HEADER_FAMILIES: Final = ("webhook", "svix")


class _HasItems(Protocol):
    def items(self) -> Iterable[tuple[str, str]]: ...


def verify(
    body: bytes | str,
    headers: Mapping[str, str] | _HasItems,
    secret: str,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now_s: float | None = None,
) -> WebhookEvent:
    """The delivery's event, once its signature and timestamp check out; raises
    WebhookVerificationError otherwise, and ValueError for a secret that is not `whsec_…`
    (a configuration fault: better a 500, which Vigil retries, than refusing genuine events)."""
    key = _secret_key(secret)
    payload = body.encode() if isinstance(body, str) else bytes(body)
    found = {name.lower(): value for name, value in headers.items()}
    family = next((f for f in HEADER_FAMILIES if f"{f}-id" in found), None)
    if family is None:
        raise WebhookVerificationError("the request has no webhook-id (or svix-id) header: not a webhook delivery")
    msg_id = found[f"{family}-id"]
    stamp, signatures = found.get(f"{family}-timestamp"), found.get(f"{family}-signature")
    if stamp is None or signatures is None:
        missing = f"{family}-timestamp" if stamp is None else f"{family}-signature"
        raise WebhookVerificationError(f"the request has no {missing} header")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError(f"{family}-timestamp is not a number of seconds: {stamp[:40]!r}") from None

    signed = f"{msg_id}.{timestamp}.".encode() + payload
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [part.partition(",")[2] for part in signatures.split() if part.startswith("v1,")]
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise WebhookVerificationError(
            "no signature matches: the body was changed (verify the raw bytes as received) "
            "or the secret is not this endpoint's"
        )

    age_s = (time.time() if now_s is None else now_s) - timestamp
    if abs(age_s) > tolerance_s:
        when = f"{age_s:.0f} s old" if age_s > 0 else f"{-age_s:.0f} s in the future"
        raise WebhookVerificationError(
            f"the delivery is signed {when}, outside the {tolerance_s:g} s tolerance (a replay, or a clock off)"
        )
    try:
        event = json.loads(payload)
    except ValueError:
        raise WebhookVerificationError("the signature matches but the body is not JSON") from None
    if not isinstance(event, dict):
        raise WebhookVerificationError("the signature matches but the body is not a JSON object")
    return WebhookEvent(event, webhook_id=msg_id, webhook_timestamp=timestamp)


def _secret_key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the webhook secret must be the endpoint's 'whsec_…' secret, as Vigil gave it") from None
