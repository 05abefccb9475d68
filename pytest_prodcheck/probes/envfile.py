"""``.env.production`` hygiene: no placeholder or default values, not readable by others.

    >>> check_env_file(Path("infrastructure/env/.env.production")).status
    'pass'

Only key names are ever reported, never values.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

from pytest_prodcheck.core.result import CheckResult

CHECK_ID = "security.env-file"
PLACEHOLDER = re.compile(
    r"(?i)^(|changeme|change[-_ ]?me|change[-_ ]?this.*|todo|tbd|fixme|xxx+|your[-_].*|<.*>|\$\{.*\}|"
    r"example|password|passw0rd|secret|admin|postgres|root|test|default|123456.*|replace[-_ ]?me.*)$"
)
PLACEHOLDER_HOSTS = re.compile(r"(?i)(yourdomain\.com|example\.(com|org)|your-bucket-name)")
URL_PASSWORD = re.compile(r"^[a-zA-Z][\w+.-]*://[^:/@\s]*:(?P<password>[^@/\s]*)@")
SECRET_KEY = re.compile(r"(?i)(password|passwd|secret|token|key|dsn|url)")


def _default_url_password(value: str) -> bool:
    """``postgresql://postgres:postgres@db/x``, ``redis://:changeme@cache``: a URL whose password
    is a placeholder or default value."""
    match = URL_PASSWORD.match(value)
    if match is None or match["password"].startswith("${"):  # compose interpolation
        return False
    return PLACEHOLDER.match(match["password"]) is not None


def _parse(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def check_env_file(path: Path, required: tuple[str, ...] = ()) -> CheckResult:
    """The file exists, is not world/group readable, and holds no placeholder or default values."""
    expected = "present, mode 0600/0640 (not world-readable), no placeholder/default values"
    try:
        info = path.stat()
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return CheckResult.failed(
            CHECK_ID, "missing", expected, f"{path} does not exist: create it from the template"
        )
    except OSError as exc:
        return CheckResult.errored(CHECK_ID, f"{path}: {exc.strerror}")
    values = _parse(text)
    problems: list[str] = []
    if info.st_mode & stat.S_IROTH or info.st_mode & stat.S_IWOTH:
        problems.append(
            f"mode {stat.S_IMODE(info.st_mode):04o} lets every user read it (chmod 600)"
        )
    placeholders = sorted(
        k
        for k, v in values.items()
        if (SECRET_KEY.search(k) and PLACEHOLDER.match(v))
        or PLACEHOLDER_HOSTS.search(v)
        or _default_url_password(v)
    )
    if placeholders:
        problems.append("placeholder/default values: " + ", ".join(placeholders))
    missing = sorted(k for k in required if not values.get(k))
    if missing:
        problems.append("missing: " + ", ".join(missing))
    return CheckResult.judge(
        CHECK_ID,
        not problems,
        f"{len(values)} keys, mode {stat.S_IMODE(info.st_mode):04o}",
        expected,
        "; ".join(problems),
    )
