"""Lineage store: modes, archive versions, restore, renewal configs (writes: test_core_files)."""

from __future__ import annotations

import stat

import pytest

from pytest_prodcheck.acme.errors import AcmeError
from pytest_prodcheck.acme.store import LineageStore, RenewalConfig
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.proc import make_tempdir


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


def test_install_failing_half_way_puts_the_previous_live_files_back(store: LineageStore) -> None:
    store.install("shop.test", b"CHAIN1", b"KEY1")
    live = store.live_dir("shop.test")
    (live / "chain.pem").unlink()
    (live / "chain.pem").mkdir()  # the third write of four fails (after privkey and cert)
    with pytest.raises(AcmeError, match=r"cannot write the certificate under .*chain\.pem"):
        store.install("shop.test", b"CHAIN2", b"KEY2")
    assert store.read("shop.test") == (b"CHAIN1", b"KEY1")
    assert (live / "cert.pem").read_bytes() == b"CHAIN1"
