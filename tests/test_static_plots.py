"""Plots export to PNG and SVG without a browser driver (issue 11): HoloViews' matplotlib renderer, no
selenium, no Chromium, no network."""

from __future__ import annotations

import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("hvplot")


@pytest.mark.slow
def test_bill_distribution_saves_as_png_and_svg_without_a_browser(tmp_path, monkeypatch):
    import holoviews as hv

    from workbench.app.plots import bill_distribution, save_static

    def no_browser(*args, **kwargs):
        raise AssertionError(f"a process was started: {args[:1]}")

    def no_network(*args, **kwargs):
        raise AssertionError("a network connection was opened")

    # a browser driver would start a process (chromedriver, chromium) and talk to it over a socket
    monkeypatch.setattr(subprocess.Popen, "__init__", no_browser)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setitem(sys.modules, "selenium", None)
    hv.extension("bokeh")
    rng = np.random.default_rng(7)
    modelled = pd.DataFrame({"meter": [f"M{i}" for i in range(300)], "bill_no_solar": rng.normal(1500, 300, 300),
                             "bill_nem2": rng.normal(400, 200, 300), "bill_nem3": rng.normal(900, 250, 300)})
    plot = bill_distribution(modelled, "RES annual bills")
    png = save_static(plot, tmp_path / "bills.png")
    svg = save_static(plot, tmp_path / "bills.svg")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and png.stat().st_size > 5_000
    text = svg.read_text(encoding="utf-8")
    # matplotlib draws text as paths and keeps each string in a comment: the title and axis labels hvplot set
    assert "<svg" in text and "<!-- RES annual bills -->" in text and "<!-- annual bill [$] -->" in text
    assert "<!-- customers -->" in text and "<!-- NEM 3.0 -->" in text
    # the notebook's interactive backend is left as it was
    assert hv.Store.current_backend == "bokeh"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_a_static_plot_needs_a_known_suffix(tmp_path):
    from workbench.app.plots import save_static
    from workbench.errors import WorkbenchError

    with pytest.raises(WorkbenchError, match=r"bills.html: a static plot is written as .png, .svg, .pdf"):
        save_static(None, tmp_path / "bills.html")
