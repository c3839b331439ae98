"""Standard Webhooks signing (https://www.standardwebhooks.com), as Svix does it.

The secret is `whsec_` + base64 of 24-64 random bytes. The signature is
`v1,` + base64(HMAC-SHA256(secret bytes, f"{msg_id}.{timestamp}.{body}")). During a secret
rotation both secrets sign, space-separated, so receivers holding either verify.
The same three headers go out under `webhook-*` and `svix-*` names, so receivers built with
the `standardwebhooks` or the `svix` library verify without change.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    signed = " ".join(signature(secret, msg_id, timestamp, body) for secret in secrets_)
    stamp = str(timestamp)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": signed,
        "svix-id": msg_id,
        "svix-timestamp": stamp,
        "svix-signature": signed,
    }
