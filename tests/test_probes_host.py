"""Host-level checks: the firewall against real nftables in a throwaway network namespace; file-based
checks against a small root tree made per test (the checks read files, so the tree is the real input).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck.probes import host as h


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"):
        pytest.skip("needs root, iproute2 and nftables to make a network namespace")
    name = f"prodcheck-{uuid.uuid4().hex[:8]}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot create a network namespace here: {made.stderr.strip()}")
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_firewall_fails_without_rules_and_passes_with_default_drop(netns: str) -> None:
    host = h.Host(command_prefix=("ip", "netns", "exec", netns))
    bare = h.check_firewall(host)
    assert bare.status == "fail" and "no inbound filtering" in bare.observed
    subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            netns,
            "nft",
            "add table inet filter; add chain inet filter input { type filter hook input priority 0; "
            "policy drop; }; add rule inet filter input tcp dport {22,80,443} accept",
        ],
        check=True,
    )
    armed = h.check_firewall(host)
    assert armed.status == "pass" and "policy drop" in armed.observed


def _tree(tmp_path: Path, files: dict[str, str]) -> h.Host:
    for rel, text in files.items():
        path = tmp_path / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return h.Host(root=tmp_path)


def test_logrotate_covers_services(tmp_path: Path) -> None:
    host = _tree(
        tmp_path,
        {
            "/etc/logrotate.d/nginx": "/var/log/nginx/*.log {\n daily\n rotate 14\n}\n",
            "/etc/logrotate.d/shop": "/var/log/shop/app.log {\n weekly\n}\n",
        },
    )
    assert h.check_logrotate(host, ("nginx", "shop")).status == "pass"
    missing = h.check_logrotate(host, ("nginx", "pgbouncer"))
    assert missing.status == "fail" and "pgbouncer" in missing.message


def test_user_accounts(tmp_path: Path) -> None:
    good = _tree(
        tmp_path / "good",
        {
            "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\n",
            "/etc/shadow": "root:$6$abc:19000::::::\napp:!:19000::::::\n",
        },
    )
    assert h.check_user_accounts(good).status == "pass"
    bad = _tree(
        tmp_path / "bad",
        {
            "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\n",
            "/etc/shadow": "root:$6$abc:19000::::::\ntoor::19000::::::\n",
        },
    )
    result = h.check_user_accounts(bad)
    assert (
        result.status == "fail" and "toor" in result.message and "empty password" in result.message
    )


def test_vpn_interface(tmp_path: Path) -> None:
    (tmp_path / "a/sys/class/net/eth0").mkdir(parents=True)
    assert h.check_vpn(h.Host(root=tmp_path / "a")).status == "fail"
    (tmp_path / "b/sys/class/net/wg0").mkdir(parents=True)
    assert h.check_vpn(h.Host(root=tmp_path / "b")).status == "pass"


def test_encryption_at_rest(tmp_path: Path) -> None:
    mountinfo = (
        "22 1 252:1 / / rw,relatime - ext4 /dev/vda1 rw\n"
        "40 22 253:0 / /var/lib/postgresql rw,relatime - ext4 /dev/dm-0 rw\n"
    )
    plain = _tree(
        tmp_path / "plain",
        {"/proc/self/mountinfo": mountinfo.replace("/var/lib/postgresql", "/srv")},
    )
    result = h.check_encryption_at_rest(plain)
    assert result.status == "fail" and "/dev/vda1" in result.observed
    crypt = _tree(
        tmp_path / "crypt",
        {
            "/proc/self/mountinfo": mountinfo,
            "/sys/class/block/dm-0/dm/uuid": "CRYPT-LUKS2-0123456789abcdef-data\n",
        },
    )
    assert h.check_encryption_at_rest(crypt).status == "pass"


def test_fail2ban_missing_fails(tmp_path: Path) -> None:
    result = h.check_fail2ban(h.Host(command_prefix=("env", "PATH=" + str(tmp_path))))
    assert result.status == "fail"
