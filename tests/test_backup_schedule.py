"""Cron jobs: idempotent named blocks, file and real-crontab backends (expressions: test_core_cron)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck.backup.schedule import (
    FileCrontab,
    UserCrontab,
    backend_from,
    find_job,
    install_job,
    list_jobs,
    remove_job,
)
from pytest_prodcheck.core.errors import ConfigError, ToolError


def test_install_is_idempotent_and_keeps_foreign_lines(tmp_path: Path):
    tab = FileCrontab(tmp_path / "crontab")
    (tmp_path / "crontab").write_text("MAILTO=ops@example.com\n5 4 * * * /usr/bin/other-job\n")
    job, changed = install_job(
        "backup",
        "0 2 * * *",
        "cd /srv && prodcheck backup --all",
        log="/var/log/ecommerce_backup.log",
        backend=tab,
    )
    assert changed
    text = (tmp_path / "crontab").read_text()
    assert (
        "0 2 * * * cd /srv && prodcheck backup --all >> /var/log/ecommerce_backup.log 2>&1" in text
    )
    assert text.startswith("MAILTO=ops@example.com\n5 4 * * * /usr/bin/other-job\n")
    again = install_job(
        "backup",
        "0 2 * * *",
        "cd /srv && prodcheck backup --all",
        log="/var/log/ecommerce_backup.log",
        backend=tab,
    )
    assert again == (job, False)
    assert (tmp_path / "crontab").read_text() == text
    # a new schedule replaces the block in place, a second job is added
    install_job("backup", "0 */6 * * *", "cd /srv && prodcheck backup --all", backend=tab)
    install_job("ssl-renew", "0 3 * * *", "prodcheck ssl renew", backend=tab)
    jobs = list_jobs(tab)
    assert [(j.name, j.schedule) for j in jobs] == [
        ("backup", "0 */6 * * *"),
        ("ssl-renew", "0 3 * * *"),
    ]
    text = (tmp_path / "crontab").read_text()
    assert text.count("prodcheck backup") == 1 and "/usr/bin/other-job" in text
    assert remove_job("ssl-renew", tab) and not remove_job("ssl-renew", tab)
    assert find_job("ssl-renew", tab) is None and find_job("backup", tab) is not None


def test_bad_jobs_are_refused(tmp_path: Path):
    tab = FileCrontab(tmp_path / "crontab")
    with pytest.raises(ConfigError, match="job name"):
        install_job("Bad Name", "0 2 * * *", "x", backend=tab)
    with pytest.raises(ConfigError, match="special in crontab"):
        install_job("backup", "0 2 * * *", "date +%F", backend=tab)
    with pytest.raises(ConfigError, match="out of range"):
        install_job("backup", "0 25 * * *", "x", backend=tab)
    assert not (tmp_path / "crontab").exists()


def test_backend_selection(tmp_path: Path):
    f = str(tmp_path / "c")
    assert isinstance(backend_from(env={"PRODCHECK_CRONTAB_FILE": f}), FileCrontab)
    chosen = backend_from(env={"PRODCHECK_CRONTAB_USER": "nobody"})
    assert isinstance(chosen, UserCrontab) and chosen.user == "nobody"
    assert isinstance(
        backend_from(crontab_file=f, env={"PRODCHECK_CRONTAB_USER": "x"}), FileCrontab
    )


@pytest.fixture
def throwaway_user() -> Iterator[str]:
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("crontab"):
        pytest.skip("needs root, useradd and crontab to test against a real crontab")
    name = f"pcron{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    try:
        yield name
    finally:
        subprocess.run(["crontab", "-u", name, "-r"], capture_output=True, check=False)
        subprocess.run(["userdel", name], capture_output=True, check=False)


def test_real_crontab_binary(throwaway_user: str):
    tab = UserCrontab(throwaway_user)
    assert tab.read() == ""
    install_job("backup", "0 2 * * *", "/usr/local/bin/prodcheck backup --all", backend=tab)
    install_job("backup", "0 2 * * *", "/usr/local/bin/prodcheck backup --all", backend=tab)
    listed = subprocess.run(
        ["crontab", "-u", throwaway_user, "-l"], capture_output=True, text=True, check=True
    ).stdout
    assert listed.count("0 2 * * * /usr/local/bin/prodcheck backup --all") == 1
    assert [j.name for j in list_jobs(tab)] == ["backup"]


def test_real_crontab_of_unknown_user_is_a_clear_error():
    if os.geteuid() != 0 or not shutil.which("crontab"):
        pytest.skip("needs root and crontab")
    with pytest.raises(ToolError, match="crontab -l failed"):
        UserCrontab("no-such-user-xyz").read()
