"""Loading settings: ``prodcheck.toml`` + ``--prodcheck-*`` options + environment, validated.

    >>> s = load_settings(None, {"url": "https://shop.example.com", "tls.min_days": 21}, env={})
    >>> s.target, s.tls.min_days, s.pgbouncer.default_pool_size
    ('external', 21, 25)
    >>> load_settings(None, {"load.p95_ms": "fast"}, env={})
    Traceback (most recent call last):
    ...
    pytest_prodcheck.core.errors.ConfigError: option load.p95_ms = 'fast': expected a number

Precedence is option (``overrides``) > file > default. String values in the file may use
``${VAR}`` (``$$`` is a literal ``$``) so secrets stay in the environment; a missing variable is a
:class:`~pytest_prodcheck.core.errors.ConfigError` naming the key and the variable. Overrides use dotted
keys for section values (``"load.workers"``, ``"load.profiles.smoke.run_time"``); ``None``
overrides are ignored. Relative paths in the file are relative to the file's directory; relative
paths from options stay relative to the cwd. ``[s3] bucket`` defaults to ``$AWS_BACKUP_BUCKET``.
Type conversion and validation of single values: :mod:`pytest_prodcheck.config.convert`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_prodcheck.config.convert import (
    convert_field,
    convert_profiles,
    convert_section,
    show,
)
from pytest_prodcheck.config.schema import ENV_BUCKET, SECTIONS, URL_TARGET, Settings
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.secrets import mask_dsn

__all__ = ["DEFAULT_CONFIG_NAME", "find_config", "load_settings", "read_toml"]

DEFAULT_CONFIG_NAME = "prodcheck.toml"
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def find_config(rootdir: Path) -> Path | None:
    """``rootdir/prodcheck.toml`` if it exists."""
    candidate = rootdir / DEFAULT_CONFIG_NAME
    return candidate if candidate.is_file() else None


def load_settings(
    path: Path | None,
    overrides: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Read ``path`` (TOML, optional), apply ``overrides`` (dotted keys), validate, freeze."""
    env = dict(env or {})
    file_data: dict[str, Any] = {}
    file_base: Path | None = None
    if path is not None:
        file_data = read_toml(path)
        file_base = path.resolve().parent
        file_data = _expand(file_data, env, str(path), ())
    where_file = str(path) if path is not None else ""

    core: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    origin_core: dict[str, str] = {}

    # file layer
    for key, value in file_data.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{where_file}: [{key}] must be a table, got {show(value)}")
            sections[key].update(convert_section(SECTIONS[key], key, value, where_file, file_base))
        else:
            core[key] = convert_field(Settings, key, value, where_file, file_base, prefix="")
            origin_core[key] = "file"

    # option layer
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, key = dotted.rpartition(".")
        if section.startswith("load.profiles."):  # load.profiles.smoke.run_time=30
            name = section.removeprefix("load.profiles.")
            sections["load"]["profiles"] = convert_profiles(
                {name: {key: value}}, "option", sections["load"].get("profiles")
            )
        elif section:
            if section not in SECTIONS:
                raise ConfigError(
                    f"option {dotted}: unknown section [{section}]; allowed: {', '.join(SECTIONS)}"
                )
            sections[section].update(
                convert_section(SECTIONS[section], section, {key: value}, "option", None)
            )
        else:
            core[key] = convert_field(Settings, key, value, "option", None, prefix="")
            origin_core[key] = "option"

    # a URL implies the external target (Settings applies the rule); a target given at the same
    # or a higher layer than the URL must agree with it, one given lower yields to it
    if core.get("url"):
        rank = {"file": 1, "option": 2}
        url_rank = rank[origin_core["url"]]
        target_rank = rank.get(origin_core.get("target", ""), 0)
        if target_rank < url_rank:
            core.pop("target", None)
        elif core.get("target") != URL_TARGET:
            raise ConfigError(
                f"url = {mask_dsn(core['url'])!r} implies target {URL_TARGET!r} but target = "
                f"{core['target']!r}; drop one of them"
            )

    if sections["s3"].get("bucket") is None and env.get(ENV_BUCKET):
        sections["s3"]["bucket"] = env[ENV_BUCKET]
    built = {name: SECTIONS[name](**values) for name, values in sections.items()}
    return Settings(**core, **built, config_path=str(path) if path is not None else None)


def read_toml(path: Path, what: str = "config") -> dict[str, Any]:
    """Parse a TOML file; ``ConfigError`` (one line) when it is missing, unreadable or invalid."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{what} file {path} not found: create it or drop the option") from None
    except OSError as exc:
        raise ConfigError(f"{what} file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None


def _expand(value: Any, env: Mapping[str, str], where: str, keys: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, env, where, (*keys, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, where, keys) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        var = m.group(1)
        if var not in env:
            raise ConfigError(
                f"{where}: {_keyname(keys)} uses ${{{var}}} but environment variable {var} "
                "is not set; export it or change the value"
            )
        return env[var]

    return _VAR.sub(sub, value)


def _keyname(keys: tuple[str, ...]) -> str:
    if len(keys) >= 2:
        return f"[{'.'.join(keys[:-1])}] {keys[-1]}"
    return keys[0] if keys else "?"
