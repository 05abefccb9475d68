"""The run's watchdog: when the run dies, even by SIGKILL, everything it started dies too.

    $ python -I -S pytest_prodcheck/core/watchdog.py /tmp/prodcheck-run/4242 4242 88112 \\
          /sys/fs/cgroup/pids/prodcheck-4242          # started by core.proc, not by hand
    >>> sweep_run(Path("/tmp/prodcheck-run/4242"))  # what it does; also the next run's reaper
    ['killed 7 processes of dead run 4242 (nginx, postgres, ...)', 'removed /dev/shm/...']

:mod:`pytest_prodcheck.core.proc` starts it on first use of the run registry, in its own
session and without a death signal: it outlives its parent by design. It detaches (forks once; the
run reaps the first process), waits on a pidfd of the run (polls its start time where there is
none) and, when the parent is gone, SIGKILLs until
none is left:

- every process in the run's cgroup(s), recursively: each service child joins it between fork
  and exec, so its children (nginx workers, postgres backends that ``setsid``, Locust workers)
  are in it too, whatever group or session they move to;
- every member of a recorded process group (leader still the same process, or gone);
- without a cgroup, every descendant of a recorded group noted while the parent lived (it
  rescans ``/proc`` each second).

Then it removes the SysV shared memory segments those processes created and left unattached
(PostgreSQL's), the recorded temp dirs (on ``/dev/shm``), the cgroups and the run directory.
Standard library only, no package imports: it runs with ``python -I -S`` in a few MB.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import shutil
import signal
import sys
import time
from pathlib import Path

_IPC_RMID = 0
_KILL_ROUNDS_S = 10.0


def proc_stat(pid: int) -> tuple[int, int, str] | None:
    """``(ppid, pgid, starttime)`` of ``pid``, None when it is gone (or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), int(fields[2]), fields[19]


