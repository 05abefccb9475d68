"""Child processes that never outlive the run: temp dirs, process groups, reaping.

    >>> d = make_tempdir("pg-")            # 0711, on /dev/shm when available, removed at exit
    >>> proc = ManagedProcess("sleeper").start(["sleep", "60"], log_path=d / "sleep.log")
    >>> proc.alive
    True
    >>> proc.stop()                         # SIGTERM, then SIGKILL after ``timeout``
    >>> group = ProcessGroup("locust")      # several children in one group (a leader + helpers)
    >>> master = group.spawn("master", ["locust", "--master"])
    >>> worker = group.spawn("worker", ["locust", "--worker"])
    >>> group.terminate(grace=2.0)          # SIGTERM the group, SIGKILL after ``grace``, reap
    >>> master.rc, master.cpu_s
    (0, 1.25)
    >>> subprocess.Popen(argv, process_group=0, preexec_fn=die_with_parent_preexec())  # plain

Every started process gets its own process group (``process_group=0``) and is recorded

- in an in-memory registry killed by ``atexit`` and by a SIGTERM handler installed on first
  use (main thread only; previous handlers are chained; SIGINT unwinds via KeyboardInterrupt), and
- as a pidfile in ``/tmp/prodcheck-run/<our pid>/`` (with the process start time, so a recycled
  pid is never killed), with the temp dirs and the run's cgroup.

A SIGKILLed run cannot clean up, so on first use the registry also

- makes a cgroup for the run (cgroup v1 ``pids``/``freezer`` or v2, where writable) that every
  child joins between fork and exec: its own children (nginx workers, postgres backends, which
  ``setsid``) stay in it whatever group or session they move to, and
- starts a watchdog (:mod:`pytest_prodcheck.core.watchdog`, its own session, no death signal) that
  waits for this process to go and then kills everything in the cgroup and the recorded groups,
  removes their SysV segments, the temp dirs, the cgroup and the pidfiles.

Children started from the main thread also get ``PR_SET_PDEATHSIG(SIGKILL)`` (the kernel ties
it to the forking *thread*, hence main only). If the watchdog died too (the whole session was
killed), the next run's first :func:`reap_leftovers` does the same from the pidfiles.
Ports (``free_port``, ``wait_port``) live in :mod:`pytest_prodcheck.core.ports`.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from pytest_prodcheck.core import watchdog as _watchdog
from pytest_prodcheck.core.errors import ToolError

RUN_ROOT = Path(os.environ.get("PRODCHECK_RUN_ROOT", "/tmp/prodcheck-run"))
_PR_SET_PDEATHSIG = 1

_lock = threading.RLock()
_processes: dict[int, ManagedProcess] = {}
_tempdirs: list[Path] = []
_installed = False
_signals_installed = False
_reaped = False
_prev_handlers: dict[int, Any] = {}
_groups: dict[int, ProcessGroup] = {}
_cgroup: Path | None = None  # the run's cgroup, joined by every child (None: none writable)
_cgroup_fd: int | None = None  # its cgroup.procs, open for writing ("0": the writer joins)
_watchdog_pid: int | None = None


# --------------------------------------------------------------------------------------------
# temp dirs, accounts
# --------------------------------------------------------------------------------------------


def _temp_base() -> Path:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return Path(tempfile.gettempdir())


def make_tempdir(prefix: str = "prodcheck-") -> Path:
    """A fresh directory (mode 0711 so service users can traverse it), removed at exit.

    >>> make_tempdir("nginx-").stat().st_mode & 0o777 == 0o711
    True
    """
    _ensure_installed()
    path = Path(tempfile.mkdtemp(prefix=f"prodcheck-{prefix}", dir=_temp_base()))
    path.chmod(0o711)
    with _lock:
        _tempdirs.append(path)
    _record("tempdir", path.name, str(path))
    return path


def remove_tempdir(path: Path) -> None:
    """Remove a directory made by :func:`make_tempdir` now (instead of at exit)."""
    shutil.rmtree(path, ignore_errors=True)
    with _lock:
        if path in _tempdirs:
            _tempdirs.remove(path)
    _unrecord("tempdir", path.name)


def service_account(name: str) -> tuple[int, int] | None:
    """``(uid, gid)`` of ``name`` when we run as root (so services must drop to it), else None.

    >>> service_account("postgres")   # as root
    (101, 104)
    """
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError as exc:
        raise ToolError(
            f"running as root but the system user {name!r} does not exist: "
            f"create it (e.g. install the package that provides it) or run as a normal user"
        ) from exc
    return entry.pw_uid, entry.pw_gid


def chown_tree(path: Path, account: tuple[int, int] | None) -> None:
    """``chown -R`` to ``account`` (no-op when None)."""
    if account is None:
        return
    uid, gid = account
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def raise_nofile_limit(wanted: int = 8192) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards ``wanted`` (children inherit it).

    PgBouncer never raises its own limit: with max_client_conn=1000 it expects ~1500 fds, and a
    1024 soft limit makes every client fail. Returns the soft limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return int(soft)


# --------------------------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------------------------


def _proc_starttime(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # field 22 (starttime); comm (field 2) may contain spaces/parens -> split after the last ')'
    return stat.rsplit(")", 1)[1].split()[19]


_libc: Any = None


def _join_cgroup() -> None:  # runs in the child between fork and exec: one write(2)
    if _cgroup_fd is not None:
        with contextlib.suppress(OSError):
            os.write(_cgroup_fd, b"0")


def _join_cgroup_and_pdeathsig() -> None:  # no imports, no dlopen: libc was loaded by the parent
    _join_cgroup()
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def die_with_parent_preexec() -> Callable[[], None] | None:
    """The ``preexec_fn`` that ties a child to this run: it joins the run's cgroup (so the
    watchdog kills it and everything it forks when the run dies) and, from the main thread,
    gets ``PR_SET_PDEATHSIG(SIGKILL)``. None when neither is possible.

    >>> subprocess.Popen(["psql", ...], process_group=0, preexec_fn=die_with_parent_preexec())

    libc is loaded here, in the parent: between fork and exec the child must not import or
    dlopen (another thread may hold the loader's lock), nor signal anyone itself. No death
    signal off the main thread (the kernel ties ``PR_SET_PDEATHSIG`` to the forking *thread*: a
    child forked by a short-lived thread would die with that thread).
    """
    global _libc
    _ensure_installed()
    if threading.current_thread() is threading.main_thread():
        if _libc is None:
            with contextlib.suppress(OSError):
                _libc = ctypes.CDLL(None, use_errno=True)
        if _libc is not None:
            return _join_cgroup_and_pdeathsig
    return _join_cgroup if _cgroup_fd is not None else None


def _cgroup_only_preexec() -> Callable[[], None] | None:
    _ensure_installed()
    return _join_cgroup if _cgroup_fd is not None else None


def _popen(
    name: str,
    argv: Sequence[str],
    stdout: Any,
    stderr: Any,
    env: Mapping[str, str] | None,
    cwd: Path | str | None,
    process_group: int,
    preexec: Callable[[], None] | None,
    **kwargs: Any,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` (stdin closed) in ``process_group`` (0: a new one); ToolError if it cannot."""
    try:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            process_group=process_group,
            close_fds=True,
            preexec_fn=preexec,
            **kwargs,
        )
    except OSError as exc:
        raise ToolError(f"cannot start {name} ({argv[0]}): {exc.strerror or exc}") from exc


