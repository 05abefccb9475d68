"""core/proc.py: temp dirs, managed processes, process groups, PDEATHSIG, the reaper."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from pytest_prodcheck.core import proc as _proc
from pytest_prodcheck.core.errors import ToolError
from pytest_prodcheck.core.proc import (
    ManagedProcess,
    ProcessGroup,
    die_with_parent_preexec,
    make_tempdir,
    reap_leftovers,
    remove_tempdir,
    service_account,
)

ROOT = Path(__file__).resolve().parents[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


def test_make_tempdir_is_traversable_and_removed() -> None:
    d = make_tempdir("t-")
    assert d.stat().st_mode & 0o777 == 0o711
    assert d.name.startswith("prodcheck-t-")
    if Path("/dev/shm").is_dir():
        assert d.parent == Path("/dev/shm")
    remove_tempdir(d)
    assert not d.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="service accounts only matter as root")
def test_service_account_as_root() -> None:
    assert service_account("postgres") is not None
    with pytest.raises(ToolError, match="does not exist"):
        service_account("no-such-user-prodcheck")


def test_managed_process_runs_in_own_group_and_stops(tmp_path: Path) -> None:
    proc = ManagedProcess("sleeper").start(["sleep", "30"], log_path=tmp_path / "log")
    assert proc.alive
    assert os.getpgid(proc.pid) == proc.pid
    assert proc in _proc.running_processes()
    proc.stop()
    assert not proc.alive
    assert proc not in _proc.running_processes()
    proc.stop()  # idempotent


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    script = "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    proc = ManagedProcess("stubborn").start(
        [sys.executable, "-c", script], log_path=tmp_path / "log"
    )
    deadline = time.monotonic() + 10
    while "up" not in proc.log_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    assert proc.stop(signal.SIGTERM, timeout=0.3) == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_stop_kills_the_whole_group(tmp_path: Path) -> None:
    # a child that forks a grandchild in the same group, then ignores SIGTERM itself
    script = "import subprocess,time; p=subprocess.Popen(['sleep','60']); print(p.pid, flush=True); time.sleep(60)"
    proc = ManagedProcess("parent").start([sys.executable, "-c", script], log_path=tmp_path / "log")
    deadline = time.monotonic() + 10
    while not proc.log_text().strip() and time.monotonic() < deadline:
        time.sleep(0.02)
    grandchild = int(proc.log_text().split()[0])
    proc.stop()
    assert _wait_gone(grandchild)


def test_start_failure_is_one_line() -> None:
    with pytest.raises(ToolError, match="cannot start nothing"):
        ManagedProcess("nothing").start(["/no/such/binary"])


_CHILD = textwrap.dedent(
    """
    import sys, time
    from pytest_prodcheck.core.proc import ManagedProcess, make_tempdir
    d = make_tempdir("child-")
    p = ManagedProcess("sleeper").start(["sleep", "60"], pdeathsig={pdeathsig})
    print(p.pid, d, flush=True)
    time.sleep(60)
    """
)


def _script(code: str) -> tuple[subprocess.Popen[str], str]:
    """Run ``code`` in a fresh interpreter; return it and the first line it prints."""
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert child.stdout is not None
    return child, child.stdout.readline()


def _run_child(pdeathsig: bool) -> tuple[subprocess.Popen[str], int, Path]:
    child, line = _script(_CHILD.format(pdeathsig=pdeathsig))
    pid_s, tmp = line.split()
    return child, int(pid_s), Path(tmp)


def test_sigterm_to_the_parent_stops_children_and_removes_tempdirs() -> None:
    child, grandchild, tmp = _run_child(pdeathsig=False)
    assert tmp.is_dir() and _alive(grandchild)
    child.send_signal(signal.SIGTERM)
    assert child.wait(10) == -signal.SIGTERM
    assert _wait_gone(grandchild)
    assert not tmp.exists()


def test_sigkill_leftovers_are_reaped_by_the_next_run() -> None:
    child, grandchild, tmp = _run_child(pdeathsig=False)
    child.kill()
    child.wait(10)
    assert _alive(grandchild), "without PDEATHSIG the service outlives a SIGKILLed parent"
    assert (_proc.RUN_ROOT / str(child.pid)).is_dir()
    reaped = reap_leftovers()
    assert any(f"group {grandchild}" in line for line in reaped), reaped
    assert _wait_gone(grandchild)
    assert not tmp.exists()
    assert not (_proc.RUN_ROOT / str(child.pid)).exists()


def test_pdeathsig_kills_children_of_a_sigkilled_parent() -> None:
    child, grandchild, _tmp = _run_child(pdeathsig=True)
    child.kill()
    child.wait(10)
    assert _wait_gone(grandchild)
    reap_leftovers()  # tidy the pidfile dir


def test_reaper_leaves_live_runs_alone(tmp_path: Path) -> None:
    proc = ManagedProcess("mine").start(["sleep", "30"])
    try:
        reap_leftovers()
        assert proc.alive
    finally:
        proc.stop()


def test_raise_nofile_limit() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        assert _proc.raise_nofile_limit(2048) == min(2048, hard)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == min(2048, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_first_use_from_a_thread_still_installs_handlers_later() -> None:
    code = textwrap.dedent(
        """
        import signal, threading
        from pytest_prodcheck.core import proc as _proc
        t = threading.Thread(target=lambda: _proc.make_tempdir("thread-"))
        t.start(); t.join()
        assert signal.getsignal(signal.SIGTERM) is not _proc._on_signal
        _proc.make_tempdir("main-")
        assert signal.getsignal(signal.SIGTERM) is _proc._on_signal
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_reaper_sweeps_old_unrecorded_tempdirs_only() -> None:

    base = _proc._temp_base()
    old = time.time() - 2 * _proc.ORPHAN_AGE_S
    orphan = Path(tempfile.mkdtemp(prefix="prodcheck-orphan-", dir=base))
    (orphan / "data").mkdir()
    young = Path(tempfile.mkdtemp(prefix="prodcheck-young-", dir=base))
    recorded = make_tempdir("recorded-")
    try:
        for path in (orphan, recorded):
            os.utime(path, (old, old))
        reaped = reap_leftovers()
        assert not orphan.exists() and any(str(orphan) in line for line in reaped)
        assert young.is_dir() and recorded.is_dir()
    finally:
        for path in (orphan, young):
            shutil.rmtree(path, ignore_errors=True)
        remove_tempdir(recorded)


