"""Monitoring checks against a real Prometheus, Alertmanager, Grafana, uptime URL and Sentry DSN.

    >>> check_targets_up("http://127.0.0.1:9090", expected_jobs=("shop", "nginx", "pgbouncer"))
    CheckResult(id='monitoring.targets-up', status='pass', observed='nginx up, pgbouncer up, shop up', ...)
    >>> check_alert_rules("http://127.0.0.1:9090").ok
    True

Each function takes plain URLs and returns a :class:`CheckResult`; a service that does not answer
gives ``error`` with the reason, never an exception.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml

from pytest_prodcheck.core.result import CheckResult

TIMEOUT = 5.0
_SAMPLE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+[-+0-9.eEinfNa]+(\s+-?\d+)?$'
)


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE etc. must not override explicit settings
    return session


def _get_json(url: str, **kwargs: Any) -> Any:
    response = _session().get(url, timeout=TIMEOUT, **kwargs)
    response.raise_for_status()
    return response.json()


def _unreachable(check_id: str, what: str, exc: Exception) -> CheckResult:
    reason = type(exc).__name__ if not str(exc) else str(exc).splitlines()[0][:200]
    return CheckResult.errored(check_id, f"{what} did not answer: {reason}")


def check_app_metrics(metrics_url: str, *, verify: str | bool = True) -> CheckResult:
    """The app exposes Prometheus metrics: text exposition with at least one counter sample."""
    cid = "monitoring.app-metrics"
    try:
        response = _session().get(metrics_url, timeout=TIMEOUT, verify=verify)
    except requests.RequestException as exc:
        return _unreachable(cid, metrics_url, exc)
    if response.status_code != 200:
        return CheckResult.failed(
            cid,
            f"HTTP {response.status_code}",
            "HTTP 200 with metrics",
            f"{metrics_url} answered {response.status_code}",
        )
    samples = [ln for ln in response.text.splitlines() if ln and not ln.startswith("#")]
    valid = [ln for ln in samples if _SAMPLE.match(ln)]
    counters = {ln.split("{")[0].split(" ")[0] for ln in valid if "_total" in ln.split(" ")[0]}
    ok = bool(valid) and len(valid) == len(samples) and bool(counters)
    return CheckResult.judge(
        cid,
        ok,
        f"{len(valid)}/{len(samples)} valid samples, {len(counters)} counters",
        "Prometheus text exposition with request counters",
        "" if ok else f"{metrics_url} does not serve valid Prometheus metrics",
    )


def _unmatched(expected: Sequence[str], jobs: set[str]) -> list[str]:
    """Expected jobs no scraped job is named after (``nginx`` matches ``nginx-exporter``)."""
    return sorted(e for e in expected if not any(e in job for job in jobs))


def check_targets_up(
    prometheus_url: str, expected_jobs: Sequence[str] = (), settle: float = 10.0
) -> CheckResult:
    """Every scrape target is up, and every expected job (app, nginx, PgBouncer) is scraped: a
    job whose name contains the expected one counts (``pgbouncer`` matches ``pgbouncer-exporter``).

    Targets not yet scraped once (health ``unknown``, e.g. right after Prometheus started) are
    waited for up to ``settle`` seconds.
    """
    cid = "monitoring.targets-up"
    deadline = time.monotonic() + settle
    while True:
        try:
            data = _get_json(f"{prometheus_url}/api/v1/targets", params={"state": "active"})
        except (requests.RequestException, ValueError) as exc:
            return _unreachable(cid, "Prometheus", exc)
        targets = data.get("data", {}).get("activeTargets", [])
        jobs = {str(t.get("labels", {}).get("job")) for t in targets}
        settled = all(t.get("health") != "unknown" for t in targets) and not _unmatched(
            expected_jobs, jobs
        )
        if settled or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    by_job: dict[str, list[str]] = {}
    for target in targets:
        by_job.setdefault(target.get("labels", {}).get("job", "?"), []).append(
            target.get("health", "?")
        )
    down = sorted(job for job, healths in by_job.items() if any(h != "up" for h in healths))
    missing = _unmatched(expected_jobs, set(by_job))
    observed = (
        ", ".join(f"{job} {'up' if job not in down else 'DOWN'}" for job in sorted(by_job))
        or "no targets"
    )
    problems = [f"not scraped: {', '.join(missing)}"] if missing else []
    if down:
        errors = [t.get("lastError", "") for t in targets if t.get("labels", {}).get("job") in down]
        problems.append(f"down: {', '.join(down)} ({'; '.join(e for e in errors if e)[:200]})")
    expected = "every target up" + (
        f"; jobs {', '.join(expected_jobs)} scraped" if expected_jobs else ""
    )
    return CheckResult.judge(
        cid, not problems and bool(by_job), observed, expected, "; ".join(problems)
    )


# What the checklist item asks rules for, recognised in an alert's name or expression.
ALERT_KINDS: dict[str, str] = {
    "error rate": r"5\.\.|5xx|error",
    "latency": r"latency|duration|histogram_quantile|response_time",
    "backup age": r"backup",
    "certificate expiry": r"cert|ssl_|tls",
    "pool saturation": r"pgbouncer|pool|waiting|max_connections|numbackends",
}


def check_alert_rules(
    prometheus_url: str, required: Iterable[str] = (), kinds: dict[str, str] | None = None
) -> CheckResult:
    """Alert rules are loaded, evaluate without error, include the ``required`` alerts, and cover
    every kind of :data:`ALERT_KINDS` (error rate, latency, backup age, certificate expiry, pool
    saturation): one always-firing rule alone does not make an alerting setup."""
    kinds = ALERT_KINDS if kinds is None else kinds
    cid = "monitoring.alert-rules"
    try:
        data = _get_json(f"{prometheus_url}/api/v1/rules", params={"type": "alert"})
    except (requests.RequestException, ValueError) as exc:
        return _unreachable(cid, "Prometheus", exc)
    rules = [r for g in data.get("data", {}).get("groups", []) for r in g.get("rules", [])]
    unhealthy = [
        f"{r.get('name')}: {r.get('lastError', r.get('health'))}"
        for r in rules
        if r.get("health") not in ("ok", "unknown")
    ]
    names = {r.get("name") for r in rules}
    missing = sorted(set(required) - names)
    texts = [f"{r.get('name', '')} {r.get('query', '')}" for r in rules]
    uncovered = [k for k, rx in kinds.items() if not any(re.search(rx, t, re.I) for t in texts)]
    problems = []
    if not rules:
        problems.append("no alerting rules loaded")
    if unhealthy:
        problems.append("rules failing to evaluate: " + "; ".join(unhealthy)[:300])
    if missing:
        problems.append("missing alerts: " + ", ".join(missing))
    if rules and uncovered:
        problems.append("no alert for: " + ", ".join(uncovered))
    return CheckResult.judge(
        cid,
        not problems,
        f"{len(rules)} alerting rules, {len(unhealthy)} failing",
        "alerting rules for "
        + ", ".join(kinds)
        + ", all evaluating"
        + (f", including {', '.join(sorted(required))}" if required else ""),
        "; ".join(problems),
    )


def _receiver_integrations(receiver: dict[str, Any]) -> list[str]:
    return [key for key, value in receiver.items() if key.endswith("_configs") and value]


def check_alertmanager_receivers(alertmanager_url: str) -> CheckResult:
    """Alertmanager has at least one receiver that actually notifies someone (email, Slack, webhook …)."""
    cid = "monitoring.notification-channels"
    try:
        status = _get_json(f"{alertmanager_url}/api/v2/status")
        config = yaml.safe_load(status["config"]["original"]) or {}
    except (requests.RequestException, ValueError, KeyError, yaml.YAMLError) as exc:
        return _unreachable(cid, "Alertmanager", exc)
    receivers = config.get("receivers") or []
    working = {r.get("name", "?"): _receiver_integrations(r) for r in receivers}
    active = {name: kinds for name, kinds in working.items() if kinds}
    observed = (
        ", ".join(f"{n} ({', '.join(k) or 'no integration'})" for n, k in working.items()) or "none"
    )
    return CheckResult.judge(
        cid,
        bool(active),
        observed,
        "≥ 1 receiver with a notification integration",
        "" if active else "every Alertmanager receiver is empty: alerts reach nobody",
    )


def _notifications(alertmanager_url: str) -> tuple[float, float]:
    """(sent, failed) notifications from Alertmanager's own metrics, over every integration."""
    response = _session().get(f"{alertmanager_url}/metrics", timeout=TIMEOUT)
    response.raise_for_status()
    totals = {
        "alertmanager_notifications_total": 0.0,
        "alertmanager_notifications_failed_total": 0.0,
    }
    for line in response.text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in totals:
            totals[name] += float(line.rsplit(" ", 1)[1])
    return totals["alertmanager_notifications_total"], totals[
        "alertmanager_notifications_failed_total"
    ]