def _record_group(pgid: int, name: str) -> None:
    """The pidfile the next run's :func:`reap_leftovers` kills group ``pgid`` by."""
    _record("proc", str(pgid), f"{pgid} {_proc_starttime(pgid) or ''} {name}")


class ManagedProcess:
    """A service child in its own process group, tracked until stopped.

    >>> p = ManagedProcess("nginx").start(["nginx", "-p", prefix], log_path=prefix / "stderr.log")
    >>> p.pid, p.alive
    (12345, True)
    >>> p.stop(signal.SIGQUIT, timeout=5)
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.popen: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self._log_file: Any = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(
        self,
        argv: Sequence[str],
        *,
        user: tuple[int, int] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        log_path: Path | None = None,
        pdeathsig: bool = True,
    ) -> ManagedProcess:
        """Start ``argv`` (stdout+stderr to ``log_path``), as ``user=(uid, gid)`` when given."""
        _ensure_installed()
        if self.popen is not None and self.alive:
            raise ToolError(f"{self.name} is already running (pid {self.pid})")
        self.log_path = log_path
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
            out: Any = self._log_file
        else:
            out = subprocess.DEVNULL
        kwargs: dict[str, Any] = {}
        if user is not None:
            kwargs.update(user=user[0], group=user[1], extra_groups=[])
        preexec = die_with_parent_preexec() if pdeathsig else _cgroup_only_preexec()
        try:
            self.popen = _popen(
                self.name, argv, out, subprocess.STDOUT, env, cwd, 0, preexec, **kwargs
            )
        except ToolError:
            self._close_log()
            raise
        with _lock:
            _processes[self.popen.pid] = self
        _record_group(self.popen.pid, self.name)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int | None:
        """Send ``sig`` to the process, wait ``timeout`` s, then SIGKILL the whole group.

        Returns the exit code (None if it never started). Idempotent.
        """
        popen = self.popen
        if popen is None:
            return None
        try:
            if popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(popen.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(timeout)
            # whatever is left in the group (workers, backends, forked helpers) goes now
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(popen.pid, signal.SIGKILL)
            if popen.poll() is None:
                popen.wait(5)
        finally:
            self._forget()
        return popen.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group now (no grace period)."""
        self.stop(signal.SIGKILL, timeout=2)

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for exit; None if still running after ``timeout``."""
        if self.popen is None:
            return None
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the process (not its group), e.g. SIGHUP to reload."""
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, sig)

    # -- state ---------------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        if self.popen is None:
            raise ToolError(f"{self.name} was never started")
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def log_text(self) -> str:
        """Everything the process wrote to stdout/stderr so far ("" without a log file)."""
        if self.log_path is None:
            return ""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 3) -> str:
        """The last ``lines`` non-empty log lines joined with `` | `` (for one-line errors)."""
        tail = [ln.strip() for ln in self.log_text().splitlines() if ln.strip()][-lines:]
        return " | ".join(tail) if tail else "(no output)"

    def _close_log(self) -> None:
        if self._log_file is not None:
            with contextlib.suppress(OSError):
                self._log_file.close()
            self._log_file = None

    def _forget(self) -> None:
        self._close_log()
        if self.popen is not None:
            with _lock:
                _processes.pop(self.popen.pid, None)
            _unrecord("proc", str(self.popen.pid))

    def __repr__(self) -> str:
        state = "alive" if self.alive else f"exited {self.returncode}"
        pid = self.popen.pid if self.popen else None
        return f"<ManagedProcess {self.name} pid={pid} {state}>"


