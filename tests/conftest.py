"""The project's own tests. Inner pytester runs never load Locust's pytest plugin (gevent)."""

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:locust -p no:cacheprovider")
    return pytester
