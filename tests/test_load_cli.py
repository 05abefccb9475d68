"""``prodcheck load``: exit codes 0/1/2/3, reports on disk, ``--web`` stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from _load_target import Target

from pytest_prodcheck.cli import main
from pytest_prodcheck.core.ports import free_port

FAST = ["--set", "load.wait_min=0.05", "--set", "load.wait_max=0.2", "--set", "load.min_rps=20"]


@pytest.fixture(scope="module")
def target():
    with Target() as t:
        yield t


def test_passing_run_exits_0_and_writes_reports(target, tmp_path, capsys):
    rc = main(["load", "smoke", "--host", target.url, "--duration", "2",
               "--report-dir", str(tmp_path), *FAST])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "p(95) < 1000ms:" in out and "✓" in out and "✗" not in out
    (run_dir,) = (tmp_path / "load").iterdir()
    assert run_dir.name.startswith("smoke-")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["ok"] is True and summary["stats"]["groups"]["all"]["requests"] > 0
    assert (run_dir / "locust.html").is_file() and (run_dir / "locust_stats.csv").is_file()


def test_failed_threshold_exits_1(tmp_path, capsys):
    with Target("--fail", "/api/=1.0") as bad:
        rc = main(["load", "smoke", "--host", bad.url, "--duration", "2",
                   "--report-dir", str(tmp_path), *FAST])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 1
    assert "error rate < 1%:" in out and "✗" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["load", "smoke", "--duration", "0"], "expected a number > 0"),
        (["load", "nightly"], "invalid choice"),
        (["load", "smoke", "--shape", "weekly"], "invalid choice"),
        (["load", "smoke", "--host", "ftp://x"], "expected http(s)://HOST[:PORT]"),
        (["load", "smoke", "--host", "https://bob:s3cret@x"], "credentials in the load URL"),
        (["load", "smoke", "--target", "external"], "no target: pass --host"),
    ],
)
def test_usage_errors_exit_2(argv, message, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no prodcheck.toml here
    with pytest.raises(SystemExit) as exc:
        sys.exit(main(argv))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err
    assert "Traceback" not in err and "s3cret" not in err
    assert message in err.strip().splitlines()[-1]  # (argparse errors print usage above it)


def test_unreachable_floor_in_config_exits_2(tmp_path, capsys, target):
    cfg = tmp_path / "prodcheck.toml"
    cfg.write_text("[load.profiles.smoke]\nmin_rps = 500\n")
    rc = main(["load", "smoke", "--host", target.url, "--config", str(cfg)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "[load.profiles.smoke] min_rps = 500 is unreachable" in err and "mean think" in err


def test_unreachable_host_exits_3(capsys, tmp_path):
    rc = main(["load", "smoke", "--host", "http://127.0.0.1:9", "--report-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 3 and "unreachable" in err and "Traceback" not in err
    assert not (tmp_path / "load").exists()


def test_web_ui_binds_loopback_and_stops_on_ctrl_c(target, tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_prodcheck.cli", "load", "smoke", "--web", "--web-port",
         str(port), "--host", target.url, "--report-dir", str(tmp_path), "--shape", "daily"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line
        body = ""
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    body = r.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert "locust" in body.lower()
        children = _children(proc.pid)
        assert children
        argv = Path(f"/proc/{children[0]}/cmdline").read_bytes().split(b"\0")
        files = argv[argv.index(b"-f") + 1].decode()
        assert "locustfile.py" in files and "shape_daily.py" in files and "_hook.py" in files
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
        for pid in children:
            assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d))
    return out


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_run_and_leaves_nothing(target, tmp_path, sig):
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_prodcheck.cli", "load", "smoke", "--host", target.url,
         "--duration", "60", "--report-dir", str(tmp_path), *FAST],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        assert "load smoke" in proc.stderr.readline()  # banner: Locust starts right after
        locusts: list[int] = []
        for _ in range(100):
            locusts = _children(proc.pid)
            if locusts:
                break
            time.sleep(0.1)
        assert locusts
        time.sleep(1.0)  # let it get going
        started = time.monotonic()
        proc.send_signal(sig)
        rc = proc.wait(20)
        assert rc in (-sig, 128 + sig, 130), rc
        assert time.monotonic() - started < 10
        for pid in locusts:
            assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_without_host_the_embedded_stack_is_loaded(tmp_path, capsys, monkeypatch):
    """No --host, no url: nginx (TLS, by address + Host/SNI) -> shop -> PgBouncer -> PostgreSQL."""
    monkeypatch.chdir(tmp_path)
    rc = main(["load", "smoke", "--duration", "3", "--report-dir", str(tmp_path), *FAST])
    captured = capsys.readouterr()
    assert rc in (0, 1), captured.err[-2000:]
    (run_dir,) = (tmp_path / "load").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["host"].startswith("https://127.0.0.1:") and summary["host_header"]
    groups = summary["stats"]["groups"]
    assert groups["all"]["requests"] > 10 and groups["all"]["failures"] == 0
    assert groups["ai"]["requests"] > 0