class GroupMember:
    """One child of a :class:`ProcessGroup`: its exit is noticed without reaping it, then it is
    reaped with its CPU time (``wait4``).

    >>> worker.poll()          # exited? (does not reap: the leader's zombie pins the group id)
    True
    >>> worker.reap(); worker.rc, worker.cpu_s, worker.wall_s
    (0, 0.84, 12.3)
    """

    def __init__(self, role: str, popen: subprocess.Popen[bytes]) -> None:
        self.role = role
        self.popen = popen
        self.pid = popen.pid
        self.started = time.monotonic()
        self.exited_at: float | None = None  # when poll() first saw it gone
        self.rc: int | None = None  # set by reap()
        self.cpu_s = 0.0  # user+sys of its whole life, set by reap()
        self.wall_s = 0.0

    def poll(self) -> bool:
        """Has it exited? Does NOT reap it: an unreaped leader pins the group id (see reap)."""
        if self.exited_at is not None:
            return True
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped elsewhere
            info, self.rc = None, -1
        if info is None and self.rc is None:
            return False
        self.exited_at = time.monotonic()
        self.wall_s = self.exited_at - self.started
        return True

    def reap(self) -> None:
        """Collect exit status and CPU time of an exited process (``poll()`` returned True)."""
        if self.rc is not None:
            return
        try:
            _pid, status, ru = os.wait4(self.pid, 0)
        except ChildProcessError:
            self.rc = -1
            return
        self.rc = os.waitstatus_to_exitcode(status)
        self.popen.returncode = self.rc
        self.cpu_s = ru.ru_utime + ru.ru_stime


