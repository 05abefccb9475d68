"""Render the templates in ``pytest_prodcheck/conf/`` (shared by the local stack and ``docker/``).

>>> render("pgbouncer.ini.j2", o=PgBouncerOptions(), ...)
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(CONF_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(name: str, **context: Any) -> str:
    """Render ``conf/<name>`` with ``context`` (undefined names are errors)."""
    return _env().get_template(name).render(**context)
