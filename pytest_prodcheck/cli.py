"""The ``prodcheck`` command: one argparse sub-command per module in ``commands/``.

    $ prodcheck checklist                  # every item, how it is decided, its last status
    $ prodcheck attest security.firewall --by "Jane Ops" --evidence https://tickets/OPS-12
    $ prodcheck stack up --json            # (stack area) …

Each module in :data:`COMMAND_MODULES` exposes ``register(subparsers)`` (adds its parser(s) and sets
``func=run``) and ``run(args) -> int``. Only the module of the command being run is imported
(``--help`` imports them all). Exit codes: 0 ok, 1 a check failed, 2 usage/configuration error,
3 unreachable target or tool failure, 130 interrupted, 143 terminated. Every error is one line on
stderr (``PRODCHECK_DEBUG=1`` re-raises unexpected exceptions with their traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from types import ModuleType

from pytest_prodcheck._version import __version__
from pytest_prodcheck.core.errors import ProdcheckError, ToolError
from pytest_prodcheck.core.secrets import mask_text, remove_legacy_pgpass_files

COMMAND_MODULES: tuple[str, ...] = (
    "stack",
    "tls",
    "pgbouncer",
    "backup",
    "cron",
    "load",
    "ssl",
    "checklist",
    "doctor",
    "init",
    "report",
    "docker",
)
# sub-command name -> module, so that running one command imports one module
COMMAND_TO_MODULE: dict[str, str] = {
    "stack": "stack",
    "tls": "tls",
    "pgbouncer": "pgbouncer",
    "backup": "backup",
    "restore": "backup",
    "backups": "backup",
    "cron": "cron",
    "load": "load",
    "ssl": "ssl",
    "checklist": "checklist",
    "attest": "checklist",
    "doctor": "doctor",
    "init": "init",
    "report": "report",
    "docker": "docker",
}


def _import(name: str) -> ModuleType | None:
    """Import ``pytest_prodcheck.commands.<name>``; None if that module does not exist (yet)."""
    full = f"pytest_prodcheck.commands.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            return None
        raise


class Terminated(BaseException):
    """SIGTERM arrived: unwind through every ``finally`` (children stopped), exit 143."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        """One line, exit 2: ``prodcheck attest: error: the following arguments are required: …``."""
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="prodcheck",
        description="Is this deployment production-ready? Tools and checks of pytest-prodcheck.",
        epilog="The checks themselves run under pytest: `pytest -m smoke` (see README).",
    )
    parser.add_argument("--version", action="version", version=f"prodcheck {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    first = next((a for a in argv if not a.startswith("-")), None)
    wanted = COMMAND_TO_MODULE.get(first or "")
    names = (wanted,) if wanted else COMMAND_MODULES
    for name in dict.fromkeys(names):
        module = _import(name)
        if module is not None:
            module.register(subparsers)
        elif wanted:
            raise ToolError(
                f"'prodcheck {first}' is not available in this installation "
                f"(pytest_prodcheck/commands/{name}.py is missing); see 'prodcheck --help'"
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``prodcheck`` console script; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    remove_legacy_pgpass_files()  # what killed older versions left: no password stays on disk
    try:
        parser = build_parser(args_list)
        args = parser.parse_args(args_list)
        func = getattr(args, "func", None)
        if func is None:
            parser.print_help(sys.stderr)
            return 2
        return int(func(args))
    except ProdcheckError as exc:
        print(f"prodcheck: error: {mask_text(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, Terminated) as exc:
        if args_list[:1] == ["stack"]:
            return 0  # `stack up` serves until a signal: stopping is its normal end, even early
        interrupted = isinstance(exc, KeyboardInterrupt)
        print(f"prodcheck: {'interrupted' if interrupted else 'terminated'}", file=sys.stderr)
        return 130 if interrupted else 143
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug or an unexpected failure: one line, exit 3
        if os.environ.get("PRODCHECK_DEBUG"):
            raise
        print(
            f"prodcheck: error: unexpected {type(exc).__name__}: {mask_text(str(exc))} "
            "(set PRODCHECK_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
