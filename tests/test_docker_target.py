"""The docker target for real: the stack as containers, judged like the local one.

- loopback-only publishing, everything labelled, removed on exit;
- ``http.rate-limit`` passes on it (the probes come from addresses the limits apply to) and fails
  on a too-lenient limit;
- PgBouncer restarts in place (``Endpoints.restart``);
- ``pytest suites -m smoke --prodcheck-target docker`` gives GO over the same items as local.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from pytest_prodcheck.dockerhost.engine import Engine
from pytest_prodcheck.probes.http.ratelimit import check_rate_limit
from pytest_prodcheck.probes.tls.target import SiteTarget
from pytest_prodcheck.stack.containers import DockerStack
from pytest_prodcheck.stack.endpoints import Endpoints
from pytest_prodcheck.stack.nginx import NginxOptions
from tests._docker_env import docker_engine_or_skip, labelled

pytestmark = [pytest.mark.xdist_group("docker")]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    with docker_engine_or_skip() as engine:
        yield engine


@pytest.fixture(scope="module")
def stack(docker_engine: Engine) -> Iterator[DockerStack]:
    st = DockerStack(progress=print)
    st.start()
    yield st
    st.stop()


def test_stack_is_up_labelled_and_loopback_only(stack: DockerStack, docker_engine: Engine) -> None:
    ep = stack.endpoints
    assert ep is not None and ep.target == "docker"
    assert ep.site_url and ep.pgbouncer_dsn and ep.s3 and ep.acme_directory
    client = docker_engine.client()
    mine = labelled(client, stack.run_id)
    assert len([m for m in mine if m.startswith("container ")]) == 7, mine
    for container in client.containers.list(filters={"label": f"org.prodcheck.run={stack.run_id}"}):
        mode = container.attrs["HostConfig"]["NetworkMode"]
        for bindings in (container.attrs["HostConfig"]["PortBindings"] or {}).values():
            for b in bindings:
                assert ipaddress.ip_address(b["HostIp"]).is_loopback, (container.name, b)
        if mode == "host":
            assert container.name.rsplit("-", 1)[-1] in ("nginx", "pgbouncer", "app", "pebble",
                                                         "challtestsrv", "1"), container.name  # fmt: skip
    assert stack.timings["total"] < 90


def test_rate_limit_passes_on_the_docker_target(stack: DockerStack) -> None:
    assert stack.endpoints is not None
    result = check_rate_limit(SiteTarget.from_endpoints(stack.endpoints))
    assert result.ok, result.message
    assert "from 127." in result.observed  # fresh loopback sources: limited, unlike 127.0.0.1


def test_rate_limit_fails_on_a_too_lenient_limit(docker_engine: Engine) -> None:
    lenient = replace(NginxOptions(), rate_limit_general=1000, burst_general=2000,
                      rate_limit_api=1000, burst_api=2000)  # fmt: skip
    with DockerStack(nginx=lenient, pebble=False) as ep:
        result = check_rate_limit(SiteTarget.from_endpoints(ep))
    assert result.status == "fail", result.observed


def test_pgbouncer_restarts_in_place(stack: DockerStack) -> None:
    ep = stack.endpoints
    assert ep is not None and ep.pgbouncer_dsn
    before = stack.containers["pgbouncer"].attrs["State"]["StartedAt"]
    ep.restart("pgbouncer")
    stack.containers["pgbouncer"].reload()
    assert stack.containers["pgbouncer"].attrs["State"]["StartedAt"] != before
    with psycopg.connect(ep.pgbouncer_dsn, prepare_threshold=None, autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def _smoke(target: str, report_dir: Path, env: dict[str, str]) -> dict[str, str]:
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "-m", "smoke", "-q", "-p", "no:cacheprovider",
         "--prodcheck-target", target, "--prodcheck-report-dir", str(report_dir),
         "--prodcheck-load-duration", "10"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    report = json.loads((report_dir / "checklist.json").read_text())
    assert report["verdict"] == "GO", res.stdout[-2000:]
    if target == "docker":  # container CPU/memory sampled during the load, next to locust.html
        stats = [e for i in report["items"] for e in i["evidence"]
                 if e["name"] == "load.container-stats"]  # fmt: skip
        assert stats and "app cpu max" in stats[0]["observed"], stats
        page = Path(stats[0]["source"])
        assert page.exists() and (page.parent / "locust.html").exists()
        assert "<svg" in page.read_text() and "postgres" in page.read_text()
    return {i["id"]: i["status"] for i in report["items"]}


def test_smoke_suite_gives_go_over_the_same_items_as_local(
    docker_engine: Engine, tmp_path: Path
) -> None:
    env = {**os.environ, "DOCKER_HOST": docker_engine.host}
    docker_items = _smoke("docker", tmp_path / "docker", env)
    local_items = _smoke("local", tmp_path / "local", env)
    assert docker_items == local_items
    assert sum(s == "passed" for s in docker_items.values()) >= 20


def test_endpoints_json_round_trips(stack: DockerStack) -> None:
    ep = stack.endpoints
    assert ep is not None
    data = json.loads(ep.to_json())
    assert Endpoints(**{**data, "resolve": tuple(data["resolve"]),
                        "nginx_reload_command": tuple(data["nginx_reload_command"]),
                        "s3": ep.s3}).site_url == ep.site_url  # fmt: skip
