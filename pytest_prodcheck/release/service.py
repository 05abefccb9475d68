"""From settings to history and release report: what the plugin and ``prodcheck report`` call.

    >>> saved = record_run(settings, report.to_dict(), os.environ)       # at a run's end
    >>> saved.where, saved.notes                                         # notes: one line each
    ('reports/history/20261128T120115Z-3fa9c2d1e07b.json', [])
    >>> rr, read = release_from_history(settings, os.environ, release="REL-9")
    >>> rr.verdict, read.problems
    ('INCOMPLETE', ('reports/history/x.json: skipped: not valid JSON (…)',))

``settings`` is a :class:`pytest_prodcheck.config.Settings`; its ``history`` section (when the
config has one) is a :class:`~pytest_prodcheck.config.history.HistorySettings`. The S3 store
uses the backups' ``[s3]`` settings (bucket, endpoint, region; credentials from the environment).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pytest_prodcheck.backup.s3 import S3Config
from pytest_prodcheck.backup.settings import BackupConfig
from pytest_prodcheck.checklist import Attestation, Waiver, load_attestations, load_waivers
from pytest_prodcheck.config import Settings
from pytest_prodcheck.config.history import HistorySettings
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.history.records import HistoryRecord, make_record
from pytest_prodcheck.history.store import HistoryRead, HistoryStore, open_store
from pytest_prodcheck.release.baseline import BaselineLimits
from pytest_prodcheck.release.decide import decide_release
from pytest_prodcheck.release.model import ReleaseReport

__all__ = [
    "AfterLoad",
    "AfterRun",
    "Saved",
    "after_load",
    "after_run",
    "baseline_check",
    "history_of",
    "load_summaries",
    "record_run",
    "release_from_history",
    "store_for",
]


@dataclass(frozen=True)
class Saved:
    record: HistoryRecord
    where: str
    notes: tuple[str, ...] = field(default=())


def history_of(settings: Settings) -> HistorySettings:
    """The ``[history]`` settings."""
    return settings.history


def _s3(settings: Settings, env: Mapping[str, str]) -> S3Config | None:
    return BackupConfig.from_settings(settings, env).s3


def store_for(settings: Settings, env: Mapping[str, str]) -> HistoryStore:
    """The configured store: ``<report_dir>/history`` or the ``[s3]`` bucket."""
    return open_store(history_of(settings), _s3(settings, env), settings.report_dir)


def load_summaries(report: Mapping[str, Any]) -> tuple[list[tuple[dict[str, Any], str]], list[str]]:
    """The ``summary.json`` files a report's ``load.report`` evidence names, and problems."""
    seen: dict[str, None] = {}
    for item in report.get("items") or []:
        for e in item.get("evidence") or [] if isinstance(item, dict) else []:
            if isinstance(e, dict) and e.get("name") == "load.report" and e.get("observed"):
                seen[str(e["observed"])] = None
    out: list[tuple[dict[str, Any], str]] = []
    problems: list[str] = []
    for path in seen:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"history: load summary {path} not recorded: {exc}")
            continue
        if isinstance(data, dict):
            out.append((data, path))
    return out, problems


def record_run(
    settings: Settings,
    report: Mapping[str, Any] | None,
    env: Mapping[str, str],
    *,
    loads: Sequence[tuple[dict[str, Any], str]] = (),
    kind: str = "run",
    baseline_profiles: Sequence[str] = (),
    store: HistoryStore | None = None,
) -> Saved:
    """Append a run (its report + load summaries) to the history; ConfigError/ToolError if lost."""
    hs = history_of(settings)
    found, notes = load_summaries(report) if report else ([], [])
    name = hs.target if report is not None else (hs.target or _target_for(settings))
    record = make_record(
        report,
        [*found, *loads],
        kind="load" if kind == "load" else "run",
        baseline_profiles=baseline_profiles,
        target=settings.target,
        target_name=name,
        release=None if report else settings.release,
        commit=None if report else settings.commit,
    )
    store = store or store_for(settings, env)
    where = store.append(record)
    notes.extend(getattr(store, "notes", []))
    return Saved(record, where, tuple(notes))


