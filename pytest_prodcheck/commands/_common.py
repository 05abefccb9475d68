"""Helpers shared by the ``prodcheck`` sub-commands.

    def register(subparsers):
        p = subparsers.add_parser("tls", help="…")
        add_config_args(p)                       # --config PATH, --target, --set KEY=VALUE
        p.add_argument("--ca-bundle")            # dest ca_bundle: becomes the ca_bundle setting
        p.set_defaults(func=run)

    def run(args) -> int:
        settings = settings_from_args(args)      # ConfigError -> exit 2, one line

:func:`settings_from_args` reads ``--config`` (default ``prodcheck.toml`` in the current directory
when present) and turns these argument dests, when a command defines them, into setting overrides:
``target url http_url resolve ca_bundle report_dir waivers attestations release commit``, plus any
``--set section.key=VALUE`` (the value is parsed as TOML, else taken as a string).
"""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path
from typing import Any

from pytest_prodcheck.config import DEFAULT_CONFIG_NAME, Settings, load_settings
from pytest_prodcheck.config_file import choose_config
from pytest_prodcheck.core.errors import ConfigError

__all__ = ["SETTING_DESTS", "add_config_args", "parse_set", "settings_from_args"]

SETTING_DESTS: tuple[str, ...] = (
    "target",
    "url",
    "http_url",
    "resolve",
    "ca_bundle",
    "report_dir",
    "waivers",
    "attestations",
    "release",
    "commit",
)


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--config PATH``, ``--target`` and ``--set KEY=VALUE`` to a sub-command's parser."""
    group = parser.add_argument_group("configuration")
    group.add_argument(
        "--config",
        metavar="PATH",
        help=f"settings file (default: ./{DEFAULT_CONFIG_NAME} when present)",
    )
    group.add_argument(
        "--target", metavar="local|docker|external", help="which stack to act on (default: local)"
    )
    group.add_argument(
        "--set",
        dest="set_values",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override one setting, e.g. --set load.p95_ms=800 (repeatable)",
    )


def parse_set(text: str) -> tuple[str, object]:
    """``"load.p95_ms=800"`` -> ``("load.p95_ms", 800)``; a non-TOML value stays a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set load.p95_ms=800")
    try:
        value: Any = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def settings_from_args(args: argparse.Namespace, cwd: Path | None = None) -> Settings:
    """Settings from ``--config`` + the command's own setting arguments + ``--set`` + env."""
    overrides: dict[str, object] = {}
    for dest in SETTING_DESTS:
        value = getattr(args, dest, None)
        if value is not None and value != []:
            overrides[dest] = value
    for text in getattr(args, "set_values", None) or []:
        key, value = parse_set(text)
        overrides[key] = value
    choice = choose_config(getattr(args, "config", None), cwd or Path.cwd(), flag="--config")
    return load_settings(choice.path, overrides, os.environ)
