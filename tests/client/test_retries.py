"""Retries against a real local HTTP server: which answers are retried, how long the client
waits, and what it raises in the end (the official SafetyKit SDK's policy)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time

import httpx
import pytest

from tests.client.scripted import ACCEPTED, Answer, ScriptedServer, error
from tests.helpers import free_port
from vigil.client import (
    APIConnectionError,
    APITimeoutError,
    AsyncVigil,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    Vigil,
)
from vigil.client._retry import retry_delay_s

OBJECTS = [{"id": "product_12345", "title": "Ceramic Mug", "price": 24.0}]


def client_for(scripted: ScriptedServer, **options: object) -> Vigil:
    return Vigil(api_key="sk_test", base_url=scripted.url, **options)  # type: ignore[arg-type]


def test_503_twice_then_200_succeeds_on_the_third_attempt_with_backoff(scripted: ScriptedServer) -> None:
    scripted.script(error(503, "store unavailable"), error(503, "store unavailable"), ACCEPTED)
    with client_for(scripted) as client:
        answer = client.data.add("products", data=OBJECTS)

    assert answer.request_id == "req_01scripted" and answer.status == "accepted"
    assert [(s.method, s.path) for s in scripted.seen] == [("POST", "/v1/data/products")] * 3
    assert all(json.loads(s.body) == {"data": OBJECTS} for s in scripted.seen)  # the same body each time
    assert [s.headers["x-vigil-retry-count"] for s in scripted.seen] == ["0", "1", "2"]
    assert all(s.headers["authorization"] == "Bearer sk_test" for s in scripted.seen)
    first, second = scripted.gaps_s()
    assert 0.37 <= first < 0.7  # 0.5 s less up to 25 % jitter
    assert 0.74 <= second < 1.2  # 1 s less up to 25 % jitter


def test_503_every_time_raises_after_max_retries_with_the_servers_message(scripted: ScriptedServer) -> None:
    scripted.script(error(503, "the database cannot be reached", "store_unavailable", x_request_id="rid-1"))
    with client_for(scripted, max_retries=1) as client, pytest.raises(InternalServerError) as raised:
        client.data.get_status("req_1", "products")
    assert len(scripted.seen) == 2
    error_ = raised.value
    assert (error_.status_code, error_.type, error_.message) == (
        503,
        "store_unavailable",
        "the database cannot be reached",
    )
    assert error_.x_request_id == "rid-1"
    assert str(error_) == "503 store_unavailable: the database cannot be reached"


def test_max_retries_zero_sends_once(scripted: ScriptedServer) -> None:
    scripted.script(error(500, "a bug"))
    with client_for(scripted, max_retries=0) as client, pytest.raises(InternalServerError):
        client.data.add("products", data=OBJECTS)
    assert len(scripted.seen) == 1


def test_429_waits_as_long_as_retry_after_says(scripted: ScriptedServer) -> None:
    scripted.script(error(429, "slow down", "rate_limited", retry_after="1"), ACCEPTED)
    with client_for(scripted) as client:
        client.data.add("products", data=OBJECTS)
    assert len(scripted.seen) == 2
    assert 0.95 <= scripted.gaps_s()[0] < 1.5


def test_retry_after_ms_wins_over_retry_after(scripted: ScriptedServer) -> None:
    scripted.script(error(429, "slow down", "rate_limited", retry_after="30", retry_after_ms="150"), ACCEPTED)
    with client_for(scripted) as client:
        client.data.add("products", data=OBJECTS)
    assert 0.14 <= scripted.gaps_s()[0] < 0.4


def test_retry_after_as_an_http_date(scripted: ScriptedServer) -> None:
    in_2s = email.utils.formatdate(time.time() + 2, usegmt=True)
    scripted.script(error(429, "slow down", "rate_limited", retry_after=in_2s), ACCEPTED)
    with client_for(scripted) as client:
        client.data.add("products", data=OBJECTS)
    assert 0.9 <= scripted.gaps_s()[0] < 2.5  # the date has whole seconds


def test_a_429_that_never_ends_raises_rate_limit_error(scripted: ScriptedServer) -> None:
    scripted.script(error(429, "slow down", "rate_limited", retry_after_ms="10"))
    with client_for(scripted) as client, pytest.raises(RateLimitError, match="slow down"):
        client.data.add("products", data=OBJECTS)
    assert len(scripted.seen) == 3


def test_x_should_retry_false_stops_retries_even_on_a_503(scripted: ScriptedServer) -> None:
    scripted.script(error(503, "this will not get better", x_should_retry="false"), ACCEPTED)
    with client_for(scripted) as client, pytest.raises(InternalServerError, match="will not get better"):
        client.data.add("products", data=OBJECTS)
    assert len(scripted.seen) == 1


def test_x_should_retry_true_retries_even_a_400(scripted: ScriptedServer) -> None:
    scripted.script(error(400, "try again", x_should_retry="true", retry_after_ms="10"), ACCEPTED)
    with client_for(scripted) as client:
        assert client.data.add("products", data=OBJECTS).status == "accepted"
    assert len(scripted.seen) == 2


@pytest.mark.parametrize(
    ("status", "raised"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (413, PayloadTooLargeError),
        (422, UnprocessableEntityError),
    ],
)
def test_client_errors_are_not_retried_and_raise_by_status(scripted: ScriptedServer, status: int, raised: type) -> None:
    scripted.script(error(status, f"refused with {status}", "invalid_request"), ACCEPTED)
    with client_for(scripted) as client, pytest.raises(raised, match=f"refused with {status}") as caught:
        client.data.add("products", data=OBJECTS)
    assert len(scripted.seen) == 1
    assert caught.value.status_code == status and caught.value.type == "invalid_request"


@pytest.mark.parametrize(("status", "raised"), [(408, None), (409, ConflictError), (502, InternalServerError)])
def test_408_409_and_5xx_are_retried(scripted: ScriptedServer, status: int, raised: type | None) -> None:
    scripted.script(error(status, "transient", retry_after_ms="10"))
    with client_for(scripted) as client, pytest.raises(raised or Exception) as caught:
        client.data.add("products", data=OBJECTS)
    assert len(scripted.seen) == 3
    assert caught.value.status_code == status  # type: ignore[attr-defined]


def test_an_error_answer_that_is_not_json_keeps_the_status_and_reason(scripted: ScriptedServer) -> None:
    scripted.script(Answer(502, b"<html>bad gateway</html>"))
    with client_for(scripted, max_retries=0) as client, pytest.raises(InternalServerError) as caught:
        client.data.add("products", data=OBJECTS)
    assert caught.value.status_code == 502 and caught.value.body == "<html>bad gateway</html>"


def test_refused_connections_are_retried_then_raise_api_connection_error() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with (
        Vigil(api_key="sk_test", base_url=nobody, max_retries=2) as client,
        pytest.raises(APIConnectionError) as caught,
    ):
        client.data.add("products", data=OBJECTS)
    assert not isinstance(caught.value, APITimeoutError)
    assert caught.value.request.url == f"{nobody}/v1/data/products"
    assert time.monotonic() - started >= 0.37 + 0.74  # two backoffs: it did retry


def test_a_slow_answer_is_a_timeout_retried_then_raised(scripted: ScriptedServer) -> None:
    scripted.script(Answer(200, {"requestId": "req_late", "status": "accepted"}, delay_s=3))
    with client_for(scripted, timeout=0.3, max_retries=1) as client, pytest.raises(APITimeoutError):
        client.data.add("products", data=OBJECTS)
    assert len(scripted.seen) == 2


def test_with_options_changes_retries_for_one_use(scripted: ScriptedServer) -> None:
    scripted.script(error(503, "down", retry_after_ms="10"))
    with client_for(scripted) as client:
        with pytest.raises(InternalServerError):
            client.with_options(max_retries=4).data.add("products", data=OBJECTS)
        assert len(scripted.seen) == 5
        assert not client.is_closed  # the copy shares, and does not close, the connections


def test_async_client_retries_the_same_way(scripted: ScriptedServer) -> None:
    scripted.script(error(503, "store unavailable"), error(503, "store unavailable"), ACCEPTED)

    async def go() -> str:
        async with AsyncVigil(api_key="sk_test", base_url=scripted.url) as client:
            return (await client.data.add("products", data=OBJECTS)).request_id

    assert asyncio.run(go()) == "req_01scripted"
    assert [s.headers["x-vigil-retry-count"] for s in scripted.seen] == ["0", "1", "2"]
    assert 0.37 <= scripted.gaps_s()[0] < 0.7


def test_async_client_raises_the_same_errors(scripted: ScriptedServer) -> None:
    scripted.script(error(400, "data[0]: missing required field 'id'", "invalid_request"))

    async def go() -> None:
        async with AsyncVigil(api_key="sk_test", base_url=scripted.url) as client:
            await client.data.add("products", data=[{}])

    with pytest.raises(BadRequestError, match="missing required field 'id'"):
        asyncio.run(go())
    assert len(scripted.seen) == 1


# --- the delay formula ------------------------------------------------------------------


@pytest.mark.parametrize(("taken", "low", "high"), [(0, 0.375, 0.5), (1, 0.75, 1.0), (2, 1.5, 2.0), (5, 6.0, 8.0)])
def test_backoff_doubles_from_half_a_second_up_to_8s_with_jitter(taken: int, low: float, high: float) -> None:
    assert retry_delay_s(taken, rand=lambda: 0.0) == high
    assert retry_delay_s(taken, rand=lambda: 1.0) == low


def test_retry_after_above_60s_or_zero_falls_back_to_backoff() -> None:
    assert retry_delay_s(0, httpx.Headers({"retry-after": "120"}), rand=lambda: 0.0) == 0.5
    assert retry_delay_s(0, httpx.Headers({"retry-after": "0"}), rand=lambda: 0.0) == 0.5
    assert retry_delay_s(0, httpx.Headers({"retry-after": "soon"}), rand=lambda: 0.0) == 0.5
    assert retry_delay_s(3, httpx.Headers({"retry-after": "7"})) == 7.0
