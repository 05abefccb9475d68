"""``prodcheck tls check``: text and JSON output, exit codes 0/1/2/3, one-line errors."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_prodcheck import cli
from pytest_prodcheck.commands import tls as tls_command
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.probes.tls import SiteTarget
from pytest_prodcheck.probes.tls_site import CHECK_IDS
from tests._tls_servers import Lab

PRODCHECK = str(Path(sys.executable).with_name("prodcheck"))


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = Lab.create()
    try:
        yield lab
    finally:
        lab.close()


def argv_for(target: SiteTarget, ca_bundle: str, *extra: str) -> list[str]:
    args = ["tls", "check", target.url, "--http-url", target.http_url, "--ca-bundle", ca_bundle]
    for host, port, addr in target.resolve:
        args += ["--resolve", f"{host}:{port}:{addr}"]
    for name in target.names[1:]:
        args += ["--name", name]
    return [*args, *extra]


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no prodcheck.toml from the working tree


def test_json_on_the_good_site(lab, capsys):
    code = cli.main(argv_for(lab.site("good"), lab.ca_bundle, "--json"))
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert code == 0, out
    assert data["schema_version"] == 1
    assert data["target"] == lab.site("good").url
    assert [c["id"] for c in data["checks"]] == list(CHECK_IDS)
    for check in data["checks"]:
        assert set(check) == {"id", "status", "observed", "expected", "message"}
        assert check["status"] in ("pass", "n/a")
    assert out.count("\n") == 1 and err == ""


def test_text_output_and_exit_1_when_a_check_fails(lab, capsys):
    code = cli.main(argv_for(lab.site("banner", server_tokens=True), lab.ca_bundle))
    out, _ = capsys.readouterr()
    assert code == 1
    assert "FAIL  http.server-banner" in out and "nginx/" in out
    assert "PASS  tls.protocols" in out
    assert "19 passed" not in out and "1 failed" in out


def test_thresholds_from_set(lab, capsys):
    code = cli.main(
        argv_for(lab.site("good"), lab.ca_bundle, "--json", "--set", "tls.min_days=200")
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    expiry = next(c for c in data["checks"] if c["id"] == "tls.cert.expiry")
    assert expiry["status"] == "fail" and "(< 200 days)" in expiry["message"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["tls", "check", "http://shop.test"], "must be an https:// URL"),
        (["tls", "check", "https://shop.test", "--resolve", "nonsense"], "HOST:PORT:ADDR"),
        (
            ["tls", "check", "https://shop.test", "--ca-bundle", "/nonexistent.pem"],
            "does not exist",
        ),
        (["tls", "check", "https://shop.test", "--name", "no such"], "is not a host name"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, says, capsys):
    code = cli.main(args)
    _, err = capsys.readouterr()
    assert code == 2
    assert says in err and err.count("\n") == 1 and "Traceback" not in err


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["tls", "check"])
    assert exc.value.code == 2


def test_unreachable_exits_3_with_one_line(capsys):
    port = free_port()
    code = cli.main(
        [
            "tls",
            "check",
            f"https://shop.test:{port}",
            "--resolve",
            f"shop.test:{port}:127.0.0.1",
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 3 and out == ""
    assert "Connection refused" in err and err.count("\n") == 1


def test_console_script_dns_failure_is_one_line_exit_3():
    res = subprocess.run(
        [PRODCHECK, "tls", "check", "https://nonexistent.invalid"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 3, res
    assert res.stderr.strip() == (
        "prodcheck: error: nonexistent.invalid does not resolve: "
        "fix DNS or pass --resolve nonexistent.invalid:443:ADDR"
    )


def test_timeout_exits_3_with_one_line(capsys, monkeypatch):
    """A port whose accept queue is full drops SYNs: the connect times out (shortened to 0.3 s)."""
    original = tls_command.target_from_args
    monkeypatch.setattr(
        tls_command, "target_from_args", lambda a: replace(original(a), timeout=0.3)
    )
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        try:
            for f in fillers:
                f.setblocking(False)
                f.connect_ex(("127.0.0.1", port))
            code = cli.main(
                [
                    "tls",
                    "check",
                    f"https://shop.test:{port}",
                    "--resolve",
                    f"shop.test:{port}:127.0.0.1",
                ]
            )
        finally:
            for f in fillers:
                f.close()
    out, err = capsys.readouterr()
    assert code == 3 and out == ""
    assert err == f"prodcheck: error: shop.test:{port} (127.0.0.1) timed out after 0.3 s\n"


def test_no_tls_on_the_https_port_exits_3_with_one_line(lab, capsys):
    """Plain HTTP where HTTPS should be: the TCP connect works, no TLS handshake does."""
    port = lab.site("good").http_port
    url = f"https://shop.test:{port}"
    code = cli.main(["tls", "check", url, "--resolve", f"shop.test:{port}:127.0.0.1", "--json"])
    out, err = capsys.readouterr()
    assert code == 3 and out == ""
    assert err.startswith(f"prodcheck: error: cannot reach {url} (127.0.0.1): ")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_list_prints_the_table(capsys):
    assert cli.main(["tls", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[:-1]] == list(CHECK_IDS)
    assert "performance.gzip" in next(line for line in out if line.startswith("http.gzip "))
    assert out[-1] == f"{len(CHECK_IDS)} checks"
    assert cli.main(["tls", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["checks"]
    assert [r["id"] for r in rows] == list(CHECK_IDS)
    assert next(r for r in rows if r["id"] == "tls.ocsp-stapling")["markers"] == ["tls"]
