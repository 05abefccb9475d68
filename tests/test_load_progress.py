"""load/progress.py: one line in place on a TTY, at most one line per 10 s in CI."""

from __future__ import annotations

import io

from pytest_prodcheck.load.progress import ProgressView, stream_view
from pytest_prodcheck.load.runner import Progress


def _p(t: float) -> Progress:
    return Progress(t, 10, int(10 * t), 1, 11.5, 42)


def test_ci_prints_at_most_one_line_per_10_seconds():
    lines: list[str] = []
    clock = iter(float(t) for t in range(0, 121, 2))  # a 2-minute smoke, an update every 2 s
    view = ProgressView("load smoke", 120, tty=False, out=lines.append, clock=clock.__next__)
    for t in range(0, 121, 2):
        view(_p(t))
    assert len(lines) == 13  # t = 0, 10, …, 120 (was 60 lines)
    assert lines[1].startswith("load smoke  10/120s  users 10  rps 11.5  p95 42ms  errors 1")


def test_tty_rewrites_one_line_and_closes_it():
    out, rewritten = [], []
    view = ProgressView("load spike", 60, tty=True, out=out.append, rewrite=rewritten.append)
    for t in (2, 4, 6):
        view(_p(t))
    assert len(rewritten) == 3 and out == []
    view.close()
    assert out == [""]  # the summary starts on its own line


def test_stream_view_on_a_non_tty_stream():
    buf = io.StringIO()
    view = stream_view("load smoke", 120, buf)
    view(_p(0))
    view(_p(2))
    view.close()
    assert buf.getvalue().count("\n") == 1 and "\r" not in buf.getvalue()
