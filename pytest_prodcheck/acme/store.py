"""Where certificates live on disk: one lineage per domain, switched live in one atomic step.

    >>> store = LineageStore(Path("/etc/prodcheck/ssl"))
    >>> previous = store.install("shop.test", fullchain_pem, privkey_pem)
    >>> store.fullchain_path("shop.test")          # .../live/shop.test/fullchain.pem
    >>> store.restore("shop.test", previous)       # put the old files back (e.g. reload failed)

Layout::

    live/DOMAIN/fullchain.pem    what the web server serves (leaf + intermediate)
    live/DOMAIN/privkey.pem      its key, mode 0600
    live/DOMAIN/cert.pem         the leaf alone; chain.pem the intermediate(s) alone (certbot's
                                 names: nginx's ``ssl_trusted_certificate`` for OCSP stapling)
    live/.DOMAIN.new/            only while an install runs: the next live set being written
    archive/DOMAIN/0001/…        every version ever installed (the previous lineage is kept)
    renewal/DOMAIN.json          how to renew it (directory, names, webroot, key type, …)
    accounts/HOST/account.json   ACME account key per CA (mode 0600)

Guarantee: a process killed at any moment of an install or restore (SIGKILL of ``prodcheck ssl
renew`` included) leaves ``live/DOMAIN`` either exactly as it was, or switched completely: the
key always matches the certificate. The complete new set (key 0600, the others 0644, any other
file a user put in ``live/DOMAIN`` copied along, the directory's mode kept) is written and
fsynced in ``live/.DOMAIN.new``, which then takes the place of ``live/DOMAIN`` in one step: a
rename when there was none, else an exchange of the two directories
(:func:`~pytest_prodcheck.core.files.exchange_paths`, Linux ``renameat2(RENAME_EXCHANGE)``), after
which the old set (now at ``.DOMAIN.new``) is removed. A ``.DOMAIN.new`` a killed run left is
removed by the next install or restore (under the store's lock). Paths stay
``live/DOMAIN/*.pem``, so web server configs need no change.

Fallback, with the old per-file guarantee only: where the filesystem cannot exchange
directories (ENOSYS/EINVAL, e.g. some network filesystems) or ``live/DOMAIN`` is a symlink, the
four files are replaced one by one in place (:func:`~pytest_prodcheck.core.files.replace_file`:
each atomic, a failure half-way puts the previous files back), so a SIGKILL between two renames
could leave a key that does not match the certificate. Archive versions are always written
that way (a new directory nobody serves).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from pytest_prodcheck.acme.errors import AcmeError
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.files import exchange_paths, fsync_dir, is_temp_name, replace_file

FULLCHAIN = "fullchain.pem"
PRIVKEY = "privkey.pem"
CERT = "cert.pem"
CHAIN = "chain.pem"
LINEAGE_FILES = (FULLCHAIN, PRIVKEY, CERT, CHAIN)  # removal order: fullchain first
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
    """Key first, ``fullchain.pem`` last: each file atomic, the set complete once it returns.

    Used for archive versions, for staging the next live set, and as the in-place fallback.
    """
    cert, chain = split_chain(fullchain)
    replace_file(directory / PRIVKEY, privkey, mode=0o600)
    replace_file(directory / CERT, cert, mode=0o644)
    replace_file(directory / CHAIN, chain, mode=0o644)
    replace_file(directory / FULLCHAIN, fullchain, mode=0o644)


def _put_lineage(directory: Path, pair: tuple[bytes, bytes] | None) -> None:
    """In place, file by file: write ``(fullchain, privkey)``, or remove the set for ``None``."""
    if pair is None:
        for name in LINEAGE_FILES:
            (directory / name).unlink(missing_ok=True)
        return
    directory.mkdir(parents=True, exist_ok=True)
    _write_lineage(directory, *pair)


def _remove(path: Path) -> None:
    """Remove ``path`` whatever it is (a directory tree, a file, a symlink); absent is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def _copy_synced(src: str | Path, dst: str | Path) -> None:
    """Copy a regular file (data, mode, times, owner where allowed) and fsync it."""
    shutil.copy2(src, dst)
    st = os.lstat(src)
    with contextlib.suppress(PermissionError):
        os.chown(dst, st.st_uid, st.st_gid)
    fd = os.open(dst, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_user_entry(src: Path, dst: Path) -> None:
    """Carry a user's file (or directory, symlink) from the old live set into the new one."""
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif src.is_dir():
        shutil.copytree(src, dst, symlinks=True, copy_function=_copy_synced)
    elif src.is_file():
        _copy_synced(src, dst)
    # sockets, FIFOs, devices: not copied (nothing of the kind belongs in a certificate dir)


def _stage(new: Path, live: Path, pair: tuple[bytes, bytes] | None) -> None:
    """Write the complete next live set into the fresh directory ``new`` and fsync it."""
    new.mkdir()
    if pair is not None:
        _write_lineage(new, *pair)
    if live.is_dir():
        for entry in sorted(live.iterdir()):
            if entry.name not in LINEAGE_FILES and not is_temp_name(entry.name):
                _copy_user_entry(entry, new / entry.name)
        st = live.stat()
        with contextlib.suppress(PermissionError):
            os.chown(new, st.st_uid, st.st_gid)
        os.chmod(new, stat.S_IMODE(st.st_mode))
    fsync_dir(new)


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
        """Archive a new version and make it live in one step; return what was live before.

        A write that fails (disk full, a file in the way) or a kill leaves the previous live
        files as they were, so the key never mismatches the certificate the web server loads
        next (in the per-file fallback a failed write puts the previous files back).
        """
        try:
            with self._locked():
                _remove(self._staging_dir(domain))  # a killed earlier run's
                before = self.read(domain)
                old_chain, old_key = before or (None, None)
                snapshot = Snapshot(domain, old_chain, old_key, version="")
                return self._install(domain, fullchain, privkey, snapshot)
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
        self._switch(domain, (fullchain, privkey))
        return replace(before, version=version)

    def restore(self, domain: str, snapshot: Snapshot) -> None:
        """Put back the live files of ``snapshot`` (remove them if there were none)."""
        try:
            with self._locked():
                _remove(self._staging_dir(domain))
                self._restore(domain, snapshot)
        except OSError as exc:
            raise AcmeError(
                f"cannot put back the previous certificate of {domain} under {self.root}: "
                f"{exc.strerror or exc} ({getattr(exc, 'filename', '') or self.root}): check "
                f"permissions / disk space, then restore it from {self.root / 'archive' / domain}"
            ) from None

    def _restore(self, domain: str, snapshot: Snapshot) -> None:
        if snapshot.fullchain is None or snapshot.privkey is None:
            self._switch(domain, None)
        else:
            self._switch(domain, (snapshot.fullchain, snapshot.privkey))

    def _staging_dir(self, domain: str) -> Path:
        return self.root / "live" / f".{domain}.new"

    def _switch(self, domain: str, pair: tuple[bytes, bytes] | None) -> None:
        """Make ``pair`` (``(fullchain, privkey)``; ``None``: no certificate) the live set.

        One atomic step (see the module docstring): stage it in ``live/.DOMAIN.new``, then
        rename that over a missing ``live/DOMAIN`` or exchange the two directories. A failure
        before that step removes the staging directory and leaves ``live/DOMAIN`` untouched.
        Where the exchange is unsupported, or ``live/DOMAIN`` is a symlink: in place, file by
        file (a failure half-way puts the previous files back).
        """
        live, new = self.live_dir(domain), self._staging_dir(domain)
        if live.is_symlink() or (os.path.lexists(live) and not live.is_dir()):
            self._switch_in_place(domain, pair)
            return
        if pair is None and not live.is_dir():
            return  # nothing live, nothing to remove
        live.parent.mkdir(parents=True, exist_ok=True)
        try:
            _stage(new, live, pair)
        except BaseException:
            with contextlib.suppress(OSError):
                _remove(new)
            raise
        if not os.path.lexists(live):
            os.rename(new, live)
        elif not exchange_paths(new, live):  # this filesystem cannot: the per-file fallback
            _remove(new)
            self._switch_in_place(domain, pair)
            return
        fsync_dir(live.parent)
        with contextlib.suppress(OSError):  # the old set; a leftover is swept by the next run
            _remove(new)
            fsync_dir(live.parent)

    def _switch_in_place(self, domain: str, pair: tuple[bytes, bytes] | None) -> None:
        live = self.live_dir(domain)
        previous = self.read(domain)
        try:
            _put_lineage(live, pair)
        except OSError:
            with contextlib.suppress(OSError):
                _put_lineage(live, previous)
            raise

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
    "LINEAGE_FILES",
    "PRIVKEY",
    "LineageStore",
    "RenewalConfig",
    "Snapshot",
    "split_chain",
]
