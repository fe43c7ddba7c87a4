"""The endpoint locality rule: the address decides; names are resolved and every address must be private."""

from __future__ import annotations

import socket

import pytest

from pipeline.errors import ConfigError
from pipeline.student.locality import check_endpoint, require_local_endpoint


def resolver(table: dict[str, list[str]]):
    """A getaddrinfo stand-in: name -> addresses; unknown names fail as an unresolvable name does."""
    def resolve(host, port, type=0):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in table[host]]
    return resolve


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/v1", "http://[::1]:8000/v1", "http://10.2.3.4/v1",
                                 "http://172.31.0.9:8000/v1", "http://192.168.1.20/v1", "http://[fd00::5]/v1",
                                 "http://169.254.10.1/v1", "http://[fe80::1%25eth0]:8000/v1"])
def test_private_addresses_are_local(url):
    assert check_endpoint(url).local


@pytest.mark.parametrize("url", ["http://8.8.8.8/v1", "https://[2a00:1450:4001::1]/v1", "http://[::ffff:8.8.8.8]/v1",
                                 "http://100.64.0.1/v1"])
def test_public_addresses_are_refused_with_the_fix(url):
    assert not check_endpoint(url).local
    with pytest.raises(ConfigError, match="--allow-remote-endpoint"):
        require_local_endpoint(url)


def test_names_are_judged_by_every_address_they_resolve_to():
    table = {"gpu01.internal": ["10.0.0.7"], "vllm.local": ["192.168.1.5", "fd00::5"], "vllm": ["172.18.0.2"],
             "student.internal": ["10.0.0.8", "34.117.59.81"],     # one public address is enough to refuse
             "models.corp.example.com": ["10.1.1.1"], "api.example.com": ["93.184.215.14"]}
    resolve = resolver(table)
    for name in ("gpu01.internal", "vllm.local", "vllm", "models.corp.example.com"):
        check = check_endpoint(f"http://{name}:8000/v1", resolve)
        assert check.local and check.addresses == tuple(table[name]), name
    refused = check_endpoint("http://student.internal:8000/v1", resolve)
    assert not refused.local and "34.117.59.81" in refused.reason
    assert not check_endpoint("https://api.example.com/v1", resolve).local
    unknown = check_endpoint("http://nowhere.internal/v1", resolve)
    assert not unknown.local and "does not resolve" in unknown.reason


def test_localhost_resolves_here():
    check = check_endpoint("http://localhost:8000/v1")
    assert check.local and check.addresses


def test_allow_remote_is_recorded():
    check = require_local_endpoint("https://8.8.8.8/v1", allow_remote=True)
    assert check.allowed_remote and not check.local and check.to_dict()["reason"]


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://127.0.0.1/v1", "http:///v1", "http://127.0.0.1:99999/v1"])
def test_not_a_url(url):
    with pytest.raises(ConfigError, match="--endpoint"):
        check_endpoint(url)
