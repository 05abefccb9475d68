"""Container CPU and memory during a load run ("watch docker stats"), from the stats API.

    >>> with StatsSampler(client, ["prodcheck-…-app", "prodcheck-…-nginx"]) as sampler:
    ...     run_the_load()
    >>> sampler.write(out_dir)        # container-stats.json + container-stats.html (SVG charts)
    >>> sampler.summary()
    'app cpu max 61% avg 34%, mem max 142 MiB | nginx cpu max 9% avg 5%, mem max 6 MiB'

One thread per container follows the engine's stats stream (one sample a second). CPU % is the
engine's formula (container CPU time delta / host CPU time delta × online CPUs × 100), so 200 %
is both cores of a 2-core host; memory is usage minus page cache. Every sampling thread ends with
the ``with`` block (bounded: at most ``max_s`` seconds).
"""

from __future__ import annotations

import contextlib
import html
import json
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class Sample:
    container: str
    t: float  # seconds since sampling began
    cpu_pct: float
    mem_bytes: int


def cpu_percent(stat: dict[str, Any]) -> float | None:
    """The engine's CPU % of one stats frame (None when the frame has no previous reading)."""
    cpu, pre = stat.get("cpu_stats") or {}, stat.get("precpu_stats") or {}
    try:
        delta = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
        system = cpu["system_cpu_usage"] - pre["system_cpu_usage"]
    except (KeyError, TypeError):
        return None
    cpus = cpu.get("online_cpus") or len(cpu["cpu_usage"].get("percpu_usage") or [1])
    return 100.0 * delta / system * cpus if system > 0 and delta >= 0 else None


def memory_bytes(stat: dict[str, Any]) -> int:
    mem = stat.get("memory_stats") or {}
    inner = mem.get("stats") or {}
    cache = inner.get("total_inactive_file", inner.get("inactive_file", inner.get("cache", 0)))
    return max(0, int(mem.get("usage", 0)) - int(cache or 0))


class StatsSampler:
    """Samples ``names`` (containers) until the ``with`` block ends."""

    def __init__(self, client: Any, names: list[str], *, max_s: float = 7200.0) -> None:
        self.client = client
        self.names = names
        self.max_s = max_s
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._t0 = 0.0

    def __enter__(self) -> StatsSampler:
        self._t0 = time.monotonic()
        for name in self.names:
            t = threading.Thread(
                target=self._follow, args=(name,), name=f"stats {name}", daemon=True
            )
            t.start()
            self._threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)

    def _follow(self, name: str) -> None:
        with contextlib.suppress(Exception):
            container = self.client.containers.get(name)
            for stat in container.stats(stream=True, decode=True):
                now = time.monotonic() - self._t0
                if self._stop.is_set() or now > self.max_s:
                    return
                cpu = cpu_percent(stat)
                if cpu is None:
                    continue
                with self._lock:
                    self.samples.append(Sample(_short(name), round(now, 2), round(cpu, 1),
                                               memory_bytes(stat)))  # fmt: skip

    def by_container(self) -> dict[str, list[Sample]]:
        out: dict[str, list[Sample]] = {}
        with self._lock:
            for s in self.samples:
                out.setdefault(s.container, []).append(s)
        return out

    def summary(self) -> str:
        """One line: per container peak and mean CPU %, peak memory."""
        parts = []
        for name, rows in sorted(self.by_container().items()):
            cpu = [r.cpu_pct for r in rows]
            mem = max(r.mem_bytes for r in rows) / MIB
            parts.append(
                f"{name} cpu max {max(cpu):.0f}% avg {sum(cpu) / len(cpu):.0f}%, "
                f"mem max {mem:.0f} MiB"
            )
        return " | ".join(parts) or "no samples"

    def write(self, out_dir: Path) -> Path:
        """``container-stats.json`` and ``container-stats.html``; returns the HTML path."""
        out_dir.mkdir(parents=True, exist_ok=True)
        data = {name: [asdict(r) for r in rows] for name, rows in self.by_container().items()}
        (out_dir / "container-stats.json").write_text(json.dumps(data, indent=1))
        page = out_dir / "container-stats.html"
        page.write_text(render_html(self.by_container(), self.summary()))
        return page


def _short(name: str) -> str:
    """``prodcheck-<pid>-<hex>-<n>-pebble-challtestsrv`` -> ``pebble-challtestsrv``."""
    parts = name.split("-", 4)
    return parts[4] if len(parts) == 5 and parts[0] == "prodcheck" else name


def _polyline(
    rows: list[Sample], key: str, scale: float, width: int, height: int, t_max: float
) -> str:
    pts = " ".join(
        f"{r.t / t_max * width:.1f},{height - min(height, getattr(r, key) / scale * height):.1f}"
        for r in rows
    )
    return pts


_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")


def render_html(series: dict[str, list[Sample]], summary: str) -> str:
    """A static page (no JavaScript): CPU % and memory over time, one line per container."""
    width, height = 640, 160
    t_max = max((r.t for rows in series.values() for r in rows), default=1.0) or 1.0
    cpu_max = max((r.cpu_pct for rows in series.values() for r in rows), default=1.0) or 1.0
    mem_max = max((r.mem_bytes for rows in series.values() for r in rows), default=1) or 1
    charts = []
    for title, key, scale, unit in (
        ("CPU", "cpu_pct", cpu_max, f"{cpu_max:.0f} %"),
        ("Memory", "mem_bytes", float(mem_max), f"{mem_max / MIB:.0f} MiB"),
    ):
        lines = "".join(
            f'<polyline fill="none" stroke="{_COLOURS[i % len(_COLOURS)]}" stroke-width="1.5" '
            f'points="{_polyline(rows, key, scale, width, height, t_max)}"/>'
            for i, (_name, rows) in enumerate(sorted(series.items()))
        )
        charts.append(
            f"<h2>{title} (top = {unit}, {t_max:.0f} s)</h2>"
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'style="border:1px solid #ccc">{lines}</svg>'
        )
    legend = " ".join(
        f'<span style="color:{_COLOURS[i % len(_COLOURS)]}">&#9632; {html.escape(n)}</span>'
        for i, n in enumerate(sorted(series))
    )
    return (
        "<!doctype html><meta charset=utf-8><title>container stats during load</title>"
        "<h1>Container CPU and memory during the load run</h1>"
        f"<p>{legend}</p>{''.join(charts)}<p>{html.escape(summary)}</p>"
        '<p>Latency: <a href="locust.html">locust.html</a> in this directory.</p>'
    )
