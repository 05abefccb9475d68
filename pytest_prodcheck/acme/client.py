"""Obtain a certificate over ACME (RFC 8555) with HTTP-01 challenges answered from a webroot.

    >>> client = AcmeClient(LETSENCRYPT_STAGING, email="admin@shop.example.com",
    ...                     account_path=Path("ssl/accounts/le-staging/account.json"))
    >>> cert = client.issue(("shop.example.com", "www.shop.example.com"),
    ...                     webroot=Path("/var/www/certbot"))
    >>> cert.fullchain_pem[:27], cert.elapsed_s
    (b'-----BEGIN CERTIFICATE-----', 0.03)

Built on python-acme, but polls authorizations and the order itself with a short backoff
(20 ms growing to 2 s) instead of ``poll_and_finalize``'s fixed 1 s sleeps: a four-name
certificate from a local Pebble takes tens of milliseconds instead of over a second.
Authorizations the CA hands back already valid are reused; ``badNonce`` is retried up to
five times. The ACME server's certificate is verified against ``ca_bundle`` when given (a path
beats ``REQUESTS_CA_BUNDLE``), else against the system store.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from acme import challenges, client, crypto_util, messages
from acme import errors as acme_errors
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy import b64
from josepy.errors import DeserializationError
from josepy.jwa import ES256
from josepy.jwk import JWKEC

from pytest_prodcheck import __version__
from pytest_prodcheck.acme.errors import (
    AcmeError,
    ChallengeFailed,
    DirectoryUnreachable,
    OrderRejected,
    RateLimited,
    WebrootNotWritable,
)
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.files import replace_file
from pytest_prodcheck.core.secrets import mask_text

LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
KEY_TYPES = ("ecdsa", "rsa")
CHALLENGE_DIR = (".well-known", "acme-challenge")
_NONCE_RETRIES = 5


@dataclass(frozen=True)
class IssuedCertificate:
    names: tuple[str, ...]
    fullchain_pem: bytes  # leaf + intermediate(s), what the web server serves
    privkey_pem: bytes  # PKCS#8 PEM
    elapsed_s: float  # from the new order to the downloaded certificate
    reused_authorizations: int  # authorizations the CA handed back already valid


def generate_key(key_type: str) -> bytes:
    """A new certificate key as PKCS#8 PEM: ``ecdsa`` (P-256) or ``rsa`` (2048 bit)."""
    if key_type == "ecdsa":
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = ec.generate_private_key(
            ec.SECP256R1()
        )
    elif key_type == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        raise ConfigError(
            f"key type {key_type!r} is not supported: use one of {', '.join(KEY_TYPES)}"
        )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def prepare_webroot(webroot: Path) -> Path:
    """Create ``webroot/.well-known/acme-challenge`` (0755), prove a file can be written there."""
    target = webroot.joinpath(*CHALLENGE_DIR)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for path in (webroot, webroot / CHALLENGE_DIR[0], target):
            if path.stat().st_mode & 0o005 != 0o005:
                path.chmod(path.stat().st_mode | 0o005)  # the web server's worker must read it
        probe = target / f".prodcheck-probe-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise WebrootNotWritable(
            f"webroot {webroot} is not writable ({exc.strerror or exc}): challenge files go to "
            f"{target}; fix its permissions or pass --webroot"
        ) from None
    return target


def sweep_stale_challenges(
    challenge_dir: Path, thumbprint: str, older_than_s: float, now: float | None = None
) -> list[Path]:
    """Remove HTTP-01 challenge files a killed earlier run of this account left behind.

        >>> sweep_stale_challenges(webroot / ".well-known/acme-challenge", thumb, 300)
        [PosixPath('.../acme-challenge/Xy9…')]        # what was removed

    A file is ours when its content is ``<its name>.<thumbprint>`` (the key authorisation of
    this account); only files older than ``older_than_s`` go, so a concurrent issuance's live
    token is never touched. Another client's files are left alone.
    """
    now = time.time() if now is None else now
    removed: list[Path] = []
    with contextlib.suppress(OSError):
        for path in challenge_dir.iterdir():
            try:
                st = path.lstat()
                if not path.is_file() or path.is_symlink() or st.st_size > 512:
                    continue
                if now - st.st_mtime < older_than_s:
                    continue
                if path.read_bytes().strip() != f"{path.name}.{thumbprint}".encode():
                    continue
                path.unlink()
                removed.append(path)
            except OSError:
                continue
    return removed