def check_alert_delivery(
    alertmanager_url: str, alertname: str = "Watchdog", timeout: float = 15.0
) -> CheckResult:
    """An always-firing alert (``Watchdog``) is active (not silenced) in Alertmanager, and
    Alertmanager has delivered notifications (its ``alertmanager_notifications_total`` minus
    ``…_failed_total`` is above zero): Prometheus → Alertmanager → a receiver works."""
    cid = "monitoring.alert-delivery"
    expected = f"{alertname} active in Alertmanager; ≥ 1 notification delivered"
    deadline = time.monotonic() + timeout
    while True:
        try:
            alerts = _get_json(f"{alertmanager_url}/api/v2/alerts")
            sent, failed = _notifications(alertmanager_url)
        except (requests.RequestException, ValueError, IndexError) as exc:
            return _unreachable(cid, "Alertmanager", exc)
        active = {
            a.get("labels", {}).get("alertname", "?")
            for a in alerts
            if a.get("status", {}).get("state", "active") == "active"
        }
        observed = (
            f"active alerts: {', '.join(sorted(active)) or 'none'}; "
            f"notifications sent {sent:g}, failed {failed:g}"
        )
        if alertname in active and sent - failed > 0:
            return CheckResult.passed(cid, observed, expected)
        if time.monotonic() >= deadline:
            why = (
                f"{alertname} is not active in Alertmanager: add an always-firing rule "
                "(expr: vector(1)) and check Prometheus's alerting config and silences"
                if alertname not in active
                else "Alertmanager delivered no notification"
                + (f" ({failed:g} failed: see its log)" if failed else "")
                + ": check the receiver's integration and the route"
            )
            return CheckResult.failed(cid, observed, expected, f"{why} (waited {timeout:g} s)")
        time.sleep(0.5)


