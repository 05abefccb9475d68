"""The CSP evaluator, on a table of policies: each weak one fails naming its directive and source."""

from __future__ import annotations

import pytest

from pytest_prodcheck.probes.http.csp import evaluate_csp, parse_policy
from pytest_prodcheck.stack.nginx import DEFAULT_CSP

STRICT_TAIL = "; object-src 'none'; base-uri 'self'"

# (policy, passes?, a fragment every blocking weakness list must contain, or "" when it passes)
POLICIES: list[tuple[str, bool, str]] = [
    # --- pass ---------------------------------------------------------------------------------
    (DEFAULT_CSP, True, ""),
    ("default-src 'self'" + STRICT_TAIL, True, ""),
    ("default-src 'none'; script-src 'self'; base-uri 'none'", True, ""),
    ("default-src 'self'", True, ""),  # object-src covered by default-src; base-uri only a note
    ("script-src 'self' https://cdn.example.com" + STRICT_TAIL, True, ""),
    ("script-src 'nonce-r4nd0mVa1ue' 'strict-dynamic'" + STRICT_TAIL, True, ""),
    # Google's backwards-compatible strict CSP: the fallbacks are ignored by CSP3 browsers
    (
        "script-src 'nonce-r4nd0mVa1ue' 'strict-dynamic' 'unsafe-inline' https: http:"
        + STRICT_TAIL,
        True,
        "",
    ),
    # with a hash, CSP2+ browsers ignore 'unsafe-inline'
    (
        "script-src 'self' 'unsafe-inline' 'sha256-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG='"
        + STRICT_TAIL,
        True,
        "",
    ),
    ("default-src 'self'; script-src 'none'" + STRICT_TAIL, True, ""),
    # the strictest of two enforced policies decides
    ("default-src *, default-src 'self'" + STRICT_TAIL, True, ""),
    # --- fail ---------------------------------------------------------------------------------
    ("default-src *", False, "default-src (as script-src) * allows scripts from any host"),
    ("default-src * 'unsafe-inline'", False, "'unsafe-inline' without a nonce or hash"),
    ("default-src 'self' data:", False, "default-src (as script-src) data: lets any page"),
    ("default-src 'self' https:", False, "default-src (as script-src) https: allows scripts"),
    ("default-src 'self' http:", False, "http: allows scripts from any http host"),
    ("default-src 'self' 'unsafe-eval'", False, "'unsafe-eval' lets injected strings run"),
    ("default-src 'self' 'unsafe-inline'", False, "default-src (as script-src) 'unsafe-inline'"),
    ("script-src 'self' 'unsafe-inline'" + STRICT_TAIL, False, "script-src 'unsafe-inline'"),
    ("script-src *" + STRICT_TAIL, False, "script-src * allows scripts from any host"),
    ("script-src 'self' data:" + STRICT_TAIL, False, "script-src data:"),
    ("script-src 'self' 'unsafe-eval'" + STRICT_TAIL, False, "script-src 'unsafe-eval'"),
    # a wildcard in script-src overrides a strict default-src
    ("default-src 'none'; script-src https:" + STRICT_TAIL, False, "script-src https:"),
    # data: is not ignored by 'strict-dynamic'
    (
        "script-src 'nonce-r4nd0mVa1ue' 'strict-dynamic' data:" + STRICT_TAIL,
        False,
        "script-src data:",
    ),
    ("script-src 'self'; base-uri 'self'", False, "object-src is missing"),
    ("script-src 'self'; object-src *; base-uri 'self'", False, "object-src *"),
    ("default-src data:; script-src 'self'; base-uri 'self'", False, "default-src (as object-src)"),
    # a nonce without base-uri: an injected <base> re-points the nonced scripts
    ("script-src 'nonce-r4nd0mVa1ue'; object-src 'none'", False, "base-uri is missing"),
    ("img-src 'self'; frame-ancestors 'none'", False, "script-src is missing"),
    ("", False, "script-src is missing"),
    ("script-src 'self'; script-src-elem *" + STRICT_TAIL, False, "script-src-elem *"),
    ("script-src 'self'; script-src-attr 'unsafe-inline'" + STRICT_TAIL, False, "script-src-attr"),
    # the strictest policy is still weak
    ("default-src *, default-src 'self' data:", False, "default-src (as script-src)"),
]


@pytest.mark.parametrize(("policy", "passes", "fragment"), POLICIES, ids=[p[0] for p in POLICIES])
def test_policy_table(policy: str, passes: bool, fragment: str) -> None:
    report = evaluate_csp(policy)
    assert report.ok is passes, report.summary()
    if fragment:
        assert any(fragment in str(w) for w in report.blocking), report.summary()
        assert fragment.split()[0] in report.summary()


def test_every_blocking_weakness_names_its_directive() -> None:
    report = evaluate_csp("default-src * data: 'unsafe-inline' 'unsafe-eval'")
    assert [w.source for w in report.blocking] == [
        "*",
        "data:",
        "'unsafe-inline'",
        "'unsafe-eval'",
        "*",  # and the same default-src as object-src
        "data:",
    ]
    assert {w.directive for w in report.blocking} == {
        "default-src (as script-src)",
        "default-src (as object-src)",
    }


def test_notes_do_not_fail() -> None:
    report = evaluate_csp(
        "script-src 'self' *.cdn.example.com http://legacy.example.com blob: self"
        "; object-src 'none'; scrpt-src 'none'; object-src *"
    )
    assert report.ok, report.summary()
    notes = " | ".join(str(w) for w in report.notes)
    for fragment in (
        "*.cdn.example.com is a wildcard host",
        "http://legacy.example.com loads scripts over plain HTTP",
        "blob: allows scripts built by the page",
        "self is a host name: write the keyword as 'self'",
        "scrpt-src is not a CSP directive",
        "object-src is repeated",
        "base-uri is missing",
    ):
        assert fragment in notes, notes


def test_parse_keeps_first_directive_and_nonce_case() -> None:
    policy = parse_policy("Script-Src 'SELF' 'nonce-AbC123'; script-src *")
    assert policy.get("script-src") == ("'self'", "'nonce-AbC123'")
    assert policy.duplicates == ("script-src",)
    assert policy.get("object-src") is None
