"""PDF from self-contained HTML with WeasyPrint, never touching the network (bill documents, the filing).

Every page the workbench prints carries its CSS, images and charts inline; :class:`NoFetching` refuses any URL,
so a template edited to reach out fails loudly instead of fetching (or silently dropping) a resource.
"""

from __future__ import annotations

import weasyprint
import weasyprint.urls

#: what WeasyPrint raises when :class:`NoFetching` refuses a URL
FetchRefused = weasyprint.urls.FatalURLFetchingError


class NoFetching(weasyprint.urls.URLFetcher):
    """A URL fetcher that fetches nothing; with ``fail_on_errors`` its refusal stops the rendering."""

    def __init__(self):
        super().__init__(fail_on_errors=True)

    def fetch(self, url, headers=None):
        raise ValueError(f"refused {url}")


def offline_html(html: str) -> weasyprint.HTML:
    """The WeasyPrint document of ``html`` with every URL refused."""
    return weasyprint.HTML(string=html, url_fetcher=NoFetching())
