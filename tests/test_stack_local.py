"""stack/local.py + commands/stack.py: the whole embedded stack, its endpoints, and no leftovers."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from pytest_prodcheck.core import proc as _proc
from pytest_prodcheck.stack.endpoints import Endpoints
from pytest_prodcheck.stack.local import LocalStack

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[LocalStack, Endpoints]]:
    local = LocalStack()
    endpoints = local.start()
    yield local, endpoints
    local.stop()


def _https(ep: Endpoints, host: str, path: str, ca: str | None) -> tuple[int, bytes]:
    port = urlsplit(ep.site_url).port
    ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    raw = socket.create_connection(("127.0.0.1", port), 10)
    with ctx.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


# --- the running stack --------------------------------------------------------------------------


def test_endpoints_shape(stack: tuple[LocalStack, Endpoints]) -> None:
    _local, ep = stack
    assert ep.target == "local"
    assert ep.site_url.startswith("https://shop.test:")  # type: ignore[union-attr]
    assert ep.names == ("shop.test", "www.shop.test", "api.shop.test", "monitoring.shop.test")
    for entry in ep.resolve:
        host, port, addr = entry.split(":")
        assert host in ep.names and port.isdigit() and addr == "127.0.0.1"
    for dsn in (ep.postgres_dsn, ep.postgres_ai_dsn, ep.postgres_admin_dsn, ep.pgbouncer_dsn):
        assert dsn is not None and dsn.startswith("postgresql://")
        assert f"@{ep.extras['internal_host']}:" in dsn
    assert Path(ep.ca_bundle).is_file()  # type: ignore[arg-type]
    data = json.loads(ep.to_json())
    assert data["pgbouncer_dsn"] == ep.pgbouncer_dsn and data["extras"]["rate_limit_source"]


def test_postgres_direct_right_and_wrong_credentials(stack: tuple[LocalStack, Endpoints]) -> None:
    local, ep = stack
    for dsn in (ep.postgres_dsn, ep.postgres_ai_dsn, ep.postgres_admin_dsn):
        with psycopg.connect(dsn) as conn:  # type: ignore[arg-type]
            assert conn.execute("select 1").fetchone() == (1,)
    assert local.postgres is not None
    pg = local.postgres
    for dsn, password in (
        (ep.postgres_dsn, pg.app_password),
        (ep.postgres_admin_dsn, pg.superuser_password),
    ):
        wrong = dsn.replace(password, "wrong")  # type: ignore[union-attr]
        assert wrong != dsn
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(wrong, connect_timeout=5)


def test_shop_data_is_seeded(stack: tuple[LocalStack, Endpoints]) -> None:
    _local, ep = stack
    with psycopg.connect(ep.postgres_dsn) as conn:  # type: ignore[arg-type]
        tables = conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'public'"
        ).fetchone()
        assert tables is not None and tables[0] > 0


def test_pgbouncer_right_and_wrong_credentials(stack: tuple[LocalStack, Endpoints]) -> None:
    local, ep = stack
    for dsn in (ep.pgbouncer_dsn, ep.pgbouncer_ai_dsn):
        with psycopg.connect(dsn, prepare_threshold=None) as conn:  # type: ignore[arg-type]
            assert conn.execute("select current_user").fetchone() == ("app",)
    with psycopg.connect(ep.pgbouncer_admin_dsn, autocommit=True) as conn:  # type: ignore[arg-type]
        config = {r[0]: r[1] for r in conn.execute("SHOW CONFIG").fetchall()}
        assert config["pool_mode"] == "transaction" and config["max_client_conn"] == "1000"
    assert local.pgbouncer is not None
    pgb = local.pgbouncer
    for dsn, password in (
        (ep.pgbouncer_admin_dsn, pgb.admin_password),
        (ep.pgbouncer_dsn, local.postgres.app_password if local.postgres else ""),
    ):
        wrong = dsn.replace(password, "x")  # type: ignore[union-attr]
        assert wrong != dsn
        with pytest.raises(psycopg.OperationalError, match="authentication failed"):
            psycopg.connect(wrong, autocommit=True, connect_timeout=5)


def test_site_through_nginx_needs_the_local_ca(stack: tuple[LocalStack, Endpoints]) -> None:
    _local, ep = stack
    status, body = _https(ep, "shop.test", "/health", ep.ca_bundle)
    assert status == 200 and b"ok" in body
    status, _ = _https(ep, "shop.test", ep.api_path, ep.ca_bundle)
    assert status == 200
    status, body = _https(ep, "shop.test", ep.static_path, ep.ca_bundle)
    assert status == 200 and body
    with pytest.raises(ssl.SSLCertVerificationError):
        _https(ep, "shop.test", "/health", None)


def test_s3_endpoint(stack: tuple[LocalStack, Endpoints]) -> None:
    local, ep = stack
    assert ep.s3 is not None and local.s3 is not None
    client = local.s3.client()
    client.put_object(Bucket=ep.s3.bucket, Key=f"{ep.s3.prefix}probe", Body=b"x")
    assert client.list_objects_v2(Bucket=ep.s3.bucket)["KeyCount"] >= 1


def test_acme_directory_needs_its_ca(stack: tuple[LocalStack, Endpoints]) -> None:
    _local, ep = stack
    if ep.acme_directory is None:
        pytest.skip("stack/pebble.py is not available")
    session = requests.Session()
    session.trust_env = False
    resp = session.get(ep.acme_directory, verify=ep.acme_ca_bundle, timeout=10)
    assert resp.status_code == 200 and "newOrder" in resp.json()
    with pytest.raises(requests.exceptions.SSLError):
        session.get(ep.acme_directory, verify=True, timeout=10)
    assert "BEGIN CERTIFICATE" in Path(ep.acme_roots).read_text()  # type: ignore[arg-type]


@pytest.mark.skipif(os.geteuid() != 0, reason="privilege dropping only happens as root")
def test_services_drop_root(stack: tuple[LocalStack, Endpoints]) -> None:
    local, _ep = stack
    assert local.postgres is not None and local.pgbouncer is not None and local.nginx is not None

    def uid(pid: int) -> int:
        status = Path(f"/proc/{pid}/status").read_text()
        return int(next(ln for ln in status.splitlines() if ln.startswith("Uid:")).split()[1])

    import pwd

    assert uid(local.postgres.process.pid) == pwd.getpwnam("postgres").pw_uid
    assert uid(local.pgbouncer.process.pid) == pwd.getpwnam("postgres").pw_uid
    workers = local.nginx.workers()
    assert workers and all(uid(w) == pwd.getpwnam("www-data").pw_uid for w in workers)


def test_databases_and_app_are_internal_only(stack: tuple[LocalStack, Endpoints]) -> None:
    _local, ep = stack
    ports = {
        "postgres": urlsplit(ep.postgres_dsn).port,
        "pgbouncer": urlsplit(ep.pgbouncer_dsn).port,
        "shop": urlsplit(ep.extras["shop_url"]).port,
    }
    public = next(iter(ep.resolve_map().values()))
    internal = ep.extras["internal_host"]
    assert public != internal
    for name, port in ports.items():
        with pytest.raises(OSError):
            socket.create_connection((public, port), 2).close()
        socket.create_connection((internal, port), 2).close()  # reachable internally
        assert name


def test_env_file_is_private_and_real(stack: tuple[LocalStack, Endpoints]) -> None:
    local, ep = stack
    path = Path(ep.extras["env_file"])
    assert path.stat().st_mode & 0o777 == 0o600
    values = dict(line.split("=", 1) for line in path.read_text().splitlines())
    assert values["DATABASE_URL"] == ep.pgbouncer_dsn
    assert (
        local.postgres is not None
        and values["POSTGRES_PASSWORD"] == local.postgres.superuser_password
    )
    assert len(values["SECRET_KEY"]) >= 32


def test_monitoring_endpoints(stack: tuple[LocalStack, Endpoints]) -> None:
    _local, ep = stack
    session = requests.Session()
    session.trust_env = False
    assert session.get(ep.uptime_url, timeout=10).status_code == 200  # type: ignore[arg-type]
    assert "# TYPE" in session.get(ep.metrics_url, timeout=10).text  # type: ignore[arg-type]
    status = session.get(ep.extras["nginx_status_url"], timeout=10)
    assert status.status_code == 200 and "Active connections" in status.text
    if ep.prometheus_url is None:
        pytest.skip("Prometheus is not installed")
    ready = session.get(f"{ep.prometheus_url}/-/ready", timeout=10)
    assert ready.status_code == 200


def test_restart_pgbouncer_keeps_its_address_and_handle(
    stack: tuple[LocalStack, Endpoints],
) -> None:
    # last of the running-stack tests: the shop's pooled connections go stale after this
    local, ep = stack
    assert local.pgbouncer is not None
    old = local.pgbouncer.process.pid
    ep.restart("pgbouncer")
    assert local.pgbouncer.process.alive and local.pgbouncer.process.pid != old
    assert not Path(f"/proc/{old}").exists() or _starttime(old) is None
    with psycopg.connect(ep.pgbouncer_dsn, prepare_threshold=None) as conn:  # type: ignore[arg-type]
        assert conn.execute("select 1").fetchone() == (1,)
    from pytest_prodcheck.core.errors import ConfigError

    with pytest.raises(ConfigError, match="restarts pgbouncer"):
        ep.restart("nginx")


def test_restart_elsewhere_is_a_missing_endpoint() -> None:
    from pytest_prodcheck.stack.endpoints import MissingEndpoint

    ep = Endpoints(target="external", site_url="https://shop.example.com")
    with pytest.raises(MissingEndpoint, match="restarting pgbouncer needs a stack prodcheck runs"):
        ep.restart("pgbouncer")


# --- no leftovers -------------------------------------------------------------------------------


def _starttime(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


def _descendants(root: int) -> dict[int, str]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        start = _starttime(pid)
        if start is not None:
            found[pid] = start
        todo.extend(children.get(pid, []))
    return found


def _survivors(procs: dict[int, str], timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid, start in procs.items():
            if _starttime(pid) == start:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                if stat[0] != "Z":
                    alive.append(pid)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def _start_cli() -> tuple[subprocess.Popen[str], dict[str, object], dict[int, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_prodcheck.cli", "stack", "up", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else ""
    return proc, json.loads(line), _descendants(proc.pid)


def _assert_json_contract(data: dict[str, object]) -> None:
    """DSNs full postgresql:// URLs with credentials, https site URL, HOST:PORT:ADDR resolve
    entries, CA bundles as paths of PEM files."""
    dsns = [k for k in data if k.endswith("_dsn")]
    assert len(dsns) == 6, dsns
    for key in dsns:
        url = urlsplit(str(data[key]))
        assert url.scheme == "postgresql" and url.username and url.password, key
        assert url.hostname and url.port and url.path.strip("/"), key
        with psycopg.connect(str(data[key]), autocommit=True, connect_timeout=5) as conn:
            conn.execute("SHOW VERSION" if url.path == "/pgbouncer" else "select 1")
    site = urlsplit(str(data["site_url"]))
    assert site.scheme == "https" and site.hostname == data["apex"] and site.port
    resolve = data["resolve"]
    assert isinstance(resolve, list) and f"{data['apex']}:{site.port}:127.0.0.1" in resolve
    for entry in resolve:
        host, port, addr = str(entry).split(":")
        assert host and port.isdigit() and socket.inet_aton(addr)
    for key in ("ca_bundle", "acme_ca_bundle", "acme_roots"):
        path = Path(str(data[key]))
        assert path.is_absolute() and "BEGIN CERTIFICATE" in path.read_text(), key


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stack_up_json_then_signal_stops_everything(sig: int) -> None:
    proc, data, procs = _start_cli()
    _assert_json_contract(data)
    assert len(procs) >= 6, (
        procs
    )  # postgres (+ its workers), pgbouncer, shop, nginx (+worker), moto
    workdir = Path(str(data["extras"]["workdir"]))  # type: ignore[index]
    assert workdir.is_dir()
    proc.send_signal(sig)
    assert proc.wait(30) == 0
    assert proc.stdout is not None and proc.stdout.read() == ""  # exactly one line on stdout
    assert _survivors(procs) == []
    assert not workdir.exists()


_KILLED_CHILD = """
import json, sys
from pytest_prodcheck.stack.local import LocalStack
stack = LocalStack()
ep = stack.start()
print(json.dumps({"workdir": ep.extras["workdir"]}), flush=True)
sys.stdin.read()
"""


def test_sigkilled_run_leaves_nothing_after_the_next_reap() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    workdir = Path(json.loads(proc.stdout.readline())["workdir"])
    procs = _descendants(proc.pid)
    proc.kill()
    proc.wait(10)
    _proc.reap_leftovers()  # what the next run does first
    assert _survivors(procs) == []
    assert not workdir.exists()
    assert not (_proc.RUN_ROOT / str(proc.pid)).exists()


def test_failed_start_cleans_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_prodcheck.core.errors import ToolError
    from pytest_prodcheck.stack import nginx

    monkeypatch.setattr(nginx, "NGINX_BIN", "/nonexistent/nginx")
    before = set(_proc.running_processes())
    local = LocalStack()
    with pytest.raises(ToolError, match="nginx not found"):
        local.start()
    assert set(_proc.running_processes()) == before
    assert local.workdir is None


def test_interrupt_while_the_template_is_copied_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ctrl-C / SIGTERM right after start-up began: the PostgreSQL template copy runs in a thread
    from pytest_prodcheck.stack import local as local_mod
    from pytest_prodcheck.stack.s3 import S3Server

    made: list[Path] = []
    real = local_mod.make_tempdir

    def spy(prefix: str) -> Path:
        made.append(real(prefix))
        return made[-1]

    def interrupted(self: S3Server) -> None:
        time.sleep(0.02)  # the copy (tens of ms at least) has started
        raise KeyboardInterrupt

    monkeypatch.setattr(local_mod, "make_tempdir", spy)
    monkeypatch.setattr(S3Server, "launch", interrupted)
    before = set(_proc.running_processes())
    local = LocalStack()
    with pytest.raises(KeyboardInterrupt):
        local.start()
    assert local._prep is not None and not local._prep.is_alive()
    assert set(_proc.running_processes()) == before
    time.sleep(0.5)  # a copy still running would recreate the removed workdir by now
    assert made and not made[0].exists()


_INNER_TEST = """
import pathlib, time

def test_holds_the_stack(prodcheck_stack):
    pathlib.Path({marker!r}).write_text(prodcheck_stack.extras["workdir"])
    time.sleep({hold})
    assert False, "a failing test"
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, None])
def test_signal_or_failure_in_pytest_stops_the_stack(tmp_path: Path, sig: int | None) -> None:
    """SIGTERM (CI cancelling a job), SIGINT (Ctrl-C) or a failing test (None) in a pytest run
    holding the stack: nothing outlives it."""
    marker = tmp_path / "ready"
    hold = 120 if sig else 1
    (tmp_path / "test_inner.py").write_text(_INNER_TEST.format(marker=str(marker), hold=hold))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:locust", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the inner pytest never got its stack"
        workdir = Path(marker.read_text())
        procs = _descendants(proc.pid)
        assert len(procs) >= 6
        if sig:
            proc.send_signal(sig)
        rc = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sig or rc == 1  # the failing test failed, the session ended normally
    assert _survivors(procs) == []
    assert not workdir.exists()
