"""The address a request comes from, as the login throttle and the lockout (django-axes) count it.

``X-Forwarded-For`` is written by whoever sends the request; only a proxy we run may speak for
the client. ``TRUSTED_PROXIES`` (settings, from the environment) lists those proxies' addresses
or networks and is empty by default: then the peer (``REMOTE_ADDR``) is the client, whatever the
header says. Behind a trusted proxy the header is read from the right — each trusted proxy appends
the address it received the request from — and the first address that is not a trusted proxy is
the client. Without this, rotating the header defeats the throttle, and behind the TLS proxy
every client would share the proxy's address (one failed login would lock a username for all).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: “{entry}” is not an IP address or network (CIDR)."
            ) from None
    return tuple(networks)


def trusted_proxies() -> tuple[Network, ...]:
    return _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _is_trusted(address, networks) -> bool:
    return any(address in network for network in networks)


def client_ip(request) -> str:
    """The client's address: ``REMOTE_ADDR`` unless it is a trusted proxy; then the right-most
    ``X-Forwarded-For`` entry that is not a trusted proxy. An entry that is not an address ends
    the walk at the last address a trusted proxy vouched for, so what a client writes into the
    header never becomes its identity."""
    meta = request.META
    peer = meta.get("REMOTE_ADDR", "") or ""
    networks = trusted_proxies()
    current = _address(peer)
    if current is None or not networks or not _is_trusted(current, networks):
        return peer
    hops = [hop for hop in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        current = address
        if not _is_trusted(address, networks):
            break
    return str(current)
