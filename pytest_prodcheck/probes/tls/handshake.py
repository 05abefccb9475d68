"""One TLS handshake with a chosen SNI name, honouring the resolve map (curl ``--resolve``).

    >>> hs = handshake(target, "www.shop.test", alpn=("h2", "http/1.1"))
    >>> hs.ok, hs.alpn, hs.version
    (True, 'h2', 'TLSv1.3')
    >>> hs.leaf.subject.rfc4514_string()
    'CN=shop.test,O=pytest-prodcheck'

Certificates are *not* verified here (the chain, hostname and expiry checks judge them), and the
cipher list admits everything the local OpenSSL still has, so a handshake shows what the server
sends even when it is misconfigured. A failed handshake comes back as ``ok=False`` with the
reason; only :func:`open_tcp` (and :func:`require_reachable`, the suites' one probe per run)
raise TargetUnreachable when nothing listens.
"""

from __future__ import annotations

import functools
import socket
import ssl
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from pytest_prodcheck.core.errors import TargetUnreachable
from pytest_prodcheck.probes.tls.target import SiteTarget


@dataclass(frozen=True)
class Handshake:
    name: str
    ok: bool
    error: str = ""
    leaf: x509.Certificate | None = None
    alpn: str | None = None
    version: str | None = None
    cipher: str | None = None


def open_tcp(
    target: SiteTarget,
    host: str,
    port: int,
    *,
    timeout: float | None = None,
    source_address: str | None = None,
) -> socket.socket:
    """A TCP connection to ``host:port`` via the resolve map; TargetUnreachable on failure."""
    addr = target.address(host, port)
    timeout = target.timeout if timeout is None else timeout
    try:
        return socket.create_connection(
            (addr, port),
            timeout=timeout,
            source_address=(source_address, 0) if source_address else None,
        )
    except socket.gaierror:
        raise TargetUnreachable(
            f"{host} does not resolve: fix DNS or pass --resolve {host}:{port}:ADDR"
        ) from None
    except TimeoutError:
        raise TargetUnreachable(f"{host}:{port} ({addr}) timed out after {timeout:g} s") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise TargetUnreachable(f"cannot connect to {host}:{port} ({addr}): {reason}") from None


def require_reachable(target: SiteTarget, *, timeout: float | None = None) -> None:
    """One TCP connection to the site's HTTPS port; TargetUnreachable (one line) when none.

    >>> require_reachable(SiteTarget.from_args("https://shop.test:1", resolve=["shop.test:1:127.0.0.1"]))
    Traceback (most recent call last):
    pytest_prodcheck.core.errors.TargetUnreachable: cannot connect to shop.test:1 (127.0.0.1): Connection refused
    """
    open_tcp(target, target.apex, target.port, timeout=timeout).close()


def client_context(alpn: Sequence[str] = ()) -> ssl.SSLContext:
    """A non-verifying client context that accepts whatever the local OpenSSL can still speak.

    Built once per ALPN list (contexts are thread-safe to share).
    """
    return _context(tuple(alpn))


@functools.lru_cache(maxsize=8)
def _context(alpn: tuple[str, ...]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1 is deprecated: we know
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):  # pragma: no cover - an OpenSSL without these
        pass
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def handshake(
    target: SiteTarget, name: str, *, alpn: Sequence[str] = (), port: int | None = None
) -> Handshake:
    """Handshake with SNI ``name`` on the site's HTTPS port (connect errors raise)."""
    port = target.port if port is None else port
    sock = open_tcp(target, name, port)
    try:
        try:
            tls = client_context(alpn).wrap_socket(sock, server_hostname=name)
        except (ssl.SSLError, OSError) as exc:
            return Handshake(name, False, error=_ssl_reason(exc))
        with tls:
            der = tls.getpeercert(binary_form=True)
            leaf = x509.load_der_x509_certificate(der) if der else None
            cipher = tls.cipher()
            return Handshake(
                name,
                True,
                leaf=leaf,
                alpn=tls.selected_alpn_protocol(),
                version=tls.version(),
                cipher=cipher[0] if cipher else None,
            )
    finally:
        sock.close()


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return f"TLS handshake failed: {exc.reason.lower().replace('_', ' ')}"
    if isinstance(exc, TimeoutError):
        return "TLS handshake timed out"
    return f"TLS handshake failed: {getattr(exc, 'strerror', None) or exc}"
