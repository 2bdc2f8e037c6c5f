"""Which callback URLs the platform may call, and calling one without being tricked into another.

A customer's URL must not make the platform reach its own networks (SSRF): production takes only
https:// URLs whose host resolves to public addresses. The check runs at save and again at every
delivery, and the delivery then connects to the very address it checked (never resolving twice), so
a DNS answer that changes between the check and the connection (rebinding) cannot redirect it.
Redirects are not followed. SMS_CALLBACK_ALLOW_PRIVATE (default: DEBUG) lets development and the
tests use http:// and loopback.
"""

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
from django.conf import settings
from django.utils.translation import gettext as _

# What a response is allowed to cost to read: the log keeps its first 200 characters.
MAX_RESPONSE_BYTES = 4096
EXCERPT_CHARS = 200
# The certificate authorities a customer's TLS certificate must chain to.
CA_BUNDLE = certifi.where()


class UnsafeUrl(Exception):
    """The URL may not be called; the message says why (shown to the customer)."""


def _allows_private() -> bool:
    return bool(settings.SMS_CALLBACK_ALLOW_PRIVATE)


def is_forbidden_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address of the platform's own networks (or of nobody): never a customer's endpoint."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private  # includes IPv6 unique-local fc00::/7
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (for Host and TLS)
    port: int
    path: str  # with the query string


def url_parse(url: str) -> Target:
    """The URL's parts, or UnsafeUrl for a scheme or form the platform does not call."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl(_("This is not a valid URL.")) from None
    allowed = ("https", "http") if _allows_private() else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeUrl(_("The callback URL must start with https://."))
    if not parts.hostname:
        raise UnsafeUrl(_("The callback URL needs a host name."))
    if parts.username or parts.password:
        raise UnsafeUrl(_("The callback URL may not contain a user name or password."))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    default_port = 443 if parts.scheme == "https" else 80
    return Target(scheme=parts.scheme, host=parts.hostname, port=port or default_port, path=path)


def addresses_resolve(target: Target) -> list[str]:
    """The host's addresses, every one checked; UnsafeUrl if any is one the platform may not call.

    All of them, not only the first: a name with one public and one private address could be
    answered either way at connection time."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeUrl(_("The host name of the callback URL could not be resolved.")) from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeUrl(_("The host name of the callback URL could not be resolved."))
    if not _allows_private():
        for raw in addresses:
            if is_forbidden_address(ipaddress.ip_address(raw.split("%")[0])):
                raise UnsafeUrl(
                    _("The callback URL resolves to a private or reserved address (%(address)s).")
                    % {"address": raw}
                )
    return addresses


def url_check(url: str) -> None:
    """Refuse (UnsafeUrl) a URL the platform would not call: at save, before anything is stored."""
    addresses_resolve(url_parse(url))


@dataclass(frozen=True)
class PostResult:
    response_code: int | None
    latency_ms: int
    excerpt: str
    error: str

    @property
    def is_ok(self) -> bool:
        return self.response_code is not None and 200 <= self.response_code < 300


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> PostResult:
    """POST `body` to `url` at a checked address; never raises for what the endpoint does.

    The socket is connected to the checked IP itself (no second lookup), then, for https, wrapped in
    TLS with the URL's host as SNI and as the name the certificate must match: TLS still proves it
    is the customer's server. `timeout` bounds the connection and each read, and the whole exchange
    is cut off after twice that: an endpoint that drips its answer a byte at a time holds a worker
    no longer than one that never answers (and never past the worker's lease on the endpoint)."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    def failed(error: str) -> PostResult:
        return PostResult(response_code=None, latency_ms=elapsed(), excerpt="", error=error[:500])

    try:
        target = url_parse(url)
        address = addresses_resolve(target)[0]
    except UnsafeUrl as exc:
        return failed(str(exc))
    default_port = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host  # an IPv6 literal
    host_header = host if target.port == default_port else f"{host}:{target.port}"
    timed_out = threading.Event()
    sock = None
    watchdog = None
    try:
        sock = socket.create_connection((address.split("%")[0], target.port), timeout=timeout)

        def cut_off():
            timed_out.set()
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        watchdog = threading.Timer(max(2 * timeout - (time.monotonic() - started), 0.01), cut_off)
        watchdog.daemon = True
        watchdog.start()
        if target.scheme == "https":
            context = ssl.create_default_context(cafile=CA_BUNDLE)
            sock = context.wrap_socket(sock, server_hostname=target.host)
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
        connection.sock = sock  # connected already: http.client does not resolve or connect again
        connection.request("POST", target.path, body=body, headers={**headers, "Host": host_header})
        response = connection.getresponse()
        raw = response.read(MAX_RESPONSE_BYTES)
        if timed_out.is_set():
            raise TimeoutError
        excerpt = raw.decode("utf-8", errors="replace")[:EXCERPT_CHARS]
        return PostResult(response_code=response.status, latency_ms=elapsed(), excerpt=excerpt, error="")
    except TimeoutError:
        return failed(_("Timed out after %(seconds)s s.") % {"seconds": timeout})
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if timed_out.is_set():
            return failed(_("Timed out after %(seconds)s s.") % {"seconds": timeout})
        return failed(f"{type(exc).__name__}: {exc}")
    finally:
        if watchdog is not None:
            watchdog.cancel()
        if sock is not None:
            sock.close()
