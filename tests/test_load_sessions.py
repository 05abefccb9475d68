"""load/sessions.py: returning customers' remembered sessions, logged in before the run."""

from __future__ import annotations

import stat

from _load_target import Target

from pytest_prodcheck.load.journey import account_number, is_returning, remembered_accounts
from pytest_prodcheck.load.sessions import (
    Target as SessionTarget,
)
from pytest_prodcheck.load.sessions import (
    _cache,
    remembered_sessions,
    remove_tokens,
    write_tokens,
)


def test_logs_in_once_and_reuses_the_tokens(tmp_path):
    accounts = {"email": "user{n}@shop.test", "count": 100}
    with Target() as t:
        tokens = remembered_sessions(SessionTarget(t.url), accounts, range(1, 11))
        assert sorted(tokens) == list(range(1, 11)) and set(tokens.values()) == {"t"}
    # the target is gone: the second call needs no login (cached in this process)
    again = remembered_sessions(SessionTarget(t.url), accounts, range(1, 6))
    assert sorted(again) == [1, 2, 3, 4, 5]
    _cache.clear()
    path = write_tokens(tmp_path / "sessions.json", tokens)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    remove_tokens(path)
    assert not path.exists()


def test_the_mix_of_remembered_login_and_registration():
    users = [is_returning(s, 0.9) for s in range(100)]
    assert users.count(False) == 10  # 10 % register
    remembered = remembered_accounts(100, 1, 1000, 0.9, 0.9)
    assert len(remembered) == 82  # ~81 % still logged in (of 91 numbers), the rest log in
    assert account_number(0, 0, 2, 10) == 1 and account_number(0, 1, 2, 10) == 2
