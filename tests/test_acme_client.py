"""AcmeClient details: error translation, bounded badNonce retries (against a real Pebble)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from acme import messages

from pytest_prodcheck import acme, cli
from pytest_prodcheck.acme.client import _raise_from_problem, _short, generate_key
from pytest_prodcheck.acme.service import dry_run_directory
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.stack.pebble import PebbleServer


def test_rate_limit_problem_becomes_rate_limited_with_advice() -> None:
    problem = messages.Error.with_code("rateLimited", detail="too many certificates (5) per week")
    with pytest.raises(acme.RateLimited) as info:
        _raise_from_problem(problem, "order")
    msg = str(info.value)
    assert "rate-limited the order" in msg and "5) per week" in msg and "--staging" in msg
    assert isinstance(info.value, acme.OrderRejected) and info.value.exit_code == 3


def test_other_problems_become_order_rejected() -> None:
    problem = messages.Error.with_code("rejectedIdentifier", detail="Invalid TLD")
    with pytest.raises(acme.OrderRejected, match=r"rejected the order \(rejectedIdentifier: "):
        _raise_from_problem(problem, "order")


def test_short_reasons() -> None:
    dns = requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='x.test', port=443): Max retries exceeded (Caused by "
        "NameResolutionError(\"...: Failed to resolve 'x.test' ([Errno -2] Name or service not "
        'known)"))'
    )
    assert _short(dns) == "cannot resolve x.test: Name or service not known"
    refused = requests.exceptions.ConnectionError(
        "... NewConnectionError('...: Failed to establish a new connection: [Errno 111] "
        "Connection refused'))"
    )
    assert _short(refused) == "Connection refused"


def test_key_types() -> None:
    assert b"BEGIN PRIVATE KEY" in generate_key("ecdsa")
    assert len(generate_key("rsa")) > len(generate_key("ecdsa"))
    with pytest.raises(ConfigError, match="use one of ecdsa, rsa"):
        generate_key("dsa")


def test_client_argument_errors() -> None:
    with pytest.raises(ConfigError, match="is not an http"):
        acme.AcmeClient("ftp://acme.test/dir")
    with pytest.raises(ConfigError, match="does not exist"):
        acme.AcmeClient("https://acme.test/dir", ca_bundle="/nonexistent/ca.pem")


def test_credentials_in_the_directory_url_are_refused_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """They would be written into the account path and the renewal config (found by
    tests/test_secrets_grep.py): refused before anything is written, the password masked."""
    url = "https://bob:s3cretPw@127.0.0.1:1/dir"
    for make in (
        lambda: acme.AcmeClient(url),
        lambda: acme.IssueRequest.build("shop.test", "a@shop.test", directory=url, webroot="w"),
    ):
        with pytest.raises(ConfigError, match="credentials in the directory URL") as exc:
            make()
        assert "s3cretPw" not in str(exc.value) and "bob:***@127.0.0.1" in str(exc.value)
    code = cli.main(["ssl", "issue", "shop.test", "a@shop.test", "--directory", url,
                     "--webroot", str(tmp_path / "www"), "--cert-dir", str(tmp_path / "ssl")])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 2 and "credentials in the directory URL" in err
    assert "s3cretPw" not in out + err and not (tmp_path / "ssl").exists()


def test_dry_run_of_letsencrypt_production_goes_to_staging() -> None:
    assert dry_run_directory(acme.LETSENCRYPT_PRODUCTION) == acme.LETSENCRYPT_STAGING
    assert dry_run_directory("https://127.0.0.1:14000/dir") == "https://127.0.0.1:14000/dir"


@pytest.fixture(scope="module")
def hostile() -> Iterator[PebbleServer]:
    with PebbleServer(make_tempdir("pebble-nonce100-"), free_port(), nonce_reject=100) as p:
        yield p


def test_bad_nonce_retries_are_bounded(hostile: PebbleServer) -> None:
    client = acme.AcmeClient(hostile.directory_url, ca_bundle=hostile.api_ca_path)
    webroot = make_tempdir("webroot-")
    with pytest.raises(acme.OrderRejected) as info:
        client.issue(("shop.test",), Path(webroot))
    assert "badNonce" in str(info.value) and "account registration" in str(info.value)


def test_stale_challenges_of_this_account_are_swept(tmp_path: Path) -> None:
    """A SIGKILLed issuance skips its ``finally``: the next one removes what it left, only that."""
    import os
    import time

    from pytest_prodcheck.acme.client import sweep_stale_challenges

    thumb = "T" * 43
    now = time.time()

    def token(name: str, content: str, age_s: float) -> Path:
        path = tmp_path / name
        path.write_text(content)
        os.utime(path, (now - age_s, now - age_s))
        return path

    ours_old = token("tokA", f"tokA.{thumb}", 3600)
    ours_fresh = token("tokB", f"tokB.{thumb}", 10)  # a concurrent issuance's live token
    foreign = token("tokC", f"tokC.{'U' * 43}", 3600)  # another ACME client's
    mismatch = token("tokD", f"tokX.{thumb}", 3600)  # content that is not this file's
    assert sweep_stale_challenges(tmp_path, thumb, 300, now=now) == [ours_old]
    assert not ours_old.exists()
    assert ours_fresh.exists() and foreign.exists() and mismatch.exists()
    assert sweep_stale_challenges(tmp_path / "missing", thumb, 300) == []
