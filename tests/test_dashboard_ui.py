"""The NEM 2.0 vs 3.0 dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

Needs ``apt-get install chromium`` (``/usr/bin/chromium``) and ``pip install playwright`` (no ``playwright
install``: the system browser is used through ``executable_path``).
"""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _fixtures import free_port

from workbench.app.nem_app import serve
from workbench.design.nem_study import StudyData
from workbench.sample import utility_time_axis

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TZ = "America/New_York"
# the plot titles on the page; none (not an error) until bokeh has loaded and embedded its document, so a
# wait_for_function on them polls instead of failing at once on a page still starting (seen under load)
PLOT_TITLES = ("() => (window.Bokeh && Bokeh.documents && Bokeh.documents.length"
               " ? [...Bokeh.documents[0].all_models]"
               ".filter(m => m.constructor.__name__ == 'Title').map(m => m.text) : [])")

pytestmark = [pytest.mark.ui,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (/usr/bin/chromium)")]



@pytest.fixture(scope="module")
def served():
    utc = utility_time_axis(2025).astype("datetime64[m]")
    hour = pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(TZ).hour.to_numpy()
    shape = np.where((hour >= 17) & (hour < 22), 0.6, 0.2).astype(np.float32)
    scale = np.random.default_rng(5).uniform(0.4, 2.0, 40).astype(np.float32)
    study = StudyData.from_arrays(utc, 15, shape[None, :] * scale[:, None], None, ["RES"] * 40, timezone=TZ,
                                  sizes=(0, 3, 5, 7))
    port = free_port()
    sessions = []
    server = serve(port, study=study, on_session=sessions.append)
    deadline = time.time() + 20
    while time.time() < deadline:  # wait until the server accepts connections
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/", sessions
    server.stop()


def savings_row(page) -> str:
    return page.locator("tr", has_text="mean annual savings").first.inner_text()


def test_page_loads_and_a_size_change_updates_numbers_and_plot(served, tmp_path):
    url, sessions = served
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1100})
            page.goto(url, wait_until="networkidle")
            page.get_by_text("Re-priced 40 customers").wait_for(timeout=30_000)
            page.wait_for_function(f"() => ({PLOT_TITLES})().length > 0", timeout=30_000)
            store = sessions[-1].store
            assert page.evaluate(PLOT_TITLES) == ["RES annual bills, 5 kW DC, 2025 vintage, energy rates x1"]
            before = savings_row(page)
            h = store.headline()
            assert f"${h['mean_savings_nem2']:,.0f}" in before and f"${h['mean_savings_nem3']:,.0f}" in before
            page.screenshot(path=str(tmp_path / "nem-dashboard-5kw.png"), full_page=True)

            # the system size widget: the <select> offering the scanned sizes
            size = next(s for s in page.locator("select").all() if "7.0" in s.locator("option").all_inner_texts())
            size.select_option("7.0")
            page.get_by_text("per participant, 7 kW DC").wait_for(timeout=10_000)
            page.wait_for_function(f"() => ({PLOT_TITLES})().some(t => t.includes('7 kW DC'))", timeout=10_000)
            assert store.size_kw == 7.0  # the browser changed the server-side store
            after = savings_row(page)
            h7 = store.headline()
            assert after != before and f"${h7['mean_savings_nem3']:,.0f}" in after
            assert h7["mean_savings_nem3"] > h["mean_savings_nem3"]

            # the vintage widget: NEM 3.0 numbers change, the plot title follows
            vintage = next(s for s in page.locator("select").all() if "2022" in s.locator("option").all_inner_texts())
            vintage.select_option("2022")
            page.wait_for_function(f"() => ({PLOT_TITLES})().some(t => t.includes('2022 vintage'))", timeout=10_000)
            assert store.vintage == 2022
            expected = f"${store.headline()['mean_savings_nem3']:,.0f}"
            page.locator("tr", has_text="mean annual savings").filter(has_text=expected).wait_for(timeout=10_000)
            assert savings_row(page) != after
            page.screenshot(path=str(tmp_path / "nem-dashboard-7kw-2022.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "nem-dashboard-7kw-2022.png").stat().st_size > 10_000


def test_page_shows_its_plot_with_the_network_off(served):
    """Every request off 127.0.0.1 refused (an isolated network): the page still loads bokeh and draws the
    plot, so its resources come from the workbench's own server, not a CDN."""
    url, _ = served
    refused = []

    def route(r):
        if r.request.url.startswith(url.rstrip("/")) or r.request.url.startswith(("data:", "ws://127.0.0.1")):
            return r.continue_()
        refused.append(r.request.url)
        return r.abort()

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1100})
            page.route("**/*", route)
            page.goto(url, wait_until="networkidle")
            page.wait_for_function(f"() => ({PLOT_TITLES})().length > 0", timeout=30_000)
            boxes = [c.bounding_box() for c in page.locator("canvas").all()]  # pierces bokeh's shadow DOM
            assert any(b and b["width"] > 100 and b["height"] > 100 for b in boxes), boxes
        finally:
            browser.close()
    assert refused == [], refused
