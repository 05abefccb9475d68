"""What a site check needs to know about one site: URLs, names, how to reach them, expectations.

    >>> t = SiteTarget.from_args("https://shop.test:8443", http_url="http://shop.test:8080",
    ...                          resolve=["shop.test:8443:127.0.0.1"], names=["www.shop.test"])
    >>> t.apex, t.port, t.names, t.www
    ('shop.test', 8443, ('shop.test', 'www.shop.test'), 'www.shop.test')
    >>> t.address("shop.test", 8443), t.address("shop.test", 8080)   # same host, other port: same addr
    ('127.0.0.1', '127.0.0.1')
    >>> t.url_for("/cart?x=1", host="www.shop.test")
    'https://www.shop.test:8443/cart?x=1'

``resolve`` works like curl's ``--resolve HOST:PORT:ADDR``: connect to ADDR while sending HOST as
SNI and ``Host``. A host with an entry for another port uses that entry's address too (the local
stack lists its HTTPS port only); ``'*.shop.example.com:*:10.0.0.5'`` covers every name and port
(:mod:`pytest_prodcheck.core.resolve`). Build it from the stack's :class:`Endpoints` with
:meth:`SiteTarget.from_endpoints`, or from CLI arguments with :meth:`SiteTarget.from_args`.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.resolve import ResolveEntry, ResolveMap, parse_resolve

if TYPE_CHECKING:
    from pytest_prodcheck.config import Settings
    from pytest_prodcheck.stack.endpoints import Endpoints

CIPHER_PROFILES = ("modern", "intermediate", "old")


@dataclass(frozen=True)
class Expectations:
    """The thresholds the checks judge against (defaults: the deployment guide's numbers)."""

    min_days: int = 14
    min_lifetime_fraction: float = 0.3333
    cipher_profile: str = "intermediate"
    hsts_min_age: int = 63072000
    general_rate: int = 10
    api_rate: int = 30
    body_limit_bytes: int = 1048576

    @classmethod
    def from_settings(cls, settings: Settings | None) -> Expectations:
        """Take ``[tls]`` and ``[http]`` from :class:`~pytest_prodcheck.config.Settings`."""
        if settings is None:
            return cls()
        tls, http = settings.tls, settings.http
        return cls(
            min_days=tls.min_days,
            min_lifetime_fraction=tls.min_lifetime_fraction,
            cipher_profile=tls.cipher_profile,
            hsts_min_age=tls.hsts_min_age,
            general_rate=http.general_rate,
            api_rate=http.api_rate,
            body_limit_bytes=http.body_limit_bytes,
        )


@dataclass(frozen=True)
class SiteTarget:
    """One site: ``url`` (https base URL, host = apex), where plain HTTP is, names, resolve map."""

    url: str
    http_url: str
    names: tuple[str, ...]
    www: str | None = None
    api: str | None = None
    resolve: tuple[
        ResolveEntry, ...
    ] = ()  # (host, port, addr); host may be "*.domain", port 0 = any
    ca_bundle: str | None = None
    static_path: str = "/static/app.css"
    api_path: str = "/api/products"
    expect: Expectations = field(default_factory=Expectations)
    # source address for the rate-limit probe; None = a fresh 127.x.y.z when the site is loopback
    rate_limit_source: str | None = None
    # True when the site sees every client under one address whatever we bind to (a NAT or proxy
    # in between, e.g. docker-proxy): the rate-limit probe then drains its buckets before returning
    shared_client_address: bool = False
    timeout: float = 5.0

    # -- parts of the URL -------------------------------------------------------------------------
    @property
    def apex(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 443

    @property
    def http_port(self) -> int:
        return urlsplit(self.http_url).port or 80

    @property
    def http_host(self) -> str:
        return urlsplit(self.http_url).hostname or self.apex

    def address(self, host: str, port: int) -> str:
        """Where to connect for ``host:port``: its resolve entry; for the plain-HTTP port, the
        ``http_url``'s host when it is not the apex (``--http-url http://10.0.0.5``); another
        entry of host; or host (DNS)."""
        for h, p, addr in self.resolve:
            if h == host and p == port:
                return addr
        http_host = self.http_host
        if port == self.http_port and http_host not in (self.apex, host) and host in self.names:
            return self.address(http_host, port)  # http_host itself: the ordinary lookups below
        return ResolveMap(self.resolve).address(host, port)

    def url_for(self, path: str, *, host: str | None = None, scheme: str = "https") -> str:
        """An absolute URL on this site (``host`` defaults to the apex) keeping the port."""
        host = host or self.apex
        port = self.port if scheme == "https" else self.http_port
        default = 443 if scheme == "https" else 80
        netloc = host if port == default else f"{host}:{port}"
        if not path.startswith("/"):
            path = "/" + path
        return f"{scheme}://{netloc}{path}"

    @property
    def api_url(self) -> str:
        """The API path, on the api host when one is configured."""
        return self.url_for(self.api_path, host=self.api or self.apex)

    @property
    def is_loopback(self) -> bool:
        """True when the site's address is a loopback IP (the rate probe can pick its own)."""
        addr = self.address(self.apex, self.port)
        if addr == "localhost":
            return True
        try:
            return ipaddress.ip_address(addr).is_loopback
        except ValueError:
            return False

    def with_expectations(self, **changes: object) -> SiteTarget:
        """A copy with some thresholds changed: ``t.with_expectations(min_days=30)``."""
        return replace(self, expect=replace(self.expect, **changes))  # type: ignore[arg-type]

    # -- constructors -----------------------------------------------------------------------------
    @classmethod
    def from_args(
        cls,
        url: str,
        *,
        http_url: str | None = None,
        resolve: Iterable[str] = (),
        ca_bundle: str | None = None,
        names: Sequence[str] = (),
        www: str | None = None,
        api: str | None = None,
        static_path: str = "/static/app.css",
        api_path: str = "/api/products",
        expect: Expectations | None = None,
        rate_limit_source: str | None = None,
    ) -> SiteTarget:
        """Validate plain arguments (CLI, config) into a target; bad input raises ConfigError.

        ``names`` are extra host names the certificate must cover; ``www.<apex>`` and
        ``api.<apex>`` among them are taken as the www and API hosts unless given explicitly.
        """
        parts = _check_url(url, "https", "URL")
        apex = parts.hostname or ""
        if http_url is None:
            http_url = f"http://{_netloc_host(apex)}"
        else:
            _check_url(http_url, "http", "--http-url")
        entries = tuple(parse_resolve(e) for e in resolve)
        if ca_bundle is not None:
            if not os.path.isfile(ca_bundle):
                raise ConfigError(f"CA bundle {ca_bundle} does not exist: pass a PEM file")
            try:
                with open(ca_bundle, "rb") as fh:
                    head = fh.read(1 << 20)
            except OSError as exc:
                raise ConfigError(f"CA bundle {ca_bundle} is not readable: {exc.strerror}") from exc
            if b"-----BEGIN CERTIFICATE-----" not in head:
                raise ConfigError(f"CA bundle {ca_bundle} holds no PEM certificate")
        all_names: list[str] = [apex]
        for n in names:
            n = n.strip().lower().rstrip(".")
            if not n or not _valid_hostname(n):
                raise ConfigError(f"--name {n!r} is not a host name")
            if n not in all_names:
                all_names.append(n)
        if www is None and f"www.{apex}" in all_names:
            www = f"www.{apex}"
        if api is None and f"api.{apex}" in all_names:
            api = f"api.{apex}"
        for extra in (www, api):
            if extra and extra not in all_names:
                all_names.append(extra)
        for path, what in ((static_path, "static path"), (api_path, "API path")):
            if not path.startswith("/"):
                raise ConfigError(f"{what} {path!r} must start with '/'")
        return cls(
            url=url.rstrip("/"),
            http_url=http_url.rstrip("/"),
            names=tuple(all_names),
            www=www,
            api=api,
            resolve=entries,
            ca_bundle=ca_bundle,
            static_path=static_path,
            api_path=api_path,
            expect=expect or Expectations(),
            rate_limit_source=rate_limit_source,
        )

    @classmethod
    def from_endpoints(
        cls, ep: Endpoints, settings: Settings | None = None, extra_names: Sequence[str] = ()
    ) -> SiteTarget:
        """The site a stack provider started (or the configured external one); ``extra_names``
        are more names the certificate must cover (``prodcheck tls check --name``)."""
        url = ep.require("site_url", key="url")
        names = [n for n in (ep.www, ep.api, ep.monitoring) if n] + list(extra_names)
        return cls.from_args(
            url,
            http_url=ep.http_url,
            resolve=ep.resolve,
            ca_bundle=ep.ca_bundle,
            names=names,
            www=ep.www,
            api=ep.api,
            static_path=ep.static_path,
            api_path=ep.api_path,
            expect=Expectations.from_settings(settings),
        ).with_shared_client_address(ep.extras.get("rate_limit_shared") == "1")

    def with_shared_client_address(self, shared: bool = True) -> SiteTarget:
        """A copy whose clients all look alike to the site (see ``shared_client_address``)."""
        return replace(self, shared_client_address=shared)


def _check_url(url: str, scheme: str, what: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a bad port
    except ValueError as exc:
        raise ConfigError(f"{what} {url!r} is not a valid URL ({exc})") from None
    if parts.scheme != scheme or not parts.hostname:
        raise ConfigError(
            f"{what} {url!r} must be an {scheme}:// URL with a host, e.g. {scheme}://shop.example.com"
        )
    if parts.path not in ("", "/") or parts.query:
        raise ConfigError(f"{what} {url!r} must be a base URL without a path")
    del port
    return parts


def _netloc_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _valid_hostname(name: str) -> bool:
    if len(name) > 253:
        return False
    labels = name.split(".")
    return all(0 < len(lb) <= 63 and all(c.isalnum() or c in "-*_" for c in lb) for lb in labels)
