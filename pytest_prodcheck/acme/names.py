"""Which names go into the certificate, checked before anything is sent to the CA.

    >>> certificate_names("shop.example.com")
    ('shop.example.com', 'www.shop.example.com', 'api.shop.example.com', \
'monitoring.shop.example.com')
    >>> certificate_names("Shop.Example.com", extra=["cdn"], defaults=False)
    ('shop.example.com', 'cdn.shop.example.com')
    >>> validate_domain("shop")
    Traceback (most recent call last):
    ...
    pytest_prodcheck.acme.errors.InvalidDomain: invalid domain 'shop': a certificate name needs \
at least two labels (e.g. example.com)

The guide's SSL setup covers the apex and its ``www``, ``api`` and ``monitoring`` subdomains.
An extra name without a dot is taken as a subdomain of the apex; one with a dot is used as is.
Validation follows what Let's Encrypt accepts (LDH labels, ≤ 63 chars each, ≤ 253 total, no IP
addresses, no wildcards: HTTP-01 cannot validate them).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from pytest_prodcheck.acme.errors import InvalidDomain

DEFAULT_SUBDOMAINS: tuple[str, ...] = ("www", "api", "monitoring")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def validate_domain(name: str) -> str:
    """Return ``name`` lower-cased (trailing dot removed) or raise :class:`InvalidDomain`."""
    raw = name
    name = name.strip().lower().rstrip(".")
    why = _problem(name)
    if why:
        raise InvalidDomain(f"invalid domain {raw!r}: {why}")
    return name


def _problem(name: str) -> str:
    if not name:
        return "the name is empty"
    if name.startswith("*"):
        return "wildcard names need a DNS-01 challenge; this tool answers HTTP-01 only"
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return "an IP address, not a domain name"
    if len(name) > 253:
        return f"{len(name)} characters, at most 253 allowed"
    labels = name.split(".")
    if len(labels) < 2:
        return "a certificate name needs at least two labels (e.g. example.com)"
    for label in labels:
        if not label:
            return "empty label (two dots in a row)"
        if len(label) > 63:
            return f"label {label[:20]!r}... is {len(label)} characters, at most 63 allowed"
        if not _LABEL.match(label):
            return (
                f"label {label!r} may only hold letters, digits and inner hyphens "
                "(use the punycode xn-- form for international names)"
            )
    if labels[-1].isdigit():
        return "the top-level label is numeric"
    return ""


def certificate_names(
    domain: str, extra: Iterable[str] = (), *, defaults: bool = True
) -> tuple[str, ...]:
    """The validated, de-duplicated names: apex first, then default subdomains, then extras."""
    apex = validate_domain(domain)
    wanted: list[str] = [apex]
    if defaults:
        wanted += [f"{sub}.{apex}" for sub in DEFAULT_SUBDOMAINS]
    for name in extra:
        stripped = name.strip().rstrip(".")
        if stripped and "." not in stripped:
            stripped = f"{stripped}.{apex}"
        wanted.append(validate_domain(stripped or name))
    seen: dict[str, None] = {}
    for name in wanted:
        seen.setdefault(name, None)
    if len(seen) > 100:
        raise InvalidDomain(f"{len(seen)} names: a certificate holds at most 100")
    return tuple(seen)


__all__ = ["DEFAULT_SUBDOMAINS", "certificate_names", "validate_domain"]
