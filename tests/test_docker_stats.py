"""dockerhost/stats.py: the engine's CPU % formula, memory without page cache, the static page."""

from __future__ import annotations

from pathlib import Path

from pytest_prodcheck.dockerhost.stats import Sample, StatsSampler, cpu_percent, memory_bytes


def _frame(total: int, pre_total: int, system: int, pre_system: int) -> dict:
    return {
        "cpu_stats": {"cpu_usage": {"total_usage": total}, "system_cpu_usage": system,
                      "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": pre_total}, "system_cpu_usage": pre_system},
        "memory_stats": {"usage": 100 * 2**20, "stats": {"total_inactive_file": 30 * 2**20}},
    }  # fmt: skip


def test_cpu_percent_is_the_engines_formula() -> None:
    # half of the host's CPU time over the interval on a 2-CPU host = 100 % (one full core)
    assert cpu_percent(_frame(1_500, 1_000, 2_000, 1_000)) == 100.0
    assert cpu_percent({"cpu_stats": {}, "precpu_stats": {}}) is None  # the first frame


def test_memory_excludes_the_page_cache() -> None:
    assert memory_bytes(_frame(0, 0, 0, 0)) == 70 * 2**20


def test_summary_and_page(tmp_path: Path) -> None:
    sampler = StatsSampler(client=None, names=[])
    sampler.samples = [
        Sample("app", 1.0, 40.0, 100 * 2**20),
        Sample("app", 2.0, 60.0, 120 * 2**20),
        Sample("postgres", 1.0, 10.0, 50 * 2**20),
    ]
    assert sampler.summary() == (
        "app cpu max 60% avg 50%, mem max 120 MiB | postgres cpu max 10% avg 10%, mem max 50 MiB"
    )
    page = sampler.write(tmp_path).read_text()
    assert page.count("<svg") == 2 and "<script" not in page and 'href="locust.html"' in page
    assert (tmp_path / "container-stats.json").exists()
