"""The Python client for Vigil's API: `Vigil` (sync) and `AsyncVigil` (asyncio), on httpx.

    from vigil.client import Vigil
    client = Vigil(api_key="sk_…", base_url="http://localhost:8000")
    response = client.data.ingest("products", {"data": [{"id": "product_12345", "title": "Ceramic Mug"}]})
    print(response.request_id)

It imports httpx and the standard library only, never the server (`pip install "vigil[client]"`,
or httpx plus `pip install --no-deps vigil` for the client's dependencies alone). Answers are
models from `vigil.client.types`; errors are the tree in `_errors.py`;
`vigil.client.webhooks.verify` checks deliveries. See docs/client.md.
"""

from vigil import __version__
from vigil.client import types, webhooks
from vigil.client._async_client import AsyncVigil
from vigil.client._client import Vigil
from vigil.client._config import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, NOT_GIVEN, NotGiven
from vigil.client._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ResultsNotReadyError,
    UnprocessableEntityError,
    VigilError,
    WaitTimeoutError,
    WebhookVerificationError,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncVigil",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "InternalServerError",
    "NOT_GIVEN",
    "NotFoundError",
    "NotGiven",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResultsNotReadyError",
    "UnprocessableEntityError",
    "Vigil",
    "VigilError",
    "WaitTimeoutError",
    "WebhookVerificationError",
    "__version__",
    "types",
    "webhooks",
]