class _RetryingNetwork(client.ClientNetwork):
    """``ClientNetwork`` that retries ``badNonce`` up to five times (python-acme: once)."""

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        for attempt in range(_NONCE_RETRIES + 1):
            try:
                return self._post_once(*args, **kwargs)
            except messages.Error as error:
                if error.code != "badNonce" or attempt == _NONCE_RETRIES:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


def _problem(error: messages.Error) -> str:
    code = error.code or (error.typ or "error").rsplit(":", 1)[-1]
    detail = (error.detail or "").strip().replace("\n", " ")
    return f"{code}: {detail}" if detail else code


def _raise_from_problem(error: messages.Error, stage: str) -> None:
    if error.code == "rateLimited":
        raise RateLimited(
            f"the CA rate-limited the {stage} ({_problem(error)}): wait before retrying, "
            "and test with --staging"
        ) from None
    raise OrderRejected(f"the CA rejected the {stage} ({_problem(error)})") from None


def check_directory_url(url: str) -> None:
    """:class:`ConfigError` unless ``url`` is an http(s) URL without ``user:password@``.

    ACME authenticates with the account key, never with HTTP credentials; a password in the
    directory URL would end up in the account's path, the renewal config and every message
    naming the CA, so it is refused (masked) before anything is written.

    >>> check_directory_url("https://bob:s3cret@acme.example/dir")
    Traceback (most recent call last):
    ConfigError: ACME directory 'https://bob:***@acme.example/dir': credentials in the ...
    """
    if not url.startswith(("https://", "http://")):
        raise ConfigError(f"ACME directory {mask_text(url)!r} is not an http(s) URL")
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"ACME directory {mask_text(url)!r}: credentials in the directory URL are not "
            "supported (ACME authenticates with the account key; they would be written into "
            "the account path and the renewal config)"
        )


