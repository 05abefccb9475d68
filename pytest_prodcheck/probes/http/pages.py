"""The pages the header, gzip and banner checks look at: ``/``, an API path, a static file, a 404.

    >>> pages = fetch_pages(target)
    >>> [p.label for p in pages.pages]
    ['/', 'API /api/products', 'static /static/app.css', 'error page']
    >>> pages.get("/").response.status
    200

nginx drops every inherited ``add_header`` in a location that has its own, so a header set at
``server`` level can vanish on the static location or on error pages (without ``always``): the
checks therefore look at each of these pages, fetched concurrently with ``Accept-Encoding: gzip``.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pytest_prodcheck.core.errors import TargetUnreachable
from pytest_prodcheck.probes.http.client import Response, fetch
from pytest_prodcheck.probes.tls.target import SiteTarget

ERROR_LABEL = "error page"


@dataclass(frozen=True)
class Page:
    label: str
    url: str
    response: Response | None
    error: str = ""


@dataclass(frozen=True)
class PageSet:
    pages: tuple[Page, ...]

    def get(self, label: str) -> Page:
        for page in self.pages:
            if page.label == label:
                return page
        raise KeyError(label)

    @property
    def fetched(self) -> list[Page]:
        return [p for p in self.pages if p.response is not None]

    @property
    def failures(self) -> list[Page]:
        return [p for p in self.pages if p.response is None]


def page_urls(target: SiteTarget) -> list[tuple[str, str]]:
    """``(label, url)`` of every page probed."""
    missing = f"/prodcheck-missing-{secrets.token_hex(4)}"
    return [
        ("/", target.url_for("/")),
        (f"API {target.api_path}", target.api_url),
        (f"static {target.static_path}", target.url_for(target.static_path)),
        (ERROR_LABEL, target.url_for(missing)),
    ]


def fetch_pages(target: SiteTarget) -> PageSet:
    def one(item: tuple[str, str]) -> Page:
        label, url = item
        try:
            return Page(label, url, fetch(target, url, headers={"Accept-Encoding": "gzip"}))
        except TargetUnreachable as exc:
            return Page(label, url, None, str(exc))

    items = page_urls(target)
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return PageSet(tuple(pool.map(one, items)))
