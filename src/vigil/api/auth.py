"""Bearer-key authentication and scope checks."""

from __future__ import annotations

from starlette.requests import Request

from vigil.errors import Forbidden, Unauthorized
from vigil.service.keys import Authenticator, Principal


async def require_scope(request: Request, scope: str) -> Principal:
    return await authorize(request.app.state.auth, request.headers.get("authorization", ""), scope)


async def authorize(auth: Authenticator, header: str, scope: str) -> Principal:
    """The principal of an `Authorization: Bearer …` header, if its key has `scope`."""
    kind, _, key = header.partition(" ")
    if kind.lower() != "bearer" or not key.strip():
        raise Unauthorized("missing API key: send 'Authorization: Bearer sk_…'")
    principal = await auth.principal(key.strip())
    if principal is None:
        raise Unauthorized("unknown or revoked API key; create one with 'vigil keys create --team NAME'")
    if scope not in principal.scopes and "admin" not in principal.scopes:
        raise Forbidden(
            f"this API key lacks the '{scope}' scope; create a key with it ('vigil keys create --scopes {scope}')"
        )
    return principal
