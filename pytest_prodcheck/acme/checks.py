"""The ACME checks of the suite: who issued the served certificate, how long it has left, whether
renewal works and whether it is scheduled. Each returns a :class:`CheckResult`.

    >>> served = fetch_served(("127.0.0.1", 8443), "shop.test", trust="pebble-roots.pem")
    >>> check_issuer([served], expected_issuer=None).status          # chains to the given roots
    'pass'
    >>> check_remaining_lifetime(served, min_fraction=1/3, min_days=14).observed
    '1826.0 of 1826.0 days left (100%)'
    >>> check_renewal_scheduled("0 3 * * * cd /srv && prodcheck ssl renew >> /var/log/ssl.log 2>&1")
    CheckResult(id='acme.renewal-scheduled', status='pass', ...)
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pytest_prodcheck.acme.certinfo import CertInfo, cert_info
from pytest_prodcheck.acme.policy import renewal_decision
from pytest_prodcheck.acme.service import RenewOutcome
from pytest_prodcheck.core.cron import max_gap_hours
from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable
from pytest_prodcheck.core.result import CheckResult

DEFAULT_EXPECTED_ISSUER = r"Let's Encrypt|\(STAGING\)"
RENEW_COMMANDS = re.compile(
    r"prodcheck\s+ssl\s+renew|certbot(-auto)?\s+renew|renew_ssl\.sh|make\s+renew-ssl"
    r"|acme\.sh\s+--cron"
)


@dataclass(frozen=True)
class ServedCertificate:
    name: str  # SNI sent
    info: CertInfo | None  # the leaf the server sent (None if the handshake failed outright)
    verified: bool  # the chain verified against ``trust`` and matched ``name``
    error: str = ""  # why verification (or the handshake) failed


def fetch_served(
    address: tuple[str, int], name: str, *, trust: str | Path | None = None, timeout: float = 5.0
) -> ServedCertificate:
    """Handshake with SNI ``name`` at ``address``; verify against ``trust`` (None: system store).

    The leaf is read even when verification fails (a second, non-verifying handshake).
    """
    ctx = ssl.create_default_context(cafile=str(trust) if trust else None)
    error = ""
    der: bytes | None = None
    try:
        with (
            socket.create_connection(address, timeout=timeout) as sock,
            ctx.wrap_socket(sock, server_hostname=name) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as exc:
        error = exc.verify_message or str(exc)
    except ssl.SSLError as exc:
        error = exc.reason or str(exc)
    except OSError as exc:
        raise TargetUnreachable(
            f"cannot connect to {address[0]}:{address[1]} for {name}: {exc.strerror or exc}"
        ) from None
    if der is None:
        raw = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        raw.check_hostname = False
        raw.verify_mode = ssl.CERT_NONE
        try:
            with (
                socket.create_connection(address, timeout=timeout) as sock,
                raw.wrap_socket(sock, server_hostname=name) as tls,
            ):
                der = tls.getpeercert(binary_form=True)
        except OSError as exc:
            error = error or str(exc)
    info = None
    if der:
        pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
        info = cert_info(pem)
    return ServedCertificate(name=name, info=info, verified=not error, error=error)


def lineage_samples(
    fullchain_pem: bytes,
    names: Sequence[str],
    *,
    trust: str | Path | None,
    now: dt.datetime | None = None,
) -> list[ServedCertificate]:
    """Judge a certificate on disk as a client would: verify its chain to ``trust`` per name.

    ``trust`` None means the system store (``ssl.get_default_verify_paths().cafile``).
    """
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    info = cert_info(fullchain_pem)
    chain = x509.load_pem_x509_certificates(fullchain_pem)
    cafile = str(trust) if trust else ssl.get_default_verify_paths().cafile
    try:
        roots = x509.load_pem_x509_certificates(Path(cafile).read_bytes()) if cafile else []
    except (OSError, ValueError) as exc:
        return [
            ServedCertificate(n, info, False, f"cannot read trust anchors: {exc}") for n in names
        ]
    builder = PolicyBuilder().store(Store(roots)) if roots else None
    if builder is not None and now is not None:
        builder = builder.time(now)
    out: list[ServedCertificate] = []
    for name in names:
        if builder is None:
            out.append(ServedCertificate(name, info, False, "no trust anchors"))
            continue
        try:
            builder.build_server_verifier(x509.DNSName(name)).verify(chain[0], chain[1:])
            out.append(ServedCertificate(name, info, True))
        except VerificationError as exc:
            out.append(ServedCertificate(name, info, False, str(exc).split(" (encountered")[0]))
    return out


def _root_subject(trust: str | Path | None) -> str:
    if not trust:
        return "the system trust store"
    try:
        certs = x509.load_pem_x509_certificates(Path(trust).read_bytes())
    except (OSError, ValueError):
        return str(trust)
    subjects = [c.subject.rfc4514_string() for c in certs[:2]]
    return " / ".join(subjects) + (" …" if len(certs) > 2 else "")


def check_issuer(
    served: Sequence[ServedCertificate],
    *,
    trust: str | Path | None = None,
    expected_issuer: str | None = DEFAULT_EXPECTED_ISSUER,
) -> CheckResult:
    """Every name's certificate chains to ``trust`` and its issuer matches ``expected_issuer``."""
    cid = "acme.issuer"
    anchor = _root_subject(trust)
    expected = f"chain verifies to {anchor}" + (
        f", issuer matches /{expected_issuer}/" if expected_issuer else ""
    )
    if not served:
        return CheckResult.errored(cid, "no host names to check", expected)
    problems: list[str] = []
    issuers: set[str] = set()
    for s in served:
        if s.info is not None:
            issuers.add(s.info.issuer)
        if not s.verified:
            problems.append(f"{s.name}: {s.error or 'not verified'}")
        elif expected_issuer and s.info and not re.search(expected_issuer, s.info.issuer):
            problems.append(f"{s.name}: issuer {s.info.issuer!r} is not the expected CA")
    observed = "; ".join(sorted(issuers)) or "no certificate"
    if problems:
        return CheckResult.failed(cid, observed, expected, "; ".join(problems)[:500])
    return CheckResult.passed(
        cid, observed, expected, f"{len(served)} name(s) verified against {anchor}"
    )


