"""Host-level checks, run on the server itself (``--prodcheck-host-checks``).

    >>> host = Host()                                   # this machine
    >>> check_firewall(host).observed
    'nftables: input policy drop, 1 rule'
    >>> check_logrotate(Host(root=Path("/srv/image")), ("nginx", "shop")).status
    'pass'

:class:`Host` is the seam: ``root`` prefixes every file path (check an image or a chroot) and
``command_prefix`` wraps every command (``("ip", "netns", "exec", "web1")`` checks a network
namespace, ``("ssh", "web1")`` a remote host).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_prodcheck.probes._result import CheckResult


@dataclass(frozen=True)
class Host:
    root: Path = Path("/")
    command_prefix: tuple[str, ...] = ()
    timeout: float = 10.0

    def path(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def read(self, path: str) -> str | None:
        try:
            return self.path(path).read_text(errors="replace")
        except OSError:
            return None

    def run(self, argv: Sequence[str]) -> tuple[int, str] | None:
        """``(returncode, stdout+stderr)``; None when the program is not installed."""
        if not self.command_prefix and shutil.which(argv[0]) is None:
            return None
        try:
            done = subprocess.run(
                [*self.command_prefix, *argv],
                capture_output=True,
                text=True,
                timeout=self.timeout,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            return None
        except subprocess.TimeoutExpired:
            return 124, f"{argv[0]} timed out"
        out = done.stdout + done.stderr
        if done.returncode == 127 or ("No such file or directory" in out and not done.stdout):
            return None
        return done.returncode, out


# -- firewall ------------------------------------------------------------------------------------
_NFT_INPUT = re.compile(
    r"chain (\S+) \{\s*type filter hook input[^;]*; policy (\w+);(?P<body>[^}]*)\}", re.S
)


def check_firewall(host: Host) -> CheckResult:
    """A firewall filters inbound traffic: an nftables/iptables input chain that drops by default
    (or rejects), or ``ufw`` active."""
    cid = "security.firewall"
    expected = "inbound default policy drop/reject (nftables, iptables or ufw)"
    nft = host.run(["nft", "list", "ruleset"])
    if nft is not None and nft[0] == 0:
        for match in _NFT_INPUT.finditer(nft[1]):
            rules = [ln for ln in match["body"].splitlines() if ln.strip()]
            dropping = match.group(2) == "drop" or any(
                re.search(r"\b(drop|reject)\s*$", r.strip()) for r in rules
            )
            if dropping:
                return CheckResult.passed(
                    cid, f"nftables: input policy {match.group(2)}, {len(rules)} rules", expected
                )
    ipt = host.run(["iptables", "-S", "INPUT"])
    if (
        ipt is not None
        and ipt[0] == 0
        and ("-P INPUT DROP" in ipt[1] or re.search(r"-j (DROP|REJECT)\s*$", ipt[1], re.M))
    ):
        return CheckResult.passed(cid, "iptables: INPUT drops by default", expected)
    ufw = host.run(["ufw", "status"])
    if ufw is not None and "Status: active" in ufw[1]:
        return CheckResult.passed(cid, "ufw active", expected)
    tools = [n for n, r in (("nft", nft), ("iptables", ipt), ("ufw", ufw)) if r is not None]
    return CheckResult.failed(
        cid,
        f"no inbound filtering found ({', '.join(tools) or 'no firewall tool installed'})",
        expected,
        "enable a firewall: e.g. `ufw default deny incoming && ufw allow 22,80,443/tcp && ufw enable`",
    )


# -- fail2ban ------------------------------------------------------------------------------------
def check_fail2ban(host: Host) -> CheckResult:
    """fail2ban's server answers and has at least one jail (sshd, nginx …)."""
    cid = "security.fail2ban"
    ping = host.run(["fail2ban-client", "ping"])
    if ping is None:
        return CheckResult.failed(
            cid,
            "fail2ban not installed",
            "fail2ban running with ≥ 1 jail",
            "install and enable fail2ban (apt-get install fail2ban)",
        )
    if ping[0] != 0 or "pong" not in ping[1]:
        return CheckResult.failed(
            cid,
            "fail2ban server not running",
            "fail2ban running with ≥ 1 jail",
            "start fail2ban: systemctl enable --now fail2ban",
        )
    status = host.run(["fail2ban-client", "status"]) or (1, "")
    jails = re.search(r"Jail list:\s*(.*)", status[1])
    names = [j.strip() for j in (jails.group(1) if jails else "").split(",") if j.strip()]
    return CheckResult.judge(
        cid,
        bool(names),
        f"jails: {', '.join(names) or 'none'}",
        "fail2ban running with ≥ 1 jail",
        "" if names else "fail2ban runs without any jail: enable sshd/nginx jails",
    )


