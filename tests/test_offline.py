"""Offline by default: the tour notebook's HTML export and the NEM dashboard show their plots in a headless
Chromium whose every request off this machine is refused (a utility's isolated network). No CDN."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")


def _offline_page(browser, allowed_prefix: str):
    """A page whose requests not starting with ``allowed_prefix`` are aborted; returns (page, refused URLs)."""
    refused = []
    page = browser.new_page(viewport={"width": 1300, "height": 1100})

    def route(r):
        if r.request.url.startswith(allowed_prefix) or r.request.url.startswith("data:"):
            return r.continue_()
        refused.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    return page, refused


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.ui
@needs_chromium
def test_tour_html_export_shows_its_plots_with_the_network_off(tmp_path):
    pm = pytest.importorskip("papermill")
    nbconvert = pytest.importorskip("nbconvert")
    playwright = pytest.importorskip("playwright.sync_api")
    import nbformat

    executed = tmp_path / "tour.ipynb"
    pm.execute_notebook(str(NOTEBOOKS / "tour.ipynb"), str(executed), cwd=str(NOTEBOOKS), kernel_name="python3",
                        parameters={"cube": str(tmp_path / "cube.zarr"), "n_meters": 40, "out": str(tmp_path / "c")},
                        progress_bar=False)
    # nbconvert's own page furniture (require.js, MathJax, mermaid, widgets) points at CDNs by default; the
    # notebook's plots need none of it (a utility exporting reports sets these the same way)
    exporter = nbconvert.HTMLExporter(require_js_url="", mathjax_url="", mermaid_js_url="",
                                      mermaid_layout_elk_js_url="", jquery_url="", widget_renderer_url="")
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    html = tmp_path / "tour.html"
    html.write_text(body, encoding="utf-8")
    remote = re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["'](https?://[^"']+)""", body)
    assert remote == [], remote
    # no CDN script or stylesheet anywhere (a non-inline bokeh/panel load lists them; panel's theme CSS
    # would be linked from each plot's model); bokeh's own inline code keeps a MathJax URL it fetches only for
    # LaTeX labels, which these plots do not have (the browser check below)
    assert not re.findall(r"https://cdn\.(?:bokeh\.org|holoviz\.org)[^\"'\s]*\.(?:js|css)", body)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page, refused = _offline_page(browser, "file://")
            page.goto(html.as_uri(), wait_until="load")
            page.wait_for_function("() => window.Bokeh && Bokeh.index && Object.keys(Bokeh.index).length >= 3",
                                   timeout=60_000)
            boxes = [c.bounding_box() for c in page.locator("canvas").all()]  # pierces bokeh's shadow DOM
            assert sum(1 for b in boxes if b and b["width"] > 100 and b["height"] > 100) >= 3, boxes
            # nothing asked of the network: no script, no stylesheet (panel's loading.css, listpanel.css and theme
            # CSS are inline since workbench.app.offline), no font
            assert refused == [], refused
        finally:
            browser.close()

