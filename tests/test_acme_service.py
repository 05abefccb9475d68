"""End to end against real Pebble + nginx: issue, serve, renew, and every fault leaves the live
certificate untouched and still served."""

from __future__ import annotations

import datetime as dt
import json
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_prodcheck import acme
from pytest_prodcheck.acme.certinfo import cert_info
from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable, ToolError
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.stack.nginx import NginxServer
from pytest_prodcheck.stack.pebble import PebbleServer
from tests._acme_env import DOMAIN, NAMES, AcmeEnv, RateLimitingCA


@pytest.fixture(scope="module")
def env() -> Iterator[AcmeEnv]:
    e = AcmeEnv.start()
    try:
        yield e
    finally:
        e.stop()


@pytest.fixture(scope="module")
def first(env: AcmeEnv) -> acme.IssueOutcome:
    before = env.served()
    assert not before.verified  # the bootstrap certificate is not from pebble
    return env.issue_and_wait()


@pytest.fixture
def unchanged(env: AcmeEnv, first: acme.IssueOutcome) -> Iterator[None]:
    """Assert that the live files and the served certificate are the same after the test."""
    live = env.live_bytes()
    serial = cert_info(live[0]).serial
    versions = env.store.versions(DOMAIN)
    config = env.store.renewal_path(DOMAIN).read_text()
    yield
    assert env.live_bytes() == live, "live certificate or key changed"
    assert env.served().info is not None
    for name in NAMES:
        served = env.served(name)
        assert served.verified, served.error
        assert served.info is not None and served.info.serial == serial, f"{name} serves another"
    assert env.store.renewal_path(DOMAIN).read_text() == config
    assert env.store.versions(DOMAIN)[: len(versions)] == versions


def test_issue_four_names_validated_through_nginx_and_served(
    env: AcmeEnv, first: acme.IssueOutcome
) -> None:
    assert first.names == NAMES
    assert first.issuer_cn.startswith("Pebble Intermediate CA")
    assert first.reloaded and first.version == "0001"
    fullchain, privkey = env.live_bytes()
    info = cert_info(fullchain)
    assert set(info.names) == set(NAMES) and info.chain_length == 2
    assert acme.key_matches(fullchain, privkey)
    for name in NAMES:  # a TLS client trusting only pebble's root verifies all 4 names
        served = env.served(name)
        assert served.verified, served.error
        assert served.info is not None and served.info.serial == info.serial
    assert stat.S_IMODE(env.store.privkey_path(DOMAIN).stat().st_mode) == 0o600
    # certbot's cert.pem / chain.pem too (production nginx: ssl_trusted_certificate chain.pem)
    live = env.store.live_dir(DOMAIN)
    cert, chain = (live / "cert.pem").read_bytes(), (live / "chain.pem").read_bytes()
    assert cert + chain == fullchain and cert_info(cert).serial == info.serial
    assert cert_info(chain).subject_cn.startswith("Pebble Intermediate CA")
    archived = env.store.root / "archive" / DOMAIN / "0001"
    assert (archived / "fullchain.pem").read_bytes() == fullchain
    saved = json.loads(env.store.renewal_path(DOMAIN).read_text())
    assert saved["directory"] == env.pebble.directory_url and saved["names"] == list(NAMES)
    # challenge files are removed after validation
    assert list((env.nginx.webroot / ".well-known" / "acme-challenge").iterdir()) == []


def test_lineage_fits_an_nginx_configured_for_certbot_paths(
    env: AcmeEnv, first: acme.IssueOutcome
) -> None:
    """The production nginx form reads live/DOMAIN/{fullchain,privkey,chain}.pem (chain.pem as
    ssl_trusted_certificate for OCSP stapling): `nginx -t` accepts the lineage as written."""
    live = env.store.live_dir(DOMAIN)
    options = replace(
        env.nginx.options,
        http_port=free_port(),
        https_port=free_port(),
        cert_path=str(live / "fullchain.pem"),
        key_path=str(live / "privkey.pem"),
        trusted_cert_path=str(live / "chain.pem"),
        ocsp_stapling=True,
    )
    NginxServer(make_tempdir("nginx-certbot-paths-"), options).test_config()
    missing = replace(options, trusted_cert_path=str(live / "no-chain.pem"))
    with pytest.raises(ToolError, match=r"no-chain\.pem"):  # what happened before chain.pem
        NginxServer(make_tempdir("nginx-certbot-paths-"), missing).test_config()