def check_grafana(
    grafana_url: str, token: str | None = None, min_dashboards: int = 1
) -> CheckResult:
    """Grafana answers and has at least ``min_dashboards`` dashboards."""
    cid = "monitoring.grafana-dashboards"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        health = _get_json(f"{grafana_url}/api/health")
        dashboards = _get_json(
            f"{grafana_url}/api/search", params={"type": "dash-db"}, headers=headers
        )
    except (requests.RequestException, ValueError) as exc:
        return _unreachable(cid, "Grafana", exc)
    titles = [d.get("title", "?") for d in dashboards if isinstance(d, dict)]
    ok = health.get("database") == "ok" and len(titles) >= min_dashboards
    return CheckResult.judge(
        cid,
        ok,
        f"database {health.get('database')}, {len(titles)} dashboards",
        f"database ok, ≥ {min_dashboards} dashboards",
        "" if ok else "Grafana has no dashboards imported",
    )


def check_uptime_url(url: str, *, verify: str | bool = True) -> CheckResult:
    """The configured uptime-check URL answers 2xx (what the external monitor will poll)."""
    cid = "monitoring.uptime"
    try:
        response = _session().get(url, timeout=TIMEOUT, verify=verify, allow_redirects=False)
    except requests.RequestException as exc:
        return _unreachable(cid, url, exc)
    ok = 200 <= response.status_code < 300
    return CheckResult.judge(
        cid,
        ok,
        f"HTTP {response.status_code}",
        "HTTP 2xx",
        "" if ok else f"{url} answered {response.status_code}",
    )


_SENTRY_DSN = re.compile(
    r"^(?P<scheme>https?)://(?P<key>[0-9a-f]{16,})(:[0-9a-f]+)?@(?P<host>[^/]+)/(?P<path>.*?)(?P<project>\d+)$"
)


def check_sentry_dsn(dsn: str, *, verify: str | bool = True) -> CheckResult:
    """The error-tracking DSN is well formed and its ingest endpoint answers."""
    cid = "monitoring.error-tracking"
    match = _SENTRY_DSN.match(dsn.strip())
    if match is None:
        return CheckResult.failed(
            cid,
            "malformed DSN",
            "https://<key>@<host>/<project-id>",
            "the Sentry DSN is not of the form https://<public key>@<host>/<project id>",
        )
    base = f"{match['scheme']}://{match['host']}/{match['path']}api/{match['project']}/envelope/"
    try:
        response = _session().post(base, data=b"", timeout=TIMEOUT, verify=verify)
    except requests.RequestException as exc:
        return _unreachable(cid, f"error-tracking host {urlsplit(base).netloc}", exc)
    # An empty envelope without auth is rejected with 4xx by a live ingest endpoint; 404/5xx is not one.
    ok = response.status_code in (400, 401, 403, 413, 429)
    return CheckResult.judge(
        cid,
        ok,
        f"{urlsplit(base).netloc} answered HTTP {response.status_code}",
        "ingest endpoint answers (4xx to an empty envelope)",
        "" if ok else f"{urlsplit(base).netloc} does not look like a Sentry ingest endpoint",
    )
