"""Injected into every Locust run by the runner (``-f locustfile.py,_hook.py``); Locust-side only.

What it does, all switched by environment variables the runner sets:

* 1 ms histogram buckets (always): replaces ``locust.stats.bucket_response_time`` (a documented
  hook) with ``floor(ms)``, so the JSON histogram gives exact decisions for ``p(95) < N ms`` (see
  :mod:`pytest_prodcheck.load.stats`). Workers load it too, so merged stats stay 1 ms.
* ``PRODCHECK_LOAD_OUT=<dir>``: writes ``meta-<role>-<pid>.json`` at exit: load window (wall and
  CPU of this process between test start and stop), event-loop lag, Locust's CPU warning, errors.
* ``PRODCHECK_LOAD_PROGRESS=<file>``: appends a JSON line every ``PRODCHECK_LOAD_PROGRESS_EVERY``
  seconds (users, requests, failures, current rps, current p95) — master/local only.
* ``PRODCHECK_LOAD_RAW=1``: appends every raw response time to ``<out>/raw-<pid>.jsonl`` (for
  accuracy tests and benchmarks; one file per process, so workers never interleave).
* ``PRODCHECK_LOAD_SNAPSHOTS=t1,t2,…``: at those seconds after the test start, and once at its
  stop, appends the cumulative stats (every endpoint's 1 ms histogram and failures) to
  ``<out>/windows.jsonl`` (master/local only); consecutive snapshots give the stats of each window
  (stress steps, the first and last tenth of an endurance run: :mod:`..load.windows`).
"""

from __future__ import annotations

import json
import math
import os
import resource
import time
from collections.abc import Callable
from typing import Any, TypeVar

import gevent
import locust.stats
from locust import events
from locust.runners import MasterRunner, WorkerRunner

_Listener = TypeVar("_Listener", bound=Callable[..., None])


def _on(hook: Any) -> Callable[[_Listener], _Listener]:
    """``@_on(events.init)``: ``hook.add_listener`` with a type mypy can check (locust has none)."""
    add: Callable[[Callable[..., None]], object] = hook.add_listener

    def register(func: _Listener) -> _Listener:
        add(func)
        return func

    return register


def _floor_bucket(response_time: int | float) -> int:
    return math.floor(response_time)


locust.stats.bucket_response_time = _floor_bucket

OUT = os.environ.get("PRODCHECK_LOAD_OUT")
PROGRESS = os.environ.get("PRODCHECK_LOAD_PROGRESS")
PROGRESS_EVERY = float(os.environ.get("PRODCHECK_LOAD_PROGRESS_EVERY", "2"))
RAW = (
    os.path.join(OUT, f"raw-{os.getpid()}.jsonl")
    if OUT and os.environ.get("PRODCHECK_LOAD_RAW") == "1"
    else None
)
SNAPSHOTS = tuple(
    float(t) for t in os.environ.get("PRODCHECK_LOAD_SNAPSHOTS", "").split(",") if t.strip()
)
LAG_EVERY = 0.05

_state: dict[str, Any] = {
    "start_wall": None,
    "start_cpu": None,
    "stop_wall": None,
    "stop_cpu": None,
    "lags": [],
    "cpu_warning": False,
    "role": "local",
}
_raw: list[str] = []


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _lag_sampler() -> None:
    while True:
        t0 = time.perf_counter()
        gevent.sleep(LAG_EVERY)
        _state["lags"].append(max(0.0, time.perf_counter() - t0 - LAG_EVERY))


