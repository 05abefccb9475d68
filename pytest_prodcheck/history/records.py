"""One history record per run: its ``checklist.json`` content plus its load summaries.

    >>> rec = make_record(report_dict, [summary_dict], target="shop.example.com")
    >>> rec.run_id                         # UTC finish time + random suffix: unique per run
    '20261128T120115Z-3fa9c2d1e07b'
    >>> parse_record(json.loads(rec.to_json()), "x.json").target
    'shop.example.com'

A record is a JSON object::

    {"kind": "prodcheck-history", "schema_version": 1, "record": "run" | "load",
     "run_id", "target", "target_url", "release", "commit", "started_utc", "finished_utc",
     "marker_expression", "tool_version", "baseline_profiles": [...],
     "report": {checklist.json} | null, "load": [LoadDigest, ...]}

``record = "load"`` is a ``prodcheck load`` run (no checklist report); ``baseline_profiles`` names
the load profiles this record sets as the target's baseline (``prodcheck load … --record``).
:func:`parse_record` raises :class:`RecordProblem` (one line: corrupt, foreign, newer schema).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pytest_prodcheck._version import __version__

__all__ = [
    "HISTORY_SCHEMA",
    "KIND",
    "HistoryRecord",
    "LoadDigest",
    "RecordProblem",
    "iso",
    "make_record",
    "new_run_id",
    "parse_record",
    "parse_time",
    "target_key",
]

KIND = "prodcheck-history"
HISTORY_SCHEMA = 1
RecordKind = Literal["run", "load"]


class RecordProblem(Exception):
    """Why a stored record cannot be used (``str()`` is the one-line reason)."""


def iso(t: datetime) -> str:
    """``2026-11-28T12:01:15Z``"""
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value: object, what: str) -> datetime:
    """An ISO-8601 UTC time (``…Z`` or with an offset); RecordProblem when it is not one."""
    if not isinstance(value, str):
        raise RecordProblem(f"{what} is missing or not a time ({value!r})")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RecordProblem(f"{what} {value!r} is not an ISO-8601 time") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def new_run_id(finished: datetime) -> str:
    """``20261128T120115Z-3fa9c2d1e07b``: sorts by time, 48 random bits keep runs apart."""
    return f"{finished.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(6)}"


def target_key(target: str, target_url: str | None = None) -> str:
    """The name records are grouped by: ``local``/``docker``, or an external site's host[:port].

    >>> target_key("external", "https://shop.example.com, https://x")
    'shop.example.com'
    >>> target_key("local", "https://127.0.0.1:40123")
    'local'
    """
    if target == "external" and target_url:
        first = target_url.split(",")[0].strip()
        host = urlsplit(first).netloc.rpartition("@")[2]
        if host:
            return host.lower()
    return target


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _table(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class LoadDigest:
    """What trends and baselines need of one load run's ``summary.json``."""

    profile: str
    name: str
    finished_utc: datetime
    ok: bool
    valid: bool
    users: int | None = None
    run_time_s: float | None = None
    shape: str | None = None
    requests: int | None = None
    rps: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    error_rate: float | None = None
    summary_path: str = ""

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any], path: str = "") -> LoadDigest:
        """From a ``summary.json`` dict (:func:`pytest_prodcheck.load.report.summary_dict`)."""
        profile = _table(summary.get("profile"))
        stats = _table(summary.get("stats"))
        total = _table(_table(stats.get("groups")).get("all"))
        name = str(summary.get("name") or profile.get("name") or "load")
        finished = summary.get("finished_utc")
        try:
            when = parse_time(finished, "finished_utc")
        except RecordProblem:
            when = datetime.now(UTC)
        users = profile.get("users")
        return cls(
            profile=str(profile.get("name") or name.split("-")[0]),
            name=name,
            finished_utc=when,
            ok=bool(summary.get("ok")),
            valid=bool(summary.get("valid", True)),
            users=int(users) if isinstance(users, int) else None,
            run_time_s=_num(profile.get("run_time_s")),
            shape=str(summary["shape"]) if summary.get("shape") else None,
            requests=int(total["requests"]) if isinstance(total.get("requests"), int) else None,
            rps=_num(stats.get("rps")),
            p95_ms=_num(total.get("p95_ms")),
            p99_ms=_num(total.get("p99_ms")),
            error_rate=_num(total.get("error_rate")),
            summary_path=path,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "name": self.name,
            "finished_utc": iso(self.finished_utc),
            "ok": self.ok,
            "valid": self.valid,
            "users": self.users,
            "run_time_s": self.run_time_s,
            "shape": self.shape,
            "requests": self.requests,
            "rps": self.rps,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "error_rate": self.error_rate,
            "summary_path": self.summary_path,
        }

    @classmethod
    def from_dict(cls, data: Any) -> LoadDigest:
        if not isinstance(data, dict) or not isinstance(data.get("profile"), str):
            raise RecordProblem("a load entry has no profile name")
        users, requests = data.get("users"), data.get("requests")
        return cls(
            profile=data["profile"],
            name=str(data.get("name") or data["profile"]),
            finished_utc=parse_time(data.get("finished_utc"), "load finished_utc"),
            ok=bool(data.get("ok")),
            valid=bool(data.get("valid", True)),
            users=users if isinstance(users, int) and not isinstance(users, bool) else None,
            run_time_s=_num(data.get("run_time_s")),
            shape=str(data["shape"]) if data.get("shape") else None,
            requests=requests if isinstance(requests, int) else None,
            rps=_num(data.get("rps")),
            p95_ms=_num(data.get("p95_ms")),
            p99_ms=_num(data.get("p99_ms")),
            error_rate=_num(data.get("error_rate")),
            summary_path=str(data.get("summary_path") or ""),
        )