def test_reissue_keeps_previous_lineage_in_archive(env: AcmeEnv, first: acme.IssueOutcome) -> None:
    old = env.live_bytes()
    outcome = env.issue_and_wait(key_type="rsa")
    versions = env.store.versions(DOMAIN)
    assert outcome.version == versions[-1] and len(versions) >= 2
    previous = env.store.root / "archive" / DOMAIN / versions[-2]
    assert (previous / "fullchain.pem").read_bytes() == old[0]
    assert (previous / "privkey.pem").read_bytes() == old[1]
    served = env.served("www.shop.test")
    assert served.verified and served.info is not None
    assert served.info.serial == cert_info(env.live_bytes()[0]).serial


def test_renew_skips_certificate_that_is_not_due(env: AcmeEnv, unchanged: None) -> None:
    [result] = acme.renew(env.store)
    assert result.action == "not-due"
    assert result.decision is not None and result.decision.fraction_left > 0.99


def test_renew_dry_run_obtains_but_installs_nothing(env: AcmeEnv, unchanged: None) -> None:
    [result] = acme.renew(env.store, dry_run=True)
    assert result.action == "dry-run-ok", result.message
    assert result.outcome is not None and result.outcome.fullchain_path is None


def test_renew_replaces_certificate_with_less_than_a_third_left(env: AcmeEnv) -> None:
    info = cert_info(env.live_bytes()[0])
    late = info.not_after - (info.not_after - info.not_before) * 0.3  # 30 % left
    old_workers = env.nginx.workers()
    [result] = acme.renew(env.store, now=late)
    assert result.action == "renewed", result.message
    env.wait_workers_replaced(old_workers)
    new = cert_info(env.live_bytes()[0])
    assert new.serial != info.serial
    served = env.served("monitoring.shop.test")
    assert served.verified and served.info is not None and served.info.serial == new.serial


# --- faults: one-line error naming the cause, live certificate untouched and still served --------


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_fault_invalid_domain(env: AcmeEnv, unchanged: None) -> None:
    with pytest.raises(acme.InvalidDomain) as info:
        env.request(extra_names=["bad_name"])
    assert isinstance(info.value, ConfigError) and info.value.exit_code == 2
    assert "bad_name" in _one_line(info.value)


def test_fault_unreachable_directory(env: AcmeEnv, unchanged: None) -> None:
    url = f"https://127.0.0.1:{free_port()}/dir"
    with pytest.raises(acme.DirectoryUnreachable) as info:
        acme.issue(env.request(directory=url), env.store)
    assert isinstance(info.value, TargetUnreachable) and info.value.exit_code == 3
    assert url in _one_line(info.value) and "refused" in str(info.value)


def test_fault_acme_server_certificate_not_trusted(env: AcmeEnv, unchanged: None) -> None:
    # no --ca-bundle: the system store (REQUESTS_CA_BUNDLE) does not trust pebble's API cert
    with pytest.raises(acme.DirectoryUnreachable) as info:
        acme.issue(env.request(ca_bundle=None), env.store)
    assert "--ca-bundle" in _one_line(info.value)


def test_fault_challenge_cannot_be_validated(env: AcmeEnv, unchanged: None) -> None:
    unserved = make_tempdir("webroot-unserved-")  # writable, but nginx does not serve it
    with pytest.raises(acme.ChallengeFailed) as info:
        acme.issue(env.request(webroot=unserved), env.store)
    msg = _one_line(info.value)
    assert "HTTP-01 validation of" in msg and str(unserved) in msg and "404" in msg
    assert info.value.exit_code == 3