# --------------------------------------------------------------------------------------------
# die_with_parent_preexec, ProcessGroup
# --------------------------------------------------------------------------------------------


def test_die_with_parent_preexec_only_on_the_main_thread() -> None:
    import threading

    assert callable(die_with_parent_preexec())
    seen: list[object] = []
    t = threading.Thread(target=lambda: seen.append(die_with_parent_preexec()))
    t.start()
    t.join()
    assert seen == [None]  # a thread's children would die with that thread


_STUBBORN = (
    "import signal,subprocess,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "p=subprocess.Popen(['sleep','60']); print(p.pid, flush=True); time.sleep(60)"
)


def test_process_group_shares_one_group_and_terminate_escalates(tmp_path: Path) -> None:
    group = ProcessGroup("pair")
    with open(tmp_path / "log", "wb") as log:
        leader = group.spawn("leader", [sys.executable, "-c", _STUBBORN], stdout=log)
        helper = group.spawn("helper", ["sleep", "60"])
    assert group.pgid == leader.pid == os.getpgid(helper.pid)
    assert str(group.pgid) in {p.name.split("-", 1)[1] for p in _proc._run_dir().glob("proc-*")}
    deadline = time.monotonic() + 10
    while not (tmp_path / "log").read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.02)
    grandchild = int((tmp_path / "log").read_text().split()[0])
    assert not group.all_exited()
    started = time.monotonic()
    group.terminate(grace=0.3)
    assert time.monotonic() - started < 5
    assert (leader.rc, helper.rc) == (-signal.SIGKILL, -signal.SIGTERM)
    assert leader.wall_s > 0 and leader.cpu_s >= 0
    assert _wait_gone(grandchild)  # a straggler in the group goes before the leader is reaped
    assert group.pgid not in _proc._groups
    assert not any(_proc._run_dir().glob(f"proc-{group.pgid}"))
    group.terminate()  # idempotent


def test_process_group_start_failure_is_one_line() -> None:
    with pytest.raises(ToolError, match="cannot start nothing"):
        ProcessGroup("nothing").spawn("x", ["/no/such/binary"])


_GROUP_CHILD = textwrap.dedent(
    """
    import sys, threading, time
    from pytest_prodcheck.core.proc import ProcessGroup, ensure_registry
    ensure_registry()
    group = ProcessGroup("sleepers")
    spawn = lambda: group.spawn("sleeper", ["sleep", "60"])
    if {from_thread}:  # no PDEATHSIG from a thread: only the registry can catch it
        t = threading.Thread(target=spawn); t.start(); t.join()
    else:
        spawn()
    print(group.members[0].pid, flush=True)
    time.sleep(60)
    """
)


def _run_group_child(from_thread: bool) -> tuple[subprocess.Popen[str], int]:
    child, line = _script(_GROUP_CHILD.format(from_thread=from_thread))
    return child, int(line)


def test_process_group_dies_with_a_sigterm_or_sigkill_of_its_parent() -> None:
    child, member = _run_group_child(from_thread=False)
    child.send_signal(signal.SIGTERM)
    assert child.wait(10) == -signal.SIGTERM
    assert _wait_gone(member)
    child, member = _run_group_child(from_thread=False)
    child.kill()
    child.wait(10)
    assert _wait_gone(member), "PDEATHSIG: the group dies with a SIGKILLed parent"
    reap_leftovers()  # tidy the pidfile dir


def test_process_group_of_a_sigkilled_run_is_reaped_by_the_next() -> None:
    child, member = _run_group_child(from_thread=True)
    child.kill()
    child.wait(10)
    assert _alive(member)
    reaped = reap_leftovers()
    assert any(f"killed sleepers (group {member})" in line for line in reaped), reaped
    assert _wait_gone(member)