class ProcessGroup:
    """Children sharing one process group (the first one spawned leads it), tracked like a
    :class:`ManagedProcess`: killed at exit, on SIGTERM, and by the next run after a SIGKILL.

    >>> group = ProcessGroup("locust")
    >>> with open(out / "locust.log", "wb") as log:
    ...     master = group.spawn("master", [python, "-m", "locust", "--master"], stdout=log)
    ...     worker = group.spawn("worker", [python, "-m", "locust", "--worker"], stdout=log)
    >>> group.all_exited()
    False
    >>> group.terminate(grace=2.0)          # SIGTERM, SIGKILL after 2 s, stragglers too; reaped
    >>> [m.rc for m in group.members]
    [-15, -15]
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.members: list[GroupMember] = []
        self.pgid: int | None = None

    def spawn(
        self,
        role: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        stdout: Any = None,
        stderr: Any = None,
    ) -> GroupMember:
        """Start ``argv`` in the group (stdin closed; ``stdout``/``stderr`` as for Popen)."""
        _ensure_installed()
        group = 0 if self.pgid is None else self.pgid
        popen = _popen(self.name, argv, stdout, stderr, env, cwd, group, die_with_parent_preexec())
        member = GroupMember(role, popen)
        self.members.append(member)
        if self.pgid is None:
            self.pgid = popen.pid
            with _lock:
                _groups[self.pgid] = self
            _record_group(self.pgid, self.name)
        return member

    def all_exited(self) -> bool:
        """Has every member exited (none reaped by this call)?"""
        return all([m.poll() for m in self.members])

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the whole group (nothing if it is gone)."""
        if self.pgid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, sig)

    def terminate(self, grace: float = 5.0) -> None:
        """SIGTERM the group, SIGKILL it after ``grace``; then sweep, reap and forget it.

        Anything else in the group (a child a member started, a stuck helper) is SIGKILLed
        before the leader is reaped: until then its zombie keeps the group id from being reused,
        so the signal cannot reach an unrelated process group. Idempotent.
        """
        if self.pgid is None:
            return
        try:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
                if self.all_exited():
                    break
                self.signal(sig)
                deadline = time.monotonic() + wait
                while time.monotonic() < deadline and not self.all_exited():
                    time.sleep(0.05)
            leader = self.members[0]
            if leader.poll() and leader.rc is None:
                self.signal(signal.SIGKILL)  # stragglers; the zombie leader pins pgid
            for member in self.members:
                if member.poll():
                    member.reap()
            self._kill_stragglers()
        finally:
            self._forget()

    def _kill_stragglers(self, wait: float = 5.0) -> None:
        """SIGKILL what is left in the group once its members are reaped (a child that ignored
        SIGTERM); safe because live members keep the group id from being reused."""
        deadline = time.monotonic() + wait
        while any(pgid == self.pgid for _, pgid, _ in _watchdog.scan().values()):
            if time.monotonic() > deadline:
                break
            self.signal(signal.SIGKILL)
            time.sleep(0.05)

    def _forget(self) -> None:
        if self.pgid is not None:
            with _lock:
                _groups.pop(self.pgid, None)
            _unrecord("proc", str(self.pgid))

    def __repr__(self) -> str:
        return f"<ProcessGroup {self.name} pgid={self.pgid} members={len(self.members)}>"


def running_processes() -> list[ManagedProcess]:
    """The processes started by this run and not yet stopped."""
    with _lock:
        return list(_processes.values())


def stop_all() -> None:
    """Kill every started process group and remove every temp dir (atexit / signal path)."""
    with _lock:
        procs = list(_processes.values())
        groups = list(_groups)
        dirs = list(_tempdirs)
    for pgid in groups:  # not reaped here: whoever waits on them collects them
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    for proc in procs:
        if proc.popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.popen.pid, signal.SIGKILL)
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.stop(signal.SIGKILL, timeout=2)
    if _cgroup is not None:  # grandchildren in other groups/sessions (postgres backends, …)
        _watchdog.kill_everything(_run_dir(), [_cgroup])
    for d in dirs:
        remove_tempdir(d)
    _remove_own_cgroup()
    with contextlib.suppress(OSError):
        shutil.rmtree(_run_dir())


# --------------------------------------------------------------------------------------------
# the pidfile registry: /tmp/prodcheck-run/<pid>/{proc,tempdir}-<key>
# --------------------------------------------------------------------------------------------


