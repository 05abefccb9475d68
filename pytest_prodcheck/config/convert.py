"""Converting and validating one settings value (from TOML or an option string).

    >>> from pytest_prodcheck.config.schema import TlsSettings
    >>> convert_field(TlsSettings, "min_days", "21", "option", None, prefix="tls")
    21
    >>> parse_duration("1h30m", "run_time")
    5400
    >>> convert_field(TlsSettings, "cipher_profile", "weak", "option", None, prefix="tls")
    Traceback (most recent call last):
    ...
    pytest_prodcheck.core.errors.ConfigError: option tls.cipher_profile = 'weak': expected one of modern, intermediate, old

Each error is one :class:`~pytest_prodcheck.core.errors.ConfigError` line naming the key, the
value (DSNs and URLs masked) and what is expected. What a field accepts comes from its type hint
and its metadata in :mod:`pytest_prodcheck.config.schema`.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union
from urllib.parse import urlsplit

from pytest_prodcheck.config.history import HistorySettings, history_values
from pytest_prodcheck.config.schema import (
    DEFAULT_PROFILES,
    SECTIONS,
    LoadProfile,
    LoadSettings,
    Settings,
)
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.resolve import parse_resolve
from pytest_prodcheck.core.secrets import mask_dsn

__all__ = ["convert_field", "convert_profiles", "convert_section", "parse_duration", "show"]


def show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    """The plain keys of ``cls``; at the top level the section tables are not keys (but a key
    inside a section may share a section's name, as ``[site] monitoring``)."""
    sections = SECTIONS if cls is Settings else ()
    return {
        f.name: f
        for f in dataclasses.fields(cls)
        if not f.metadata.get("internal") and f.name not in sections
    }


def convert_section(
    cls: type, section: str, values: Mapping[str, Any], where: str, base: Path | None
) -> dict[str, Any]:
    if cls is HistorySettings:
        return history_values(values, where, base)
    out: dict[str, Any] = {}
    for key, value in values.items():
        if cls is LoadSettings and key == "profiles":
            out[key] = convert_profiles(value, where, None)
            continue
        out[key] = convert_field(cls, key, value, where, base, prefix=section)
    return out


def convert_profiles(
    value: Any, where: str, base: Mapping[str, LoadProfile] | None
) -> Mapping[str, LoadProfile]:
    """``base`` (default: the guide's profiles) updated by ``value``, a table of profile tables."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [load.profiles] must be a table of profiles")
    profiles = dict(DEFAULT_PROFILES if base is None else base)
    allowed = [f.name for f in dataclasses.fields(LoadProfile)]
    for name, raw in value.items():
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: [load.profiles.{name}] must be a table, got {show(raw)}")
        base = dataclasses.asdict(profiles[name]) if name in profiles else {}
        for key, item in raw.items():
            label = f"[load.profiles.{name}] {key}"
            if key not in allowed:
                raise ConfigError(f"{where}: unknown key {label}; allowed: {', '.join(allowed)}")
            if key == "run_time":
                base[key] = parse_duration(item, f"{where}: {label}")
            elif key == "users":
                base[key] = _as_int(item, f"{where}: {label}")
            else:
                base[key] = _as_float(item, f"{where}: {label}")
        missing = [k for k in ("users", "spawn_rate", "run_time") if k not in base]
        if missing:
            raise ConfigError(
                f"{where}: [load.profiles.{name}] is a new profile and needs {', '.join(missing)}"
            )
        profiles[name] = LoadProfile(**base)
    return types.MappingProxyType(profiles)


def parse_duration(value: object, label: str) -> int:
    """Seconds from ``90``, ``"90s"``, ``"2m"``, ``"1h"`` or ``"1h30m"``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s?)?\s*", value)
        if m and any(m.groups()):
            h, mi, s = (int(g) if g else 0 for g in m.groups())
            return h * 3600 + mi * 60 + s
    raise ConfigError(
        f"{label} = {show(value)}: expected a duration in seconds or like '90s', '2m', '1h'"
    )


def _as_int(value: object, label: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{label} = {show(value)}: expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise ConfigError(f"{label} = {show(value)}: expected an integer")


def _as_float(value: object, label: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{label} = {show(value)}: expected a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ConfigError(f"{label} = {show(value)}: expected a number")


def _as_bool(value: object, label: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise ConfigError(f"{label} = {show(value)}: expected true or false")


def convert_field(
    cls: type, key: str, value: Any, where: str, base: Path | None, prefix: str
) -> Any:
    fields = _fields(cls)
    label = (
        f"[{prefix}] {key}"
        if prefix and where != "option"
        else (f"{prefix}.{key}" if prefix else key)
    )
    head = f"{where}: " if where != "option" else "option "
    if key not in fields:
        allowed = ", ".join(fields)
        scope = f"[{prefix}]" if prefix else "top level"
        raise ConfigError(f"{head}unknown key {label}; allowed at {scope}: {allowed}")
    f = fields[key]
    hint = typing.get_type_hints(cls)[key]
    label = f"{head}{label}"
    optional = typing.get_origin(hint) in (Union, types.UnionType) and type(
        None
    ) in typing.get_args(hint)
    inner = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
    if inner is bool:
        result: Any = _as_bool(value, label)
    elif inner is int:
        result = _as_int(value, label)
    elif inner is float:
        result = _as_float(value, label)
    elif typing.get_origin(inner) is tuple:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{label} = {show(value)}: expected a list of strings")
        result = tuple(items)
    else:
        if where == "option" and isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # --set release=123 / commit=1234567: TOML read a number
        if not isinstance(value, str):
            raise ConfigError(f"{label} = {show(value)}: expected a string")
        result = value
    return _validate(f, result, label, base)


def _validate(f: dataclasses.Field[Any], value: Any, label: str, base: Path | None) -> Any:
    minimum = f.metadata.get("min")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{label} = {show(value)}: must be at least {minimum}")
    kind = f.metadata.get("kind")
    if kind == "url":
        _check_url(value, label)
    elif kind == "dsn":
        _check_dsn(value, label)
    elif kind == "choice":
        if value not in f.metadata["choices"]:
            allowed = ", ".join(f.metadata["choices"])
            raise ConfigError(f"{label} = {show(value)}: expected one of {allowed}")
    elif kind == "resolve":
        for entry in value:
            _check_resolve(entry, label)
    elif kind == "path" and base is not None and value and not Path(value).is_absolute():
        value = str(base / value)
    return value


def _check_url(value: str, label: str) -> None:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"{label} = {mask_dsn(value)!r}: invalid port in URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{label} = {mask_dsn(value)!r}: expected an http:// or https:// URL with a host, "
            "e.g. https://shop.example.com"
        )


def _check_dsn(value: str, label: str) -> None:
    from pytest_prodcheck.core.dsn import Dsn  # psycopg: only when a DSN is configured

    Dsn.parse(value, label, require_host=True, require_database=True)


def _check_resolve(entry: str, label: str) -> None:
    parse_resolve(entry, label=f"{label} =")  # HOST:PORT:ADDR; '*.domain' and '*' ports allowed