def test_fault_webroot_not_writable(env: AcmeEnv, unchanged: None) -> None:
    blocker = make_tempdir("webroot-file-") / "not-a-dir"
    blocker.write_text("a file where the webroot should be")
    with pytest.raises(acme.WebrootNotWritable) as info:
        acme.issue(env.request(webroot=blocker), env.store)
    assert str(blocker) in _one_line(info.value) and info.value.exit_code == 2


def test_fault_reload_command_fails(env: AcmeEnv, unchanged: None) -> None:
    before = env.store.versions(DOMAIN)
    bad = ("sh", "-c", "echo 'nginx: [emerg] cannot load certificate' >&2; exit 1")
    with pytest.raises(acme.ReloadFailed) as info:
        acme.issue(env.request(reload_command=bad), env.store)
    msg = _one_line(info.value)
    assert "exited with 1" in msg and "[emerg] cannot load certificate" in msg
    assert "previous certificate was restored" in msg
    kept = env.store.versions(DOMAIN)
    assert len(kept) == len(before) + 1 and kept[-1] in msg  # the new one is kept in archive/


def test_fault_reload_command_missing(env: AcmeEnv, unchanged: None) -> None:
    with pytest.raises(acme.ReloadFailed) as info:
        acme.issue(env.request(reload_command=("no-such-nginx", "-s", "reload")), env.store)
    assert "no-such-nginx not found" in _one_line(info.value)


def test_fault_failed_renewal_keeps_working_certificate(env: AcmeEnv, unchanged: None) -> None:
    config = env.store.load_config(DOMAIN)
    broken = acme.LineageStore(env.store.root)  # same lineage, renewal config pointing nowhere
    url = f"https://127.0.0.1:{free_port()}/dir"
    broken.save_config(acme.RenewalConfig(**{**config.__dict__, "directory": url}))
    try:
        [result] = acme.renew(broken, force=True)
    finally:
        env.store.save_config(config)
    assert result.action == "failed" and url in result.message
    assert result.error is not None and result.error.exit_code == 3


@pytest.fixture(scope="module")
def eab_pebble(env: AcmeEnv) -> Iterator[PebbleServer]:
    p = PebbleServer(env.root / "pebble-eab", env.nginx.options.http_port,
                     external_account_required=True).start()  # fmt: skip
    try:
        yield p
    finally:
        p.stop()


def test_fault_ca_rejects_the_request(
    env: AcmeEnv, eab_pebble: PebbleServer, unchanged: None
) -> None:
    req = env.request(directory=eab_pebble.directory_url, ca_bundle=eab_pebble.api_ca_path)
    with pytest.raises(acme.OrderRejected) as info:
        acme.issue(req, env.store)
    msg = _one_line(info.value)
    assert "the CA rejected the account registration" in msg and "externalAccountRequired" in msg
    assert isinstance(info.value, ToolError) and info.value.exit_code == 3


@pytest.fixture(scope="module")
def strict_pebble(env: AcmeEnv) -> Iterator[PebbleServer]:
    """A CA whose policy forbids one of the names (Let's Encrypt: e.g. a blocked domain)."""
    p = PebbleServer(env.root / "pebble-policy", env.nginx.options.http_port,
                     domain_blocklist=("api.shop.test",)).start()  # fmt: skip
    try:
        yield p
    finally:
        p.stop()


def test_fault_order_rejected(env: AcmeEnv, strict_pebble: PebbleServer, unchanged: None) -> None:
    req = env.request(directory=strict_pebble.directory_url, ca_bundle=strict_pebble.api_ca_path)
    with pytest.raises(acme.OrderRejected) as info:
        acme.issue(req, env.store)
    msg = _one_line(info.value)
    assert "the CA rejected the order (rejectedIdentifier: " in msg and "api.shop.test" in msg
    assert not isinstance(info.value, acme.RateLimited) and info.value.exit_code == 3


