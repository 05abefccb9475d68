"""Mozilla's server-side TLS profiles (the guideline JSON that sslyze ships, version 5.7).

>>> p = load_profile("intermediate")
>>> p.label
'Mozilla intermediate (guideline 5.7)'
>>> "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" in p.tls12_suites, p.tls_versions
(True, ('TLSv1.2', 'TLSv1.3'))
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from pytest_prodcheck.core.errors import ConfigError, ToolError

PROFILE_NAMES = ("modern", "intermediate", "old")


@dataclass(frozen=True)
class TlsProfile:
    name: str
    version: str  # the guideline version, e.g. "5.7"
    tls_versions: tuple[str, ...]
    tls12_suites: frozenset[str]  # IANA names (as sslyze reports them)
    tls13_suites: frozenset[str]
    hsts_min_age: int
    # key exchange and certificate (SECG curve names, as sslyze reports them: secp256r1)
    tls_curves: tuple[str, ...] = ()
    certificate_types: tuple[str, ...] = ()  # "ecdsa", "rsa"
    certificate_curves: tuple[str, ...] = ()
    certificate_signatures: tuple[str, ...] = ()  # OID names: "ecdsa-with-SHA256", …
    rsa_key_size: int | None = None

    @property
    def label(self) -> str:
        return f"Mozilla {self.name} (guideline {self.version})"


@functools.cache
def load_profile(name: str = "intermediate") -> TlsProfile:
    """The named profile from the newest guideline JSON bundled with sslyze."""
    if name not in PROFILE_NAMES:
        raise ConfigError(
            f"[tls] cipher_profile = {name!r} is unknown: use one of {', '.join(PROFILE_NAMES)}"
        )
    try:
        folder = resources.files("sslyze.mozilla_tls_profile")
        files = sorted(
            (f for f in folder.iterdir() if f.name.endswith(".json")),
            key=lambda f: tuple(int(x) for x in f.name[:-5].split(".") if x.isdigit()),
        )
        data = json.loads(files[-1].read_text())
    except (ModuleNotFoundError, IndexError, OSError, ValueError) as exc:
        raise ToolError(f"cannot read Mozilla's TLS profiles bundled with sslyze: {exc}") from exc
    conf = data["configurations"][name]
    return TlsProfile(
        name=name,
        version=str(data["version"]),
        tls_versions=tuple(conf["tls_versions"]),
        tls12_suites=frozenset(conf["ciphers"]["iana"]),
        tls13_suites=frozenset(conf["ciphersuites"]),
        hsts_min_age=int(conf["hsts_min_age"]),
        tls_curves=tuple(secg_name(c) for c in conf.get("tls_curves", ())),
        certificate_types=tuple(conf.get("certificate_types", ())),
        certificate_curves=tuple(secg_name(c) for c in conf.get("certificate_curves", ())),
        certificate_signatures=tuple(conf.get("certificate_signatures", ())),
        rsa_key_size=conf.get("rsa_key_size"),
    )


# the profiles use ANSI X9.62 names for two curves; sslyze and cryptography use SECG names
_SECG = {"prime256v1": "secp256r1", "prime192v1": "secp192r1"}


def secg_name(curve: str) -> str:
    """``"prime256v1"`` → ``"secp256r1"`` (other names unchanged)."""
    return _SECG.get(curve, curve)
