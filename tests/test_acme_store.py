"""Lineage store: modes, archive versions, restore, renewal configs, the one-step live switch
(and its kill test); single-file writes: test_core_files."""

from __future__ import annotations

import errno
import os
import random
import signal
import stat
import time
from pathlib import Path

import pytest

from pytest_prodcheck.acme import store as store_module
from pytest_prodcheck.acme.certinfo import key_matches
from pytest_prodcheck.acme.errors import AcmeError
from pytest_prodcheck.acme.store import LineageStore, RenewalConfig, Snapshot, split_chain
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.stack.certs import issue_leaf, make_ca, make_intermediate

DOMAIN = "shop.test"


@pytest.fixture
def store() -> LineageStore:
    return LineageStore(make_tempdir("store-") / "ssl")


def test_install_writes_live_and_archive_with_modes(store: LineageStore) -> None:
    snap = store.install("shop.test", b"CHAIN1", b"KEY1")
    assert snap.fullchain is None and snap.version == "0001"
    assert store.read("shop.test") == (b"CHAIN1", b"KEY1")
    assert stat.S_IMODE(store.privkey_path("shop.test").stat().st_mode) == 0o600
    assert stat.S_IMODE(store.fullchain_path("shop.test").stat().st_mode) == 0o644
    archive = store.root / "archive" / "shop.test"
    assert stat.S_IMODE(archive.stat().st_mode) == 0o700
    assert (archive / "0001" / "privkey.pem").read_bytes() == b"KEY1"
    # no temporary files left behind
    assert sorted(p.name for p in store.live_dir("shop.test").iterdir()) == [
        "cert.pem",
        "chain.pem",
        "fullchain.pem",
        "privkey.pem",
    ]


def test_second_install_keeps_previous_and_restore_puts_it_back(store: LineageStore) -> None:
    store.install("shop.test", b"CHAIN1", b"KEY1")
    snap = store.install("shop.test", b"CHAIN2", b"KEY2")
    assert (snap.fullchain, snap.privkey, snap.version) == (b"CHAIN1", b"KEY1", "0002")
    assert store.versions("shop.test") == ["0001", "0002"]
    store.restore("shop.test", snap)
    assert store.read("shop.test") == (b"CHAIN1", b"KEY1")


def test_restore_of_first_install_removes_live(store: LineageStore) -> None:
    snap = store.install("shop.test", b"C", b"K")
    store.restore("shop.test", snap)
    assert store.read("shop.test") is None


def test_renewal_config_round_trip_and_corruption(store: LineageStore) -> None:
    config = RenewalConfig(
        domain="shop.test",
        names=("shop.test", "www.shop.test"),
        directory="https://acme.test/dir",
        webroot="/var/www/certbot",
        email="a@shop.test",
        reload_command=("nginx", "-s", "reload"),
    )
    path = store.save_config(config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.load_config("shop.test") == config
    assert store.domains() == ["shop.test"]
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"is corrupt .* issue the certificate again"):
        store.load_config("shop.test")
    with pytest.raises(ConfigError, match=r"no renewal config for other\.test"):
        store.load_config("other.test")


def test_install_into_unwritable_place_is_one_line_error(store: LineageStore) -> None:
    store.root.parent.joinpath("ssl").write_text("a file, not a directory")
    with pytest.raises(Exception, match=r"cannot (read|write) the") as info:
        store.install("shop.test", b"C", b"K")
    assert "\n" not in str(info.value)


def _pair(ca_name: str) -> tuple[bytes, bytes]:
    """A real ``(fullchain, privkey)``: leaf + intermediate, and the leaf's key."""
    leaf = issue_leaf(make_intermediate(make_ca(ca_name)), [DOMAIN])
    return leaf.fullchain_pem(), leaf.key_pem()


@pytest.fixture(scope="module")
def pairs() -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
    return _pair("old CA"), _pair("new CA")


def _live_files(store: LineageStore) -> dict[str, bytes]:
    live = store.live_dir(DOMAIN)
    return {p.name: p.read_bytes() for p in sorted(live.iterdir()) if p.is_file()}


def _assert_consistent(store: LineageStore) -> tuple[bytes, bytes]:
    """The live set is one version: key matches the leaf, cert.pem + chain.pem == fullchain."""
    got = store.read(DOMAIN)
    assert got is not None
    live = store.live_dir(DOMAIN)
    assert key_matches(*got), "the live key does not match the live certificate"
    assert (live / "cert.pem").read_bytes() + (live / "chain.pem").read_bytes() == got[0]
    return got


def _staging(store: LineageStore) -> Path:
    return store.root / "live" / f".{DOMAIN}.new"


