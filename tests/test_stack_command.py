"""commands/stack.py: argument handling and output (the running stack is in test_stack_local)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from pytest_prodcheck.commands import stack as stack_cmd
from pytest_prodcheck.stack.endpoints import Endpoints

ROOT = Path(__file__).resolve().parents[1]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prodcheck")
    stack_cmd.register(parser.add_subparsers(dest="command"))
    return parser


def test_register_adds_stack_up() -> None:
    args = _parser().parse_args(["stack", "up", "--json"])
    assert args.json is True and args.func is stack_cmd.run and args.no_pebble is False


def test_summary_masks_passwords() -> None:
    ep = Endpoints(
        target="local",
        site_url="https://shop.test:8443",
        pgbouncer_dsn="postgresql://app:s3cr3t-pw@127.0.0.1:6432/ecommerce",
        extras={"pgbouncer_stats_dsn": "postgresql://pgb_stats:other-pw@127.0.0.1:6432/pgbouncer"},
    )
    text = stack_cmd._summary(ep, ["s3cr3t-pw", "other-pw"])
    assert "s3cr3t-pw" not in text and "other-pw" not in text
    assert "postgresql://app:***@127.0.0.1:6432/ecommerce" in text
    assert "https://shop.test:8443" in text


def _cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_prodcheck.cli", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def test_external_config_is_a_usage_error(tmp_path: Path) -> None:
    cfg = tmp_path / "prodcheck.toml"
    cfg.write_text('url = "https://shop.example.com"\n')
    res = _cli("stack", "up", "--json", "--config", str(cfg), cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1 and "local stack" in res.stderr


def test_bad_config_file_is_a_usage_error(tmp_path: Path) -> None:
    cfg = tmp_path / "broken.toml"
    cfg.write_text("target = [\n")
    res = _cli("stack", "up", "--config", str(cfg), cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_bad_timeout_is_a_usage_error(tmp_path: Path) -> None:
    res = _cli("stack", "up", "--timeout", "0", cwd=tmp_path)
    assert res.returncode == 2 and "--timeout" in res.stderr
