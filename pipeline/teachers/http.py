"""What the HTTP teachers share: reading Retry-After, and telling a local server from a remote one."""

from __future__ import annotations

import email.utils
import ipaddress
import time
from collections.abc import Mapping
from urllib.parse import urlparse

_LOCAL_SUFFIXES = (".local", ".internal", ".lan", ".localhost", ".home.arpa")


def retry_after_s(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from a 429's retry-after-ms or Retry-After (seconds or an HTTP date), or None.

    >>> retry_after_s({"retry-after": "7"}), retry_after_s({"retry-after-ms": "1500", "retry-after": "9"})
    (7.0, 1.5)
    >>> retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}, now=1445412500.0)
    10.0
    >>> retry_after_s({"retry-after": "soon"}), retry_after_s(None)
    (None, None)
    """
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value).timestamp()
            except (TypeError, ValueError):
                continue
            return max(0.0, when - (time.time() if now is None else now))
    return None


def address_is_local(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, private (RFC 1918, IPv6 ULA fc00::/7) or link-local: an address that stays on this
    machine or its private network. An IPv4-mapped IPv6 address is judged by its IPv4 address.

    >>> [address_is_local(ipaddress.ip_address(a)) for a in ("127.0.0.1", "10.1.2.3", "172.16.0.9", "fd12::1",
    ...                                                     "fe80::1", "::1", "::ffff:192.168.1.2")]
    [True, True, True, True, True, True, True]
    >>> [address_is_local(ipaddress.ip_address(a)) for a in ("8.8.8.8", "::ffff:8.8.8.8", "2a00:1450::1")]
    [False, False, False]
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped       # Python counts all of ::ffff:0:0/96 as private, public IPv4 included
    return ip.is_loopback or ip.is_private or ip.is_link_local


def host_is_local(base_url: str) -> bool:
    """Whether a teacher URL stays on this machine or private network (decided from the host alone).

    >>> [host_is_local(u) for u in ("http://127.0.0.1:8000/v1", "http://10.0.0.7/v1", "http://vllm:8000/v1",
    ...                              "http://gpu.internal/v1", "https://api.example.com/v1")]
    [True, True, True, True, False]
    """
    host = (urlparse(base_url).hostname or "").lower().rstrip(".")
    if not host:
        return False
    try:
        return address_is_local(ipaddress.ip_address(host))
    except ValueError:
        pass
    # "localhost", a single-label name (a container or LAN host), or a reserved private suffix.
    return host == "localhost" or "." not in host or host.endswith(_LOCAL_SUFFIXES)
