"""Check tables: one row per check — id, callable, shared input, checklist items, markers.

Each area states its checks once, in a table, the way sslyze's scan-command repository does;
the ids, the dispatch, the CLI listing and the suite's parametrisation are all derived from it.

    >>> table = CheckTable("demo", [
    ...     CheckSpec("demo.ok", lambda ctx: CheckResult.passed("demo.ok", "1", "1"),
    ...               group="site", items=("testing.smoke",), markers=("smoke",), title="ok"),
    ... ])
    >>> table.ids()
    ('demo.ok',)
    >>> table.get("demo.ok").guarded(None).status
    'pass'
    >>> [g for g in table.by_group()]
    ['site']

Adding a check = one function + one row + its failing-target test. Whether every ``items`` id
exists in the checklist is verified by the caller (``core`` knows nothing of the checklist).
:class:`Shared` computes an input several checks share (a TLS scan, the fetched pages) once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from pytest_prodcheck.core.errors import ConfigError, ProdcheckError
from pytest_prodcheck.core.result import CheckResult

C = TypeVar("C")
T = TypeVar("T")

__all__ = ["CheckSpec", "CheckTable", "Shared", "guard"]


def guard(check_id: str, fn: Callable[[], CheckResult]) -> CheckResult:
    """Run one check; anything it raises becomes an ``error`` result with a one-line reason."""
    try:
        return fn()
    except ProdcheckError as exc:
        return CheckResult.errored(check_id, str(exc))
    except Exception as exc:  # a bug or an unexpected server answer must not sink the run
        return CheckResult.errored(check_id, f"{exc.__class__.__name__}: {exc}")


@dataclass(frozen=True)
class CheckSpec(Generic[C]):
    """One check: ``run(context)`` judges it; ``group`` names the shared input it needs."""

    id: str
    run: Callable[[C], CheckResult]
    group: str
    items: tuple[str, ...] = ()  # checklist item ids this check gives evidence for
    markers: tuple[str, ...] = ()  # pytest markers of its suite test, e.g. ("smoke",)
    title: str = ""

    def guarded(self, context: C) -> CheckResult:
        """``run(context)``, with anything raised turned into an ``error`` result."""
        return guard(self.id, lambda: self.run(context))


class CheckTable(Generic[C]):
    """The checks of one area, in order; ids are unique (ValueError otherwise)."""

    def __init__(self, area: str, specs: Iterable[CheckSpec[C]]) -> None:
        self.area = area
        self._specs: tuple[CheckSpec[C], ...] = tuple(specs)
        seen: set[str] = set()
        for spec in self._specs:
            if not spec.id or not spec.group:
                raise ValueError(f"{area}: a check needs an id and a group: {spec!r}")
            if spec.id in seen:
                raise ValueError(f"{area}: check id {spec.id!r} appears twice")
            seen.add(spec.id)

    def __iter__(self) -> Iterator[CheckSpec[C]]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, check_id: object) -> bool:
        return any(s.id == check_id for s in self._specs)

    def ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self._specs)

    def get(self, check_id: str) -> CheckSpec[C]:
        """The row of ``check_id`` (ConfigError naming the known ids otherwise)."""
        for spec in self._specs:
            if spec.id == check_id:
                return spec
        raise ConfigError(
            f"unknown {self.area} check id: {check_id} (known: {', '.join(self.ids())})"
        )

    def select(self, only: Iterable[str] | None = None) -> tuple[CheckSpec[C], ...]:
        """The rows of ``only`` in table order (all when None); ConfigError for unknown ids."""
        if only is None:
            return self._specs
        wanted = set(only)
        unknown = wanted - set(self.ids())
        if unknown:
            raise ConfigError(f"unknown check id(s): {', '.join(sorted(unknown))}")
        return tuple(s for s in self._specs if s.id in wanted)

    def marked(self, marker: str) -> tuple[CheckSpec[C], ...]:
        """The rows carrying ``marker``, in table order."""
        return tuple(s for s in self._specs if marker in s.markers)

    def by_group(self) -> dict[str, tuple[CheckSpec[C], ...]]:
        """Rows per group, groups in order of first appearance."""
        groups: dict[str, list[CheckSpec[C]]] = {}
        for spec in self._specs:
            groups.setdefault(spec.group, []).append(spec)
        return {g: tuple(specs) for g, specs in groups.items()}

    def items(self) -> frozenset[str]:
        """Every checklist item id the table links to (for the caller to validate)."""
        return frozenset(i for s in self._specs for i in s.items)


class Shared(Generic[T]):
    """A value computed at most once, on first use, thread-safe; a raised error is kept and
    raised again to every later caller (as pytest does for a failed module fixture).

        >>> scan = Shared(lambda: expensive_scan(target))
        >>> scan.get() is scan.get()
        True
    """

    def __init__(self, compute: Callable[[], T]) -> None:
        self._compute = compute
        self._lock = threading.Lock()
        self._done = False
        self._value: T | None = None
        self._error: BaseException | None = None

    def get(self) -> T:
        with self._lock:
            if not self._done:
                try:
                    self._value = self._compute()
                except Exception as exc:
                    self._error = exc
                self._done = True
        if self._error is not None:
            raise self._error
        return cast(T, self._value)  # set: no error was kept
