"""What a site tells about itself: certificate names, which of them answer, plain HTTP, a static file.

    >>> d = discover_site("https://shop.example.com", resolve=["*.shop.example.com:*:10.0.0.5"])
    >>> d.cert_names
    ('shop.example.com', 'www.shop.example.com', 'api.shop.example.com')
    >>> [(n.name, n.answers) for n in d.names]
    [('www.shop.example.com', True), ('api.shop.example.com', False)]
    >>> d.http_url, d.static_path, d.trusted
    ('http://shop.example.com', '/static/app.css', True)

Used by ``prodcheck init`` to write a first ``prodcheck.toml``. Read-only and quick (a handful of
handshakes and requests). An unreachable HTTPS port, or a site whose TLS handshake fails, raises
:class:`~pytest_prodcheck.core.errors.TargetUnreachable`; everything else is recorded.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509

from pytest_prodcheck.core.errors import ProdcheckError, TargetUnreachable
from pytest_prodcheck.probes.http.client import fetch
from pytest_prodcheck.probes.tls.handshake import handshake, open_tcp
from pytest_prodcheck.probes.tls.target import SiteTarget

# the [site] keys the suite knows, as prefixes of the apex
SITE_PREFIXES = ("www", "api", "monitoring")
HTTP_PORT_CANDIDATES = (80, 8080)
_ASSET = re.compile(r"""(?:href|src)\s*=\s*["'](/[^"'?#]+\.(?:css|js))["'?#]""", re.IGNORECASE)


@dataclass(frozen=True)
class NameProbe:
    """One host name of the certificate: does a TLS handshake with it as SNI succeed?"""

    name: str
    answers: bool
    detail: str  # "TLSv1.3 handshake" or why not


@dataclass(frozen=True)
class SiteDiscovery:
    url: str
    apex: str
    cert_names: tuple[str, ...]  # SAN DNS names as the apex's certificate lists them
    names: tuple[NameProbe, ...]  # every other name the certificate covers, probed
    http_url: str | None  # where plain HTTP answered (None: nowhere that was tried)
    http_detail: str
    static_path: str | None  # a CSS/JS file the home page links to, that answers 200
    trusted: bool  # the chain verifies against the CA bundle (or the system store)
    trust_detail: str

    def answering(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.names if n.answers)

    def site_name(self, prefix: str) -> str | None:
        """``"www"`` → ``"www.<apex>"`` when that name is covered and answers, else None."""
        name = f"{prefix}.{self.apex}"
        return name if name in self.answering() else None


def cert_dns_names(cert: x509.Certificate) -> tuple[str, ...]:
    """The certificate's SAN DNS names (the CN when it has no SAN), lower-case, in order."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [n.lower() for n in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        names = [str(cns[0].value).lower()] if cns else []
    return tuple(dict.fromkeys(names))


def covered(name: str, cert_names: Iterable[str]) -> bool:
    """True when ``name`` matches a certificate name (``*.d`` covers one label under ``d``)."""
    for pattern in cert_names:
        if pattern == name:
            return True
        suffix = pattern[1:]  # ".example.com" of "*.example.com"
        if pattern.startswith("*.") and name.endswith(suffix) and "." not in name[: -len(suffix)]:
            return True
    return False


def candidate_names(apex: str, cert_names: Sequence[str]) -> tuple[str, ...]:
    """Names to probe: the certificate's own (no wildcards), then www/api/monitoring.<apex> that
    a wildcard covers; the apex itself excluded."""
    out = [n for n in cert_names if not n.startswith("*") and n != apex]
    out += [f"{p}.{apex}" for p in SITE_PREFIXES if covered(f"{p}.{apex}", cert_names)]
    return tuple(dict.fromkeys(out))


def probe_name(target: SiteTarget, name: str) -> NameProbe:
    try:
        hs = handshake(target, name)
    except TargetUnreachable as exc:
        return NameProbe(name, False, str(exc))
    if not hs.ok:
        return NameProbe(name, False, hs.error)
    return NameProbe(name, True, f"{hs.version} handshake")


def find_http(
    target: SiteTarget, http_url: str | None, candidates: Sequence[int] = HTTP_PORT_CANDIDATES
) -> tuple[str | None, str]:
    """``(http_url, detail)``: the given URL if it answers, else the first candidate port that
    answers plain HTTP for the apex (None when none does)."""
    urls = (
        [http_url.rstrip("/")]
        if http_url
        else [
            f"http://{target.apex}" if p == 80 else f"http://{target.apex}:{p}" for p in candidates
        ]
    )
    tried: list[str] = []
    for url in urls:
        probe = SiteTarget.from_args(
            target.url, http_url=url, resolve=[str(e) for e in target.resolve]
        )
        try:
            response = fetch(probe, probe.url_for("/", scheme="http"))
        except ProdcheckError as exc:
            tried.append(f"{url}: {exc}")
            continue
        return url, f"{url}/ answered {response.status}"
    return None, "no plain HTTP: " + "; ".join(tried)


def find_static(target: SiteTarget) -> str | None:
    """A same-site CSS/JS path the home page links to that answers 200 (None if none)."""
    try:
        home = fetch(target, target.url_for("/"), headers={"Accept-Encoding": "identity"})
    except ProdcheckError:
        return None
    text = home.body[:200_000].decode("utf-8", "replace")
    for path in dict.fromkeys(_ASSET.findall(text)):
        try:
            if fetch(target, target.url_for(path), method="HEAD").status == 200:
                return str(path)
        except ProdcheckError:
            continue
    return None


def verify_chain(target: SiteTarget) -> tuple[bool, str]:
    """Does a verifying client (the CA bundle, else the system store) accept the apex's chain?"""
    ctx = ssl.create_default_context(cafile=target.ca_bundle)
    anchor = f"CA bundle {target.ca_bundle}" if target.ca_bundle else "the system trust store"
    sock = open_tcp(target, target.apex, target.port)
    try:
        with ctx.wrap_socket(sock, server_hostname=target.apex):
            return True, f"verifies against {anchor}"
    except ssl.SSLCertVerificationError as exc:
        return False, f"does not verify against {anchor}: {exc.verify_message}"
    except (ssl.SSLError, OSError) as exc:
        return False, f"verification handshake failed: {exc}"
    finally:
        sock.close()


def discover_site(
    url: str,
    *,
    resolve: Iterable[str] = (),
    ca_bundle: str | None = None,
    http_url: str | None = None,
) -> SiteDiscovery:
    """Probe ``url`` (an https base URL); bad arguments raise ConfigError."""
    target = SiteTarget.from_args(url, resolve=resolve, ca_bundle=ca_bundle)
    apex = target.apex
    hs = handshake(target, apex)  # TargetUnreachable when nothing listens
    if not hs.ok or hs.leaf is None:
        raise TargetUnreachable(
            f"TLS handshake with {apex}:{target.port} ({target.address(apex, target.port)}) "
            f"failed: {hs.error or 'no certificate'}; is {url} an HTTPS port?"
        )
    cert_names = cert_dns_names(hs.leaf)
    names = tuple(probe_name(target, n) for n in candidate_names(apex, cert_names))
    found_http, http_detail = find_http(target, http_url)
    trusted, trust_detail = verify_chain(target)
    return SiteDiscovery(
        url=target.url,
        apex=apex,
        cert_names=cert_names,
        names=names,
        http_url=found_http,
        http_detail=http_detail,
        static_path=find_static(target),
        trusted=trusted,
        trust_detail=trust_detail,
    )


def default_http_url(url: str) -> str:
    """``https://shop.example.com:8443`` → ``http://shop.example.com`` (the suite's default)."""
    host = urlsplit(url).hostname or ""
    return f"http://{host}"


__all__ = [
    "NameProbe",
    "SiteDiscovery",
    "candidate_names",
    "cert_dns_names",
    "covered",
    "default_http_url",
    "discover_site",
    "find_http",
    "find_static",
    "verify_chain",
]
