"""``prodcheck ssl issue|renew`` against real Pebble + nginx: output, exit codes, faults."""

from __future__ import annotations

import datetime as dt
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck import cli
from pytest_prodcheck.acme.certinfo import cert_info
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.stack.pebble import PebbleServer
from tests._acme_env import DOMAIN, NAMES, AcmeEnv, RateLimitingCA

PRODCHECK = Path(sys.executable).parent / "prodcheck"


@pytest.fixture(scope="module")
def env() -> Iterator[AcmeEnv]:
    e = AcmeEnv.start()
    try:
        yield e
    finally:
        e.stop()


@pytest.fixture(scope="module")
def other_cas(env: AcmeEnv) -> Iterator[dict[str, tuple[str, str]]]:
    """CAs that refuse: one whose policy forbids api.shop.test, one that rate-limits orders."""
    strict = PebbleServer(env.root / "pebble-policy", env.nginx.options.http_port,
                          domain_blocklist=("api.shop.test",)).start()  # fmt: skip
    try:
        with RateLimitingCA(make_tempdir("ratelimit-ca-")) as limiting:
            yield {
                "order-rejected": (strict.directory_url, str(strict.api_ca_path)),
                "rate-limited": (limiting.directory_url, str(limiting.ca_path)),
            }
    finally:
        strict.stop()


def _issue_args(env: AcmeEnv, *extra: str) -> list[str]:
    return [
        "ssl", "issue", DOMAIN, "admin@shop.test",
        "--directory", env.pebble.directory_url,
        "--ca-bundle", str(env.pebble.api_ca_path),
        "--webroot", str(env.nginx.webroot),
        "--cert-dir", str(env.store.root),
        "--reload-command", shlex.join(env.nginx.reload_command),
        *extra,
    ]  # fmt: skip


def _run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def issued(env: AcmeEnv) -> subprocess.CompletedProcess[str]:
    """The console script, as a user runs it."""
    old = env.nginx.workers()
    proc = subprocess.run(
        [str(PRODCHECK), *_issue_args(env)], capture_output=True, text=True, timeout=60
    )
    if proc.returncode == 0:
        env.wait_workers_replaced(old)
    return proc


def test_issue_prints_one_line_and_serves_the_certificate(
    env: AcmeEnv, issued: subprocess.CompletedProcess[str]
) -> None:
    assert issued.returncode == 0, issued.stderr
    assert issued.stderr == ""
    [line] = issued.stdout.splitlines()
    assert line.startswith(f"issued {DOMAIN} ({', '.join(NAMES)}) from {env.pebble.directory_url}")
    assert str(env.store.fullchain_path(DOMAIN)) in line and "reloaded: kill -HUP" in line
    for name in NAMES:
        served = env.served(name)
        assert served.verified, served.error


def test_issue_json(env: AcmeEnv, issued: object, capsys: pytest.CaptureFixture[str]) -> None:
    old = env.nginx.workers()
    code, out, err = _run(capsys, _issue_args(env, "--json", "--key-type", "rsa", "--name", "cdn"))
    assert code == 0, err
    env.wait_workers_replaced(old)
    data = json.loads(out)
    assert data["names"] == [*NAMES, "cdn.shop.test"] and data["reloaded"] is True
    assert cert_info(Path(data["fullchain"]).read_bytes()).names[-1] == "cdn.shop.test"
    served = env.served("www.shop.test")  # nginx has no server block for cdn (unknown SNI)
    assert served.verified and served.info is not None
    assert "cdn.shop.test" in served.info.names


def test_renew_not_due_then_dry_run_then_forced(
    env: AcmeEnv, issued: object, capsys: pytest.CaptureFixture[str]
) -> None:
    cert_dir = ["--cert-dir", str(env.store.root)]
    before = env.live_bytes()
    code, out, err = _run(capsys, ["ssl", "renew", *cert_dir])
    assert (code, err) == (0, "") and out.startswith(f"{DOMAIN}: not due: ")
    code, out, err = _run(capsys, ["ssl", "renew", "--dry-run", *cert_dir])
    assert (code, err) == (0, "") and out.startswith(f"{DOMAIN}: dry run ok: obtained from ")
    assert env.live_bytes() == before
    old = env.nginx.workers()
    code, out, err = _run(capsys, ["ssl", "renew", "--force", "--json", *cert_dir])
    assert code == 0, err
    [renewal] = json.loads(out)["renewals"]
    assert renewal["action"] == "renewed" and renewal["lifetime_days"] > 1000
    env.wait_workers_replaced(old)
    assert env.live_bytes() != before
    assert env.served().info.serial == cert_info(env.live_bytes()[0]).serial  # type: ignore[union-attr]


def test_renew_with_nothing_issued(capsys: pytest.CaptureFixture[str]) -> None:
    empty = make_tempdir("empty-certs-")
    code, out, err = _run(capsys, ["ssl", "renew", "--cert-dir", str(empty)])
    assert code == 0 and out == "" and "no certificates to renew" in err