def _run_dir() -> Path:
    return RUN_ROOT / str(os.getpid())


def _make_run_dir() -> Path:
    """``RUN_ROOT`` is shared by every user (sticky, like /tmp); our own subdir is private."""
    if not RUN_ROOT.is_dir():
        RUN_ROOT.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            RUN_ROOT.chmod(0o1777)
    d = _run_dir()
    d.mkdir(mode=0o700, exist_ok=True)
    return d


def _record(kind: str, key: str, content: str) -> None:
    # best effort: the in-memory registry still covers the normal paths
    name = f"{kind}-{key}" if key else kind
    with contextlib.suppress(OSError):
        (_make_run_dir() / name).write_text(content)


def _unrecord(kind: str, key: str) -> None:
    with contextlib.suppress(OSError):
        (_run_dir() / f"{kind}-{key}").unlink()


def _owner_alive(run_pid: int, owner_start: str | None) -> bool:
    current = _proc_starttime(run_pid)
    if current is None:
        return False
    return owner_start is None or owner_start == current


def reap_leftovers() -> list[str]:
    """Do what a dead run's watchdog would have done, for runs whose watchdog died too: kill
    their recorded process groups and everything in their cgroups, remove the SysV segments
    those processes left, their temp dirs, cgroups and pidfiles; then remove our ``prodcheck-*``
    temp dirs older than 10 minutes that no live run recorded.

    Returns one line per thing reaped. Runs once automatically on first use of this module.
    """
    reaped: list[str] = []
    runs = list(RUN_ROOT.iterdir()) if RUN_ROOT.is_dir() else []
    for run in runs:
        if not run.name.isdigit() or int(run.name) == os.getpid():
            continue
        owner_start = None
        marker = run / "owner"
        with contextlib.suppress(OSError):
            owner_start = marker.read_text().strip() or None
        if _owner_alive(int(run.name), owner_start):
            continue
        table = _watchdog.scan()
        for pgid, start, name in _watchdog.recorded_groups(run):
            leader = table.get(pgid)
            # leader alive and the same process, or leader gone: then any process still in
            # group <pgid> is an orphan of it (the kernel never reuses a live group's id)
            live = leader is None or leader[2] == start
            if live and any(info[1] == pgid for info in table.values()):
                reaped.append(f"killed {name} (group {pgid}) of dead run {run.name}")
        reaped += _watchdog.sweep_run(run)
    reaped += _sweep_unrecorded()
    return reaped


ORPHAN_AGE_S = 600.0


def _sweep_unrecorded(max_age_s: float = ORPHAN_AGE_S) -> list[str]:
    """Remove our ``prodcheck-*`` dirs in the temp base that no live run has recorded.

    They are what a run leaves when something wrote into its workdir after it was removed (or
    when recording failed); on tmpfs they hold RAM. Dirs younger than ``max_age_s`` are left
    alone (a run records its dir right after creating it, but not atomically).
    """
    with _lock:
        recorded = {str(d) for d in _tempdirs}
    with contextlib.suppress(OSError):
        for entry in RUN_ROOT.glob("*/tempdir-*"):
            with contextlib.suppress(OSError):
                recorded.add(entry.read_text().strip())
    removed: list[str] = []
    now, uid = time.time(), os.geteuid()
    for path in _temp_base().glob("prodcheck-*"):
        with contextlib.suppress(OSError):
            st = path.lstat()
            if not path.is_dir() or path.is_symlink() or st.st_uid != uid:
                continue
            if now - st.st_mtime < max_age_s or str(path) in recorded:
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(f"removed {path} (recorded by no live run)")
    return removed


# --------------------------------------------------------------------------------------------
# atexit + signals
# --------------------------------------------------------------------------------------------


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if signum == signal.SIGTERM:
        stop_all()
    prev = _prev_handlers.get(signum, signal.SIG_DFL)
    if callable(prev):
        prev(signum, frame)
        return
    if prev == signal.SIG_IGN:
        return
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _ensure_installed() -> None:
    global _installed, _reaped, _signals_installed
    with _lock:
        if not _reaped:
            _reaped = True
            reap_leftovers()
            with contextlib.suppress(OSError):
                (_make_run_dir() / "owner").write_text(_proc_starttime(os.getpid()) or "")
            _start_supervision()
        if not _installed:
            _installed = True
            atexit.register(stop_all)
        # once, from the main thread (a first use from another thread cannot set handlers)
        if _signals_installed or threading.current_thread() is not threading.main_thread():
            return
        _signals_installed = True
    install_signal_handlers()