@dataclass(frozen=True)
class HistoryRecord:
    """One stored run. ``report`` is the parsed ``checklist.json`` (None for a load-only run)."""

    run_id: str
    target: str
    started_utc: datetime
    finished_utc: datetime
    kind: RecordKind = "run"
    release: str | None = None
    commit: str | None = None
    marker_expression: str = ""
    target_url: str | None = None
    tool_version: str = __version__
    report: Mapping[str, Any] | None = field(default=None, repr=False)
    load: tuple[LoadDigest, ...] = ()
    baseline_profiles: tuple[str, ...] = ()
    location: str = field(default="", compare=False)  # where it was read from

    @property
    def label(self) -> str:
        """``run 20261128T120115Z-3fa9c2d1e07b (smoke, REL-9)``"""
        bits = [b for b in (self.marker_expression, self.release) if b]
        return f"run {self.run_id}" + (f" ({', '.join(bits)})" if bits else "")

    def items(self) -> dict[str, Mapping[str, Any]]:
        """``{item id: item dict}`` of the embedded report (empty for a load-only run)."""
        if not self.report:
            return {}
        return {
            str(i["id"]): i
            for i in self.report.get("items", [])
            if isinstance(i, dict) and isinstance(i.get("id"), str)
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "schema_version": HISTORY_SCHEMA,
            "record": self.kind,
            "run_id": self.run_id,
            "target": self.target,
            "target_url": self.target_url,
            "release": self.release,
            "commit": self.commit,
            "started_utc": iso(self.started_utc),
            "finished_utc": iso(self.finished_utc),
            "marker_expression": self.marker_expression,
            "tool_version": self.tool_version,
            "baseline_profiles": list(self.baseline_profiles),
            "report": dict(self.report) if self.report is not None else None,
            "load": [d.to_dict() for d in self.load],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False, default=str) + "\n"


