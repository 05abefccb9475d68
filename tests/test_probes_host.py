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


def test_firewall_conditional_drops_are_not_a_firewall(netns: str) -> None:
    """Policy accept with `ct state invalid drop` and one banned address filters nothing; a final
    unconditional `counter drop` after an accept set does."""
    host = h.Host(command_prefix=("ip", "netns", "exec", netns))

    def nft(script: str) -> None:
        subprocess.run(["ip", "netns", "exec", netns, "nft", script], check=True)

    nft(
        "add table inet filter; add chain inet filter input { type filter hook input priority 0; "
        "policy accept; }; add rule inet filter input ct state invalid drop; "
        "add rule inet filter input ip saddr 198.51.100.7 drop"
    )
    leaky = h.check_firewall(host)
    assert leaky.status == "fail", leaky
    nft(
        "add rule inet filter input tcp dport { 22, 80, 443 } accept; "
        "add rule inet filter input counter drop"
    )
    closed = h.check_firewall(host)
    assert closed.status == "pass" and "policy accept" in closed.observed


def _fake_tools(tmp_path: Path, tools: dict[str, str]) -> h.Host:
    """Stand-in programs printing what the real ones print on Debian/Ubuntu (only the output
    format is under test); ``PATH`` holds nothing else, so absent tools are absent."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, output in tools.items():
        script = tmp_path / name
        body = output if output.startswith("case") else f"/bin/cat <<'OUT'\n{output}\nOUT"
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    return h.Host(command_prefix=("env", f"PATH={tmp_path}"))


UFW_ACTIVE = """Status: active
Logging: on (low)
Default: deny (incoming), allow (outgoing), disabled (routed)
New profiles: skip

