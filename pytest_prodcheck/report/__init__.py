"""The checklist report: model, JSON, Markdown and HTML, written together.

>>> paths = write_reports(report, Path("reports"))     # doctest: +SKIP
>>> [p.name for p in paths]                            # doctest: +SKIP
['checklist.json', 'checklist.md', 'checklist.html']
"""

from __future__ import annotations

from pathlib import Path

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.files import replace_file
from pytest_prodcheck.report.model import SCHEMA_VERSION, Report, RunMeta, build_report
from pytest_prodcheck.report.to_html import render_html
from pytest_prodcheck.report.to_json import render_json
from pytest_prodcheck.report.to_markdown import render_markdown

__all__ = [
    "SCHEMA_VERSION",
    "Report",
    "RunMeta",
    "build_report",
    "render_html",
    "render_json",
    "render_markdown",
    "write_reports",
]


def write_reports(report: Report, directory: Path) -> list[Path]:
    """Write ``checklist.json``, ``checklist.md`` and ``checklist.html`` into ``directory``."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in (
            ("checklist.json", render_json(report)),
            ("checklist.md", render_markdown(report)),
            ("checklist.html", render_html(report)),
        ):
            path = directory / name
            replace_file(path, text, mode=0o644)
            written.append(path)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the report into {directory}: {exc.strerror}; "
            "choose another --prodcheck-report-dir"
        ) from None
    return written