def make_record(
    report: Mapping[str, Any] | None,
    load_summaries: Iterable[tuple[Mapping[str, Any], str]] = (),
    *,
    target: str | None = None,
    kind: RecordKind = "run",
    baseline_profiles: Sequence[str] = (),
    run_id: str | None = None,
    started_utc: datetime | None = None,
    finished_utc: datetime | None = None,
    release: str | None = None,
    commit: str | None = None,
    target_name: str | None = None,
) -> HistoryRecord:
    """A record from a ``checklist.json`` dict and ``(summary.json dict, path)`` pairs.

    Run provenance comes from ``report["run"]``; the keyword arguments fill it in for a
    load-only record (``report=None``) or override it (``target_name``: the history's name
    for this target, default :func:`target_key`).
    """
    run: Mapping[str, Any] = (report or {}).get("run") or {}
    digests = tuple(LoadDigest.from_summary(s, p) for s, p in load_summaries)
    now = datetime.now(UTC)
    finished = finished_utc or (
        parse_time(run["finished_utc"], "finished_utc") if run.get("finished_utc") else now
    )
    started = started_utc or (
        parse_time(run["started_utc"], "started_utc") if run.get("started_utc") else finished
    )
    kind_target = str(run.get("target") or target or "local")
    url = run.get("target_url")
    return HistoryRecord(
        run_id=run_id or new_run_id(finished),
        target=target_name or target_key(kind_target, url if isinstance(url, str) else None),
        started_utc=started,
        finished_utc=finished,
        kind=kind,
        release=release if release is not None else run.get("release"),
        commit=commit if commit is not None else run.get("commit"),
        marker_expression=str(run.get("marker_expression") or ""),
        target_url=url if isinstance(url, str) else None,
        report=report,
        load=digests,
        baseline_profiles=tuple(baseline_profiles),
    )


def parse_record(data: Any, where: str) -> HistoryRecord:
    """Validate a decoded record; :class:`RecordProblem` names what is wrong with it."""
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise RecordProblem("not a prodcheck history record (foreign file)")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordProblem(f"schema_version {version!r} is not a number (corrupt record)")
    if version > HISTORY_SCHEMA:
        raise RecordProblem(
            f"written by a newer pytest-prodcheck (history schema {version} > {HISTORY_SCHEMA}); "
            "upgrade pytest-prodcheck to read it"
        )
    for key in ("run_id", "target"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise RecordProblem(f"{key} is missing (corrupt record)")
    kind = data.get("record", "run")
    if kind not in ("run", "load"):
        raise RecordProblem(f"unknown record type {kind!r}")
    from pytest_prodcheck.report.model import SCHEMA_VERSION as REPORT_SCHEMA  # (config imports us)

    report = data.get("report")
    if report is not None:
        if not isinstance(report, dict) or not isinstance(report.get("items"), list):
            raise RecordProblem("its report has no items[] (corrupt record)")
        rv = report.get("schema_version")
        if isinstance(rv, int) and rv > REPORT_SCHEMA:
            raise RecordProblem(
                f"its report has a newer schema ({rv} > {REPORT_SCHEMA}); "
                "upgrade pytest-prodcheck to read it"
            )
    load = data.get("load") or []
    if not isinstance(load, list):
        raise RecordProblem("load is not a list (corrupt record)")
    profiles = data.get("baseline_profiles") or []
    if not isinstance(profiles, list):
        raise RecordProblem("baseline_profiles is not a list (corrupt record)")

    def opt(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    finished = parse_time(data.get("finished_utc"), "finished_utc")
    return HistoryRecord(
        run_id=data["run_id"],
        target=data["target"],
        started_utc=parse_time(data.get("started_utc") or data.get("finished_utc"), "started_utc"),
        finished_utc=finished,
        kind=kind,
        release=opt("release"),
        commit=opt("commit"),
        marker_expression=opt("marker_expression") or "",
        target_url=opt("target_url"),
        tool_version=opt("tool_version") or "",
        report=report,
        load=tuple(LoadDigest.from_dict(d) for d in load),
        baseline_profiles=tuple(str(p) for p in profiles),
        location=where,
    )