def scan() -> dict[int, tuple[int, int, str]]:
    """Every live process: pid → (ppid, pgid, starttime)."""
    table: dict[int, tuple[int, int, str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = proc_stat(int(entry))
            if info is not None:
                table[int(entry)] = info
    return table


def recorded_groups(run_dir: Path) -> list[tuple[int, str, str]]:
    """``(pgid, leader starttime, name)`` of every group the run recorded and did not stop."""
    out: list[tuple[int, str, str]] = []
    with contextlib.suppress(OSError):
        for entry in run_dir.glob("proc-*"):
            with contextlib.suppress(OSError, ValueError):
                pid_s, start, *name = entry.read_text().split()
                out.append((int(pid_s), start, " ".join(name)))
    return out


def recorded_cgroups(run_dir: Path) -> list[Path]:
    with contextlib.suppress(OSError):
        return [Path(line) for line in (run_dir / "cgroup").read_text().split() if line]
    return []


def cgroup_pids(root: Path) -> set[int]:
    """Every process in cgroup ``root`` and its sub-cgroups."""
    pids: set[int] = set()
    if not root.is_dir():
        return pids
    for dirpath, _dirs, _files in os.walk(root):
        with contextlib.suppress(OSError, ValueError):
            pids.update(int(p) for p in Path(dirpath, "cgroup.procs").read_text().split())
    return pids


def remove_cgroup(root: Path) -> bool:
    """rmdir ``root`` and its sub-cgroups, deepest first (they must be empty)."""
    if not root.is_dir():
        return True
    for dirpath, _dirs, _files in os.walk(root, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)
    return not root.exists()


def group_members(
    table: dict[int, tuple[int, int, str]], groups: list[tuple[int, str, str]]
) -> set[int]:
    """Members of the recorded groups whose leader is the recorded process or gone (a live
    group's id is never reused, so the members of a leaderless group are its orphans)."""
    wanted = set()
    for pgid, start, _name in groups:
        leader = table.get(pgid)
        if leader is None or leader[2] == start:
            wanted.add(pgid)
    return {pid for pid, (_ppid, pgid, _s) in table.items() if pgid in wanted}


def descendants(table: dict[int, tuple[int, int, str]], roots: set[int]) -> set[int]:
    """``roots`` and every process below them in ``table``."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _pgid, _s) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid in out:
            continue
        out.add(pid)
        todo.extend(children.get(pid, ()))
    return out


def note_descendants(run_dir: Path, noted: dict[int, str]) -> None:
    """Add every live descendant of the run's recorded groups to ``noted`` (pid → start)."""
    table = scan()
    for pid in descendants(table, group_members(table, recorded_groups(run_dir))):
        noted[pid] = table[pid][2]


def _names(pids: set[int]) -> list[str]:
    names = []
    for pid in sorted(pids):
        with contextlib.suppress(OSError):
            names.append(Path(f"/proc/{pid}/comm").read_text().strip())
    return sorted(set(names))


def kill_everything(
    run_dir: Path,
    cgroups: list[Path],
    noted: dict[int, str] | None = None,
    *,
    spare: set[int] | None = None,
) -> set[int]:
    """SIGKILL every process of the run until none is left (10 s at most); the pids killed."""
    spare = {os.getpid(), *(spare or set())}
    groups = recorded_groups(run_dir)
    killed: set[int] = set()
    deadline = time.monotonic() + _KILL_ROUNDS_S
    while True:
        table = scan()
        targets = set()
        for cg in cgroups:
            targets |= cgroup_pids(cg)
        targets |= group_members(table, groups)
        for pid, start in (noted or {}).items():
            if pid in table and table[pid][2] == start:
                targets.add(pid)
        targets = {pid for pid in targets if pid in table} - spare
        if not targets or time.monotonic() > deadline:
            return killed
        for pid in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        killed |= targets
        time.sleep(0.05)


def remove_shm(creators: set[int]) -> list[str]:
    """Remove SysV segments created by ``creators`` that nothing is attached to any more."""
    removed: list[str] = []
    try:
        lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    except OSError:
        return removed
    libc = None
    for line in lines:
        f = line.split()
        if len(f) < 7 or int(f[4]) not in creators or int(f[6]) != 0:
            continue
        if libc is None:
            libc = ctypes.CDLL(None, use_errno=True)
        if libc.shmctl(int(f[1]), _IPC_RMID, None) == 0:
            removed.append(f"removed SysV shared memory segment {f[1]} of pid {f[4]}")
    return removed


def sweep_run(
    run_dir: Path, cgroups: list[Path] | None = None, noted: dict[int, str] | None = None
) -> list[str]:
    """Kill every process of a dead run, free what they held, forget the run. One line per
    thing done (nothing when the run had already cleaned up)."""
    cgroups = cgroups if cgroups is not None else recorded_cgroups(run_dir)
    groups = recorded_groups(run_dir)
    # the names before they go (for the report line)
    pending = set()
    for cg in cgroups:
        pending |= cgroup_pids(cg)
    pending |= group_members(scan(), groups)
    names = _names(pending)
    killed = kill_everything(run_dir, cgroups, noted)
    done: list[str] = []
    if killed:
        done.append(
            f"killed {len(killed)} process(es) of dead run {run_dir.name} ({', '.join(names)})"
        )
    creators = killed | {pgid for pgid, _s, _n in groups}
    if killed:
        time.sleep(0.05)  # the kernel detaches a killed process's segments as it exits
    done += remove_shm(creators)
    with contextlib.suppress(OSError):
        for entry in run_dir.glob("tempdir-*"):
            with contextlib.suppress(OSError):
                path = Path(entry.read_text().strip())
                if path.is_dir() and path.name.startswith("prodcheck-"):
                    shutil.rmtree(path, ignore_errors=True)
                    done.append(f"removed {path} of dead run {run_dir.name}")
    for cg in cgroups:
        remove_cgroup(cg)
    shutil.rmtree(run_dir, ignore_errors=True)
    return done


def _parent_gone(parent: int, start: str) -> bool:
    info = proc_stat(parent)
    return info is None or info[2] != start


def watch(run_dir: Path, parent: int, start: str, cgroups: list[Path]) -> list[str]:
    """Block until ``parent`` (with ``start``) is gone, then :func:`sweep_run`."""
    noted: dict[int, str] = {}
    interval = 1.0 if not cgroups else None  # without a cgroup, note descendants each second
    pidfd = -1
    with contextlib.suppress(AttributeError, OSError):
        pidfd = os.pidfd_open(parent)
    poller = select.poll()
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)
    while not _parent_gone(parent, start):
        if interval is not None:
            note_descendants(run_dir, noted)
        if pidfd >= 0:
            poller.poll(None if interval is None else interval * 1000)
        else:
            time.sleep(interval or 0.2)
    return sweep_run(run_dir, cgroups, noted)


def main(argv: list[str]) -> int:
    """``watchdog.py RUN_DIR PARENT_PID PARENT_STARTTIME [CGROUP...]``"""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    run_dir, parent, start, *cgroups = argv
    # detach: the run reaps this first process at once, so the watchdog is nobody's child (no
    # zombie, not among the run's children); it records its pid for the run and the reaper
    child = os.fork()
    if child:
        info = proc_stat(child)
        with contextlib.suppress(OSError):
            Path(run_dir, "watchdog").write_text(f"{child} {info[2] if info else ''}")
        os._exit(0)
    watch(Path(run_dir), int(parent), start, [Path(c) for c in cgroups])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