def check_remaining_lifetime(
    served: ServedCertificate,
    *,
    min_fraction: float = 1 / 3,
    min_days: float = 14,
    now: dt.datetime | None = None,
) -> CheckResult:
    """The served leaf has at least ``min_fraction`` of its lifetime and ``min_days`` left."""
    cid = "acme.remaining-lifetime"
    expected = f">= {min_fraction:.0%} of lifetime and >= {min_days:g} days left"
    if served.info is None:
        return CheckResult.errored(cid, f"{served.name}: no certificate ({served.error})", expected)
    info = served.info
    d = renewal_decision(info.not_before, info.not_after, now=now, fraction=min_fraction)
    observed = (
        f"{d.remaining_days:.1f} of {d.lifetime_days:.1f} days left ({d.fraction_left:.0%}), "
        f"expires {info.not_after:%Y-%m-%d}"
    )
    ok = not d.due and d.remaining_days >= min_days
    message = (
        "" if ok else f"{served.name}: {d.reason}: renewal is overdue - run `prodcheck ssl renew`"
    )
    return CheckResult.judge(cid, ok, observed, expected, message)


def check_renewal(results: Sequence[RenewOutcome]) -> CheckResult:
    """A renewal (dry run) obtained a certificate for every lineage."""
    cid = "acme.renewal"
    expected = "every lineage renews (dry run)"
    if not results:
        return CheckResult.errored(cid, "no certificate lineage to renew", expected)
    failed = [r for r in results if not r.ok]
    observed = "; ".join(f"{r.domain}: {r.action}" for r in results)
    if failed:
        return CheckResult.failed(
            cid, observed, expected, "; ".join(f"{r.domain}: {r.message}" for r in failed)[:500]
        )
    return CheckResult.passed(cid, observed, expected, "; ".join(r.message for r in results))


@dataclass(frozen=True)
class CronEntry:
    schedule: str  # the five fields or an @nickname
    command: str

    @property
    def max_gap_hours(self) -> float:
        """Longest time between two runs (inf for an invalid schedule)."""
        try:
            return max_gap_hours(self.schedule)  # @nicknames too
        except ConfigError:
            return float("inf")

    @property
    def daily_or_more(self) -> bool:
        """Runs at least once every day."""
        return self.max_gap_hours <= 24


def parse_crontab(text: str) -> list[CronEntry]:
    """The job lines of a user crontab (comments, blank lines and VAR=value lines skipped)."""
    entries: list[CronEntry] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s*=", line):
            continue
        if line.startswith("@"):
            nick, _, command = line.partition(" ")
            entries.append(CronEntry(nick, command.strip()))
            continue
        parts = line.split(None, 5)
        if len(parts) == 6:
            entries.append(CronEntry(" ".join(parts[:5]), parts[5]))
    return entries


def check_renewal_scheduled(crontab: str, *, source: str = "crontab") -> CheckResult:
    """A crontab job renews certificates at least daily (the guide: ``0 3 * * *``)."""
    cid = "acme.renewal-scheduled"
    expected = "a daily renewal job (0 3 * * * … ssl renew >> /var/log/ssl_renewal.log 2>&1)"
    jobs = [e for e in parse_crontab(crontab) if RENEW_COMMANDS.search(e.command)]
    if not jobs:
        return CheckResult.failed(
            cid,
            f"no renewal job in {source}",
            expected,
            "certificates will expire unrenewed: run `prodcheck cron install` "
            "(adds `0 3 * * * prodcheck ssl renew`)",
        )
    daily = [j for j in jobs if j.daily_or_more]
    observed = "; ".join(f"{j.schedule} {j.command}" for j in jobs)[:300]
    if not daily:
        return CheckResult.failed(
            cid,
            observed,
            expected,
            f"the renewal job in {source} does not run every day: schedule it daily (0 3 * * *)",
        )
    return CheckResult.passed(cid, observed, expected)


__all__ = [
    "DEFAULT_EXPECTED_ISSUER",
    "CronEntry",
    "ServedCertificate",
    "check_issuer",
    "check_remaining_lifetime",
    "check_renewal",
    "check_renewal_scheduled",
    "fetch_served",
    "lineage_samples",
    "parse_crontab",
]
