"""Where certificates live on disk: one lineage per domain, written atomically.

    >>> store = LineageStore(Path("/etc/prodcheck/ssl"))
    >>> previous = store.install("shop.test", fullchain_pem, privkey_pem)
    >>> store.fullchain_path("shop.test")          # .../live/shop.test/fullchain.pem
    >>> store.restore("shop.test", previous)       # put the old files back (e.g. reload failed)

Layout::

    live/DOMAIN/fullchain.pem    what the web server serves (leaf + intermediate)
    live/DOMAIN/privkey.pem      its key, mode 0600
    live/DOMAIN/cert.pem         the leaf alone; chain.pem the intermediate(s) alone (certbot's
                                 names: nginx's ``ssl_trusted_certificate`` for OCSP stapling)
    archive/DOMAIN/0001/…        every version ever installed (the previous lineage is kept)
    renewal/DOMAIN.json          how to renew it (directory, names, webroot, key type, …)
    accounts/HOST/account.json   ACME account key per CA (mode 0600)

Each file is replaced atomically (:func:`~pytest_prodcheck.core.files.replace_file`: temp file in
the same directory, fsynced, renamed over the old one), so a reader sees either the old or the
new file, never a partial one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from pytest_prodcheck.acme.errors import AcmeError
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.files import replace_file

FULLCHAIN = "fullchain.pem"
PRIVKEY = "privkey.pem"
CERT = "cert.pem"
CHAIN = "chain.pem"
_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", re.S)


def split_chain(fullchain: bytes) -> tuple[bytes, bytes]:
    """``(cert.pem, chain.pem)`` of a full chain: the leaf, and the certificates after it."""
    blocks = _PEM_BLOCK.findall(fullchain)
    if not blocks:
        return fullchain, b""
    return _nl(blocks[0]), b"".join(_nl(b) for b in blocks[1:])


def _nl(block: bytes) -> bytes:
    return block if block.endswith(b"\n") else block + b"\n"


@dataclass(frozen=True)
class RenewalConfig:
    """Everything ``ssl renew`` needs to obtain the next certificate of a lineage."""

    domain: str
    names: tuple[str, ...]
    directory: str
    webroot: str
    email: str | None = None
    key_type: str = "ecdsa"
    ca_bundle: str | None = None  # verifies the ACME server's API certificate
    reload_command: tuple[str, ...] = ()
    extras: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        data["names"] = list(self.names)
        data["reload_command"] = list(self.reload_command)
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "") -> RenewalConfig:
        try:
            data = json.loads(text)
            return cls(
                domain=str(data["domain"]),
                names=tuple(str(n) for n in data["names"]),
                directory=str(data["directory"]),
                webroot=str(data["webroot"]),
                email=data.get("email"),
                key_type=str(data.get("key_type", "ecdsa")),
                ca_bundle=data.get("ca_bundle"),
                reload_command=tuple(str(a) for a in data.get("reload_command", ())),
                extras={str(k): str(v) for k, v in data.get("extras", {}).items()},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"renewal config {source or '?'} is corrupt ({type(exc).__name__}: {exc}): "
                "issue the certificate again with `prodcheck ssl issue`"
            ) from None


@dataclass(frozen=True)
class Snapshot:
    """The live files of a lineage before an install (``None``: there were none)."""

    domain: str
    fullchain: bytes | None
    privkey: bytes | None
    version: str  # archive version the install created


def _write_lineage(directory: Path, fullchain: bytes, privkey: bytes) -> None:
    """Key first, ``fullchain.pem`` last: each file atomic, the set complete once it returns."""
    cert, chain = split_chain(fullchain)
    replace_file(directory / PRIVKEY, privkey, mode=0o600)
    replace_file(directory / CERT, cert, mode=0o644)
    replace_file(directory / CHAIN, chain, mode=0o644)
    replace_file(directory / FULLCHAIN, fullchain, mode=0o644)


class LineageStore:
    """Certificates under ``root`` (see the module docstring for the layout)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def live_dir(self, domain: str) -> Path:
        return self.root / "live" / domain

    def fullchain_path(self, domain: str) -> Path:
        return self.live_dir(domain) / FULLCHAIN

    def privkey_path(self, domain: str) -> Path:
        return self.live_dir(domain) / PRIVKEY

    def renewal_path(self, domain: str) -> Path:
        return self.root / "renewal" / f"{domain}.json"

    def account_path(self, directory_url: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9.-]+", "_", directory_url.split("://", 1)[-1]).strip("_")
        return self.root / "accounts" / slug / "account.json"

    # -- reading --------------------------------------------------------------------------------
    def read(self, domain: str) -> tuple[bytes, bytes] | None:
        """``(fullchain_pem, privkey_pem)`` of the live lineage, or ``None`` if there is none."""
        try:
            return self.fullchain_path(domain).read_bytes(), self.privkey_path(domain).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AcmeError(f"cannot read the live certificate of {domain}: {exc}") from None

    def versions(self, domain: str) -> list[str]:
        """Archive versions of ``domain``, oldest first (``['0001', '0002']``)."""
        base = self.root / "archive" / domain
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and p.name.isdigit())

    def domains(self) -> list[str]:
        """Every lineage with a renewal config, sorted."""
        base = self.root / "renewal"
        return sorted(p.stem for p in base.glob("*.json")) if base.is_dir() else []

    # -- writing --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise installs (a cron renewal racing a manual one) with ``flock(root/.lock)``."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def install(self, domain: str, fullchain: bytes, privkey: bytes) -> Snapshot:
        """Archive a new version and make it live; return what was live before.

        A write that fails half-way (disk full, a file in the way) puts the previous live files
        back, so the key never mismatches the certificate the web server loads next.
        """
        try:
            with self._locked():
                before = self.read(domain)
                old_chain, old_key = before or (None, None)
                snapshot = Snapshot(domain, old_chain, old_key, version="")
                try:
                    return self._install(domain, fullchain, privkey, snapshot)
                except OSError:
                    with contextlib.suppress(OSError):
                        self._restore(domain, snapshot)
                    raise
        except OSError as exc:
            raise AcmeError(
                f"cannot write the certificate under {self.root}: {exc.strerror or exc} "
                f"({getattr(exc, 'filename', '') or self.root}): check permissions / disk space"
            ) from None

    def _install(self, domain: str, fullchain: bytes, privkey: bytes, before: Snapshot) -> Snapshot:
        versions = self.versions(domain)
        version = f"{int(versions[-1]) + 1 if versions else 1:04d}"
        archive = self.root / "archive" / domain / version
        archive.mkdir(parents=True, mode=0o700)
        os.chmod(archive.parent, 0o700)
        _write_lineage(archive, fullchain, privkey)
        live = self.live_dir(domain)
        live.mkdir(parents=True, exist_ok=True)
        _write_lineage(live, fullchain, privkey)
        return replace(before, version=version)

    def restore(self, domain: str, snapshot: Snapshot) -> None:
        """Put back the live files of ``snapshot`` (remove them if there were none)."""
        with self._locked():
            self._restore(domain, snapshot)

    def _restore(self, domain: str, snapshot: Snapshot) -> None:
        live = self.live_dir(domain)
        if snapshot.fullchain is None or snapshot.privkey is None:
            for name in (FULLCHAIN, PRIVKEY, CERT, CHAIN):
                (live / name).unlink(missing_ok=True)
            return
        _write_lineage(live, snapshot.fullchain, snapshot.privkey)

    def save_config(self, config: RenewalConfig) -> Path:
        path = self.renewal_path(config.domain)
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, config.to_json(), mode=0o600)
        return path

    def load_config(self, domain: str) -> RenewalConfig:
        path = self.renewal_path(domain)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise ConfigError(
                f"no renewal config for {domain} ({path}): "
                "issue it first with `prodcheck ssl issue`"
            ) from None
        return RenewalConfig.from_json(text, str(path))


__all__ = [
    "CERT",
    "CHAIN",
    "FULLCHAIN",
    "PRIVKEY",
    "LineageStore",
    "RenewalConfig",
    "Snapshot",
    "split_chain",
]