def _target_for(settings: Settings) -> str:
    from pytest_prodcheck.history.records import target_key

    return target_key(settings.target, settings.url)


def _files(settings: Settings) -> tuple[list[Waiver], list[Attestation]]:
    waivers = load_waivers(Path(settings.waivers)) if settings.waivers else []
    path = settings.attestations_path
    atts = load_attestations(path) if settings.attestations or path.exists() else []
    return waivers, atts


def release_from_history(
    settings: Settings,
    env: Mapping[str, str],
    *,
    release: str | None = None,
    target: str | None = None,
    current: HistoryRecord | None = None,
    now: datetime | None = None,
    store: HistoryStore | None = None,
    waivers: Sequence[Waiver] | None = None,
    attestations: Sequence[Attestation] | None = None,
) -> tuple[ReleaseReport, HistoryRead]:
    """Read the history (``lookback_days``) and decide the release of ``target``."""
    hs = history_of(settings)
    now = now or datetime.now(UTC)
    store = store or store_for(settings, env)
    read = store.read(since=now - timedelta(days=hs.lookback_days))
    if waivers is None or attestations is None:
        w, a = _files(settings)
        waivers = w if waivers is None else waivers
        attestations = a if attestations is None else attestations
    if target is None and current is None:
        target = hs.target or _default_target(settings, read.records)
    rr = decide_release(
        read.records,
        now=now,
        target=target,
        release=release,
        current=current,
        policy=hs.policy(),
        waivers=waivers,
        attestations=attestations,
        attestation_max_age_days=settings.checklist.attestation_max_age_days,
        limits=BaselineLimits.from_settings(hs),
        trend_runs=hs.trend_runs,
        problems=read.problems,
        history_where=read.where or store.where,
    )
    return rr, read


def _default_target(settings: Settings, records: Sequence[HistoryRecord]) -> str | None:
    derived = _target_for(settings)
    if any(r.target == derived for r in records):
        return derived
    return records[-1].target if records else derived


@dataclass(frozen=True)
class AfterRun:
    """What a run's end did with the history: lines to show, and an error (one line) if any."""

    lines: tuple[str, ...] = ()
    error: str = ""
    config_error: bool = False  # bad [history] settings: the run exits as a usage error
    release: ReleaseReport | None = None


def after_run(
    settings: Settings,
    report: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    release_report: bool = False,
    waivers: Sequence[Waiver] = (),
    attestations: Sequence[Attestation] = (),
    out_dir: Path | None = None,
) -> AfterRun:
    """Append the run to the history; with ``release_report`` also write release.{json,md,html}.

    The run's own report and verdict are untouched; every problem is one line.
    """
    from pytest_prodcheck.core.errors import ConfigError, ProdcheckError
    from pytest_prodcheck.history.records import make_record

    hs = history_of(settings)
    lines: list[str] = []
    current: HistoryRecord | None = None
    try:
        store = store_for(settings, env)
        if hs.enabled:
            saved = record_run(settings, report, env, store=store)
            current = saved.record
            lines.extend(saved.notes)
        else:
            found, notes = load_summaries(report)
            current = make_record(report, found, target_name=hs.target)
            lines.extend(notes)
        if not release_report:
            return AfterRun(tuple(lines))
        rr, read = release_from_history(
            settings, env, current=current, store=store, waivers=waivers, attestations=attestations
        )
        lines.extend(f"history: {p}" for p in read.problems)
        from pytest_prodcheck.release.write import write_release_reports

        directory = out_dir or Path(settings.report_dir)
        write_release_reports(rr, directory)
        lines.append(f"release {rr.headline}; report: {directory}/release.{{json,md,html}}")
        return AfterRun(tuple(lines), release=rr)
    except ConfigError as exc:
        return AfterRun(tuple(lines), f"history: {exc}", config_error=True)
    except ProdcheckError as exc:
        return AfterRun(tuple(lines), f"history: {exc}")


@dataclass(frozen=True)
class AfterLoad:
    """A ``prodcheck load`` run against its baseline: lines to print, regression, error."""

    lines: tuple[str, ...] = ()
    regressed: bool = False
    error: str = ""
    refused: bool = False  # --record of a run that did not pass: nothing recorded