class AcmeClient:
    """One ACME account at one CA; :meth:`issue` obtains certificates for it.

    The account key is kept in ``account_path`` (mode 0600) when given, so renewals use the same
    account; otherwise a throwaway account is registered.
    """

    def __init__(
        self,
        directory_url: str,
        *,
        email: str | None = None,
        ca_bundle: str | Path | None = None,
        account_path: Path | None = None,
        timeout_s: float = 90.0,
        network_timeout_s: int = 30,
    ) -> None:
        check_directory_url(directory_url)
        if ca_bundle is not None and not Path(ca_bundle).is_file():
            raise ConfigError(f"CA bundle {ca_bundle} does not exist: pass an existing PEM file")
        self.directory_url = directory_url
        self.email = email
        self.ca_bundle = str(ca_bundle) if ca_bundle else None
        self.account_path = account_path
        self.timeout_s = timeout_s
        self.network_timeout_s = network_timeout_s
        self._acme: client.ClientV2 | None = None
        self._account_key: JWKEC | None = None

    # -- account --------------------------------------------------------------------------------
    def connect(self) -> client.ClientV2:
        """Fetch the directory and register (or find) the account; idempotent."""
        if self._acme is not None:
            return self._acme
        key, uri = self._load_account()
        net = _RetryingNetwork(
            key,
            alg=ES256,
            verify_ssl=self.ca_bundle or True,  # type: ignore[arg-type]
            user_agent=f"pytest-prodcheck/{__version__}",
            timeout=self.network_timeout_s,
        )
        with self._translate("directory"):
            directory = client.ClientV2.get_directory(self.directory_url, net)
        acme = client.ClientV2(directory, net=net)
        with self._translate("account registration"):
            if uri:
                net.account = messages.RegistrationResource(uri=uri, body=messages.Registration())
            else:
                reg = messages.NewRegistration.from_data(
                    email=self.email or None, terms_of_service_agreed=True
                )
                try:
                    regr = acme.new_account(reg)
                    uri = regr.uri
                except acme_errors.ConflictError as conflict:  # key already registered
                    uri = conflict.location
                    net.account = messages.RegistrationResource(
                        uri=uri, body=messages.Registration()
                    )
                self._save_account(key, uri)
        self._acme = acme
        self._account_key = key
        return acme

    def _load_account(self) -> tuple[JWKEC, str | None]:
        if self.account_path and self.account_path.is_file():
            try:
                data = json.loads(self.account_path.read_text())
                key = JWKEC.json_loads(json.dumps(data["key"]))
                if data.get("directory") == self.directory_url:
                    return key, data.get("uri")
                return key, None
            except (ValueError, KeyError, TypeError, DeserializationError):
                pass  # corrupt account file: register a fresh account below
        return JWKEC(key=ec.generate_private_key(ec.SECP256R1())), None

    def _save_account(self, key: JWKEC, uri: str | None) -> None:
        if not self.account_path or not uri:
            return
        data = {"directory": self.directory_url, "uri": uri, "key": key.to_json()}
        self.account_path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(self.account_path, json.dumps(data), mode=0o600)

    # -- issuance -------------------------------------------------------------------------------
    def issue(
        self, names: tuple[str, ...], webroot: Path, key_type: str = "ecdsa"
    ) -> IssuedCertificate:
        """Order a certificate for ``names``, answer HTTP-01 from ``webroot``, download it."""
        if not names:
            raise ConfigError("no names to put in the certificate")
        privkey = generate_key(key_type)
        challenge_dir = prepare_webroot(webroot)
        acme = self.connect()
        assert self._account_key is not None
        thumbprint = b64.b64encode(self._account_key.thumbprint()).decode()
        # a SIGKILLed run skips the ``finally`` below: its tokens go now (never a live one)
        sweep_stale_challenges(challenge_dir, thumbprint, max(2 * self.timeout_s, 300.0))
        started = time.monotonic()
        deadline = started + self.timeout_s
        written: list[Path] = []
        try:
            with self._translate("order"):
                order = acme.new_order(crypto_util.make_csr(privkey, list(names)))
            reused = 0
            pending: list[messages.AuthorizationResource] = []
            for authz in order.authorizations:
                if authz.body.status == messages.STATUS_VALID:
                    reused += 1
                    continue
                pending.append(authz)
                chall = self._http01(authz)
                response, validation = chall.response_and_validation(self._account_key)
                token_file = challenge_dir / chall.chall.encode("token")
                try:
                    replace_file(token_file, validation, mode=0o644)
                except OSError as exc:
                    raise WebrootNotWritable(
                        f"cannot write challenge file {token_file}: {exc.strerror or exc}"
                    ) from None
                written.append(token_file)
                with self._translate("challenge answer"):
                    acme.answer_challenge(chall, response)
            for authz in pending:
                self._wait_valid(acme, authz, deadline, webroot)
            with self._translate("finalization"):
                order = acme.begin_finalization(order)
                fullchain = self._wait_certificate(acme, order, deadline)
        finally:
            for path in written:
                with contextlib.suppress(OSError):
                    path.unlink()
        return IssuedCertificate(
            names=tuple(names),
            fullchain_pem=fullchain.encode(),
            privkey_pem=privkey,
            elapsed_s=round(time.monotonic() - started, 4),
            reused_authorizations=reused,
        )

    @staticmethod
    def _http01(authz: messages.AuthorizationResource) -> messages.ChallengeBody:
        for chall in authz.body.challenges:
            if isinstance(chall.chall, challenges.HTTP01):
                return chall
        name = authz.body.identifier.value
        offered = ", ".join(str(getattr(c.chall, "typ", "?")) for c in authz.body.challenges)
        raise ChallengeFailed(
            f"the CA offered no HTTP-01 challenge for {name} (only: {offered or 'none'}): "
            "this name cannot be validated over HTTP"
        )

    def _wait_valid(
        self,
        acme: client.ClientV2,
        authz: messages.AuthorizationResource,
        deadline: float,
        webroot: Path,
    ) -> None:
        name = authz.body.identifier.value
        for delay in _backoff():
            with self._translate("authorization poll"):
                authz, _ = acme.poll(authz)
            status = authz.body.status
            if status == messages.STATUS_VALID:
                return
            if status not in (messages.STATUS_PENDING, messages.STATUS_PROCESSING):
                errors = [c.error for c in authz.body.challenges if c.error is not None]
                why = _problem(errors[0]) if errors else f"authorization {status}"
                raise ChallengeFailed(
                    f"HTTP-01 validation of {name} failed ({why[:300]}): check that "
                    f"http://{name}/.well-known/acme-challenge/ serves files from {webroot} "
                    "and that the name resolves to this server"
                )
            if time.monotonic() + delay > deadline:
                raise AcmeError(
                    f"the CA did not validate {name} within {self.timeout_s:.0f} s: retry later"
                )
            time.sleep(delay)

    def _wait_certificate(
        self, acme: client.ClientV2, order: messages.OrderResource, deadline: float
    ) -> str:
        for delay in _backoff():
            body = order.body
            if body.status == messages.STATUS_VALID and body.certificate:
                return str(acme._post_as_get(body.certificate).text)
            if body.status == messages.STATUS_INVALID:
                why = _problem(body.error) if body.error else "order invalid"
                raise OrderRejected(f"the CA rejected the order at finalization ({why})")
            if time.monotonic() + delay > deadline:
                raise AcmeError(f"the CA did not issue within {self.timeout_s:.0f} s: retry later")
            time.sleep(delay)
            response = acme._post_as_get(order.uri)
            order = order.update(body=messages.Order.from_json(response.json()))
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def _translate(self, stage: str) -> Iterator[None]:
        """Turn python-acme / requests exceptions into one-line prodcheck errors."""
        url = self.directory_url
        try:
            yield
        except messages.Error as error:
            _raise_from_problem(error, stage)
        except requests.exceptions.SSLError as exc:
            raise DirectoryUnreachable(
                f"TLS verification of the ACME server {url} failed ({_short(exc)}): "
                "pass --ca-bundle with the CA that signed the ACME server's certificate"
            ) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise DirectoryUnreachable(
                f"ACME server {url} unreachable{'' if stage == 'directory' else ' during ' + stage}"
                f" ({_short(exc)}): "
                "check --directory and the network"
            ) from None
        except (acme_errors.ClientError, DeserializationError, ValueError) as exc:
            if stage == "directory":
                raise DirectoryUnreachable(
                    f"{url} did not answer with an ACME directory ({_short(exc)}): "
                    "check --directory"
                ) from None
            raise AcmeError(
                f"unexpected answer from the CA during {stage}: {_short(exc)}"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise DirectoryUnreachable(f"ACME request to {url} failed: {_short(exc)}") from None


def _short(exc: BaseException) -> str:
    """The innermost human reason of a requests/urllib3 exception chain."""
    text = str(exc).replace("\n", " ")
    resolve = re.search(r"Failed to resolve '([^']+)' \(\[Errno -?\d+\] ([^)]+)\)", text)
    if resolve:
        return f"cannot resolve {resolve[1]}: {resolve[2]}"
    verify = re.search(r"certificate verify failed: ([^(')\"]+)", text)
    if verify:
        return f"certificate verify failed: {verify[1].strip()}"
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno:
        return errno[1].strip()
    if "timed out" in text.lower():
        return "timed out"
    return text.strip(" ()'\"")[:200] or type(exc).__name__


def _backoff() -> Iterator[float]:
    delay = 0.02
    while True:
        yield delay
        delay = min(delay * 1.5, 2.0)


__all__ = [
    "KEY_TYPES",
    "LETSENCRYPT_PRODUCTION",
    "LETSENCRYPT_STAGING",
    "AcmeClient",
    "IssuedCertificate",
    "generate_key",
    "prepare_webroot",
    "sweep_stale_challenges",
]
