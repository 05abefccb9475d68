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

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_prodcheck.core.result import CheckResult


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
_NFT_INPUT_HOOK = re.compile(r"type filter hook input\b[^;]*;\s*policy (\w+);")
_NFT_NOISE = re.compile(r'\bcounter( packets \d+ bytes \d+)?|\bcomment "[^"]*"')
_NFT_VERDICT = re.compile(r"^(accept|drop|reject(\s+with\s+.*)?)$")
_IPT_VERDICT = re.compile(r"^-A INPUT(?: -m comment --comment \S+)? -j (ACCEPT|DROP|REJECT)\b")
_DENIED = ("Operation not permitted", "Permission denied", "must be root", "need to be root")


def _nft_chains(ruleset: str) -> list[tuple[str, list[str]]]:
    """``(chain header, rule lines)`` of every chain in ``nft list ruleset``; sets' braces nest."""
    chains: list[tuple[str, list[str]]] = []
    for match in re.finditer(r"\bchain \S+ \{", ruleset):
        depth, pos = 1, match.end()
        while depth and pos < len(ruleset):
            depth += {"{": 1, "}": -1}.get(ruleset[pos], 0)
            pos += 1
        lines = [ln.strip() for ln in ruleset[match.end() : pos - 1].splitlines() if ln.strip()]
        header = next((ln for ln in lines if ln.startswith("type ")), "")
        chains.append((header, [ln for ln in lines if not ln.startswith(("type ", "policy "))]))
    return chains


def _verdict(policy: str, rules: list[str], unconditional: re.Pattern[str]) -> str:
    """What a chain does with a packet no earlier rule matched: its first unconditional verdict
    (``accept`` / ``drop`` / ``reject``), else its policy. A conditional ``drop`` (``ct state
    invalid drop``, one banned address) does not make a firewall."""
    for rule in rules:
        match = unconditional.match(_NFT_NOISE.sub("", rule).strip())
        if match:
            return match.group(1).split()[0].lower()
    return policy.lower()


def check_firewall(host: Host) -> CheckResult:
    """A firewall filters inbound traffic: an nftables/iptables input chain whose default (policy
    or final unconditional rule) is drop/reject, or ``ufw`` active with ``deny (incoming)``."""
    cid = "security.firewall"
    expected = "inbound default drop/reject (nftables, iptables or ufw)"
    nft = host.run(["nft", "list", "ruleset"])
    if nft is not None and nft[0] == 0:
        for header, rules in _nft_chains(nft[1]):
            hook = _NFT_INPUT_HOOK.search(header)
            if hook and _verdict(hook.group(1), rules, _NFT_VERDICT) in ("drop", "reject"):
                return CheckResult.passed(
                    cid,
                    f"nftables: input policy {hook.group(1)}, {len(rules)} rule"
                    + ("" if len(rules) == 1 else "s"),
                    expected,
                )
    ipt = host.run(["iptables", "-S", "INPUT"])
    if ipt is not None and ipt[0] == 0:
        policy = re.search(r"^-P INPUT (\w+)", ipt[1], re.M)
        rules = [ln.strip() for ln in ipt[1].splitlines() if ln.startswith("-A INPUT")]
        if _verdict(policy.group(1) if policy else "ACCEPT", rules, _IPT_VERDICT) in (
            "drop",
            "reject",
        ):
            return CheckResult.passed(cid, "iptables: INPUT drops by default", expected)
    ufw = host.run(["ufw", "status", "verbose"])
    if (
        ufw is not None
        and "Status: active" in ufw[1]
        and re.search(r"(deny|reject) \(incoming\)", ufw[1])
    ):
        return CheckResult.passed(cid, "ufw active, incoming denied by default", expected)
    answers = [r for r in (nft, ipt, ufw) if r is not None]
    if answers and all(r[0] != 0 and any(d in r[1] for d in _DENIED) for r in answers):
        return CheckResult.errored(
            cid, "cannot read the firewall rules: run the host checks as root"
        )
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
_LOGROTATE_TABOO = (
    ".dpkg-old",
    ".dpkg-dist",
    ".dpkg-new",
    ".dpkg-bak",
    ".disabled",
    ".rpmsave",
    ".rpmorig",
    ".rpmnew",
    ".ucf-old",
    ".ucf-dist",
    ".ucf-new",
    "~",
    ".bak",
    ".swp",
)
_LOGROTATE_SCRIPT = re.compile(
    r"^\s*(?:pre|post)rotate|^\s*(?:first|last)action|^\s*preremove", re.M
)