def after_load(
    settings: Settings,
    summary: dict[str, Any],
    summary_path: str,
    env: Mapping[str, str],
    *,
    record_baseline: bool = False,
    target: str | None = None,
    now: datetime | None = None,
) -> AfterLoad:
    """Compare a load run with its baseline, then append it (as the baseline with ``record``)."""
    from pytest_prodcheck.core.errors import ProdcheckError
    from pytest_prodcheck.history.records import LoadDigest
    from pytest_prodcheck.release.baseline import compare, find_baseline

    hs = history_of(settings)
    name = hs.target or target or _target_for(settings)
    digest = LoadDigest.from_summary(summary, summary_path)
    lines: list[str] = []
    if record_baseline and not (digest.ok and digest.valid):
        return AfterLoad(
            (f"baseline not recorded: this {digest.name} run did not pass its thresholds",),
            error="a failing or invalid run cannot be a baseline; fix the target and run again",
            refused=True,
        )
    try:
        store = store_for(settings, env)
        now = now or datetime.now(UTC)
        read = store.read(since=now - timedelta(days=hs.lookback_days))
        lines.extend(f"history: {p}" for p in read.problems)
        cmp = None
        if digest.valid:
            base = find_baseline(read.records, name, digest.name, before=now)
            cmp = compare(digest, base, BaselineLimits.from_settings(hs))
            lines.append(f"load {digest.name}: {cmp.line}")
            if cmp.baseline is not None:
                lines.append(f"  (baseline: {cmp.baseline.describe})")
        if hs.enabled or record_baseline:
            saved = _record_as(settings, env, store, summary, summary_path, name, record_baseline)
            lines.extend(saved.notes)
            if record_baseline:
                lines.append(
                    f"recorded as the baseline of profile {digest.name} on {name}: {saved.where}"
                )
        regressed = bool(cmp and cmp.regressed and not record_baseline)
        return AfterLoad(tuple(lines), regressed)
    except ProdcheckError as exc:
        return AfterLoad(tuple(lines), error=f"history: {exc}")


def _record_as(
    settings: Settings,
    env: Mapping[str, str],
    store: HistoryStore,
    summary: dict[str, Any],
    summary_path: str,
    target: str,
    record_baseline: bool,
) -> Saved:
    record = make_record(
        None,
        [(summary, summary_path)],
        kind="load",
        target_name=target,
        baseline_profiles=[str(summary.get("name"))] if record_baseline else [],
        release=settings.release,
        commit=settings.commit,
    )
    where = store.append(record)
    return Saved(record, where, tuple(getattr(store, "notes", [])))


def baseline_check(
    settings: Settings, summary: dict[str, Any], env: Mapping[str, str], target: str | None = None
) -> CheckResult:
    """A :class:`~pytest_prodcheck.core.result.CheckResult` ``load.baseline`` for a suite test.

    >>> result = prodcheck_evidence.check(baseline_check(settings, summary, os.environ))
    >>> assert result.ok, result.message     # fails on a regression, n/a without baseline
    """
    from pytest_prodcheck.history.records import LoadDigest
    from pytest_prodcheck.release.baseline import compare, find_baseline

    hs = history_of(settings)
    limits = BaselineLimits.from_settings(hs)
    expected = (
        f"p95 ≤ +{limits.p95_increase_pct:g} % (or ≤ +{limits.p95_min_increase_ms:g} ms), "
        f"throughput ≥ −{limits.rps_decrease_pct:g} % vs the baseline"
    )
    digest = LoadDigest.from_summary(summary)
    now = datetime.now(UTC)
    read = store_for(settings, env).read(since=now - timedelta(days=hs.lookback_days))
    name = hs.target or target or _target_for(settings)
    cmp = compare(digest, find_baseline(read.records, name, digest.name, before=now), limits)
    if not cmp.comparable:
        return CheckResult.not_applicable("load.baseline", cmp.line, expected)
    if cmp.regressed:
        return CheckResult.failed("load.baseline", cmp.line, expected, f"regressed: {cmp.line}")
    return CheckResult.passed("load.baseline", cmp.line, expected)
