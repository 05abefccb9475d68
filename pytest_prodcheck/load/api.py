"""Plan, run and judge a load test from settings: what the CLI and the suite call.

    >>> plan = plan_load(settings, "smoke", host="https://127.0.0.1:8443",
    ...     host_header="shop.test", ca_bundle="ca.pem", duration_s=20)  # doctest: +SKIP
    >>> outcome = execute(plan, progress=lambda p: print(p.render(plan.name, 20)))  # doctest: +SKIP
    >>> outcome.ok, [v.render() for v in outcome.verdicts][0]         # doctest: +SKIP
    (True, 'p(95) < 1000ms: 41ms ✓')

``plan_load`` validates everything before anything starts (unknown profile, unreachable
throughput floor, bad paths: :class:`ConfigError`); ``execute`` runs Locust through
:func:`runner.run_locust`, evaluates the thresholds and writes ``summary.json`` next to Locust's
HTML/CSV/JSON under ``<report_dir>/load/<name>-<UTC time>/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pytest_prodcheck.config import LoadSettings, Settings
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.resolve import ResolveMap
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.load.drift import Drift, DriftLimits, SiteSampler, judge_drift
from pytest_prodcheck.load.journey import (
    EndpointPaths,
    remembered_accounts,
)
from pytest_prodcheck.load.profiles import Profile, get_profile
from pytest_prodcheck.load.report import summary_lines, write_summary
from pytest_prodcheck.load.runner import GeneratorHealth, LoadRun, Progress, RunSpec, run_locust
from pytest_prodcheck.load.sessions import Target, remembered_sessions, remove_tokens, write_tokens
from pytest_prodcheck.load.shapes import get_shape, parse_steps, steps_shape
from pytest_prodcheck.load.stress import Knee, find_knee
from pytest_prodcheck.load.thresholds import Thresholds, Verdict
from pytest_prodcheck.load.windows import read_windows


@dataclass(frozen=True)
class LoadPlan:
    name: str
    profile: Profile
    thresholds: Thresholds
    spec: RunSpec
    steps: tuple[tuple[int, Thresholds], ...] = ()  # stress: each step's users and thresholds
    drift: DriftLimits | None = None  # endurance: first vs last tenth
    metrics_url: str | None = None  # the site's /metrics (memory), for the drift
    pgbouncer_dsn: str | None = None  # PgBouncer's admin/stats console, for the drift


@dataclass(frozen=True)
class LoadOutcome:
    plan: LoadPlan
    run: LoadRun
    verdicts: tuple[Verdict, ...]
    summary_path: Path
    prepared: Mapping[str, Any] = field(default_factory=dict)  # e.g. remembered sessions
    knee: Knee | None = None  # stress: the breaking point
    drift: Drift | None = None  # endurance: degradation over the run
    charts: Mapping[str, Path] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """False when the generator was saturated, unless a failure is clearly the target's."""
        return judge_validity(self.run.health, self.verdicts)[0]

    @property
    def ok(self) -> bool:
        return (
            self.valid
            and all(v.ok for v in self.verdicts)
            and all(c.ok for c in self.extra_checks())
        )

    def extra_checks(self) -> tuple[CheckResult, ...]:
        """The knee (stress) and the drift checks (endurance); a planned one that got no data
        is an error."""
        out: list[CheckResult] = []
        if self.plan.steps:
            if self.knee is None or not self.knee.steps:
                out.append(CheckResult.errored("load.knee", "the run recorded no step", "a knee"))
            else:
                out.append(self.knee.to_check())
        if self.plan.drift is not None:
            if self.drift is None:
                out.append(
                    CheckResult.errored(
                        "load.drift_p95", "the run recorded no first/last tenth", "a drift"
                    )
                )
            else:
                out.extend(self.drift.checks())
        return tuple(out)

    def checks(self) -> tuple[CheckResult, ...]:
        """Every verdict as a CheckResult, plus the generator check (``error`` if saturated)."""
        valid, why = judge_validity(self.run.health, self.verdicts)
        expected = "generator not saturated"
        if not valid:
            gen = CheckResult.errored("load.generator", why, expected)
        else:
            gen = CheckResult.passed("load.generator", self.run.health.describe(), expected, why)
        return (gen, *(v.to_check() for v in self.verdicts), *self.extra_checks())

    def lines(self) -> list[str]:
        return summary_lines(self)

    def chart_evidence(self) -> list[tuple[str, str, Path]]:
        """``(evidence name, the chart as text, chart file)`` for the checklist report."""
        out = []
        if self.knee is not None and "steps" in self.charts:
            out.append(("load.steps", " | ".join(self.knee.lines()), self.charts["steps"]))
        if self.drift is not None and "drift" in self.charts:
            out.append(("load.drift", self.drift.describe(), self.charts["drift"]))
        return out


