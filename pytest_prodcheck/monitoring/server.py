"""Prometheus, Alertmanager, the exporters and a webhook receiver for the embedded stack.

    >>> mon = MonitoringStack(make_tempdir("mon-"), MonitoringOptions(
    ...     shop_target="127.0.0.1:8000", nginx_status_url="http://127.0.0.1:8081/nginx_status",
    ...     pgbouncer=PgBouncerTarget("127.0.0.1", 6432, "pgb_stats", "secret"),
    ...     backup_dir=Path("backups/databases"), certs=(Path("certs/fullchain.pem"),))).start()
    >>> mon.prometheus_url, mon.alertmanager_url
    ('http://127.0.0.1:40123', 'http://127.0.0.1:40125')
    >>> mon.stop()

Every service is a :class:`ManagedProcess` on a free loopback port in ``workdir``; Prometheus
scrapes and evaluates every second and loads :func:`rules.render_rules` (short windows), and
Alertmanager delivers to :mod:`webhook`, so a test sees an alert arrive end to end.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import requests

from pytest_prodcheck.core.errors import ToolError
from pytest_prodcheck.core.ports import free_port, wait_port
from pytest_prodcheck.core.proc import ManagedProcess, chown_tree, service_account
from pytest_prodcheck.monitoring.rules import render_rules

PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"
NGINX_EXPORTER = "prometheus-nginx-exporter"


@dataclass(frozen=True)
class PgBouncerTarget:
    host: str
    port: int
    user: str
    password: str

    def __repr__(self) -> str:  # never show the password
        return f"PgBouncerTarget({self.host!r}, {self.port}, {self.user!r}, '***')"


@dataclass(frozen=True)
class MonitoringOptions:
    shop_target: str | None = None  # "127.0.0.1:8000": the app's /metrics
    nginx_status_url: str | None = None  # plain-HTTP stub_status URL
    pgbouncer: PgBouncerTarget | None = None
    backup_dir: Path | None = None
    certs: tuple[Path, ...] = ()
    backup_max_age_hours: int = 26
    production_rules: bool = False
    with_rules: bool = True  # False: Prometheus loads no alert rules (a wrong target, for tests)
    with_receiver: bool = True  # False: Alertmanager routes to a receiver with no integration


def missing_binaries() -> list[str]:
    """The monitoring binaries not on PATH (their Debian packages carry the same names)."""
    return [b for b in (PROMETHEUS, ALERTMANAGER, NGINX_EXPORTER) if not shutil.which(b)]


class MonitoringStack:
    def __init__(self, workdir: Path, options: MonitoringOptions) -> None:
        self.workdir = workdir
        self.options = options
        self.processes: list[ManagedProcess] = []
        self.ports: dict[str, int] = {}
        self.alerts_file = workdir / "webhook" / "alerts.jsonl"

    # -- urls ---------------------------------------------------------------------------------
    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['prometheus']}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['alertmanager']}"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['webhook']}/alerts"

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, timeout: float = 20.0) -> MonitoringStack:
        missing = missing_binaries()
        if missing:
            raise ToolError(
                f"monitoring needs {', '.join(missing)}: install the Debian packages of the same "
                f"names (scripts/bootstrap does)"
            )
        try:
            self._start_all(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        user: tuple[int, int] | None = None,
    ) -> ManagedProcess:
        proc = ManagedProcess(name).start(
            argv, env=env, user=user, log_path=self.workdir / "logs" / f"{name}.log"
        )
        self.processes.append(proc)
        return proc

    def _start_all(self, timeout: float) -> None:
        for name in (
            "prometheus",
            "alertmanager",
            "webhook",
            "exporter",
            "nginx_exporter",
            "pgbouncer_exporter",
        ):
            self.ports[name] = free_port()
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AWS_"))}
        self.alerts_file.parent.mkdir(parents=True, exist_ok=True)
        waits: list[tuple[ManagedProcess, int]] = []

        hook = self._spawn(
            "webhook",
            [
                sys.executable,
                "-m",
                "pytest_prodcheck.monitoring.webhook",
                "--port",
                str(self.ports["webhook"]),
                "--out",
                str(self.alerts_file),
            ],
            env=base_env,
        )
        waits.append((hook, self.ports["webhook"]))
        exporter_argv = [
            sys.executable,
            "-m",
            "pytest_prodcheck.monitoring.exporter",
            "--port",
            str(self.ports["exporter"]),
        ]
        if self.options.backup_dir is not None:
            exporter_argv += ["--backup-dir", str(self.options.backup_dir)]
        for cert in self.options.certs:
            exporter_argv += ["--cert", str(cert)]
        waits.append((self._spawn("exporter", exporter_argv, env=base_env), self.ports["exporter"]))

        targets: dict[str, list[str]] = {"prodcheck": [f"127.0.0.1:{self.ports['exporter']}"]}
        if self.options.shop_target:
            targets["shop"] = [self.options.shop_target]
        if self.options.nginx_status_url:
            proc = self._spawn(
                NGINX_EXPORTER,
                [
                    NGINX_EXPORTER,
                    f"-nginx.scrape-uri={self.options.nginx_status_url}",
                    f"-web.listen-address=127.0.0.1:{self.ports['nginx_exporter']}",
                ],
                env=base_env,
            )
            waits.append((proc, self.ports["nginx_exporter"]))
            targets["nginx"] = [f"127.0.0.1:{self.ports['nginx_exporter']}"]
        pgb = self.options.pgbouncer
        if pgb is not None:
            dsn = (
                f"postgresql://{quote(pgb.user)}:{quote(pgb.password)}@{pgb.host}:{pgb.port}"
                "/pgbouncer"
            )
            proc = self._spawn(
                "pgbouncer_exporter",
                [
                    sys.executable,
                    "-m",
                    "pytest_prodcheck.monitoring.pgbouncer_exporter",
                    "--port",
                    str(self.ports["pgbouncer_exporter"]),
                ],
                env=dict(base_env, PRODCHECK_PGBOUNCER_DSN=dsn),
            )
            waits.append((proc, self.ports["pgbouncer_exporter"]))
            targets["pgbouncer"] = [f"127.0.0.1:{self.ports['pgbouncer_exporter']}"]

        account = service_account("nobody")
        am_dir = self.workdir / "alertmanager"
        am_dir.mkdir(parents=True, exist_ok=True)
        (am_dir / "alertmanager.yml").write_text(self._alertmanager_config())
        prom_dir = self.workdir / "prometheus"
        prom_dir.mkdir(parents=True, exist_ok=True)
        rules = (
            render_rules(
                production=self.options.production_rules,
                backup_max_age_hours=self.options.backup_max_age_hours,
            )
            if self.options.with_rules
            else "groups: []\n"
        )
        (prom_dir / "alerts.yml").write_text(rules)
        (prom_dir / "prometheus.yml").write_text(self._prometheus_config(targets))
        chown_tree(am_dir, account)
        chown_tree(prom_dir, account)
        am = self._spawn(
            "alertmanager",
            [
                ALERTMANAGER,
                f"--config.file={am_dir / 'alertmanager.yml'}",
                f"--storage.path={am_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.ports['alertmanager']}",
                "--cluster.listen-address=",
            ],
            env=base_env,
            user=account,
        )
        waits.append((am, self.ports["alertmanager"]))
        prom = self._spawn(
            "prometheus",
            [
                PROMETHEUS,
                f"--config.file={prom_dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={prom_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.ports['prometheus']}",
                "--storage.tsdb.retention.time=1d",
                "--rules.alert.resend-delay=1s",
            ],
            env=base_env,
            user=account,
        )
        waits.append((prom, self.ports["prometheus"]))
        deadline = time.monotonic() + timeout
        for proc, port in waits:
            wait_port("127.0.0.1", port, max(0.5, deadline - time.monotonic()), proc=proc)
        self._wait_ready(f"{self.prometheus_url}/-/ready", deadline, prom)

    def _wait_ready(self, url: str, deadline: float, proc: ManagedProcess) -> None:
        while True:
            try:
                if requests.get(url, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if not proc.alive:
                raise ToolError(f"{proc.name} exited during start: {proc.log_tail()}")
            if time.monotonic() > deadline:
                raise ToolError(f"{url} not ready in time: {proc.log_tail()}")
            time.sleep(0.05)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop(timeout=5)
        self.processes.clear()

    def __enter__(self) -> MonitoringStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configs ------------------------------------------------------------------------------
    def _prometheus_config(self, targets: dict[str, list[str]]) -> str:
        config = {
            "global": {
                "scrape_interval": "1s",
                "evaluation_interval": "1s",
                "scrape_timeout": "1s",
            },
            "rule_files": ["alerts.yml"],
            "alerting": {
                "alertmanagers": [
                    {"static_configs": [{"targets": [f"127.0.0.1:{self.ports['alertmanager']}"]}]}
                ]
            },
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": hosts}]}
                for job, hosts in sorted(targets.items())
            ],
        }
        return json.dumps(config, indent=2)  # JSON is valid YAML

    def _alertmanager_config(self) -> str:
        config = {
            "route": {
                "receiver": "webhook",
                "group_by": ["alertname"],
                "group_wait": "0s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [
                {
                    "name": "webhook",
                    "webhook_configs": [{"url": self.webhook_url, "send_resolved": True}],
                }
            ],
        }
        if not self.options.with_receiver:
            config["receivers"] = [{"name": "webhook"}]
        return json.dumps(config, indent=2)