# -- log rotation --------------------------------------------------------------------------------
def check_logrotate(host: Host, services: Sequence[str] = ("nginx",)) -> CheckResult:
    """Every service's logs are rotated: a logrotate stanza names it in /etc/logrotate.d or the main file."""
    cid = "predeploy.log-rotation"
    configs: dict[str, str] = {}
    main = host.read("/etc/logrotate.conf")
    if main is not None:
        configs["logrotate.conf"] = main
    directory = host.path("/etc/logrotate.d")
    if directory.is_dir():
        for entry in sorted(directory.iterdir()):
            text = host.read(f"/etc/logrotate.d/{entry.name}")
            if text is not None:
                configs[entry.name] = text
    covered: list[str] = []
    missing: list[str] = []
    for service in services:
        hits = [
            name
            for name, text in configs.items()
            if name == service or re.search(rf"/{re.escape(service)}[/.\w*-]*\s*\{{?", text)
        ]
        (covered if hits else missing).append(f"{service} ({', '.join(hits)})" if hits else service)
    return CheckResult.judge(
        cid,
        not missing,
        f"rotated: {', '.join(covered) or 'none'}",
        f"logrotate covers {', '.join(services)}",
        f"no logrotate stanza for {', '.join(missing)}: add /etc/logrotate.d/<service>"
        if missing
        else "",
    )


# -- encryption at rest --------------------------------------------------------------------------
def _mount_source(host: Host, path: str) -> tuple[str, str] | None:
    """(mount point, device) of the longest mount containing ``path`` from /proc/self/mountinfo."""
    info = host.read("/proc/self/mountinfo")
    if info is None:
        return None
    best: tuple[str, str] | None = None
    for line in info.splitlines():
        fields = line.split()
        if len(fields) < 10 or "-" not in fields:
            continue
        mount_point = fields[4]
        source = fields[fields.index("-") + 2]
        inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
        if inside and (best is None or len(mount_point) > len(best[0])):
            best = (mount_point, source)
    return best


def check_encryption_at_rest(host: Host, data_dir: str = "/var/lib/postgresql") -> CheckResult:
    """The database's data directory lives on a dm-crypt (LUKS) device."""
    cid = "security.encryption-at-rest"
    mount = _mount_source(host, data_dir)
    if mount is None:
        return CheckResult.errored(cid, "cannot read /proc/self/mountinfo")
    mount_point, device = mount
    name = Path(device).name
    uuid = host.read(f"/sys/class/block/{name}/dm/uuid") or ""
    if not uuid and Path(device).is_symlink():  # /dev/mapper/x -> ../dm-0
        resolved = Path(device).resolve().name
        uuid = host.read(f"/sys/class/block/{resolved}/dm/uuid") or ""
    encrypted = uuid.startswith("CRYPT-")
    return CheckResult.judge(
        cid,
        encrypted,
        f"{data_dir} on {device} ({mount_point}){', dm-crypt' if encrypted else ''}",
        "data directory on an encrypted (dm-crypt/LUKS) device",
        ""
        if encrypted
        else f"{device} is not a dm-crypt device: encrypt the volume (LUKS) or attest "
        "provider-side encryption",
    )


# -- VPN -----------------------------------------------------------------------------------------
def check_vpn(host: Host) -> CheckResult:
    """A VPN interface (WireGuard wg*, OpenVPN tun*/tap*) is up for admin access."""
    cid = "security.admin-vpn"
    net = host.path("/sys/class/net")
    names = sorted(p.name for p in net.iterdir()) if net.is_dir() else []
    vpn = [n for n in names if re.match(r"^(wg|tun|tap|tailscale|zt)", n)]
    return CheckResult.judge(
        cid,
        bool(vpn),
        f"interfaces: {', '.join(names) or 'none'}",
        "a VPN interface (wg*, tun*, tailscale*)",
        "" if vpn else "no VPN interface: put admin access behind WireGuard/OpenVPN",
    )


# -- user permissions ----------------------------------------------------------------------------
def check_user_accounts(host: Host) -> CheckResult:
    """Only root has uid 0 and no account has an empty password."""
    cid = "security.user-accounts"
    passwd = host.read("/etc/passwd")
    if passwd is None:
        return CheckResult.errored(cid, "cannot read /etc/passwd")
    uid0 = [
        ln.split(":")[0]
        for ln in passwd.splitlines()
        if ln.count(":") >= 6 and ln.split(":")[2] == "0"
    ]
    problems = (
        [f"uid 0 besides root: {', '.join(u for u in uid0 if u != 'root')}"]
        if set(uid0) - {"root"}
        else []
    )
    shadow = host.read("/etc/shadow")
    if shadow is not None:
        empty = [
            ln.split(":")[0]
            for ln in shadow.splitlines()
            if ln.count(":") >= 1 and ln.split(":")[1] == ""
        ]
        if empty:
            problems.append(f"empty password: {', '.join(empty)}")
    return CheckResult.judge(
        cid,
        not problems,
        f"uid 0: {', '.join(uid0)}",
        "only root has uid 0; no empty passwords",
        "; ".join(problems),
    )
