"""Masking secrets before anything is printed, logged or reported.

>>> mask_dsn("postgresql://app:s3cret@127.0.0.1:6432/ecommerce")
'postgresql://app:***@127.0.0.1:6432/ecommerce'
>>> mask_text("connect postgresql://app:s3cret@h/db failed", extra=["s3cret"])
'connect postgresql://app:***@h/db failed'

Objects that hold a secret print through :func:`masked_repr` (pytest shows fixture values and
``-l`` locals by their repr)::

    def __repr__(self) -> str:
        return masked_repr(self, extra=[self.token])
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

MASK = "***"
_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]*)@"
)
_KV_PASSWORD = re.compile(
    r"(?i)(?P<key>\b(?:password|passwd|pwd|secret|secret_access_key|aws_secret_access_key|token)\s*[=:]\s*)"
    r"(?P<q>['\"]?)(?P<val>[^'\"\s&;]+)(?P=q)"
)


# a "user:secret@" left in a string that is not a well-formed URL (e.g. a mistyped scheme)
_LOOSE_PASSWORD = re.compile(r"(?<=[\w.-]:)(?!\*\*\*@)[^\s:@/]+(?=@)")
# libpq key=value DSNs: password=secret, password='quoted \' secret', sslpassword=…
_LIBPQ_PASSWORD = re.compile(r"(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s'&;]+)")


def mask_dsn(dsn: str) -> str:
    """Replace the password of a URL or key=value DSN with ``***``, also in a malformed one.

    >>> mask_dsn("posgres:/app:hunter2@/x"), mask_dsn("host=h password='a b'")
    ('posgres:/app:***@/x', 'host=h password=***')
    """
    masked = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", dsn)
    masked = _LIBPQ_PASSWORD.sub(lambda m: f"{m[1]}{MASK}", masked)
    return _LOOSE_PASSWORD.sub(MASK, masked)


def mask_text(text: str, extra: Iterable[str] = ()) -> str:
    """Mask URL passwords, ``password=…`` pairs and any literal secret in ``extra``."""
    out = mask_dsn(text)
    out = _KV_PASSWORD.sub(lambda m: f"{m['key']}{m['q']}{MASK}{m['q']}", out)
    for secret in sorted({s for s in extra if s and len(s) >= 3}, key=len, reverse=True):
        out = out.replace(secret, MASK)
    return out


def masked_repr(obj: object, extra: Iterable[str] = ()) -> str:
    """The dataclass repr of ``obj`` (fields with ``repr=True``) with every secret masked.

    >>> @dataclasses.dataclass(repr=False)
    ... class Site:
    ...     url: str
    ...     token: str = dataclasses.field(default="", repr=False)
    ...     def __repr__(self) -> str:
    ...         return masked_repr(self, extra=[self.token])
    >>> Site("https://admin:hunter2@shop.test", token="t0k3n")
    Site(url='https://admin:***@shop.test')
    """
    assert dataclasses.is_dataclass(obj)
    parts = [f"{f.name}={getattr(obj, f.name)!r}" for f in dataclasses.fields(obj) if f.repr]
    return mask_text(f"{type(obj).__name__}({', '.join(parts)})", extra=extra)


#: what versions before 0.x named the libpq password files they wrote (now: PGPASSWORD only)
LEGACY_PGPASS_GLOB = "prodcheck-pgpass-*"


def remove_legacy_pgpass_files(directory: Path | None = None) -> list[Path]:
    """Delete the plaintext password files older versions left in the temp dir when killed.

    Nothing writes them any more (child tools get ``PGPASSWORD`` in their environment only), so
    every one of ours is stale. Only regular files we own are touched; returns what went.

    >>> remove_legacy_pgpass_files()
    [PosixPath('/tmp/prodcheck-pgpass-k2j3h4')]
    """
    base = directory or Path(tempfile.gettempdir())
    removed: list[Path] = []
    uid = os.geteuid()
    with contextlib.suppress(OSError):
        for path in base.glob(LEGACY_PGPASS_GLOB):
            with contextlib.suppress(OSError):
                st = path.lstat()
                if path.is_file() and not path.is_symlink() and st.st_uid == uid:
                    path.unlink()
                    removed.append(path)
    return removed