def judge_validity(health: GeneratorHealth, verdicts: tuple[Verdict, ...]) -> tuple[bool, str]:
    """Can these verdicts be trusted given the generator's health? ``(valid, reason)``.

    A saturated generator is invalid evidence both ways: it adds its own queueing to the
    latencies, and it sends fewer requests than the profile asks for, so a pass only shows the
    target coped with *less* load than intended (invalid too). The one exception: with event-loop
    lag alone (CPU not saturated) the latency added is at most the worst lag, so a percentile over
    its limit by more than that, or an error-rate failure (HTTP errors come from the target), is
    still the target's failure, and the run is valid (and failed).
    """
    if not health.saturated:
        return True, ""
    failed = [v for v in verdicts if not v.ok]
    if not failed:
        return False, health.describe() + (
            "; every threshold passed, but under less load than the profile asks for"
        )
    cpu_bound = any(
        p.role != "master" and p.cpu_ratio >= health.max_cpu_ratio for p in health.processes
    )
    if not cpu_bound:
        worst_lag = max((p.loop_lag_max_ms or 0.0) for p in health.processes)
        explained = [
            v
            for v in failed
            if not (
                v.threshold.metric == "error_rate"
                or (
                    v.threshold.metric in ("p95", "p99")
                    and v.observed is not None
                    and v.observed - worst_lag >= v.threshold.limit
                )
            )
        ]
        if not explained:
            return True, (
                f"generator event loop lagged (max {worst_lag:.0f}ms), but every failure "
                "exceeds what that lag can explain"
            )
    return False, health.describe()


def paths_from_settings(entries: tuple[str, ...] | list[str]) -> EndpointPaths:
    """``("product=/v2/items/{id}", …)`` (``[load] paths``) → :class:`EndpointPaths`."""
    data: dict[str, object] = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        if not sep:
            raise ConfigError(
                f"[load] paths entry {entry!r}: expected KEY=/path, e.g. search=/v2/search"
            )
        data[key.strip()] = value.strip()
    return EndpointPaths.from_mapping(data)


