"""probes/pooling_overhead.py: connect + SELECT 1 + close, direct vs real PgBouncers."""

from __future__ import annotations

import pytest

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.probes.pooling_overhead import (
    LatencyStats,
    OverheadResult,
    check_overhead,
    hashes_every_login,
    measure_overhead,
    scram_salts,
)


def test_scram_secrets_in_the_auth_file_cut_the_overhead(pg, bouncer):
    result = measure_overhead(pg.dsn("ecommerce"), bouncer().dsn("ecommerce"), n=120)
    check = check_overhead(result)
    assert check.status == "pass", check.observed
    assert result.direct.n == result.pooled.n == 120
    assert "reduction" in check.observed and "p95" in check.observed


def test_plaintext_auth_file_makes_pgbouncer_no_faster_than_direct(pg, bouncer):
    result = measure_overhead(
        pg.dsn("ecommerce"), bouncer(auth_mode="plaintext").dsn("ecommerce"), n=120
    )
    check = check_overhead(result)
    assert result.hashes_every_login is True
    assert check.status == "fail", check.observed
    assert "hashes every login" in check.message and "plaintext" in check.message


def test_scram_salts_tell_stored_secrets_from_plaintext(pg, bouncer):
    direct = scram_salts(pg.dsn("ecommerce"))
    secret = scram_salts(bouncer().dsn("ecommerce"))
    plain = scram_salts(bouncer(auth_mode="plaintext").dsn("ecommerce"))
    assert direct and secret and plain
    assert len(set(direct)) == 1 and set(secret) == set(direct)  # PgBouncer holds PG's verifier
    assert len(set(plain)) == 3
    assert hashes_every_login(bouncer().dsn()) is False


def test_salt_probe_on_a_closed_port_is_undetermined():
    assert scram_salts(f"postgresql://app:x@127.0.0.1:{free_port()}/ecommerce") is None


def stats(median: float) -> LatencyStats:
    return LatencyStats(100, median, median * 1.3, median)


@pytest.mark.parametrize(
    ("direct", "pooled", "status", "fragment"),
    [
        (4.0, 2.2, "pass", "reduction 45 %"),
        (4.0, 3.4, "fail", "saves only 15 %"),
        (4.0, 4.6, "fail", "SLOWER"),
    ],
)
def test_judgement(direct, pooled, status, fragment):
    check = check_overhead(OverheadResult(stats(direct), stats(pooled)))
    assert check.status == status
    assert fragment in check.observed + check.message


def test_per_login_hashing_fails_even_when_the_timing_looks_fine():
    check = check_overhead(OverheadResult(stats(4.0), stats(2.4), hashes_every_login=True))
    assert check.status == "fail" and "hashes every login" in check.message
    ok = check_overhead(OverheadResult(stats(4.0), stats(2.4), hashes_every_login=False))
    assert ok.status == "pass" and "stored SCRAM secrets" in ok.observed


def test_threshold_is_configurable():
    result = OverheadResult(stats(4.0), stats(3.4))
    assert check_overhead(result, min_reduction_pct=10).ok


def test_latency_stats_percentiles():
    s = LatencyStats.of([float(i) for i in range(1, 101)])
    assert (s.median_ms, s.p95_ms, s.n) == (50.5, 95.0, 100)


def test_bad_arguments(pg):
    with pytest.raises(ConfigError, match="n >= rounds"):
        measure_overhead(pg.dsn(), pg.dsn(), n=2, rounds=4)
