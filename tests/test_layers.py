"""The package's layers (docs/internals.md): imports only go down, never into another's privates.

    $ pytest tests/test_layers.py

Every ``import``/``from … import`` of ``pytest_prodcheck`` (also the ones inside functions) is read
from the source; a package may import its own modules and packages of a LOWER layer only, and no
module may import a ``_private`` module or name of another package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_prodcheck"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("core", "guide", "_version", "checklist_items"),  # the floor: imports nothing above
    (
        "config",
        "config_file",
        "suites_path",
        "evidence",
    ),  # settings, which file; what a test measured
    ("checklist", "shop", "monitoring", "dockerhost"),  # the checklist model; what the stack runs
    ("stack",),  # providers: local, docker, external → Endpoints
    ("probes", "backup", "acme", "load"),  # the check areas and the tools they exercise
    ("report",),  # the run's checklist report
    ("history",),  # evidence records across runs
    ("release",),  # the release decision from history
    ("doctor", "reporter"),  # orchestration over the areas
    ("commands", "plugin"),  # the CLI's sub-commands; the pytest plugin
    ("cli", "__init__"),  # the entry points
)
LAYER_OF = {name: depth for depth, names in enumerate(LAYERS) for name in names}


def _package_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("pytest_prodcheck"):
                out.append((node.lineno, node.module))
                out.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
        elif isinstance(node, ast.Import):
            out.extend(
                (node.lineno, a.name) for a in node.names if a.name.startswith("pytest_prodcheck")
            )
    return out


def _violations() -> tuple[list[str], list[str]]:
    upward: list[str] = []
    private: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "suites" in path.relative_to(PACKAGE).parts:
            continue
        src = _package_of(path)
        where = f"{path.relative_to(PACKAGE.parent)}"
        for lineno, name in _imports(path):
            parts = name.split(".")
            if len(parts) < 2:
                continue
            dst = parts[1]
            if dst != src and dst in LAYER_OF and LAYER_OF[dst] >= LAYER_OF[src]:
                upward.append(f"{where}:{lineno}: {src} (layer {LAYER_OF[src]}) imports {name}")
            if dst != src and any(p.startswith("_") and not p.startswith("__") for p in parts[2:]):
                private.append(f"{where}:{lineno}: imports {name}, private to {dst}")
    return upward, private


def test_every_package_has_a_layer() -> None:
    found = {_package_of(p) for p in PACKAGE.rglob("*.py")}
    found.discard("suites")
    assert sorted(found - LAYER_OF.keys()) == [], "add the new package to LAYERS and the docs"


def test_imports_only_go_down() -> None:
    upward, _ = _violations()
    assert upward == [], "\n".join(upward)


def test_no_package_imports_another_packages_private_module() -> None:
    _, private = _violations()
    assert private == [], "\n".join(private)


@pytest.mark.parametrize("name", ["core"])
def test_the_floor_imports_nothing_of_the_package_above_it(name: str) -> None:
    for path in (PACKAGE / name).rglob("*.py"):
        for lineno, imported in _imports(path):
            assert imported.split(".")[1] in (name, "_version"), f"{path}:{lineno}: {imported}"
