"""Run Locust in a subprocess, bounded in time, and collect its results (never imports Locust).

    >>> spec = RunSpec(host="http://127.0.0.1:8000", out_dir=Path("reports/load/smoke-1"),
    ...                users=10, spawn_rate=2, run_time_s=120)
    >>> spec.time_bound_s()
    155.0
    >>> run = run_locust(spec, progress=print)            # doctest: +SKIP
    >>> run.health.saturated, run.stats.total().percentile(0.95)   # doctest: +SKIP
    (False, 87)

What it guarantees:

* Locust runs as ``python -m locust`` in one :class:`~pytest_prodcheck.core.proc.ProcessGroup`, with
  the bundled locustfile and the injected hook (``_hook.py``: 1 ms buckets, progress, CPU meta).
* The run is bounded: ``time_bound_s()`` = run time (or shape length) + stop timeout + margin
  (+ worker start-up). Past it the whole group gets SIGTERM then SIGKILL, and :class:`ToolError`
  says so.
  Ctrl-C / SIGTERM of the caller, or any exception, kills the group too. Nothing outlives the call.
* ``--exit-code-on-error 0``: one HTTP 500 does not fail the process; thresholds decide.
* Generator health: CPU time of each Locust process over its load window (``getrusage`` in the
  child, cross-checked with ``wait4`` rusage) against wall time, and its event-loop lag. Above
  ``max_cpu_ratio`` or ``max_loop_lag_ms`` the run is *invalid*: the latencies measure the
  generator, not the target.
* ``workers=N`` starts a master bound to 127.0.0.1 plus N local worker processes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable, ToolError
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import GroupMember, ProcessGroup
from pytest_prodcheck.core.secrets import mask_text
from pytest_prodcheck.load.stats import LoadStats

HERE = Path(__file__).resolve().parent
LOCUSTFILE = HERE / "locustfile.py"
HOOKFILE = HERE / "_hook.py"
MARGIN_S = 30.0
WORKER_WAIT_S = 30


@dataclass(frozen=True)
class Progress:
    elapsed_s: float
    users: int
    requests: int
    failures: int
    rps: float
    p95_ms: int | None

    def render(self, label: str = "load", total_s: float | None = None) -> str:
        """``load smoke  12s/120s  users 10  rps 11.2  p95 45ms  errors 0 (0.00%)``"""
        of = f"/{total_s:.0f}s" if total_s else "s"
        err = 100 * self.failures / self.requests if self.requests else 0.0
        p95 = f"{self.p95_ms}ms" if self.p95_ms is not None else "-"
        return (
            f"{label}  {self.elapsed_s:.0f}{of}  users {self.users}  rps {self.rps:.1f}  "
            f"p95 {p95}  errors {self.failures} ({err:.2f}%)"
        )


@dataclass(frozen=True)
class RunSpec:
    host: str
    out_dir: Path
    users: int | None = None
    spawn_rate: float | None = None
    run_time_s: float | None = None
    shape: str | None = None  # "daily" | "spike": uses shape_<name>.py; users/run time ignored
    shape_duration_s: float | None = None  # compress/stretch the shape to this length
    # stress steps ((end_s, users), …): run shape_steps.py with these stages (users/time ignored)
    stages: tuple[tuple[float, int], ...] = ()
    stages_spawn_rate: float = 20.0
    snapshots_s: tuple[float, ...] = ()  # cumulative stats at these times -> windows.jsonl
    locustfiles: tuple[Path, ...] = (LOCUSTFILE,)
    locust_config: Mapping[str, Any] = field(default_factory=dict)  # for the locustfile
    workers: int = 0
    stop_timeout_s: float = 5.0
    timeout_s: float | None = None  # None: time_bound_s()
    progress_every_s: float = 2.0
    raw_timings: bool = False  # also dump every raw timing to raw-<pid>.jsonl (tests, benchmarks)
    max_cpu_ratio: float = 0.9
    max_loop_lag_ms: float = 100.0
    connect_check: bool = True  # refuse early (TargetUnreachable) if the host does not accept TCP
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def run_length_s(self) -> float:
        if self.stages:
            return float(self.stages[-1][0])
        if self.shape:
            from pytest_prodcheck.load.shapes import get_shape

            return self.shape_duration_s or get_shape(self.shape).duration_s
        if self.run_time_s is None:
            raise ConfigError("a load run needs a run time (or a shape)")
        return float(math.ceil(self.run_time_s))

    def time_bound_s(self) -> float:
        if self.timeout_s is not None:
            return self.timeout_s
        extra = WORKER_WAIT_S if self.workers else 0
        return self.run_length_s() + self.stop_timeout_s + MARGIN_S + extra


@dataclass(frozen=True)
class ProcessUsage:
    role: str  # local | master | worker
    pid: int
    returncode: int
    wall_s: float  # process lifetime
    cpu_s: float  # user+sys from wait4 (whole lifetime, including start-up)
    window_wall_s: float | None  # load window (test start -> stop), from the hook
    window_cpu_s: float | None
    loop_lag_p95_ms: float | None
    loop_lag_max_ms: float | None
    cpu_warning: bool

    @property
    def cpu_ratio(self) -> float:
        """CPU / wall over the load window (lifetime if the hook reported nothing)."""
        if self.window_wall_s and self.window_cpu_s is not None:
            return self.window_cpu_s / self.window_wall_s
        return self.cpu_s / self.wall_s if self.wall_s else 0.0


@dataclass(frozen=True)
class GeneratorHealth:
    processes: tuple[ProcessUsage, ...]
    max_cpu_ratio: float
    max_loop_lag_ms: float

    @property
    def reasons(self) -> tuple[str, ...]:
        out = []
        for p in self.processes:
            if p.role == "master":
                continue  # the master only aggregates; its load is not the requests'
            if p.cpu_ratio >= self.max_cpu_ratio:
                out.append(
                    f"{p.role} pid {p.pid} used {p.cpu_ratio:.0%} of a core "
                    f"(limit {self.max_cpu_ratio:.0%})"
                )
            if p.loop_lag_p95_ms is not None and p.loop_lag_p95_ms >= self.max_loop_lag_ms:
                out.append(
                    f"{p.role} pid {p.pid} event-loop lag p95 {p.loop_lag_p95_ms:.0f}ms "
                    f"(limit {self.max_loop_lag_ms:.0f}ms)"
                )
        return tuple(out)

    @property
    def saturated(self) -> bool:
        return bool(self.reasons)

    def describe(self) -> str:
        if self.saturated:
            return (
                "load generator saturated: "
                + "; ".join(self.reasons)
                + " - the latencies measure the generator, not the target; run invalid "
                "(use --prodcheck-load-workers N, fewer users, or a less loaded machine)"
            )
        ratios = ", ".join(f"{p.role} {p.cpu_ratio:.0%}" for p in self.processes)
        return f"load generator healthy (CPU of a core: {ratios})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "saturated": self.saturated,
            "reasons": list(self.reasons),
            "max_cpu_ratio": self.max_cpu_ratio,
            "max_loop_lag_ms": self.max_loop_lag_ms,
            "processes": [
                {**p.__dict__, "cpu_ratio": round(p.cpu_ratio, 4)} for p in self.processes
            ],
        }


@dataclass(frozen=True)
class LoadRun:
    spec: RunSpec
    stats: LoadStats
    health: GeneratorHealth
    wall_s: float
    returncode: int
    errors: tuple[dict[str, Any], ...]
    files: Mapping[str, Path]

    def raw_timings(self) -> list[tuple[str, str, float]]:
        """``(method, name, ms)`` of every request, if the spec asked for ``raw_timings``."""
        out: list[tuple[str, str, float]] = []
        for path in sorted(self.spec.out_dir.glob("raw-*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                method, name, ms = json.loads(line)
                out.append((str(method), str(name), float(ms)))
        return out


def _checked_url(host: str) -> Any:
    """``urlsplit(host)`` of a plain http(s) base URL; :class:`ConfigError` otherwise."""
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--host {mask_text(host)!r}: expected http(s)://HOST[:PORT]")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"--host {mask_text(host)!r}: credentials in the load URL are not supported "
            "(they would end up in Locust's command line and HTML report, and the journey "
            "authenticates itself with the shop's own login)"
        )
    return parts


def check_reachable(host: str, timeout: float = 5.0) -> None:
    """Raise :class:`TargetUnreachable` unless ``host`` (a base URL) accepts a TCP connection."""
    parts = _checked_url(host)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        raise TargetUnreachable(
            f"load target {mask_text(host)} is unreachable ({exc.strerror or exc}); "
            "start the site or fix --host"
        ) from None


def locust_command(spec: RunSpec) -> list[str]:
    """``python -m locust -f <locustfiles>,<shape>,<hook>``: what every Locust process runs."""
    files = [str(p) for p in spec.locustfiles]
    if spec.stages:
        files.append(str(HERE / "shape_steps.py"))
    elif spec.shape:
        from pytest_prodcheck.load.shapes import shape_file

        files.append(str(shape_file(spec.shape)))
    files.append(str(HOOKFILE))
    return [sys.executable, "-m", "locust", "-f", ",".join(files), "--loglevel", "WARNING"]


def build_commands(spec: RunSpec, master_port: int | None = None) -> list[list[str]]:
    """argv of the master/local process first, then one per worker."""
    _checked_url(spec.host)
    out = spec.out_dir
    main = [
        *locust_command(spec),
        "--headless",
        "--host", spec.host,
        "--json-file", str(out / "locust"),
        "--html", str(out / "locust.html"),
        "--csv", str(out / "locust"),
        "--exit-code-on-error", "0",
        "--only-summary",
        "--stop-timeout", f"{spec.stop_timeout_s:g}",
    ]  # fmt: skip
    if not spec.shape and not spec.stages:
        if not spec.users or not spec.spawn_rate:
            raise ConfigError("a load run needs users and a spawn rate (or a shape)")
        main += ["-u", str(spec.users), "-r", f"{spec.spawn_rate:g}"]
        main += ["-t", f"{int(spec.run_length_s())}s"]
    if not spec.workers:
        return [main]
    assert master_port is not None
    main += [
        "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port),
        "--expect-workers", str(spec.workers), "--expect-workers-max-wait", str(WORKER_WAIT_S),
    ]  # fmt: skip
    worker = [*locust_command(spec), "--worker", "--master-host", "127.0.0.1"]
    worker += ["--master-port", str(master_port)]
    return [main] + [list(worker) for _ in range(spec.workers)]


def _child_env(spec: RunSpec) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env.update(
        PRODCHECK_LOAD_OUT=str(spec.out_dir),
        PRODCHECK_LOAD_PROGRESS=str(spec.out_dir / "progress.jsonl"),
        PRODCHECK_LOAD_PROGRESS_EVERY=f"{spec.progress_every_s:g}",
        PRODCHECK_LOAD_CONFIG=str(spec.out_dir / "locust-config.json"),
        PRODCHECK_LOAD_WORKERS=str(spec.workers or 1),
        PYTHONUNBUFFERED="1",
    )
    if spec.raw_timings:
        env["PRODCHECK_LOAD_RAW"] = "1"
    if spec.stages:
        from pytest_prodcheck.load.shapes import STAGES_ENV

        env[STAGES_ENV] = json.dumps(
            {"stages": [list(st) for st in spec.stages], "spawn_rate": spec.stages_spawn_rate}
        )
    if spec.snapshots_s:
        env["PRODCHECK_LOAD_SNAPSHOTS"] = ",".join(f"{t:g}" for t in spec.snapshots_s)
    elif spec.stages:
        env["PRODCHECK_LOAD_SNAPSHOTS"] = ",".join(f"{end:g}" for end, _ in spec.stages[:-1])
    if spec.shape and spec.shape_duration_s and not spec.stages:
        from pytest_prodcheck.load.shapes import TIME_SCALE_ENV, get_shape

        env[TIME_SCALE_ENV] = f"{spec.shape_duration_s / get_shape(spec.shape).duration_s:.6g}"
    env.update(spec.extra_env)
    return env


def run_locust(spec: RunSpec, progress: Callable[[Progress], None] | None = None) -> LoadRun:
    """Run one load test as described by ``spec``; see the module docstring for guarantees."""
    if spec.connect_check:
        check_reachable(spec.host)
    bound = spec.time_bound_s()
    spec.out_dir.mkdir(parents=True, exist_ok=True)
    stale_files = (*spec.out_dir.glob("meta-*.json"), *spec.out_dir.glob("raw-*.jsonl"))
    for stale in (*stale_files, spec.out_dir / "progress.jsonl", spec.out_dir / "windows.jsonl"):
        stale.unlink(missing_ok=True)
    (spec.out_dir / "locust-config.json").write_text(json.dumps(dict(spec.locust_config)))
    master_port = free_port() if spec.workers else None
    argvs = build_commands(spec, master_port)
    env = _child_env(spec)
    log_path = spec.out_dir / "locust.log"
    group = ProcessGroup("locust")  # killed by the run registry on SIGTERM / at exit
    started = time.monotonic()
    try:
        with open(log_path, "wb") as log:
            for i, argv in enumerate(argvs):
                role = ("master" if spec.workers else "local") if i == 0 else "worker"
                group.spawn(role, argv, env=env, stdout=log, stderr=log)
            _wait(group.members, spec, started, bound, progress)
    except BaseException:
        group.terminate(grace=2.0)
        raise
    group.terminate(grace=1.0)  # a worker that did not follow its master
    wall = time.monotonic() - started
    return _collect(spec, group.members, wall, log_path)


def _wait(
    procs: list[GroupMember],
    spec: RunSpec,
    started: float,
    bound: float,
    progress: Callable[[Progress], None] | None,
) -> None:
    progress_file = spec.out_dir / "progress.jsonl"
    offset = 0
    main = procs[0]
    master_done_at: float | None = None
    while True:
        done = [p.poll() for p in procs]
        if progress is not None and progress_file.exists():
            with open(progress_file, encoding="utf-8") as fh:
                fh.seek(offset)
                chunk = fh.read()
            complete = chunk[: chunk.rfind("\n") + 1]
            offset += len(complete.encode())
            for line in complete.splitlines():
                with contextlib.suppress(ValueError, KeyError):
                    d = json.loads(line)
                    progress(
                        Progress(
                            float(d.get("elapsed_s", time.monotonic() - started)),
                            int(d["users"]), int(d["requests"]),
                            int(d["failures"]), float(d["rps"]), d.get("p95_ms"),
                        )
                    )  # fmt: skip
        if all(done):
            return
        now = time.monotonic()
        if main.exited_at is not None:
            master_done_at = master_done_at or now
            if now - master_done_at > 15:
                return  # leftover workers are killed by the caller
        if now - started > bound:
            raise ToolError(
                f"locust run exceeded its time bound of {bound:.0f}s and was killed "
                f"(see {spec.out_dir / 'locust.log'})"
            )
        time.sleep(0.2)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return mask_text(" | ".join(text[-lines:]))


def _collect(spec: RunSpec, procs: list[GroupMember], wall: float, log_path: Path) -> LoadRun:
    main = procs[0]
    json_path = spec.out_dir / "locust.json"
    if main.rc not in (0, None) or not json_path.exists():
        raise ToolError(
            f"locust exited with code {main.rc} without usable results: {_tail(log_path)} "
            f"(full log: {log_path})"
        )
    metas: dict[int, dict[str, Any]] = {}
    for path in spec.out_dir.glob("meta-*.json"):
        with contextlib.suppress(OSError, ValueError):
            m = json.loads(path.read_text(encoding="utf-8"))
            metas[int(m["pid"])] = m
    usages = []
    for p in procs:
        m = metas.get(p.pid, {})
        usages.append(
            ProcessUsage(
                role=p.role, pid=p.pid, returncode=p.rc if p.rc is not None else -1,
                wall_s=round(p.wall_s, 3), cpu_s=round(p.cpu_s, 3),
                window_wall_s=m.get("window_wall_s"), window_cpu_s=m.get("window_cpu_s"),
                loop_lag_p95_ms=m.get("loop_lag_p95_ms"), loop_lag_max_ms=m.get("loop_lag_max_ms"),
                cpu_warning=bool(m.get("cpu_warning")),
            )
        )  # fmt: skip
    main_meta = metas.get(main.pid, {})
    stats = LoadStats.from_locust_json(json_path, window_s=main_meta.get("window_wall_s"))
    health = GeneratorHealth(tuple(usages), spec.max_cpu_ratio, spec.max_loop_lag_ms)
    files = {
        name: spec.out_dir / fname
        for name, fname in (
            ("html", "locust.html"), ("json", "locust.json"), ("csv", "locust_stats.csv"),
            ("csv_history", "locust_stats_history.csv"), ("failures_csv", "locust_failures.csv"),
            ("log", "locust.log"), ("progress", "progress.jsonl"), ("windows", "windows.jsonl"),
        )
        if (spec.out_dir / fname).exists()
    }  # fmt: skip
    return LoadRun(
        spec=spec,
        stats=stats,
        health=health,
        wall_s=round(wall, 3),
        returncode=main.rc if main.rc is not None else -1,
        errors=tuple(main_meta.get("errors") or ()),
        files=files,
    )


LOCK_ENV = "PRODCHECK_LOAD_LOCK"
LOCK_PATH = Path("/tmp/prodcheck-load.lock")


@contextlib.contextmanager
def exclusive_load(
    lock_path: Path | None = None, on_wait: Callable[[str], None] | None = None
) -> Any:
    """Hold a machine-wide lock so load runs never overlap (xdist workers, parallel sessions).

    >>> with exclusive_load(on_wait=print):      # doctest: +SKIP
    ...     run_locust(spec)

    The lock file is ``$PRODCHECK_LOAD_LOCK`` or ``/tmp/prodcheck-load.lock``. If another run
    holds it, ``on_wait`` is told so once, then the call blocks until that run ends.
    """
    import fcntl

    lock_path = lock_path or Path(os.environ.get(LOCK_ENV) or LOCK_PATH)

    fd = os.open(lock_path, os.O_RDONLY | os.O_CREAT, 0o666)  # read-only: any user can lock
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait(f"waiting for another load run on this machine to finish ({lock_path})")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
