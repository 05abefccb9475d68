"""``pytest --pyargs pytest_prodcheck.suites`` from a wheel *and* from a source checkout.

    >>> rewrite_pyargs(["pytest_prodcheck.suites.test_tls::test_protocols", "-x"])  # checkout
    ['/src/pytest-prodcheck/suites/test_tls.py::test_protocols', '-x']

The wheel ships the suite as the package ``pytest_prodcheck.suites``; an editable install of a
checkout has it in ``suites/`` next to the package instead, where ``--pyargs`` cannot find it.
When the module is not importable and the checkout's ``suites/`` exists, the argument is replaced
by that path (``::`` selections kept). Anything else is returned unchanged.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SUITES_MODULE = "pytest_prodcheck.suites"


def source_suites_dir() -> Path | None:
    """``<checkout>/suites`` when this package runs from a checkout, else None."""
    candidate = Path(__file__).resolve().parent.parent / "suites"
    return candidate if (candidate / "__init__.py").is_file() else None


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def rewrite_pyargs(args: list[str]) -> list[str]:
    """``args`` with ``pytest_prodcheck.suites[.module][::sel]`` mapped onto the checkout."""
    out: list[str] = []
    suites: Path | None = None
    for arg in args:
        name, sep, rest = arg.partition("::")
        if (name == SUITES_MODULE or name.startswith(SUITES_MODULE + ".")) and not _importable(
            name
        ):
            suites = suites or source_suites_dir()
            if suites is not None:
                sub = name[len(SUITES_MODULE) :].lstrip(".")
                path = suites / (sub.replace(".", "/") + ".py") if sub else suites
                out.append(f"{path}{sep}{rest}")
                continue
        out.append(arg)
    return out


__all__ = ["SUITES_MODULE", "rewrite_pyargs", "source_suites_dir"]
