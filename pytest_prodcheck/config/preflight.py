"""Bad input a run would only trip over later, found before the first test runs.

    >>> check_ca_bundle("/nope.pem")
    Traceback (most recent call last):
    ...
    pytest_prodcheck.core.errors.ConfigError: ca_bundle /nope.pem does not exist: pass a PEM file (or drop the option)
    >>> preflight(settings)          # at pytest configure time: the first problem, one line

:func:`~pytest_prodcheck.config.load.load_settings` checks each value's form; this checks what
the values point at: the CA bundle is a readable PEM file, the report directory is (or can
become) a writable directory. The plugin calls it at configure time, so a wrong path is one
usage error (exit 4) instead of one error per test or a report lost after the whole run.
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_prodcheck.config.schema import Settings
from pytest_prodcheck.core.errors import ConfigError

__all__ = ["check_ca_bundle", "check_report_dir", "preflight"]

_PEM = b"-----BEGIN CERTIFICATE-----"


def check_ca_bundle(path: str, label: str = "ca_bundle") -> None:
    """ConfigError unless ``path`` is a readable file holding a PEM certificate."""
    if not os.path.isfile(path):
        raise ConfigError(f"{label} {path} does not exist: pass a PEM file (or drop the option)")
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
    except OSError as exc:
        raise ConfigError(f"{label} {path} is not readable: {exc.strerror or exc}") from None
    if _PEM not in head:
        raise ConfigError(f"{label} {path} holds no PEM certificate: pass a PEM CA bundle")


def check_report_dir(path: Path, label: str = "report_dir") -> None:
    """ConfigError unless ``path`` is a writable directory or can be created as one."""
    hint = "choose another --prodcheck-report-dir"
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{label} {path} is a file, not a directory: {hint}")
    existing = path
    while not existing.exists():  # the nearest ancestor that exists must be a writable dir
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{label} {path}: {existing} is a file, not a directory: {hint}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{label} {path}: {existing} is not writable: {hint}")


def preflight(settings: Settings) -> None:
    """Every check above on ``settings``; the first problem raises ConfigError (one line)."""
    if settings.ca_bundle:
        check_ca_bundle(settings.ca_bundle)
    check_report_dir(Path(settings.report_dir))