@pytest.mark.parametrize(
    ("case", "code", "needle"),
    [
        ("invalid-domain", 2, "invalid domain 'bad_name.shop.test'"),
        ("unreachable-directory", 3, "unreachable"),
        ("challenge-fails", 3, "HTTP-01 validation of"),
        ("webroot-not-writable", 2, "is not writable"),
        ("reload-fails", 3, "reload command `false` exited with 1"),
        ("order-rejected", 3, "the CA rejected the order (rejectedIdentifier: "),
        ("rate-limited", 3, "the CA rate-limited the order (rateLimited: too many certificates"),
        ("bad-key-type", 2, "invalid choice: 'dsa'"),
        ("staging-and-directory", 2, "not allowed with argument"),
        ("missing-config", 2, "no such file"),
    ],
)
def test_faults_exit_non_zero_with_one_line_and_keep_the_certificate(
    env: AcmeEnv,
    issued: object,
    other_cas: dict[str, tuple[str, str]],
    capsys: pytest.CaptureFixture[str],
    case: str,
    code: int,
    needle: str,
) -> None:
    live = env.live_bytes()
    serial = cert_info(live[0]).serial
    args = _issue_args(env)
    if case == "invalid-domain":
        args += ["--name", "bad_name"]
    elif case == "unreachable-directory":
        args[args.index("--directory") + 1] = f"https://127.0.0.1:{free_port()}/dir"
    elif case == "challenge-fails":
        args[args.index("--webroot") + 1] = str(make_tempdir("unserved-"))
    elif case == "webroot-not-writable":
        blocker = make_tempdir("blocked-") / "file"
        blocker.write_text("x")
        args[args.index("--webroot") + 1] = str(blocker)
    elif case in other_cas:
        args[args.index("--directory") + 1] = other_cas[case][0]
        args[args.index("--ca-bundle") + 1] = other_cas[case][1]
    elif case == "reload-fails":
        args[args.index("--reload-command") + 1] = "false"
    elif case == "bad-key-type":
        args += ["--key-type", "dsa"]
    elif case == "staging-and-directory":
        args += ["--staging"]
    elif case == "missing-config":
        args += ["--config", "/nonexistent/prodcheck.toml"]
    if case in ("bad-key-type", "staging-and-directory"):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(args)
        got, err = exit_info.value.code, capsys.readouterr().err
    else:
        got, _, err = _run(capsys, args)
    assert got == code, err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("usage:", " "))]
    assert len(lines) == 1 and "error: " in lines[0], err
    assert needle in err and "Traceback" not in err
    assert env.live_bytes() == live
    served = env.served()
    assert served.verified and served.info is not None and served.info.serial == serial


def test_console_script_fault_has_no_traceback(env: AcmeEnv, issued: object) -> None:
    args = _issue_args(env)
    args[args.index("--directory") + 1] = f"https://127.0.0.1:{free_port()}/dir"
    proc = subprocess.run([str(PRODCHECK), *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    [line] = proc.stderr.splitlines()
    assert line.startswith("prodcheck: error: ACME server https://127.0.0.1:")
    assert "Connection refused" in line


def test_renew_failure_exit_code_and_others_still_renewed(
    env: AcmeEnv, issued: object, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = env.store.renewal_path("broken.test")
    broken.write_text("{not json")
    try:
        live = env.live_bytes()
        code, out, err = _run(capsys, ["ssl", "renew", "--cert-dir", str(env.store.root)])
    finally:
        broken.unlink()
    assert code == 2
    assert err.startswith("broken.test: FAILED: renewal config ") and "is corrupt" in err
    assert out.startswith(f"{DOMAIN}: not due: ")
    assert env.live_bytes() == live


def test_renew_renews_a_lineage_once_under_a_third_of_its_lifetime(
    env: AcmeEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    """Real clock: pebble issuing 2-second certificates; `ssl renew` (no --force) renews it."""
    short = PebbleServer(env.root / "pebble-short", env.nginx.options.http_port, validity_s=2)
    short.start()
    try:
        cert_dir = make_tempdir("short-certs-")
        args = _issue_args(env, "--reload-command", "")
        args[args.index("--directory") + 1] = short.directory_url
        args[args.index("--ca-bundle") + 1] = str(short.api_ca_path)
        args[args.index("--cert-dir") + 1] = str(cert_dir)
        assert _run(capsys, args)[0] == 0
        first = (cert_dir / "live" / DOMAIN / "fullchain.pem").read_bytes()
        info = cert_info(first)
        time.sleep(max(0.0, (info.not_after - dt.datetime.now(dt.UTC)).total_seconds()))
        code, out, err = _run(capsys, ["ssl", "renew", "--json", "--cert-dir", str(cert_dir)])
    finally:
        short.stop()
    assert code == 0, err
    [renewal] = json.loads(out)["renewals"]
    assert renewal["action"] == "renewed" and renewal["fraction_left"] < 1 / 3
    renewed = cert_info((cert_dir / "live" / DOMAIN / "fullchain.pem").read_bytes())
    assert renewed.serial != info.serial and renewed.not_after > info.not_after