# --------------------------------------------------------------------------------------------
# the run's cgroup and watchdog
# --------------------------------------------------------------------------------------------

_CGROUP_V1 = ("pids", "freezer")


def _cgroup_candidates() -> list[Path]:
    """This process's own cgroup in each usable hierarchy: v1 ``pids``, ``freezer``, then v2."""
    root = Path("/sys/fs/cgroup")
    v1: dict[str, Path] = {}
    v2: list[Path] = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        _hid, controllers, path = line.split(":", 2)
        rel = path.lstrip("/")
        for name in _CGROUP_V1:
            if name in controllers.split(",") and (root / name / "cgroup.procs").exists():
                v1[name] = root / name / rel
        if controllers == "":
            for mount in (root / "unified", root):
                if (mount / "cgroup.controllers").exists():
                    v2.append(mount / rel)
                    break
    return [v1[n] for n in _CGROUP_V1 if n in v1] + v2


def _make_cgroup() -> None:
    """A cgroup for this run's children, nested in ours (none when none is writable)."""
    global _cgroup, _cgroup_fd
    if os.environ.get("PRODCHECK_CGROUP", "1") == "0":
        return
    for parent in _cgroup_candidates():
        path = parent / f"prodcheck-{os.getpid()}"
        try:
            path.mkdir(exist_ok=True)
            fd = os.open(path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            continue
        _cgroup, _cgroup_fd = path, fd
        _record("cgroup", "", str(path))
        return


def _remove_own_cgroup() -> None:
    global _cgroup, _cgroup_fd
    if _cgroup is None:
        return
    if _cgroup_fd is not None:
        with contextlib.suppress(OSError):
            os.close(_cgroup_fd)
        _cgroup_fd = None
    if _watchdog.remove_cgroup(_cgroup):
        _cgroup = None


def _start_supervision() -> None:
    """Make the run's cgroup and start its watchdog (best effort: PDEATHSIG and the next run's
    reaper remain when either is impossible)."""
    global _watchdog_pid
    _make_cgroup()
    if os.environ.get("PRODCHECK_WATCHDOG", "1") == "0":
        return
    argv = [
        sys.executable,
        "-I",
        "-S",
        str(Path(_watchdog.__file__)),
        str(_run_dir()),
        str(os.getpid()),
        _proc_starttime(os.getpid()) or "",
        *([str(_cgroup)] if _cgroup is not None else []),
    ]
    devnull = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    try:  # no preexec, no Popen: not in the cgroup, no death signal
        first = os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=devnull, setsid=True)
        os.waitpid(first, 0)  # it forks the watchdog, records its pid and exits (~30 ms)
    except OSError:
        return
    with contextlib.suppress(OSError, ValueError):
        _watchdog_pid = int((_run_dir() / "watchdog").read_text().split()[0])


def run_cgroup() -> Path | None:
    """The cgroup every child of this run joins (None where no cgroup is writable)."""
    _ensure_installed()
    return _cgroup


def watchdog_pid() -> int | None:
    """The pid of this run's watchdog (None when it could not start or is disabled)."""
    _ensure_installed()
    return _watchdog_pid


def run_dir() -> Path:
    """This run's pidfile directory ``/tmp/prodcheck-run/<pid>/``."""
    _ensure_installed()
    return _run_dir()


def ensure_registry() -> None:
    """Reap a dead run's leftovers, register atexit, chain SIGTERM (idempotent).

    Call it before installing your own SIGTERM handler if you want yours to stay on top.
    """
    _ensure_installed()


def install_signal_handlers() -> None:
    """Chain SIGTERM/SIGINT so started process groups die first (main thread only; idempotent)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        current = signal.getsignal(signum)
        if current is _on_signal:
            continue
        _prev_handlers[signum] = current
        with contextlib.suppress(ValueError):  # not in main thread
            signal.signal(signum, _on_signal)
