"""One config discovery rule: explicit path, else the current directory, else pytest's rootdir;
the header says which file was used; ``--pyargs pytest_prodcheck.suites`` from a checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_prodcheck.config_file import choose_config
from pytest_prodcheck.suites_path import SUITES_MODULE, rewrite_pyargs, source_suites_dir


def test_rule_order(tmp_path: Path) -> None:
    cwd, root = tmp_path / "cwd", tmp_path / "root"
    cwd.mkdir()
    root.mkdir()
    (root / "prodcheck.toml").write_text("")
    assert choose_config(None, cwd, root).how == "pytest's rootdir"
    (cwd / "prodcheck.toml").write_text("")
    choice = choose_config(None, cwd, root)
    assert choice.path == cwd / "prodcheck.toml"
    assert choice.describe() == f"{cwd / 'prodcheck.toml'} (from the current directory)"
    explicit = choose_config(str(root / "prodcheck.toml"), cwd, root)
    assert explicit.path == root / "prodcheck.toml" and explicit.how == "--prodcheck-config"
    assert choose_config(None, root).how == "the current directory"  # the CLI: cwd only
    none = choose_config(None, tmp_path, tmp_path)
    assert none.path is None and "built-in defaults" in none.describe()


def test_toml_in_the_current_directory_wins_when_rootdir_is_elsewhere(
    pytester: pytest.Pytester,
) -> None:
    """`pytest /path/to/suites` run from the directory with the toml: that toml is used."""
    suite = pytester.mkdir("checkout")
    (suite / "pytest.ini").write_text("[pytest]\n")  # rootdir = checkout, not the cwd
    (suite / "test_where.py").write_text(
        "def test_target(prodcheck_settings):\n"
        "    assert prodcheck_settings.target == 'external'\n"
        "    assert prodcheck_settings.site.www == 'www.shop.example.com'\n"
    )
    (suite / "prodcheck.toml").write_text('target = "local"\n')  # the rootdir's: not used
    pytester.makefile(
        ".toml",
        prodcheck='url = "https://shop.example.com"\n[site]\nwww = "www.shop.example.com"\n',
    )
    result = pytester.runpytest(str(suite), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    header = result.stdout.str()
    cwd_toml = pytester.path / "prodcheck.toml"
    assert f"config {cwd_toml} (from the current directory)" in header
    assert f"rootdir: {suite}" in header


def test_pyargs_maps_onto_the_checkout() -> None:
    suites = source_suites_dir()
    assert suites is not None and (suites / "test_tls.py").is_file()
    assert rewrite_pyargs([SUITES_MODULE, "-m", "smoke"]) == [str(suites), "-m", "smoke"]
    assert rewrite_pyargs([f"{SUITES_MODULE}.test_tls::test_protocols"]) == [
        f"{suites / 'test_tls.py'}::test_protocols"
    ]
    assert rewrite_pyargs(["pytest_prodcheck.probes", "tests/x.py"]) == [
        "pytest_prodcheck.probes",
        "tests/x.py",
    ]


def test_pyargs_collects_the_suite_from_an_editable_install(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--pyargs", SUITES_MODULE, "--collect-only", "-q", "-p", "no:cacheprovider"
    )
    assert result.ret == 0, result.stdout.str()[-2000:] + result.stderr.str()[-2000:]
    collected = [ln for ln in result.stdout.lines if "::" in ln]
    assert len(collected) >= 60


@pytest.mark.parametrize(
    ("toml", "names"),
    [
        ("", ("shop.example.com", "www.shop.example.com", "api.shop.example.com",
              "monitoring.shop.example.com")),
        ('[site]\nwww = ""\napi = ""\nmonitoring = ""\n', ("shop.example.com",)),
        ('[site]\nwww = "www2.shop.example.com"\nmonitoring = ""\n',
         ("shop.example.com", "www2.shop.example.com", "api.shop.example.com")),
    ],
)  # fmt: skip
def test_cli_and_suite_derive_the_same_site_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str, names: tuple[str, ...]
) -> None:
    from pytest_prodcheck.cli import build_parser
    from pytest_prodcheck.commands.tls import target_from_args
    from pytest_prodcheck.config import load_settings
    from pytest_prodcheck.probes.tls.target import SiteTarget
    from pytest_prodcheck.stack.external import external_endpoints

    (tmp_path / "prodcheck.toml").write_text('url = "https://shop.example.com"\n' + toml)
    monkeypatch.chdir(tmp_path)
    argv = ["tls", "check", "https://shop.example.com"]
    cli_target = target_from_args(build_parser(argv).parse_args(argv))
    settings = load_settings(tmp_path / "prodcheck.toml", env={})
    suite_target = SiteTarget.from_endpoints(external_endpoints(settings), settings)
    assert cli_target.names == suite_target.names == names
    assert cli_target.www == suite_target.www
