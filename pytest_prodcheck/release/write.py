"""Write the release report: ``release.json``, ``release.md`` and ``release.html`` together.

>>> paths = write_release_reports(rr, Path("reports"))        # doctest: +SKIP
>>> [p.name for p in paths]                                    # doctest: +SKIP
['release.json', 'release.md', 'release.html']
"""

from __future__ import annotations

import json
from pathlib import Path

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.files import replace_file
from pytest_prodcheck.release.model import ReleaseReport
from pytest_prodcheck.release.to_html import render_release_html
from pytest_prodcheck.release.to_markdown import render_release_markdown

__all__ = ["render_release_json", "write_release_reports"]


def render_release_json(rr: ReleaseReport) -> str:
    return json.dumps(rr.to_dict(), indent=2, ensure_ascii=False) + "\n"


def write_release_reports(rr: ReleaseReport, directory: Path) -> list[Path]:
    """The three files into ``directory`` (atomically); ConfigError when it is not writable."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in (
            ("release.json", render_release_json(rr)),
            ("release.md", render_release_markdown(rr)),
            ("release.html", render_release_html(rr)),
        ):
            path = directory / name
            replace_file(path, text, mode=0o644)
            written.append(path)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the release report into {directory}: {exc.strerror}; "
            "choose another report directory"
        ) from None
    return written
