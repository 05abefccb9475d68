"""The ``prodcheck`` command: dispatch, exit codes, ``checklist`` and ``attest``."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pytest_prodcheck import cli
from pytest_prodcheck.checklist import CHECKLIST

SUITE = """
import pytest

@pytest.mark.smoke
@pytest.mark.checklist("security.https-only", "testing.ssl-configuration")
def test_tls(): pass

@pytest.mark.stress
@pytest.mark.checklist("testing.stress")
def test_stress(): pass
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "test_area.py").write_text(SUITE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:locust")
    return tmp_path


def test_no_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage: prodcheck" in capsys.readouterr().err


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "checklist" in out and "attest" in out


def test_bad_argument_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["checklist", "--bogus"])
    assert info.value.code == 2


def test_missing_command_module_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(cli.COMMAND_TO_MODULE, "frobnicate", "frobnicate")
    assert cli.main(["frobnicate"]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("prodcheck: error: 'prodcheck frobnicate' is not available")
    assert "\n" not in err


def test_checklist_lists_every_item_with_linked_tests(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["checklist", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = {r["id"]: r for r in data["items"]}
    assert list(rows) == [i.id for i in CHECKLIST]
    assert rows["security.https-only"]["tests"] == ["suites/test_area.py::test_tls"]
    assert rows["testing.stress"]["tests"] == ["suites/test_area.py::test_stress"]
    assert rows["security.firewall"]["decided_by"] == "attestation"
    assert rows["security.https-only"]["last_status"] is None


def test_checklist_marker_filter_and_last_status(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "reports").mkdir()
    (project / "reports" / "checklist.json").write_text(
        json.dumps(
            {
                "verdict": "GO",
                "run": {"finished_utc": "2026-11-28T12:00:00Z"},
                "items": [{"id": "security.https-only", "status": "passed", "tests": []}],
            }
        ),
        encoding="utf-8",
    )
    assert cli.main(["checklist", "-m", "smoke"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if "security.https-only" in ln)
    assert "passed" in line and "1 test (suites/test_area.py::test_tls)" in line
    stress = next(ln for ln in out.splitlines() if "testing.stress" in ln)
    assert "none linked" in stress
    assert "Last report: verdict GO" in out


def test_checklist_falls_back_to_last_report(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "reports").mkdir()
    (project / "reports" / "checklist.json").write_text(
        json.dumps(
            {
                "verdict": "NO-GO",
                "items": [
                    {"id": "performance.gzip", "status": "failed", "tests": [{"nodeid": "x::t"}]}
                ],
            }
        ),
        encoding="utf-8",
    )
    assert cli.main(["checklist", "--json", "--suites", "nowhere"]) == 0
    captured = capsys.readouterr()
    assert "suites directory nowhere not found" in captured.err
    rows = {r["id"]: r for r in json.loads(captured.out)["items"]}
    assert rows["performance.gzip"]["tests"] == ["x::t"]
    assert rows["performance.gzip"]["last_status"] == "failed"


def test_corrupt_report_is_exit_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "reports").mkdir()
    (project / "reports" / "checklist.json").write_text("{not json", encoding="utf-8")
    assert cli.main(["checklist", "--no-collect"]) == 2
    err = capsys.readouterr().err
    assert "is not a readable report" in err and "Traceback" not in err


def test_config_error_is_exit_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "prodcheck.toml").write_text("[tls]\nmin_days = 'x'\n", encoding="utf-8")
    assert cli.main(["checklist", "--no-collect"]) == 2
    assert "[tls] min_days = 'x': expected an integer" in capsys.readouterr().err
    assert cli.main(["checklist", "--no-collect", "--config", "none.toml"]) == 2
    assert cli.main(["checklist", "--no-collect", "--config", "prodcheck.toml", "--set", "x"]) == 2


def test_attest_writes_validated_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["attest", "security.firewall", "--by", "Jane", "--evidence", "https://t/OPS-1"]
    assert cli.main([*args, "--note", "ufw: 22, 80, 443"]) == 0
    assert (
        cli.main(
            [
                "attest",
                "performance.cdn",
                "--by",
                "Bob",
                "--evidence",
                "https://t/2",
                "--not-applicable",
            ]
        )
        == 0
    )
    data = tomllib.loads((project / "attestations.toml").read_text(encoding="utf-8"))
    first, second = data["attestation"]
    assert (first["item"], first["by"], first["note"]) == (
        "security.firewall",
        "Jane",
        "ufw: 22, 80, 443",
    )
    assert second["applicable"] is False
    capsys.readouterr()
    assert cli.main(["checklist", "--json", "--no-collect"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)["items"]}
    assert rows["security.firewall"]["attestation"]["by"] == "Jane"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ["security.firewal", "--by", "J", "--evidence", "https://t/1"],
            "did you mean 'security.firewall'",
        ),
        (["security.https-only", "--by", "J", "--evidence", "https://t/1"], "is automated"),
        (["security.firewall", "--by", "J", "--evidence", "wiki page"], "http(s) URL"),
    ],
)
def test_attest_rejects_bad_input(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    assert cli.main(["attest", *args]) == 2
    assert fragment in capsys.readouterr().err
    assert not (project / "attestations.toml").exists()


def test_console_script_entry_point(project: Path) -> None:
    exe = Path(sys.executable).parent / "prodcheck"
    proc = subprocess.run(
        [str(exe), "attest", "nope", "--by", "x", "--evidence", "https://x/1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("prodcheck: error:") and proc.stderr.count("\n") == 1
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("prodcheck ")


def test_sigterm_unwinds_and_exits_143(project: Path) -> None:
    code = (
        "import os, signal, sys, time\n"
        "from pytest_prodcheck import cli\n"
        "def run(args):\n"
        "    try:\n"
        "        os.kill(os.getpid(), signal.SIGTERM); time.sleep(5)\n"
        "    finally:\n"
        "        print('cleaned up', flush=True)\n"
        "    return 0\n"
        "cli.build_parser = lambda argv: type('P', (), {'parse_args': lambda self, a: type('A', (), {'func': staticmethod(run)})()})()\n"
        "sys.exit(cli.main(['x']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 143
    assert "cleaned up" in proc.stdout and "prodcheck: terminated" in proc.stderr


@pytest.mark.parametrize(
    "argv",
    [["checklist", "--bogus"], ["attest"], ["attest", "security.firewall", "--by", "J"]],
)
def test_argument_errors_are_one_line_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "--help" in err, err


def test_unexpected_exception_is_one_line_exit_3(
    monkeypatch: pytest.MonkeyPatch, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_prodcheck.commands import checklist as command

    def boom(args: object) -> int:
        raise PermissionError(13, "Permission denied: postgresql://app:hunter22@h/db")

    monkeypatch.setattr(command, "run", boom)
    monkeypatch.delenv("PRODCHECK_DEBUG", raising=False)
    assert cli.main(["checklist"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("prodcheck: error: unexpected PermissionError: ")
    assert err.count("\n") == 1 and "hunter22" not in err and "Traceback" not in err
    monkeypatch.setenv("PRODCHECK_DEBUG", "1")
    with pytest.raises(PermissionError):
        cli.main(["checklist"])


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ("colour = 1\n", "unknown key colour"),
        ("[tls]\nmin_days = 'x'\n", "[tls] min_days = 'x': expected an integer"),
        ("[database]\ndsn = 'mysql://app:hunter22@h/db'\n", "[database] dsn"),
        ("url = 'ftp://shop'\n", "url = 'ftp://shop'"),
        ("[pgbouncer]\ndsn = 'postgresql://a:${NOPE_PW}@h/db'\n", "NOPE_PW"),
        ("url = \n", "not valid TOML"),
    ],
)
def test_every_bad_config_class_is_one_line_exit_2(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    toml: str,
    fragment: str,
) -> None:
    monkeypatch.delenv("NOPE_PW", raising=False)
    (project / "prodcheck.toml").write_text(toml, encoding="utf-8")
    assert cli.main(["checklist", "--no-collect"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("prodcheck: error: ") and err.count("\n") == 1, err
    assert fragment in err and "hunter22" not in err
