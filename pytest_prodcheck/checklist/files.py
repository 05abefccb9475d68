"""The TOML files people write: waivers (``[[waiver]]``) and attestations (``[[attestation]]``).

    >>> load_waivers(Path("waivers.toml"))[0].expires
    datetime.date(2026, 12, 31)
    >>> append_attestation(Path("attestations.toml"), Attestation(
    ...     "security.penetration-test", "alice", now, "https://tickets.example.com/SEC-42"))

Every problem is one :class:`~pytest_prodcheck.core.errors.ConfigError` line naming the file, the
entry number and the fix; unknown item ids get a "did you mean" suggestion. Attestations are
appended atomically (:func:`~pytest_prodcheck.core.files.write_text_atomic`), history is kept,
and the newest valid one wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_prodcheck.checklist.model import Attestation, Waiver, unknown_id_message
from pytest_prodcheck.checklist_items import by_id, is_known
from pytest_prodcheck.config import read_toml
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.files import write_text_atomic
from pytest_prodcheck.core.secrets import mask_dsn

__all__ = ["append_attestation", "load_attestations", "load_waivers"]


def _text(entry: Mapping[str, Any], key: str, where: str, required: bool = True) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ConfigError(f"{where}: {key} must be a non-empty string, got {value!r}")
    return value.strip()


def _entries(
    path: Path, table: str, allowed: set[str]
) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """``(where, item id, entry)`` per ``[[table]]`` of ``path``, keys and item id validated."""
    data = read_toml(path, f"{table}s")
    unknown = [k for k in data if k != table]
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}; entries go in [[{table}]] tables")
    entries = data.get(table, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{path}: {table} must be an array of tables ([[{table}]])")
    for n, entry in enumerate(entries, start=1):
        where = f"{path}: {table} #{n}"
        extra = sorted(set(entry) - allowed)
        if extra:
            raise ConfigError(
                f"{where}: unknown key {extra[0]!r}; allowed: {', '.join(sorted(allowed))}"
            )
        item = _text(entry, "item", where)
        if not is_known(item):
            raise ConfigError(unknown_id_message(item, where))
        yield where, item, entry


def load_waivers(path: Path) -> list[Waiver]:
    """Read ``[[waiver]]`` tables (item, justification, owner, expires = YYYY-MM-DD)."""
    out: list[Waiver] = []
    for where, item, entry in _entries(
        path, "waiver", {"item", "justification", "owner", "expires"}
    ):
        expires = entry.get("expires")
        if isinstance(expires, str):
            try:
                expires = date.fromisoformat(expires)
            except ValueError:
                expires = None
        if isinstance(expires, datetime):
            expires = expires.date()
        if not isinstance(expires, date):
            raise ConfigError(
                f"{where} ({item}): expires must be a date like 2026-12-31, "
                f"got {entry.get('expires')!r}"
            )
        out.append(
            Waiver(
                item, _text(entry, "justification", where), _text(entry, "owner", where), expires
            )
        )
    return out


def _check_evidence_url(value: str, where: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"{where}: evidence {mask_dsn(value)!r} must be an http(s) URL pointing at the proof "
            "(ticket, runbook, screenshot)"
        )
    if parts.password is not None or parts.username is not None:
        raise ConfigError(
            f"{where}: evidence {mask_dsn(value)!r} carries credentials: attestations end up in "
            "reports, link to the proof without user:password@"
        )


def load_attestations(path: Path) -> list[Attestation]:
    """Read ``[[attestation]]`` tables (item, by, at, evidence URL, note, applicable)."""
    out: list[Attestation] = []
    allowed = {"item", "by", "at", "evidence", "note", "applicable"}
    for where, item, entry in _entries(path, "attestation", allowed):
        if by_id(item).automated:
            raise ConfigError(
                f"{where}: {item} is automated (decided by its tests); attest only manual items, "
                "or waive it in the waivers file"
            )
        at = entry.get("at")
        if isinstance(at, str):
            try:
                at = datetime.fromisoformat(at)
            except ValueError:
                at = None
        if isinstance(at, date) and not isinstance(at, datetime):
            at = datetime(at.year, at.month, at.day)
        if not isinstance(at, datetime):
            raise ConfigError(
                f"{where} ({item}): at must be a date-time like 2026-11-28T10:00:00Z, "
                f"got {entry.get('at')!r}"
            )
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        evidence = _text(entry, "evidence", where)
        _check_evidence_url(evidence, where)
        applicable = entry.get("applicable", True)
        if not isinstance(applicable, bool):
            raise ConfigError(f"{where}: applicable must be true or false, got {applicable!r}")
        note = _text(entry, "note", where, required=False)
        out.append(Attestation(item, _text(entry, "by", where), at, evidence, note, applicable))
    return out


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def append_attestation(path: Path, att: Attestation) -> None:
    """Validate ``att`` and append it to ``path`` atomically (history is kept; newest wins)."""
    where = f"attestation for {att.item}"
    if not is_known(att.item):
        raise ConfigError(unknown_id_message(att.item, "attest"))
    if by_id(att.item).automated:
        raise ConfigError(
            f"attest: {att.item} is automated (decided by its tests); only manual items are "
            "attested — waive it instead if you accept the risk"
        )
    if not att.by.strip():
        raise ConfigError(f"{where}: --by must name who attests")
    _check_evidence_url(att.evidence, where)
    existing = ""
    if path.exists():
        load_attestations(path)  # refuse to append to a broken file
        existing = path.read_text(encoding="utf-8")
        if existing and not existing.endswith("\n"):
            existing += "\n"
    block = [
        "" if existing else "# Attestations for manual checklist items (prodcheck attest).",
        "[[attestation]]",
        f"item = {_toml_str(att.item)}",
        f"by = {_toml_str(att.by.strip())}",
        f"at = {att.at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"evidence = {_toml_str(att.evidence)}",
    ]
    if att.note:
        block.append(f"note = {_toml_str(att.note)}")
    if not att.applicable:
        block.append("applicable = false")
    text = (
        existing + ("\n" if existing else "") + "\n".join(b for b in block if b or existing) + "\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
