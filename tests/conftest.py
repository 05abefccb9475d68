"""The project's own tests. Inner pytester runs never load Locust's pytest plugin (gevent)."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.stack.pgbouncer import PgBouncerOptions, PgBouncerServer
from pytest_prodcheck.stack.postgres import PostgresServer

pytest_plugins = ["pytester"]


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:locust -p no:cacheprovider")
    return pytester


# -- a real PostgreSQL (+ PgBouncers) per test module, shared by the pooling/postgres tests --------
@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    """A PostgreSQL started from the stack's seeded template; destroyed at module end."""
    server = PostgresServer(make_tempdir("pg-")).start()
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def bouncer(pg: PostgresServer) -> Iterator[Callable[..., PgBouncerServer]]:
    """``bouncer(**options)`` -> a started PgBouncerServer in front of ``pg``; all stopped at
    module end. ``bouncer(pool_mode="session")`` is wrong in exactly that way."""
    started: list[PgBouncerServer] = []

    def make(**options: Any) -> PgBouncerServer:
        server = PgBouncerServer(make_tempdir("pgb-"), pg, PgBouncerOptions(**options))
        started.append(server.start())
        return server

    yield make
    for server in started:
        server.stop()
