"""Which ``prodcheck.toml`` a run uses: one rule for the pytest plugin and the CLI.

    >>> choice = choose_config(None, invocation_dir=Path("/srv/check"), rootdir=Path("/opt/suite"))
    >>> choice.path, choice.how                      # /srv/check/prodcheck.toml exists
    (PosixPath('/srv/check/prodcheck.toml'), 'the current directory')
    >>> choice.describe()
    '/srv/check/prodcheck.toml (from the current directory)'

The rule, first match wins: the explicit path (``--prodcheck-config`` / ``--config``); then
``prodcheck.toml`` in the directory the command was started from; then (pytest only) the one in
pytest's rootdir. So ``pytest /path/to/suites`` run where the toml is uses it, wherever the
rootdir ends up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONFIG_NAME = "prodcheck.toml"


@dataclass(frozen=True)
class ConfigChoice:
    path: Path | None
    how: str  # "--prodcheck-config", "the current directory", "pytest's rootdir", "" (none)
    looked_in: tuple[Path, ...] = ()

    def describe(self) -> str:
        """``"/x/prodcheck.toml (from the current directory)"`` or where none was found."""
        if self.path is None:
            where = ", ".join(str(p) for p in dict.fromkeys(self.looked_in))
            return f"none ({CONFIG_NAME} not in {where}; built-in defaults)"
        return f"{self.path} (from {self.how})"


def choose_config(
    explicit: str | Path | None,
    invocation_dir: Path,
    rootdir: Path | None = None,
    *,
    flag: str = "--prodcheck-config",
) -> ConfigChoice:
    """Apply the rule above; ``rootdir`` is None for the CLI (the current directory only)."""
    if explicit:  # loading it reports a missing file (read_toml: "… not found")
        return ConfigChoice(Path(explicit), flag)
    candidates = [(invocation_dir, "the current directory")]
    if rootdir is not None:
        candidates.append((rootdir, "pytest's rootdir"))
    for directory, how in candidates:
        path = directory / CONFIG_NAME
        if path.is_file():
            return ConfigChoice(path, how)
    return ConfigChoice(None, "", tuple(d for d, _ in candidates))


__all__ = ["CONFIG_NAME", "ConfigChoice", "choose_config"]
