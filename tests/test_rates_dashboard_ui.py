"""The rate-design dashboard (`workbench serve rates`) in a real headless Chromium, with no network: every
request to a host other than 127.0.0.1/localhost is aborted (and recorded: the page must make none)."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _fixtures import free_port

from workbench.app.rates_app import serve
from workbench.design.testyear import build_test_year
from workbench.sample import generate_sample_utility

playwright = pytest.importorskip("playwright.sync_api")
REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# the plot titles on the page; none (not an error) until bokeh has loaded and embedded its document, so a
# wait_for_function on them polls instead of failing at once on a page still starting (seen under load)
PLOT_TITLES = ("() => (window.Bokeh && Bokeh.documents && Bokeh.documents.length"
               " ? [...Bokeh.documents[0].all_models]"
               ".filter(m => m.constructor.__name__ == 'Title').map(m => m.text) : [])")

pytestmark = [pytest.mark.ui, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (/usr/bin/chromium)")]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("rates-ui")
    generate_sample_utility(root / "cube.zarr", n_meters=40, year=2025, meter_chunk=40, progress=False)
    build_test_year(root / "cube.zarr", REPO / "tariffs", 2025, root / "ty", progress=False)
    port = free_port()
    sessions = []
    server = serve(port, root / "ty", on_session=sessions.append, customer_class="RES", rate_code="RES-FLAT")
    deadline = time.time() + 20
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/", sessions
    server.stop()


def revenue_row(page, name: str) -> str:
    """The revenue table's row ``name`` (its cells joined by tabs)."""
    rows = [r for r in page.locator("tr").all_inner_texts() if r.split("\t")[0].strip() == name]
    return rows[0] if rows else ""


def test_offline_page_loads_and_a_price_change_moves_revenue_and_plot(served, tmp_path):
    url, sessions = served
    blocked = []

    def offline(route):
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1200})
            page.route("**/*", offline)
            page.goto(url, wait_until="networkidle")
            page.get_by_text("Re-priced").first.wait_for(timeout=30_000)
            page.wait_for_function(f"() => ({PLOT_TITLES})().length > 0", timeout=30_000)
            store = sessions[-1].store
            assert store.rate_code == "RES-FLAT"
            present = f"{store.revenue['present']:,.2f}"
            assert present in revenue_row(page, "present rates") and present in revenue_row(page, "proposed")
            titles_before = page.evaluate(PLOT_TITLES)
            assert any("mean +0.00%" in t for t in titles_before), titles_before
            page.screenshot(path=str(tmp_path / "rates-before.png"), full_page=True)

            # the energy price input (RES-FLAT: one price per kWh, $0.1215 in tariffs/RES-FLAT.yaml)
            energy = page.locator(".price-input input").nth(1)
            assert float(energy.input_value()) == pytest.approx(0.1215)
            energy.fill("0.1500")
            energy.press("Enter")
            deadline = time.time() + 15
            while store.revenue["proposed"] == store.revenue["present"] and time.time() < deadline:
                time.sleep(0.1)
            proposed = store.revenue["proposed"]
            assert proposed > store.revenue["present"]  # the browser's edit reached the server-side store
            page.locator("tr", has_text=f"{proposed:,.2f}").first.wait_for(timeout=10_000)
            assert f"{proposed:,.2f}" in revenue_row(page, "proposed")
            assert present in revenue_row(page, "present rates")
            mean = f"mean {store.customers['change_pct'].mean():+.2f}%"
            assert mean != "mean +0.00%"
            page.wait_for_function(f"() => ({PLOT_TITLES})().some(t => t.includes('{mean}'))", timeout=15_000)
            page.screenshot(path=str(tmp_path / "rates-after.png"), full_page=True)
        finally:
            browser.close()
    assert blocked == [], f"the page asked the network for {blocked[:5]}"
    assert (tmp_path / "rates-after.png").stat().st_size > 10_000