def test_fault_rate_limited_order(env: AcmeEnv, unchanged: None) -> None:
    with RateLimitingCA(make_tempdir("ratelimit-ca-")) as ca:
        req = env.request(directory=ca.directory_url, ca_bundle=ca.ca_path)
        with pytest.raises(acme.RateLimited) as info:
            acme.issue(req, env.store)
    msg = _one_line(info.value)
    assert msg.startswith("the CA rate-limited the order (rateLimited: too many certificates (5)")
    assert "--staging" in msg and info.value.exit_code == 3


def test_bad_nonces_are_retried(env: AcmeEnv) -> None:
    # pebble rejecting 25 % of valid nonces: python-acme alone retries once and fails most runs
    noisy = PebbleServer(env.root / "pebble-nonce", env.nginx.options.http_port, nonce_reject=25)
    noisy.start()
    try:
        store = acme.LineageStore(make_tempdir("nonce-store-"))
        req = env.request(directory=noisy.directory_url, ca_bundle=noisy.api_ca_path,
                          reload_command=())  # fmt: skip
        for _ in range(3):
            outcome = acme.issue(req, store)
            assert outcome.names == NAMES
    finally:
        noisy.stop()


def test_authorizations_the_ca_reuses_are_skipped(env: AcmeEnv, first: acme.IssueOutcome) -> None:
    reusing = PebbleServer(env.root / "pebble-reuse", env.nginx.options.http_port, authz_reuse=100)
    reusing.start()
    try:
        client = acme.AcmeClient(reusing.directory_url, ca_bundle=reusing.api_ca_path)
        webroot = Path(env.nginx.webroot)
        assert client.issue(NAMES, webroot).reused_authorizations == 0
        again = client.issue(NAMES, webroot)  # same account: all 4 authorizations still valid
        assert again.reused_authorizations == 4
        assert acme.key_matches(again.fullchain_pem, again.privkey_pem)
    finally:
        reusing.stop()


def test_account_is_reused_for_renewals(env: AcmeEnv, first: acme.IssueOutcome) -> None:
    account = env.store.account_path(env.pebble.directory_url)
    data = json.loads(account.read_text())
    assert data["uri"].startswith("https://127.0.0.1:")
    assert stat.S_IMODE(account.stat().st_mode) == 0o600
    client = acme.AcmeClient(env.pebble.directory_url, ca_bundle=env.pebble.api_ca_path,
                             account_path=account)  # fmt: skip
    client.connect()
    assert json.loads(account.read_text())["uri"] == data["uri"]


def test_policy_works_as_lifetimes_shrink() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for days, renew_at_left in ((90, 30), (64, 64 / 3), (45, 15)):
        end = start + dt.timedelta(days=days)
        just_before = end - dt.timedelta(days=renew_at_left + 0.1)
        just_after = end - dt.timedelta(days=renew_at_left - 0.1)
        assert not acme.renewal_decision(start, end, now=just_before).due
        assert acme.renewal_decision(start, end, now=just_after).due


def test_challenge_dir_is_readable_by_the_web_server(
    env: AcmeEnv, first: acme.IssueOutcome
) -> None:
    target = Path(env.nginx.webroot) / ".well-known" / "acme-challenge"
    assert stat.S_IMODE(target.stat().st_mode) & 0o005 == 0o005


def test_a_killed_runs_challenge_file_is_removed_by_the_next_issue(
    env: AcmeEnv, first: acme.IssueOutcome
) -> None:
    """What a SIGKILLed ``ssl renew`` leaves in the webroot (its token) goes with the next one."""
    import os
    import time

    from josepy import b64
    from josepy.jwk import JWKEC

    account = env.store.account_path(env.pebble.directory_url)
    key = JWKEC.json_loads(json.dumps(json.loads(account.read_text())["key"]))
    thumb = b64.b64encode(key.thumbprint()).decode()
    target = Path(env.nginx.webroot) / ".well-known" / "acme-challenge"
    left = target / "leftOverToken123"
    left.write_text(f"{left.name}.{thumb}")
    old = time.time() - 3600
    os.utime(left, (old, old))
    env.issue_and_wait()
    assert not left.exists()
    assert list(target.iterdir()) == []  # the new issue's own tokens are gone too