def _logrotate_patterns(text: str) -> list[str]:
    """The log file patterns of every stanza (``/var/log/nginx/*.log {``), ignoring comments and
    the shell of ``postrotate … endscript`` blocks (which name pid files, not rotated logs)."""
    kept: list[str] = []
    in_script = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if not in_script else raw.strip()
        if in_script:
            in_script = line != "endscript"
            continue
        if _LOGROTATE_SCRIPT.match(line):
            in_script = True
            continue
        kept.append(line)
    patterns: list[str] = []
    for header in re.findall(r"([^{}]*)\{[^{}]*\}", "\n".join(kept)):
        patterns += [w.strip("\"'") for w in header.split() if w.strip("\"'").startswith("/")]
    return patterns


def check_logrotate(host: Host, services: Sequence[str] = ("nginx",)) -> CheckResult:
    """Every service's logs are rotated: a stanza in logrotate.conf or /etc/logrotate.d rotates a
    path with the service as a directory or file name (``/var/log/nginx/*.log``,
    ``/var/log/shop.log``). Files logrotate ignores (``*.dpkg-old`` …) do not count."""
    cid = "predeploy.log-rotation"
    configs: dict[str, str] = {}
    main = host.read("/etc/logrotate.conf")
    if main is not None:
        configs["logrotate.conf"] = main
    directory = host.path("/etc/logrotate.d")
    if directory.is_dir():
        for entry in sorted(directory.iterdir()):
            if entry.name.startswith(".") or entry.name.endswith(_LOGROTATE_TABOO):
                continue
            text = host.read(f"/etc/logrotate.d/{entry.name}")
            if text is not None:
                configs[entry.name] = text
    patterns = {name: _logrotate_patterns(text) for name, text in configs.items()}
    covered: list[str] = []
    missing: list[str] = []
    for service in services:
        named = re.compile(rf"/{re.escape(service)}(?:[/.*_-]|$)")
        hits = [name for name, pats in patterns.items() if any(named.search(p) for p in pats)]
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
def _mount_source(host: Host, path: str) -> tuple[str, str, str] | None:
    """(mount point, major:minor, device) of the longest mount containing ``path``
    (/proc/self/mountinfo)."""
    info = host.read("/proc/self/mountinfo")
    if info is None:
        return None
    best: tuple[str, str, str] | None = None
    for line in info.splitlines():
        fields = line.split()
        if len(fields) < 10 or "-" not in fields:
            continue
        mount_point = fields[4].replace("\\040", " ")
        source = fields[fields.index("-") + 2]
        inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
        if inside and (best is None or len(mount_point) > len(best[0])):
            best = (mount_point, fields[2], source)
    return best


def _link_name(path: Path) -> str | None:
    """The last component a symlink points at (``/dev/mapper/data -> ../dm-0`` gives ``dm-0``);
    read with readlink so an absolute target never escapes ``Host.root``."""
    try:
        return Path(os.readlink(path)).name
    except OSError:
        return None


def _block_name(host: Host, majmin: str, device: str) -> str:
    """The kernel name (``dm-0``, ``vda1``) of the mounted device: via /sys/dev/block/MAJ:MIN, else
    the /dev/mapper symlink, else a dm device whose dm/name matches, else the device's name."""
    by_number = _link_name(host.path(f"/sys/dev/block/{majmin}"))
    if by_number:
        return by_number
    by_link = _link_name(host.path(device))
    if by_link:
        return by_link
    name = Path(device).name
    blocks = host.path("/sys/class/block")
    if device.startswith("/dev/mapper/") and blocks.is_dir():
        for entry in sorted(blocks.iterdir()):
            if (host.read(f"/sys/class/block/{entry.name}/dm/name") or "").strip() == name:
                return entry.name
    return name


def _crypt_layer(host: Host, block: str, depth: int = 0) -> str | None:
    """The dm-crypt device under ``block``: itself, or one it is built on (LVM on LUKS, the
    Debian installer's "guided - use entire disk and set up encrypted LVM")."""
    if (host.read(f"/sys/class/block/{block}/dm/uuid") or "").startswith("CRYPT-"):
        return block
    slaves = host.path(f"/sys/class/block/{block}/slaves")
    if depth < 8 and slaves.is_dir():
        for slave in sorted(slaves.iterdir()):
            found = _crypt_layer(host, slave.name, depth + 1)
            if found:
                return found
    return None


