"""Make the web server pick up a new certificate: run the configured reload command.

    >>> run_reload(("nginx", "-s", "reload"))
    >>> run_reload(parse_command("systemctl reload nginx"))
    >>> run_reload(())                                # no command: nothing to do

A command that exits non-zero, cannot be found or hangs past ``timeout`` raises
:class:`~pytest_prodcheck.acme.errors.ReloadFailed` with its last line of output.
The embedded stack's default is its own nginx reload (``Endpoints.nginx_reload_command``);
the CLI's default is :data:`DEFAULT_RELOAD_COMMAND`.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence

from pytest_prodcheck.acme.errors import ReloadFailed
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.secrets import mask_text

DEFAULT_RELOAD_COMMAND: tuple[str, ...] = ("nginx", "-s", "reload")


def parse_command(command: str | Sequence[str] | None) -> tuple[str, ...]:
    """A shell-like string or an argv list → argv tuple (``""`` / ``None`` → no command)."""
    if command is None:
        return ()
    if isinstance(command, str):
        try:
            return tuple(shlex.split(command))
        except ValueError as exc:
            raise ConfigError(f"reload command {command!r} cannot be parsed: {exc}") from None
    return tuple(str(a) for a in command)


def run_reload(argv: Sequence[str], *, timeout: float = 60.0) -> None:
    """Run ``argv``; raise :class:`ReloadFailed` naming the command and its error."""
    if not argv:
        return
    shown = mask_text(shlex.join(argv))
    try:
        proc = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise ReloadFailed(
            f"reload command `{shown}` failed: {argv[0]} not found (set --reload-command)"
        ) from None
    except subprocess.TimeoutExpired:
        raise ReloadFailed(f"reload command `{shown}` hung for more than {timeout:.0f} s") from None
    except OSError as exc:
        raise ReloadFailed(f"reload command `{shown}` failed: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        out = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()
        last = mask_text(out[-1].strip())[:300] if out else "no output"
        raise ReloadFailed(f"reload command `{shown}` exited with {proc.returncode}: {last}")


__all__ = ["DEFAULT_RELOAD_COMMAND", "parse_command", "run_reload"]
