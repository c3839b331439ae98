"""Client options: the API key and base URL from arguments or the environment, and the errors
that name what is missing (no server needed)."""

from __future__ import annotations

import httpx
import pytest

from tests.client.scripted import ScriptedServer
from vigil import __version__
from vigil.client import DEFAULT_TIMEOUT, Vigil, VigilError


def test_without_a_key_the_error_names_the_argument_and_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIGIL_API_KEY", raising=False)
    with pytest.raises(VigilError, match=r"api_key=.*VIGIL_API_KEY"):
        Vigil()


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_API_KEY", "sk_env")
    monkeypatch.setenv("VIGIL_BASE_URL", "http://env.example:1")
    with Vigil(base_url="http://arg.example:2/") as client:
        assert client.base_url == "http://arg.example:2" and client._options.api_key == "sk_env"
    monkeypatch.delenv("VIGIL_BASE_URL")
    with Vigil() as client:
        assert client.base_url == "http://127.0.0.1:8000"  # where `vigil serve` listens
        assert client.timeout == DEFAULT_TIMEOUT and client.max_retries == 2


def test_a_base_url_without_a_scheme_is_refused() -> None:
    with pytest.raises(VigilError, match="http://"):
        Vigil(api_key="sk_x", base_url="localhost:8000")


def test_headers_sent_on_every_call(scripted: ScriptedServer) -> None:
    with Vigil(api_key="sk_test", base_url=scripted.url + "/", default_headers={"X-Team": "trust"}) as client:
        client.data.create_upload_url("products")
    [seen] = scripted.seen
    assert seen.path == "/v1/data/products/requests/upload-url" and seen.body == b""
    assert seen.headers["authorization"] == "Bearer sk_test"
    assert seen.headers["content-type"] == "application/json"  # on a bodiless POST too, as the SDK
    assert seen.headers["accept"] == "application/json"
    assert seen.headers["user-agent"] == f"Vigil/Python {__version__}"
    assert seen.headers["x-team"] == "trust"


def test_your_own_http_client_is_used_and_left_open(scripted: ScriptedServer) -> None:
    with httpx.Client(headers={"X-Proxy-Auth": "p"}) as http:
        with Vigil(api_key="sk_test", base_url=scripted.url, http_client=http) as client:
            client.data.add("products", data={"id": "p1"})
        assert not http.is_closed
    assert scripted.seen[0].headers["x-proxy-auth"] == "p"
