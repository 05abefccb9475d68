"""Remove this run's containers, networks and volumes on every way out.

    >>> guard = RunGuard(client)      # atexit + SIGTERM (on top of core.proc's handler)
    >>> ...                          # start labelled containers
    >>> guard.close()                # the normal path: remove everything now, unregister

Normal exit and Ctrl-C unwind through the providers' ``finally`` (they call :meth:`close`);
``atexit`` covers an exit that skips them; SIGTERM removes everything *before* core.proc's handler
stops the processes (among them a private engine, which must still answer). A SIGKILLed run
cannot clean up: the next run's :func:`~pytest_prodcheck.dockerhost.labels.reap_dead` does.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import threading
from types import FrameType
from typing import Any

from pytest_prodcheck.core.proc import ensure_registry
from pytest_prodcheck.dockerhost.labels import RUN_ID, remove_run

_lock = threading.Lock()
_guards: list[RunGuard] = []
_prev: Any = None
_installed = False
_atexit_registered = False


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    for guard in list(_guards):
        guard.close()
    prev = _prev
    if callable(prev):
        prev(signum, frame)
    elif prev != signal.SIG_IGN:
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)


def _install() -> None:
    global _installed, _prev, _atexit_registered
    ensure_registry()  # core.proc's atexit and SIGTERM handler first, so ours run before them
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(_at_exit)  # LIFO: before core.proc's stop_all (which stops the engine)
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGTERM)
    if current is _on_sigterm:
        return
    _prev = current
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, _on_sigterm)
        _installed = True


def _at_exit() -> None:
    for guard in list(_guards):
        guard.close()


class RunGuard:
    """Removes everything labelled with ``run_id`` on :meth:`close`, atexit or SIGTERM."""

    def __init__(self, client: Any, run_id: str = RUN_ID) -> None:
        self.client = client
        self.run_id = run_id
        self.removed: list[str] = []
        with _lock:
            _guards.append(self)
        _install()

    def close(self) -> list[str]:
        """Remove this run's containers, networks, volumes (idempotent); what was removed."""
        with _lock:
            if self not in _guards:
                return []
            _guards.remove(self)
        with contextlib.suppress(Exception):
            self.removed = remove_run(self.client, self.run_id)
        return self.removed

    def __enter__(self) -> RunGuard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
