"""Live progress of a load run a person can watch, and a CI log can afford.

    >>> lines = []
    >>> view = ProgressView("load smoke", 120, tty=False, out=lines.append, clock=iter([0, 3, 11]).__next__)
    >>> for n in (1, 2, 3):
    ...     view(Progress(n, 10, 100 * n, 0, 11.0, 40))
    >>> len(lines)                        # t=0 shown, t=3 swallowed, t=11 shown
    2

On a terminal (``tty=True``) every update rewrites one line in place (``rewrite``, e.g. ``\\r`` +
erase-line); :meth:`ProgressView.close` ends that line so what follows starts on its own. Without
a terminal (CI logs) at most one line per ``every_s`` seconds (default 10) is written: a
two-minute smoke run prints 12 lines, not 60.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from pytest_prodcheck.load.runner import Progress

CI_EVERY_S = 10.0


class ProgressView:
    def __init__(
        self,
        label: str,
        total_s: float | None,
        *,
        tty: bool,
        out: Callable[[str], None],
        rewrite: Callable[[str], None] | None = None,
        every_s: float = CI_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.total_s, self.tty = label, total_s, tty
        self.out, self.rewrite = out, rewrite
        self.every_s, self.clock = every_s, clock
        self._last: float | None = None
        self._open = False  # a TTY line is being rewritten

    def __call__(self, p: Progress) -> None:
        line = p.render(self.label, self.total_s)
        if self.tty and self.rewrite is not None:
            self.rewrite(line)
            self._open = True
            return
        now = self.clock()
        if self._last is None or now - self._last >= self.every_s:
            self._last = now
            self.out(line)

    def close(self) -> None:
        if self._open:
            self.out("")
            self._open = False


def stream_view(label: str, total_s: float | None, stream: TextIO | None = None) -> ProgressView:
    """A :class:`ProgressView` on ``stream`` (default stderr), TTY-aware."""
    fh = stream or sys.stderr
    tty = bool(getattr(fh, "isatty", lambda: False)())

    def out(line: str) -> None:
        fh.write(line + "\n")
        fh.flush()

    def rewrite(line: str) -> None:
        fh.write("\r\x1b[2K" + line)
        fh.flush()

    return ProgressView(label, total_s, tty=tty, out=out, rewrite=rewrite)
