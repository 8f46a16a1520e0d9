"""Notebooks that work offline: bokeh, HoloViz and panel's stylesheets travel inside the notebook, no CDN.

Call :func:`offline_notebook` in a notebook's first code cell, before ``import hvplot.pandas``. It loads bokeh
and HoloViz inline (``pn.config.inline``, ``hv.extension("bokeh", inline=True)``) and makes panel's own
stylesheets inline too: a plot displayed by HoloViews (an hvplot object as a cell's result) is rendered
through panel *without* panel's inline resource mode, so its model still links ``loading.css``,
``listpanel.css`` and the theme's CSS on cdn.holoviz.org (holoviz/panel pull request 7776, open). The hook
registered here replaces each such link by the file panel ships, with panel's own function for it, whenever
``pn.config.inline`` is set. An executed notebook's HTML export then asks nothing of the network.
"""

from __future__ import annotations

import holoviews as hv
import panel as pn
from bokeh.models import UIElement
from panel.io.notebook import patch_inline_stylesheets
from panel.viewable import Viewable


def _inline_stylesheets(viewable, root) -> None:
    """A panel preprocessing hook: every CDN stylesheet of the rendered model becomes the shipped CSS text."""
    if pn.config.inline:
        for model in root.select({"type": UIElement}):
            patch_inline_stylesheets(model)


def offline_notebook(*, logo: bool = False) -> None:
    """Load bokeh and HoloViz inline and keep panel's stylesheets inline (see the module's docstring)."""
    pn.config.inline = True
    hv.extension.inline = True
    # panel's extension point for rendering hooks (it registers its own, e.g. the HoloViews pane's axis links)
    if _inline_stylesheets not in Viewable._preprocessing_hooks:
        Viewable._preprocessing_hooks.append(_inline_stylesheets)
    hv.extension("bokeh", inline=True, logo=logo)
