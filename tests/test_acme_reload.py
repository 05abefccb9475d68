"""Reload hook: a real command, its failure modes as one-line ReloadFailed."""

from __future__ import annotations

import pytest

from pytest_prodcheck.acme.errors import ReloadFailed
from pytest_prodcheck.acme.reload import DEFAULT_RELOAD_COMMAND, parse_command, run_reload
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.proc import make_tempdir


def test_parse_command() -> None:
    assert parse_command("systemctl reload 'nginx'") == ("systemctl", "reload", "nginx")
    assert parse_command("") == () and parse_command(None) == ()
    assert parse_command(["kill", "-HUP", 12]) == ("kill", "-HUP", "12")  # type: ignore[list-item]
    assert DEFAULT_RELOAD_COMMAND == ("nginx", "-s", "reload")
    with pytest.raises(ConfigError, match="cannot be parsed"):
        parse_command("nginx 'unterminated")


def test_success_runs_the_command() -> None:
    marker = make_tempdir("reload-") / "ran"
    run_reload(("touch", str(marker)))
    assert marker.exists()
    run_reload(())  # no command: nothing


def test_failure_reports_exit_code_and_last_line_masked() -> None:
    cmd = ("sh", "-c", "echo first >&2; echo 'password=hunter22 failed' >&2; exit 4")
    with pytest.raises(ReloadFailed) as info:
        run_reload(cmd)
    msg = str(info.value)
    assert "exited with 4" in msg and "failed" in msg and "hunter22" not in msg and "\n" not in msg


def test_missing_command_and_timeout() -> None:
    with pytest.raises(ReloadFailed, match="nonexistent-reloader not found"):
        run_reload(("nonexistent-reloader",))
    with pytest.raises(ReloadFailed, match="hung for more than"):
        run_reload(("sleep", "5"), timeout=0.2)
