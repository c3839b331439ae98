"""Which addresses a fetch may connect to.

Refused: every address that is not globally routable (loopback, private ranges, link-local,
carrier-grade NAT, documentation and reserved ranges, the unspecified address), multicast,
and the cloud metadata services, unless an operator allows a network with
`VIGIL_FETCH_ALLOWED_NETWORKS`. IPv4 addresses written as IPv6 (`::ffff:127.0.0.1`) are
judged as the IPv4 address they carry.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata services (AWS, GCP, Azure, Oracle, Alibaba, AWS IPv6).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "192.0.0.192", "100.100.100.200", "fd00:ec2::254")
)


def parse_networks(text: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """Networks from "127.0.0.1/32, 10.0.0.0/8" (a bare address is a network of one).
    Raises ValueError naming the entry that is not a network."""
    items = text.split(",") if isinstance(text, str) else list(text)
    networks = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP network such as 127.0.0.1/32 or 10.0.0.0/8") from None
    return tuple(networks)


class AddressGuard:
    def __init__(self, allowed: Iterable[IPNetwork] = ()) -> None:
        self.allowed = tuple(allowed)

    def refusal(self, address: IPAddress) -> str | None:
        """Why a connection to `address` is refused, or None if it is allowed."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed):
            return None
        if address in METADATA_ADDRESSES:
            return f"{address} is a cloud metadata address"
        if address.is_loopback:
            return f"{address} is a loopback address"
        if address.is_unspecified:
            return f"{address} is the unspecified address"
        if address.is_link_local:
            return f"{address} is a link-local address"
        if address.is_multicast:
            return f"{address} is a multicast address"
        if address.is_private:
            return f"{address} is a private address"
        if not address.is_global:
            return f"{address} is not a public address"
        return None