To                         Action      From
--                         ------      ----
22/tcp                     ALLOW IN    Anywhere"""


def test_firewall_iptables_and_ufw_formats(tmp_path: Path) -> None:
    ufw_like = "-P INPUT DROP\n-A INPUT -j ufw-before-logging-input\n-A INPUT -j ufw-before-input"
    assert h.check_firewall(_fake_tools(tmp_path / "a", {"iptables": ufw_like})).ok
    invalid_only = "-P INPUT ACCEPT\n-A INPUT -m conntrack --ctstate INVALID -j DROP"
    assert not h.check_firewall(_fake_tools(tmp_path / "b", {"iptables": invalid_only})).ok
    reject_last = (
        "-P INPUT ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
        "-A INPUT -j REJECT --reject-with icmp-port-unreachable"
    )
    assert h.check_firewall(_fake_tools(tmp_path / "c", {"iptables": reject_last})).ok
    accept_first = "-P INPUT DROP\n-A INPUT -j ACCEPT"
    assert not h.check_firewall(_fake_tools(tmp_path / "d", {"iptables": accept_first})).ok
    assert h.check_firewall(_fake_tools(tmp_path / "e", {"ufw": UFW_ACTIVE})).ok
    allow_in = UFW_ACTIVE.replace("deny (incoming)", "allow (incoming)")
    assert not h.check_firewall(_fake_tools(tmp_path / "f", {"ufw": allow_in})).ok


def test_fail2ban_client_output(tmp_path: Path) -> None:
    status = "Status\n|- Number of jail:\t2\n`- Jail list:\tnginx-http-auth, sshd"
    client = f"case $1 in ping) echo 'Server replied: pong';; status) printf '{status}\\n';; esac"
    result = h.check_fail2ban(_fake_tools(tmp_path / "on", {"fail2ban-client": client}))
    assert result.ok and result.observed == "jails: nginx-http-auth, sshd"
    no_jails = client.replace("nginx-http-auth, sshd", "").replace("\t2", "\t0")
    empty = h.check_fail2ban(_fake_tools(tmp_path / "empty", {"fail2ban-client": no_jails}))
    assert empty.status == "fail" and "without any jail" in empty.message
    down = "Failed to access socket path: /var/run/fail2ban/fail2ban.sock. Is fail2ban running?"
    dead = f"case $1 in *) echo '{down}'; exit 255;; esac"
    stopped = h.check_fail2ban(_fake_tools(tmp_path / "off", {"fail2ban-client": dead}))
    assert stopped.status == "fail" and "not running" in stopped.observed


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


DEBIAN_NGINX_LOGROTATE = """/var/log/nginx/*.log {
\tdaily
\tmissingok
\trotate 14
\tcompress
\tdelaycompress
\tnotifempty
\tcreate 0640 www-data adm
\tsharedscripts
\tprerotate
\t\tif [ -d /etc/logrotate.d/httpd-prerotate ]; then \\
\t\t\trun-parts /etc/logrotate.d/httpd-prerotate; \\
\t\tfi \\
\tendscript
\tpostrotate
\t\tinvoke-rc.d nginx rotate >/dev/null 2>&1
\tendscript
}
"""


def test_logrotate_reads_stanzas_not_mentions(tmp_path: Path) -> None:
    """Debian's own nginx stanza counts; a path in a comment or a postrotate script, a file
    logrotate ignores (*.dpkg-old), or a file merely named after the service does not."""
    real = _tree(tmp_path / "real", {"/etc/logrotate.d/nginx": DEBIAN_NGINX_LOGROTATE})
    assert h.check_logrotate(real, ("nginx",)).ok
    decoys = _tree(
        tmp_path / "decoys",
        {
            "/etc/logrotate.conf": "# /var/log/nginx/*.log is rotated elsewhere\ninclude /etc/logrotate.d\n",
            "/etc/logrotate.d/shop": (
                "/var/log/shop.log {\n weekly\n postrotate\n  kill -USR1 $(cat /run/nginx.pid)\n"
                "  /usr/sbin/postgresql-reload\n endscript\n}\n"
            ),
            "/etc/logrotate.d/nginx.dpkg-old": DEBIAN_NGINX_LOGROTATE,
            "/etc/logrotate.d/postgresql": "# TODO\n",
        },
    )
    result = h.check_logrotate(decoys, ("nginx", "shop", "postgresql"))
    assert result.status == "fail"
    assert "nginx, postgresql" in result.message and "shop (shop)" in result.observed


def test_user_accounts(tmp_path: Path) -> None:
    good = _tree(
        tmp_path / "good",
        {
            "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\n",
            "/etc/shadow": "root:$6$abc:19000::::::\napp:!:19000::::::\n",
            "/etc/group": "root:x:0:\nsudo:x:27:alice,bob\n",
        },
    )
    result = h.check_user_accounts(good)
    assert (
        result.status == "pass" and result.observed == "uid 0: root; sudo/wheel/admin: alice, bob"
    )
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
    assert h.check_vpn(h.Host(root=tmp_path / "b")).status == "pass"  # no sshd on the host


@pytest.mark.parametrize(
    ("config", "drop_in", "ok"),
    [
        ("#ListenAddress 0.0.0.0\nPermitRootLogin no\n", "", False),  # Debian's default
        ("ListenAddress 10.8.0.1\n", "", True),
        ("ListenAddress 10.8.0.1:22\nListenAddress [fd00::1]:22\n", "", True),
        ("ListenAddress 10.8.0.1\n", "ListenAddress [::]:22\n", False),
        ("Include /etc/ssh/sshd_config.d/*.conf\n", "ListenAddress 10.8.0.1\n", True),
    ],
)
def test_vpn_needs_sshd_off_the_public_addresses(
    tmp_path: Path, config: str, drop_in: str, ok: bool
) -> None:
    """A wg0 next to an sshd on every address is not "admin access through a VPN"."""
    host = _tree(
        tmp_path,
        {"/etc/ssh/sshd_config": config, "/etc/ssh/sshd_config.d/vpn.conf": drop_in},
    )
    (tmp_path / "sys/class/net/wg0").mkdir(parents=True)
    result = h.check_vpn(host)
    assert result.ok is ok, result
    if not ok:
        assert "sshd listens on every address" in result.message


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


def _link(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def test_encryption_through_mapper_symlink_and_lvm_on_luks(tmp_path: Path) -> None:
    """Debian's encrypted-LVM layout: /dev/mapper/vg-data (dm-1, LVM) on dm-0 (LUKS). The
    symlinks live under ``root`` (absolute targets must not escape it)."""
    mountinfo = "40 22 254:1 / /var/lib/postgresql rw - ext4 /dev/mapper/vg-data rw\n"
    host = _tree(
        tmp_path,
        {
            "/proc/self/mountinfo": mountinfo,
            "/sys/class/block/dm-1/dm/uuid": "LVM-abcdef\n",
            "/sys/class/block/dm-1/dm/name": "vg-data\n",
            "/sys/class/block/dm-0/dm/uuid": "CRYPT-LUKS2-0123-sda3_crypt\n",
        },
    )
    (tmp_path / "sys/class/block/dm-1/slaves").mkdir()
    _link(tmp_path / "sys/class/block/dm-1/slaves/dm-0", "../../dm-0")
    found = h.check_encryption_at_rest(host)  # no /dev, no /sys/dev: found through dm/name
    assert found.status == "pass" and "via dm-0" in found.observed
    _link(tmp_path / "dev/mapper/vg-data", "/dev/dm-1")  # absolute, as udev may make it
    assert h.check_encryption_at_rest(host).status == "pass"
    (tmp_path / "sys/class/block/dm-0/dm/uuid").write_text("LVM-plain\n")
    plain = h.check_encryption_at_rest(host)
    assert plain.status == "fail" and "[dm-1]" in plain.observed
    _link(tmp_path / "sys/dev/block/254:1", "../../devices/virtual/block/dm-9")
    by_number = h.check_encryption_at_rest(host)
    assert by_number.status == "fail" and "[dm-9]" in by_number.observed


def test_fail2ban_missing_fails(tmp_path: Path) -> None:
    result = h.check_fail2ban(h.Host(command_prefix=("env", "PATH=" + str(tmp_path))))
    assert result.status == "fail"