def _progress_writer(environment: Any) -> None:
    assert PROGRESS is not None
    while True:
        gevent.sleep(PROGRESS_EVERY)
        total = environment.runner.stats.total
        start = _state["start_wall"]
        line = {
            "t": round(time.time(), 3),
            "elapsed_s": round(time.time() - start, 2) if start else 0.0,
            "users": environment.runner.user_count,
            "requests": total.num_requests,
            "failures": total.num_failures,
            "rps": round(total.current_rps, 2),
            "p95_ms": total.get_current_response_time_percentile(0.95),
        }
        with open(PROGRESS, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")


def _snapshot(environment: Any, final: bool = False) -> None:
    if not OUT or not SNAPSHOTS or isinstance(environment.runner, WorkerRunner):
        return
    stats = environment.runner.stats
    start = _state["start_wall"] or time.time()
    entries = [
        [e.name, e.method, e.num_requests, e.num_failures, dict(e.response_times)]
        for e in stats.entries.values()
    ]
    line = {
        "t": round(time.time() - start, 3),
        "users": environment.runner.user_count,
        "final": final,
        "entries": entries,
    }
    with open(os.path.join(OUT, "windows.jsonl"), "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")


def _snapshotter(environment: Any) -> None:
    start = _state["start_wall"] or time.time()
    for t in sorted(SNAPSHOTS):
        delay = start + t - time.time()
        if delay > 0:
            gevent.sleep(delay)
        if _state["stop_wall"] is not None:
            return
        _snapshot(environment)


@_on(events.init)
def _on_init(environment: Any, **_kw: Any) -> None:
    _state["env"] = environment
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        _state["role"] = "master"
    elif isinstance(runner, WorkerRunner):
        _state["role"] = "worker"
    gevent.spawn(_lag_sampler)
    if PROGRESS and not isinstance(runner, WorkerRunner):
        gevent.spawn(_progress_writer, environment)


@_on(events.test_start)
def _on_test_start(**_kw: Any) -> None:
    if _state["start_wall"] is None:
        _state["start_wall"] = time.time()
        _state["start_cpu"] = _cpu()
        _state["lags"] = []
        env = _state.get("env")
        if env is not None and SNAPSHOTS and not isinstance(env.runner, WorkerRunner):
            gevent.spawn(_snapshotter, env)


@_on(events.test_stop)
def _on_test_stop(**_kw: Any) -> None:
    if _state["stop_wall"] is None and _state.get("env") is not None:
        _snapshot(_state["env"], final=True)
    _state["stop_wall"] = time.time()
    _state["stop_cpu"] = _cpu()


@_on(events.cpu_warning)
def _on_cpu_warning(**_kw: Any) -> None:
    _state["cpu_warning"] = True


if RAW:

    @_on(events.request)
    def _on_request(request_type: str, name: str, response_time: float, **_kw: Any) -> None:
        _raw.append(json.dumps([request_type, name, response_time]))
        if len(_raw) >= 2000:
            _flush_raw()


def _flush_raw() -> None:
    if RAW and _raw:
        with open(RAW, "a", encoding="utf-8") as fh:
            fh.write("\n".join(_raw) + "\n")
        _raw.clear()


@_on(events.quit)
def _on_quit(**_kw: Any) -> None:
    _flush_raw()
    if not OUT:
        return
    lags = sorted(_state["lags"])
    stop_wall = _state["stop_wall"] or time.time()
    stop_cpu = _state["stop_cpu"] if _state["stop_cpu"] is not None else _cpu()
    meta: dict[str, Any] = {
        "role": _state["role"],
        "pid": os.getpid(),
        "start": _state["start_wall"],
        "stop": stop_wall,
        "window_wall_s": (stop_wall - _state["start_wall"]) if _state["start_wall"] else None,
        "window_cpu_s": (stop_cpu - _state["start_cpu"])
        if _state["start_cpu"] is not None
        else None,
        "loop_lag_p95_ms": round(1000 * lags[int(0.95 * (len(lags) - 1))], 2) if lags else None,
        "loop_lag_max_ms": round(1000 * lags[-1], 2) if lags else None,
        "cpu_warning": _state["cpu_warning"],
    }
    env = _state.get("env")
    errors = env.runner.stats.serialize_errors() if env is not None and env.runner else {}
    meta["errors"] = sorted(errors.values(), key=lambda e: -e["occurrences"])[:50]
    path = os.path.join(OUT, f"meta-{_state['role']}-{os.getpid()}.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(meta, fh, default=str)