def test_install_switches_the_live_directory_in_one_step(
    store: LineageStore, pairs: tuple[tuple[bytes, bytes], tuple[bytes, bytes]]
) -> None:
    old, new = pairs
    store.install(DOMAIN, *old)
    live = store.live_dir(DOMAIN)
    live.chmod(0o750)  # an admin's choice: kept by the next set
    inode = live.stat().st_ino
    snap = store.install(DOMAIN, *new)
    assert (snap.fullchain, snap.privkey) == old
    assert live.stat().st_ino != inode, "the live directory was not switched as a whole"
    assert _assert_consistent(store) == new
    assert stat.S_IMODE(live.stat().st_mode) == 0o750
    assert stat.S_IMODE(store.privkey_path(DOMAIN).stat().st_mode) == 0o600
    for name in ("cert.pem", "chain.pem", "fullchain.pem"):
        assert stat.S_IMODE((live / name).stat().st_mode) == 0o644
    assert sorted(p.name for p in live.parent.iterdir()) == [DOMAIN]  # old set removed


def test_a_failure_while_writing_the_new_set_leaves_live_untouched(
    store: LineageStore,
    pairs: tuple[tuple[bytes, bytes], tuple[bytes, bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = pairs
    store.install(DOMAIN, *old)
    before, inode = _live_files(store), store.live_dir(DOMAIN).stat().st_ino
    real = store_module.replace_file

    def full_after_the_key(path: Path, data: bytes | str, *, mode: int = 0o600) -> None:
        if path.parent.name == f".{DOMAIN}.new" and path.name != "privkey.pem":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data, mode=mode)

    monkeypatch.setattr(store_module, "replace_file", full_after_the_key)
    with pytest.raises(AcmeError, match=r"No space left on device .*\.shop\.test\.new/cert\.pem"):
        store.install(DOMAIN, *new)
    assert _live_files(store) == before and store.live_dir(DOMAIN).stat().st_ino == inode
    assert not os.path.lexists(_staging(store))
    assert _assert_consistent(store) == old


def test_a_restore_that_cannot_write_is_one_line_naming_the_archive(
    store: LineageStore,
    pairs: tuple[tuple[bytes, bytes], tuple[bytes, bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = pairs
    store.install(DOMAIN, *old)
    snap = store.install(DOMAIN, *new)

    def full(path: Path, data: bytes | str, *, mode: int = 0o600) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(store_module, "replace_file", full)
    with pytest.raises(AcmeError) as info:
        store.restore(DOMAIN, snap)
    msg = str(info.value)
    assert "\n" not in msg and "No space left on device" in msg
    assert f"restore it from {store.root / 'archive' / DOMAIN}" in msg
    assert _assert_consistent(store) == new  # nothing half-switched


def test_a_leftover_staging_directory_is_swept_by_the_next_install_and_restore(
    store: LineageStore, pairs: tuple[tuple[bytes, bytes], tuple[bytes, bytes]]
) -> None:
    old, new = pairs
    store.install(DOMAIN, *old)
    leftover = _staging(store)
    (leftover / "sub").mkdir(parents=True)  # what a run killed mid-write leaves
    (leftover / "privkey.pem").write_bytes(b"half")
    (leftover / "sub" / "x").write_text("x")
    snap = store.install(DOMAIN, *new)
    assert not os.path.lexists(leftover) and _assert_consistent(store) == new
    assert "sub" not in _live_files(store) and not (store.live_dir(DOMAIN) / "sub").exists()
    leftover.write_text("a file this time")
    store.restore(DOMAIN, snap)
    assert not os.path.lexists(leftover) and _assert_consistent(store) == old


def test_user_files_in_the_live_directory_survive_install_and_restore(
    store: LineageStore, pairs: tuple[tuple[bytes, bytes], tuple[bytes, bytes]]
) -> None:
    old, new = pairs
    store.install(DOMAIN, *old)
    live = store.live_dir(DOMAIN)
    (live / "README").write_text("certbot-style readme\n")
    (live / "README").chmod(0o640)
    (live / "notes").mkdir()
    (live / "notes" / "a.txt").write_text("a")
    (live / "current").symlink_to("fullchain.pem")
    snap = store.install(DOMAIN, *new)
    assert (live / "README").read_text() == "certbot-style readme\n"
    assert stat.S_IMODE((live / "README").stat().st_mode) == 0o640
    assert (live / "notes" / "a.txt").read_text() == "a"
    assert os.readlink(live / "current") == "fullchain.pem"
    assert (live / "current").read_bytes() == new[0]
    inode = live.stat().st_ino
    store.restore(DOMAIN, snap)  # the rollback after a failed reload: the same one-step switch
    assert live.stat().st_ino != inode and _assert_consistent(store) == old
    assert (live / "README").read_text() == "certbot-style readme\n"
    store.restore(DOMAIN, Snapshot(DOMAIN, None, None, "0001"))  # undo a first install
    assert store.read(DOMAIN) is None
    assert sorted(p.name for p in live.iterdir()) == ["README", "current", "notes"]


def test_fallback_without_exchange_writes_in_place_and_puts_the_old_files_back(
    store: LineageStore,
    pairs: tuple[tuple[bytes, bytes], tuple[bytes, bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A filesystem without RENAME_EXCHANGE: today's per-file writes, rollback on failure."""
    old, new = pairs
    calls: list[tuple[Path, Path]] = []

    def unsupported(a: Path, b: Path) -> bool:
        calls.append((a, b))
        return False

    monkeypatch.setattr(store_module, "exchange_paths", unsupported)
    store.install(DOMAIN, *old)  # first install: a plain rename, no exchange needed
    assert calls == []
    live = store.live_dir(DOMAIN)
    (live / "README").write_text("mine")
    inode = live.stat().st_ino
    snap = store.install(DOMAIN, *new)
    assert len(calls) == 1 and live.stat().st_ino == inode  # written in place
    assert _assert_consistent(store) == new and (live / "README").read_text() == "mine"
    assert not os.path.lexists(_staging(store))
    (live / "chain.pem").unlink()
    (live / "chain.pem").mkdir()  # the third in-place write of four fails (after privkey, cert)
    with pytest.raises(AcmeError, match=r"cannot write the certificate under .*chain\.pem"):
        store.install(DOMAIN, *old)
    assert store.read(DOMAIN) == new  # the previous files were put back
    assert (live / "cert.pem").read_bytes() == split_chain(new[0])[0]
    (live / "chain.pem").rmdir()
    store.restore(DOMAIN, snap)
    assert _assert_consistent(store) == old and live.stat().st_ino == inode


def test_a_symlinked_live_directory_is_written_through(
    store: LineageStore, pairs: tuple[tuple[bytes, bytes], tuple[bytes, bytes]]
) -> None:
    old, new = pairs
    target = store.root / "elsewhere"
    target.mkdir(parents=True)
    store.live_dir(DOMAIN).parent.mkdir(parents=True)
    store.live_dir(DOMAIN).symlink_to(target)
    store.install(DOMAIN, *old)
    store.install(DOMAIN, *new)
    assert store.live_dir(DOMAIN).is_symlink() and (target / "fullchain.pem").read_bytes() == new[0]
    assert _assert_consistent(store) == new


def _installer(root: Path, ready: int, versions: tuple[tuple[bytes, bytes], ...]) -> None:
    """The forked child: signal "started", then install the versions in turn until killed."""
    try:
        os.write(ready, b"x")
        child = LineageStore(root)
        while True:
            for fullchain, privkey in versions:
                child.install(DOMAIN, fullchain, privkey)
    finally:
        os._exit(1)  # never back into pytest


@pytest.mark.parametrize("where", ["tmpfs", "disk"])
def test_sigkill_at_random_moments_leaves_the_old_or_the_new_set(
    where: str,
    store: LineageStore,
    tmp_path: Path,
    pairs: tuple[tuple[bytes, bytes], tuple[bytes, bytes]],
) -> None:
    """A child installing in a loop is SIGKILLed at random moments: after every kill the live set
    is complete and one of the two versions (the issue: `ssl renew` killed mid-install).
    ``disk``: under pytest's tmp_path (ext4 here), where the fsyncs cost real time."""
    if where == "disk":
        store = LineageStore(tmp_path / "ssl")
    old, new = pairs
    store.install(DOMAIN, *old)
    rng = random.Random(os.getpid())
    seen: set[bytes] = set()
    kills = mid_switch = 0
    deadline = time.monotonic() + 7.0
    while kills < 30 and time.monotonic() < deadline:
        ready, started = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child is killed
            os.close(ready)
            _installer(store.root, started, (new, old))
        os.close(started)
        try:
            assert os.read(ready, 1) == b"x"
            time.sleep(rng.uniform(0.0, 0.04))
        finally:
            os.close(ready)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        kills += 1
        mid_switch += os.path.lexists(_staging(store))
        got = _assert_consistent(store)
        assert got in (old, new), "the live set is neither the old nor the new version"
        seen.add(got[1])
    assert kills >= 10, f"only {kills} kills in 7 s"
    assert seen == {old[1], new[1]}, "every kill left the same version: the kills missed"
    store.install(DOMAIN, *new)  # the next run sweeps what a kill left
    assert not os.path.lexists(_staging(store)) and _assert_consistent(store) == new
    print(f"{kills} kills, {mid_switch} left a staging directory behind")
