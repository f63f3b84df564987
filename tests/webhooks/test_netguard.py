"""The outbound address rule, and that it holds where the connection is made."""

from __future__ import annotations

import socket
import ssl
import urllib.error
import urllib.request

import pytest

from tasky import netguard
from tasky.netguard import AddressRefused, GuardedHTTPSConnection, check_address, guarded_opener
from tasky.webhooks.sender import send
from tests.webhooks.receivers import make_cert, receiver

ALWAYS = [
    ("169.254.169.254", "link-local (cloud metadata)"),
    ("169.254.0.1", "link-local (cloud metadata)"),
    ("fe80::1", "link-local"),
    ("fe80::1%lo", "link-local"),
    ("::ffff:169.254.169.254", "link-local (cloud metadata)"),
    ("::ffff:a9fe:a9fe", "link-local (cloud metadata)"),
    ("::169.254.169.254", "link-local (cloud metadata)"),
    ("64:ff9b::a9fe:a9fe", "link-local (cloud metadata)"),
    ("2002:a9fe:a9fe::1", "link-local (cloud metadata)"),
    ("fd00:ec2::254", "a cloud metadata address"),
    ("100.100.100.200", "a cloud metadata address"),
    ("0.0.0.0", "unspecified (this host)"),
    ("0.1.2.3", "unspecified (this host)"),
    ("::", "unspecified (this host)"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("255.255.255.255", "reserved (broadcast)"),
]
PRIVATE = [
    ("127.0.0.1", "loopback"),
    ("127.9.9.9", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "private (RFC 1918)"),
    ("172.16.0.1", "private (RFC 1918)"),
    ("172.31.255.255", "private (RFC 1918)"),
    ("192.168.1.1", "private (RFC 1918)"),
    ("::ffff:192.168.1.1", "private (RFC 1918)"),
    ("100.64.0.1", "shared address space (CGNAT)"),
    ("fd12:3456::1", "unique-local"),
    ("fec0::1", "site-local"),
    ("192.0.2.1", "not a public address"),
    ("2001:db8::1", "not a public address"),
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize(("ip", "reason"), ALWAYS)
@pytest.mark.parametrize("allow_private", [False, True])
def test_always_refused(ip, reason, allow_private):
    with pytest.raises(AddressRefused) as info:
        check_address(ip, allow_private)
    assert info.value.always and info.value.reason == reason and info.value.address.startswith(ip)
    assert str(info.value).endswith(f"is {reason}; always refused")


@pytest.mark.parametrize(("ip", "reason"), PRIVATE)
def test_private_refused_unless_allowed(ip, reason):
    with pytest.raises(AddressRefused) as info:
        check_address(ip, allow_private=False)
    assert not info.value.always and info.value.reason == reason
    assert str(info.value).endswith(f"is {reason}; refused unless private addresses are allowed")
    check_address(ip, allow_private=True)


@pytest.mark.parametrize("ip", PUBLIC)
def test_public_addresses_pass(ip):
    check_address(ip, allow_private=False)


def test_the_message_names_the_address_and_what_it_leads_to():
    with pytest.raises(AddressRefused) as info:
        check_address("169.254.169.254", allow_private=True)
    assert str(info.value) == "169.254.169.254 is link-local (cloud metadata); always refused"
    with pytest.raises(AddressRefused) as info:
        check_address("::ffff:169.254.169.254", allow_private=True)
    assert str(info.value) == (
        "::ffff:169.254.169.254 (leading to 169.254.169.254) is link-local (cloud metadata);"
        " always refused"
    )


def test_a_refusal_is_an_oserror():
    assert issubclass(AddressRefused, OSError)


@pytest.mark.timeout(30)
def test_a_name_is_checked_after_resolution():
    with pytest.raises(AddressRefused, match=r"127\.0\.0\.1 is loopback"):
        netguard.connect(("localhost", 1), 5, allow_private=False)


@pytest.fixture
def resolver(monkeypatch):
    """Make ``getaddrinfo`` answer ``answers[name]`` (a list of lists of IPv4 addresses,
    one per call: a name whose DNS answer changes); ``calls`` counts its calls."""
    answers: dict[str, list[list[str]]] = {}
    calls: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        calls.append(host)
        ips = answers[host][min(len(calls), len(answers[host])) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in ips]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, calls


@pytest.mark.timeout(30)
def test_the_checked_address_is_the_one_connected_to(resolver):
    """A name that resolves to an allowed address, then to the metadata service, reaches
    the first: the connection never asks the resolver again."""
    answers, calls = resolver
    answers["rebind.test"] = [["127.0.0.1"], ["169.254.169.254"]]
    with receiver() as hook:
        port = hook.url.rsplit(":", 1)[1]
        answer = send(f"http://rebind.test:{port}/", b"{}", {}, timeout=5, allow_private=True)
    assert answer.delivered and calls == ["rebind.test"]
    assert hook.received[0].headers["Host"] == f"rebind.test:{port}"


@pytest.mark.timeout(30)
def test_one_refused_address_of_a_name_refuses_the_name(resolver):
    answers, _ = resolver
    answers["mixed.test"] = [["8.8.8.8", "10.0.0.1"]]
    with pytest.raises(AddressRefused, match=r"10\.0\.0\.1 is private"):
        netguard.connect(("mixed.test", 80), 5, allow_private=False)


@pytest.mark.timeout(30)
def test_opener_refuses_without_the_setting_and_calls_with_it():
    with receiver() as hook:
        with pytest.raises(urllib.error.URLError) as info:
            guarded_opener(False, follow_redirects=True).open(hook.url + "/", timeout=5)
        assert isinstance(info.value.reason, AddressRefused)
        assert hook.received == []
        with guarded_opener(True, follow_redirects=True).open(hook.url + "/", timeout=5) as r:
            assert r.status == 200 and r.read() == b"ok"


@pytest.mark.timeout(30)
def test_each_redirect_hop_is_checked():
    with receiver() as hook:
        hook.answers["/meta"] = (302, {"Location": "http://169.254.169.254/latest/"}, b"")
        with pytest.raises(urllib.error.URLError) as info:
            guarded_opener(True, follow_redirects=True).open(hook.url + "/meta", timeout=5)
    assert isinstance(info.value.reason, AddressRefused)
    assert info.value.reason.address == "169.254.169.254"


@pytest.mark.timeout(30)
def test_redirects_are_followed_only_when_asked():
    with receiver() as target, receiver() as hook:
        hook.answers["/go"] = (302, {"Location": target.url + "/there"}, b"")
        with guarded_opener(True, follow_redirects=True).open(hook.url + "/go", timeout=5) as r:
            assert r.status == 200
        assert target.paths() == ["/there"]
        with pytest.raises(urllib.error.HTTPError) as info:
            guarded_opener(True, follow_redirects=False).open(hook.url + "/go", timeout=5)
        info.value.close()
        assert info.value.code == 302 and target.paths() == ["/there"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "data:,x"])
def test_the_opener_opens_only_http_urls(url):
    with pytest.raises(urllib.error.URLError, match="unknown url type"):
        guarded_opener(True, follow_redirects=True).open(url, timeout=5)


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.mark.timeout(30)
def test_tls_names_the_host_and_checks_its_certificate(cert):
    context = ssl.create_default_context(cafile=str(cert))
    with receiver(tls_cert=cert) as hook:
        port = int(hook.url.rsplit(":", 1)[1])
        conn = GuardedHTTPSConnection("localhost", port, context=context, allow_private=True)
        conn.request("GET", "/")
        with conn.getresponse() as response:
            assert response.status == 200 and response.read() == b"ok"
        conn.close()
        assert hook.server_names == ["localhost"]
        assert hook.received[0].headers["Host"] == f"localhost:{port}"
        wrong = GuardedHTTPSConnection("127.0.0.1", port, context=context, allow_private=True)
        with pytest.raises(ssl.SSLCertVerificationError):
            wrong.request("GET", "/")
        wrong.close()
    assert len(hook.received) == 1


@pytest.mark.timeout(30)
def test_the_opener_and_the_sender_speak_tls(cert, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with receiver(tls_cert=cert) as hook:
        with guarded_opener(True, follow_redirects=False).open(hook.url + "/a", timeout=5) as r:
            assert r.status == 200
        answer = send(hook.url + "/b", b"{}", {}, timeout=5, allow_private=True)
        assert answer.delivered, answer.error
        refused = send(hook.url + "/c", b"{}", {}, timeout=5, allow_private=False)
    assert refused.error.startswith("refused: 127.0.0.1 is loopback")
    assert hook.paths() == ["/a", "/b"]


def test_the_settings_are_off_by_default_and_read_from_the_environment():
    from tasky.config import Settings

    default = Settings.from_env({})
    assert not default.webhook_allow_private and not default.http_allow_private
    both = Settings.from_env({"TASKY_WEBHOOK_ALLOW_PRIVATE": "1", "TASKY_HTTP_ALLOW_PRIVATE": "on"})
    assert both.webhook_allow_private and both.http_allow_private
