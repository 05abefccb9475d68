"""Masking secrets before anything is printed, logged or reported.

>>> mask_dsn("postgresql://app:s3cret@127.0.0.1:6432/ecommerce")
'postgresql://app:***@127.0.0.1:6432/ecommerce'
>>> mask_text("connect postgresql://app:s3cret@h/db failed", extra=["s3cret"])
'connect postgresql://app:***@h/db failed'
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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