def target_from_endpoints(site_url: str, resolve: tuple[str, ...] = ()) -> tuple[str, str | None]:
    """``(host to connect to, Host header)`` honouring curl-style resolve entries.

    >>> target_from_endpoints("https://shop.test:8443", ("shop.test:8443:127.0.0.1",))
    ('https://127.0.0.1:8443', 'shop.test')
    >>> target_from_endpoints("https://shop.example.com")
    ('https://shop.example.com', None)
    >>> target_from_endpoints("https://www.shop.test", ("*.shop.test:*:10.0.0.5",))
    ('https://10.0.0.5:443', 'www.shop.test')
    """
    parts = urlsplit(site_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addr = ResolveMap.parse(resolve).lookup(parts.hostname or "", port)
    if addr is not None:
        netloc = f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
        userinfo, at, _ = parts.netloc.rpartition("@")
        if at:  # kept, so the runner refuses credentials whether or not the name is resolved
            netloc = f"{userinfo}@{netloc}"
        return urlunsplit((parts.scheme, netloc, "", "", "")), parts.hostname
    return urlunsplit((parts.scheme, parts.netloc, "", "", "")), None


def accounts_from_endpoints(extras: Mapping[str, str]) -> dict[str, Any] | None:
    """The seeded customers a stack offers the journey (``extras["shop_seed_accounts"]``).

    >>> accounts_from_endpoints({"shop_seed_accounts": "user{n}@shop.test:1000"})
    {'email': 'user{n}@shop.test', 'count': 1000, 'seeded': True}
    >>> accounts_from_endpoints({}) is None
    True

    The password is not carried: the locustfile takes the seed's own (``shop.seed``).
    """
    raw = extras.get("shop_seed_accounts") or ""
    email, sep, count = raw.rpartition(":")
    if not sep or "{n}" not in email or not count.isdigit():
        return None
    return {"email": email, "count": int(count), "seeded": True}


def run_dir(report_dir: str | Path, name: str) -> Path:
    base = Path(report_dir) / "load"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = base / f"{name}-{stamp}"
    n = 2
    while path.exists():
        path = base / f"{name}-{stamp}-{n}"
        n += 1
    return path


def _step_thresholds(load: LoadSettings, profile: str, users: int) -> Thresholds:
    """A step's thresholds: the profile's, with a throughput floor the step can reach."""
    try:
        return Thresholds.from_settings(load, profile, users)
    except ConfigError:  # a profile min_rps above a small step's bound: judge it by the bound
        profiles = dict(load.profiles)
        profiles[profile] = replace(profiles[profile], min_rps=None)
        return Thresholds.from_settings(replace(load, profiles=profiles), profile, users)


def plan_load(
    settings: Settings,
    profile: str,
    *,
    host: str,
    host_header: str | None = None,
    ca_bundle: str | None = None,
    shape: str | None = None,
    duration_s: float | None = None,
    users: int | None = None,
    spawn_rate: float | None = None,
    workers: int | None = None,
    report_dir: str | Path | None = None,
    out_dir: Path | None = None,
    accounts: Mapping[str, Any] | None = None,
    steps: bool | None = None,
    metrics_url: str | None = None,
    pgbouncer_dsn: str | None = None,
    **spec_overrides: Any,
) -> LoadPlan:
    """Everything validated, nothing started; ``[load]`` and ``load_duration`` from ``settings``."""
    load = settings.load
    overrides = load.profiles.get(profile)
    base: dict[str, object] = {}
    if overrides is not None:
        base = {
            "users": overrides.users,
            "spawn_rate": overrides.spawn_rate,
            "run_time": overrides.run_time,
        }
    if duration_s is None:
        duration_s = settings.load_duration
    prof = get_profile(profile, base, users=users, spawn_rate=spawn_rate, duration_s=duration_s)
    effective_users: float = prof.users
    starts: float = prof.users
    length = prof.run_time_s
    name = profile
    stages: tuple[tuple[float, int], ...] = ()
    step_plan: tuple[tuple[int, Thresholds], ...] = ()
    raw_steps = load.stress_steps.strip()
    if steps is None:
        steps = profile == "stress" and not shape and raw_steps.strip().lower() != "off"
    if shape:
        stage = get_shape(shape)
        if duration_s:
            stage = stage.scaled_to(duration_s)
        effective_users, starts, length = stage.mean_users, stage.peak_users, stage.duration_s
        name = f"{profile}-{shape}"
    elif steps:
        counts = parse_steps("" if raw_steps.lower() == "off" else raw_steps, prof.users)
        stepped = steps_shape(counts, prof.run_time_s, prof.spawn_rate)
        stages = stepped.stages
        effective_users, starts = stepped.mean_users, stepped.peak_users
        step_plan = tuple((u, _step_thresholds(load, profile, u)) for u in counts)
    thresholds = Thresholds.from_settings(
        load, profile, effective_users, run_time_s=length, starts=starts
    )
    drift = None
    snapshots: tuple[float, ...] = ()
    if profile == "endurance" and not shape:
        drift = DriftLimits(
            p95=float(load.drift_p95),
            min_ms=float(load.drift_min_ms),
            error_rate=float(load.drift_error_rate),
            memory=float(load.drift_memory),
        )
        snapshots = (round(length / 10, 3), round(length * 9 / 10, 3))
    paths = paths_from_settings(load.paths)
    wait_min, wait_max = float(load.wait_min), float(load.wait_max)
    n_workers = workers if workers is not None else load.workers
    if n_workers < 0:
        raise ConfigError(f"--workers must be >= 0, got {n_workers}")
    config: dict[str, Any] = {"paths": paths.to_dict(), "wait_min": wait_min, "wait_max": wait_max}
    if host_header:
        config["host_header"] = host_header
    if ca_bundle:
        config["ca_bundle"] = str(ca_bundle)
        config["verify"] = True
    if accounts:
        returning = float(load.returning)
        if not 0 <= returning <= 1:
            raise ConfigError(f"[load] returning = {returning}: expected a fraction from 0 to 1")
        remembered = float(load.remembered)
        if not 0 <= remembered <= 1:
            raise ConfigError(f"[load] remembered = {remembered}: expected a fraction from 0 to 1")
        config["accounts"] = dict(accounts)
        config["returning"] = returning
        config["remembered"] = remembered
    out = out_dir or run_dir(report_dir or settings.report_dir, name)
    spec = RunSpec(
        host=host.rstrip("/"),
        out_dir=out,
        users=prof.users,
        spawn_rate=prof.spawn_rate,
        run_time_s=prof.run_time_s,
        shape=shape,
        shape_duration_s=duration_s if shape else None,
        locust_config=config,
        workers=n_workers,
        max_cpu_ratio=float(load.max_cpu_ratio),
        max_loop_lag_ms=float(load.max_loop_lag_ms),
        stages=stages,
        stages_spawn_rate=prof.spawn_rate,
        snapshots_s=snapshots,
        **spec_overrides,
    )
    return LoadPlan(name, prof, thresholds, spec, step_plan, drift, metrics_url, pgbouncer_dsn)


def _remember(plan: LoadPlan) -> tuple[RunSpec, dict[int, str], float]:
    """Log the returning customers who arrive still logged in in, before the run (not measured)."""
    spec, config = plan.spec, dict(plan.spec.locust_config)
    accounts = config.get("accounts")
    if not accounts or not config.get("remembered"):
        return spec, {}, 0.0
    peak = get_shape(spec.shape).peak_users if spec.shape else (spec.users or 0)
    numbers = remembered_accounts(
        peak,
        spec.workers,
        int(accounts.get("count") or 0),
        float(config.get("returning", 0)),
        float(config["remembered"]),
    )
    started = time.monotonic()
    target = Target(
        spec.host,
        config.get("host_header"),
        config.get("ca_bundle"),
        login_path=str((config.get("paths") or {}).get("login") or "/api/auth/login"),
    )
    tokens = remembered_sessions(target, accounts, numbers)
    spec.out_dir.mkdir(parents=True, exist_ok=True)
    config["sessions_file"] = str(write_tokens(spec.out_dir / "sessions.json", tokens))
    return replace(spec, locust_config=config), tokens, time.monotonic() - started


def execute(plan: LoadPlan, progress: Callable[[Progress], None] | None = None) -> LoadOutcome:
    """Run the plan, judge it, write ``summary.json``."""
    spec, tokens, prep_s = _remember(plan)
    sampler = SiteSampler(
        plan.metrics_url if plan.drift else None,
        plan.pgbouncer_dsn if plan.drift else None,
        every_s=max(1.0, min(30.0, spec.run_length_s() / 60)),
    )
    try:
        with sampler:
            run = run_locust(spec, progress=progress)
    finally:
        if tokens:
            remove_tokens(spec.out_dir / "sessions.json")
    verdicts = plan.thresholds.evaluate(run.stats)
    windows = read_windows(spec.out_dir / "windows.jsonl")
    charts: dict[str, Path] = {}
    knee = drift = None
    if plan.steps:
        knee = find_knee(windows, plan.steps, plan.profile.users)
        if knee.steps:
            charts["steps"] = knee.write_chart(spec.out_dir / "steps.svg")
    if plan.drift is not None:
        drift = judge_drift(windows, sampler.samples, spec.run_length_s(), plan.drift)
        if drift is not None:
            charts["drift"] = drift.write_chart(spec.out_dir / "drift.svg")
    outcome = LoadOutcome(
        plan,
        run,
        verdicts,
        plan.spec.out_dir / "summary.json",
        {"remembered_sessions": len(tokens), "prepare_s": round(prep_s, 2)},
        knee,
        drift,
        charts,
    )
    write_summary(outcome)
    return outcome