def check_encryption_at_rest(host: Host, data_dir: str = "/var/lib/postgresql") -> CheckResult:
    """The database's data directory lives on a dm-crypt (LUKS) device, directly or under LVM."""
    cid = "security.encryption-at-rest"
    mount = _mount_source(host, data_dir)
    if mount is None:
        return CheckResult.errored(cid, "cannot read /proc/self/mountinfo")
    mount_point, majmin, device = mount
    block = _block_name(host, majmin, device)
    crypt = _crypt_layer(host, block)
    via = "" if crypt is None else ", dm-crypt" if crypt == block else f", dm-crypt via {crypt}"
    return CheckResult.judge(
        cid,
        crypt is not None,
        f"{data_dir} on {device} [{block}] ({mount_point}){via}",
        "data directory on an encrypted (dm-crypt/LUKS) device",
        ""
        if crypt
        else f"{device} is not on a dm-crypt device: encrypt the volume (LUKS) or attest "
        "provider-side encryption",
    )


# -- VPN -----------------------------------------------------------------------------------------
_WILDCARD = {"0.0.0.0", "::", "*"}


def _sshd_listen(host: Host) -> list[str] | None:
    """sshd's ``ListenAddress`` values (sshd_config and sshd_config.d/*.conf); [] = every address;
    None when sshd is not configured on the host."""
    texts = [host.read("/etc/ssh/sshd_config")]
    drop_in = host.path("/etc/ssh/sshd_config.d")
    if drop_in.is_dir():
        texts += [
            host.read(f"/etc/ssh/sshd_config.d/{f.name}") for f in sorted(drop_in.glob("*.conf"))
        ]
    if texts[0] is None:
        return None
    addresses: list[str] = []
    for text in filter(None, texts):
        for line in text.splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) >= 2 and words[0].lower() == "listenaddress":
                addr = words[1]  # 10.8.0.1, 10.8.0.1:22, [fd00::1]:22, ::
                if addr.startswith("[") and "]" in addr:
                    addr = addr[1 : addr.index("]")]
                elif addr.count(":") == 1:
                    addr = addr.split(":", 1)[0]
                addresses.append(addr)
    return addresses


def check_vpn(host: Host) -> CheckResult:
    """A VPN interface (WireGuard wg*, OpenVPN tun*/tap*, Tailscale, ZeroTier) is up, and SSH is
    not offered on every address (``ListenAddress`` names only specific, e.g. VPN, addresses)."""
    cid = "security.admin-vpn"
    expected = "a VPN interface, and sshd listening only on specific (VPN) addresses"
    net = host.path("/sys/class/net")
    names = sorted(p.name for p in net.iterdir()) if net.is_dir() else []
    vpn = [n for n in names if re.match(r"^(wg|tun|tap|tailscale|zt)", n)]
    listen = _sshd_listen(host)
    open_ssh = listen is not None and (not listen or any(a in _WILDCARD for a in listen))
    ssh = (
        "sshd not configured"
        if listen is None
        else f"sshd ListenAddress {', '.join(listen)}"
        if listen
        else "sshd on every address"
    )
    problems = []
    if not vpn:
        problems.append("no VPN interface: put admin access behind WireGuard/OpenVPN")
    if open_ssh:
        problems.append(
            "sshd listens on every address: set ListenAddress to the VPN address (a firewall "
            "rule limiting port 22 to the VPN is not recognised: waive with that rule as reason)"
        )
    return CheckResult.judge(
        cid,
        not problems,
        f"interfaces: {', '.join(names) or 'none'}; {ssh}",
        expected,
        "; ".join(problems),
    )


# -- user permissions ----------------------------------------------------------------------------
def check_user_accounts(host: Host) -> CheckResult:
    """Only root has uid 0 and no account has an empty password; the members of the sudo, wheel
    and admin groups are listed as evidence for the reviewer."""
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
    admins = sorted(
        {
            member
            for line in (host.read("/etc/group") or "").splitlines()
            if line.split(":")[0] in ("sudo", "wheel", "admin") and line.count(":") == 3
            for member in line.split(":")[3].split(",")
            if member
        }
    )
    return CheckResult.judge(
        cid,
        not problems,
        f"uid 0: {', '.join(uid0)}; sudo/wheel/admin: {', '.join(admins) or 'none'}",
        "only root has uid 0; no empty passwords",
        "; ".join(problems),
    )
