"""Which addresses an image fetch may reach (vigil.fetch.guard): public ones, and the
networks an operator allows; never loopback, private, link-local or metadata otherwise."""

from __future__ import annotations

import ipaddress

import pytest

from vigil.fetch.guard import AddressGuard, parse_networks


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4 written as IPv6
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    refusal = AddressGuard().refusal(ipaddress.ip_address(address))
    assert refusal is not None and reason in refusal


def test_public_addresses_pass_and_allowed_networks_open_private_ones() -> None:
    guard = AddressGuard()
    assert guard.refusal(ipaddress.ip_address("93.184.216.34")) is None
    assert guard.refusal(ipaddress.ip_address("2606:4700::6810:85e5")) is None
    allowing = AddressGuard(parse_networks("127.0.0.1/32, 10.0.0.0/8"))
    assert allowing.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert allowing.refusal(ipaddress.ip_address("::ffff:10.9.8.7")) is None
    assert allowing.refusal(ipaddress.ip_address("127.0.0.2")) is not None
    assert allowing.refusal(ipaddress.ip_address("169.254.169.254")) is not None


def test_bad_networks_are_named() -> None:
    assert parse_networks("") == ()
    with pytest.raises(ValueError, match="'localhost' is not an IP network"):
        parse_networks("127.0.0.1, localhost")
