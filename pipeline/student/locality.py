"""The student's endpoint must stay on this machine or its private network: the pages it reads are
the documents that may not leave the building.

The address decides, not the name: a literal IP must be loopback, private (RFC 1918, IPv6 ULA) or
link-local; a name (``localhost``, ``gpu01.internal``, ``vllm.local``, a container name, a corporate
host) is resolved with getaddrinfo and every address it resolves to must be such an address. A name
that looks local but resolves to a public address is refused, and so is a name that does not resolve
(nothing could be sent to it anyway). Anything else is refused with the fix, unless the user passes
``--allow-remote-endpoint`` (the summary then says where the pages went).

Limits, said plainly: the check runs once, before any page is sent; the HTTP client resolves the
name again when it connects, so a DNS answer that changes mid-run is not caught (give the IP to pin
it). Proxy variables (HTTPS_PROXY ...) are not honoured by the student's client (pipeline.student.teacher),
so a page cannot take a detour through a proxy either.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

from pipeline.errors import ConfigError
from pipeline.teachers.http import address_is_local

Resolver = Callable[..., list]


@dataclass(frozen=True)
class EndpointCheck:
    url: str
    host: str
    addresses: tuple[str, ...]        # what the host resolved to (the IP itself for a literal)
    local: bool
    reason: str = ""                  # why it is not local
    allowed_remote: bool = False      # not local, sent to anyway (--allow-remote-endpoint)

    def to_dict(self) -> dict:
        return {"url": self.url, "host": self.host, "addresses": list(self.addresses), "local": self.local,
                "allowed_remote": self.allowed_remote, **({"reason": self.reason} if self.reason else {})}


def _addresses(host: str, port: int, resolve: Resolver) -> tuple[str, ...]:
    infos = resolve(host, port, type=socket.SOCK_STREAM)
    # sockaddr[0] of an IPv6 link-local address may carry a zone ("fe80::1%eth0"): not part of the address.
    return tuple(dict.fromkeys(info[4][0].split("%", 1)[0] for info in infos))


def check_endpoint(url: str, resolve: Resolver | None = None) -> EndpointCheck:
    """Whether ``url`` reaches only this machine or its private network (see the module docstring).

    >>> check_endpoint("http://127.0.0.1:8000/v1").local, check_endpoint("http://[fd00::7]/v1").local
    (True, True)
    >>> public = lambda *args, **kw: [(2, 1, 6, "", ("93.184.215.14", 443))]
    >>> check = check_endpoint("https://api.example.com/v1", resolve=public)
    >>> check.local, check.reason
    (False, 'api.example.com resolves to 93.184.215.14, a public address')
    """
    parsed = urlparse(url)
    host = (parsed.hostname or "").lower().rstrip(".")
    if parsed.scheme not in ("http", "https") or not host:
        raise ConfigError(f"--endpoint {url!r} is not an http(s) URL; give e.g. http://127.0.0.1:8000/v1")
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError as exc:
        raise ConfigError(f"--endpoint {url!r}: {exc}") from None
    try:
        literal = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None:
        local = address_is_local(literal)
        return EndpointCheck(url, host, (str(literal),), local, "" if local else f"{host} is a public address")
    try:
        addresses = _addresses(host, port, resolve or socket.getaddrinfo)
    except (socket.gaierror, UnicodeError) as exc:
        return EndpointCheck(url, host, (), False, f"{host} does not resolve from here ({exc})")
    public = [a for a in addresses if not address_is_local(ipaddress.ip_address(a))]
    if public:
        return EndpointCheck(url, host, addresses, False, f"{host} resolves to {', '.join(public)}, a public address")
    if not addresses:
        return EndpointCheck(url, host, addresses, False, f"{host} resolves to no address")
    return EndpointCheck(url, host, addresses, True)


def require_local_endpoint(url: str, allow_remote: bool = False, resolve: Resolver | None = None) -> EndpointCheck:
    """``check_endpoint``, refusing a non-local endpoint with the fix unless ``allow_remote``."""
    check = check_endpoint(url, resolve)
    if check.local:
        return check
    if allow_remote:
        return EndpointCheck(check.url, check.host, check.addresses, False, check.reason, allowed_remote=True)
    raise ConfigError(
        f"--endpoint {url} is not on this machine or its private network: {check.reason}. The student reads "
        "the documents that must not leave the building, so extract only talks to loopback, private "
        "(10/8, 172.16/12, 192.168/16, fc00::/7) or link-local addresses. Serve the student here (README: "
        "Serving the student) and use http://127.0.0.1:8000/v1, or, if that host is yours and the pages may "
        "go there, pass --allow-remote-endpoint")
