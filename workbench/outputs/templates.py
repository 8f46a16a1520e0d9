"""Jinja2 templates shipped as package data: one way to load them, always with autoescaping on.

A package keeps its templates beside its code (``workbench/vee/templates/``, ``workbench/documents/templates/``)
and asks :func:`template_environment` for an environment over that folder. Autoescaping is on for every
template (``select_autoescape`` would leave ``.j2`` files unescaped), so a customer name or a file name holding
``<script>`` prints as text. ``StrictUndefined`` makes a misspelt variable an error, not a blank on a bill.
"""

from __future__ import annotations

from functools import cache

import jinja2


@cache
def template_environment(package: str, folder: str = "templates") -> jinja2.Environment:
    """The Jinja2 environment over ``package``'s ``folder`` (autoescaped, strict undefined, trimmed blocks)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
