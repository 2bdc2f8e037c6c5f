"""The platform never calls its own networks: https only, every resolved address public, checked at
save and again at delivery (a name that resolves elsewhere by then is refused too)."""

import socket

import pytest

from callbacks import addresses
from callbacks.models import AttemptOutcome, CallbackAttempt
from callbacks.services import callbacks_deliver
from delivery.models import Message, MessageStatus
from tests.factories import CallbackEndpointFactory, MessageFactory


@pytest.fixture
def production(settings):
    settings.SMS_CALLBACK_ALLOW_PRIVATE = False


def public_dns(monkeypatch, *answers):
    """A DNS that answers `answers` for customer.example (one list of addresses per lookup, the last
    one repeated); other names and IP literals resolve as usual. Returns the names looked up."""
    answers = list(answers)
    real_getaddrinfo = socket.getaddrinfo
    lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "customer.example":
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        result = answers.pop(0) if len(answers) > 1 else answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in result]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",  # not https
        "https://127.0.0.1/hook",
        "https://localhost/hook",  # a name resolving to 127.0.0.1
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
        "https://[::1]/hook",
        "https://[fd00::1]/hook",  # unique-local
        "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",
        "ftp://example.com/hook",
        "https://user:pw@example.com/hook",
    ],
)
def test_urls_on_the_platforms_own_networks_are_refused_in_production(production, url):
    with pytest.raises(addresses.UnsafeUrl):
        addresses.url_check(url)


def test_a_name_with_any_private_address_is_refused(production, monkeypatch):
    public_dns(monkeypatch, ["93.184.215.14", "10.0.0.5"])
    with pytest.raises(addresses.UnsafeUrl, match="10.0.0.5"):
        addresses.url_check("https://customer.example/hook")


def test_a_public_https_url_is_accepted(production, monkeypatch):
    public_dns(monkeypatch, ["93.184.215.14"])
    addresses.url_check("https://customer.example/hook")


def test_development_allows_http_and_loopback(settings):
    settings.SMS_CALLBACK_ALLOW_PRIVATE = True
    addresses.url_check("http://127.0.0.1:8000/hook")
    addresses.url_check("http://localhost:8000/hook")


@pytest.mark.django_db
def test_a_name_that_turns_private_after_the_save_is_refused_at_delivery(
    production, monkeypatch, account, receiver
):
    # Saved while it resolved to a public address; by delivery time it resolves to loopback, where
    # our receiver listens (DNS rebinding). Nothing reaches it.
    port = receiver.url.split(":")[2].split("/")[0]
    CallbackEndpointFactory(account=account, url=f"https://customer.example:{port}/hooks/sms")
    public_dns(monkeypatch, ["127.0.0.1"])
    Message.objects.filter(pk=MessageFactory(account=account).pk).update(status=MessageStatus.DELIVERED)

    callbacks_deliver()

    assert receiver.requests == []
    attempt = CallbackAttempt.objects.get()
    assert attempt.outcome == AttemptOutcome.FAILED and "private" in attempt.error


@pytest.mark.django_db
def test_delivery_connects_to_the_address_it_checked(settings, monkeypatch, account, receiver):
    # One lookup only: a second answer (pointing elsewhere) is never asked for.
    settings.SMS_CALLBACK_ALLOW_PRIVATE = True
    port = receiver.url.split(":")[2].split("/")[0]
    CallbackEndpointFactory(account=account, url=f"http://customer.example:{port}/hooks/sms")
    lookups = public_dns(monkeypatch, ["127.0.0.1"], ["192.0.2.1"])
    Message.objects.filter(pk=MessageFactory(account=account).pk).update(status=MessageStatus.DELIVERED)

    callbacks_deliver()

    assert lookups == ["customer.example"]
    (request,) = receiver.requests
    assert request.headers["Host"] == f"customer.example:{port}"


def _certificates(tmp_path, name: str):
    """A throwaway CA, and a server certificate it signed for `name` (openssl, as a customer's CA)."""
    import subprocess

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "1", "-subj", "/CN=Test CA")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", f"/CN={name}")  # fmt: skip
    (tmp_path / "san.ext").write_text(f"subjectAltName=DNS:{name}\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "1", "-extfile", "san.ext")  # fmt: skip
    return tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key"


@pytest.fixture
def tls_receiver(request, tmp_path, monkeypatch):
    import ssl

    from tests.callbacks.receiver import Receiver

    ca, cert, key = _certificates(tmp_path, request.param)
    monkeypatch.setattr(addresses, "CA_BUNDLE", str(ca))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with Receiver(tls_context=context) as running:
        yield running


@pytest.mark.django_db
@pytest.mark.parametrize("tls_receiver", ["customer.example"], indirect=True)
def test_https_connects_to_the_checked_address_and_verifies_the_name(
    settings, monkeypatch, account, tls_receiver
):
    settings.SMS_CALLBACK_ALLOW_PRIVATE = True  # the receiver is on loopback; the scheme is https
    CallbackEndpointFactory(account=account, url=f"https://customer.example:{tls_receiver.port}/hooks/sms")
    public_dns(monkeypatch, ["127.0.0.1"])
    Message.objects.filter(pk=MessageFactory(account=account).pk).update(status=MessageStatus.DELIVERED)

    callbacks_deliver()

    (request,) = tls_receiver.requests
    assert request.headers["Host"] == f"customer.example:{tls_receiver.port}"
    assert CallbackAttempt.objects.get().outcome == AttemptOutcome.OK


@pytest.mark.django_db
@pytest.mark.parametrize("tls_receiver", ["someone-else.example"], indirect=True)
def test_https_refuses_a_certificate_for_another_name(settings, monkeypatch, account, tls_receiver):
    settings.SMS_CALLBACK_ALLOW_PRIVATE = True
    CallbackEndpointFactory(account=account, url=f"https://customer.example:{tls_receiver.port}/hooks/sms")
    public_dns(monkeypatch, ["127.0.0.1"])
    Message.objects.filter(pk=MessageFactory(account=account).pk).update(status=MessageStatus.DELIVERED)

    callbacks_deliver()

    assert tls_receiver.requests == []
    attempt = CallbackAttempt.objects.get()
    assert attempt.outcome == AttemptOutcome.FAILED and "Hostname mismatch" in attempt.error
