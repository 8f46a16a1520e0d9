"""A tariff file with only its edited values rewritten: comments, key order, quoting and flow style kept.

A rate analyst's tariff files carry comments (the filed sheet a price comes from, why a block limit is what it
is), and a proposed book is read next to the present one by people who diff them. So a proposal is written by
loading the present file with ``ruamel.yaml``'s round-trip loader and writing each value the edits changed into
that tree, leaving every equal value (and its comment) as it stands. A list whose length changed (a new block) is
replaced, in the old list's flow style.
"""

from __future__ import annotations

import datetime as dt
import io

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq


def _yaml() -> YAML:
    out = YAML()  # round trip
    out.preserve_quotes = True
    out.width = 4096  # a changed flow line stays one line, as it was
    out.indent(mapping=2, sequence=4, offset=2)  # "  - item" under its key, as the sample book is written
    return out


def _same(old, new) -> bool:
    """Equal as values of the same kind (1 is not True, 1.0 is 1, a date is its ISO text)."""
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    if isinstance(old, (dt.date, dt.datetime)):
        return old.isoformat() == new
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        return float(old) == float(new)
    return type(old) is type(new) and old == new


def _like(old, new):
    """``new`` (plain data) as a node in ``old``'s style: a list in flow style when ``old`` was one."""
    if isinstance(new, list):
        seq = CommentedSeq(_like(old[0] if isinstance(old, list) and old else None, v) for v in new)
        if isinstance(old, CommentedSeq) and old.fa.flow_style():
            seq.fa.set_flow_style()
        return seq
    if isinstance(new, dict):
        node = CommentedMap((k, _like(old.get(k) if isinstance(old, dict) else None, v)) for k, v in new.items())
        if isinstance(old, CommentedMap) and old.fa.flow_style():
            node.fa.set_flow_style()
        return node
    return new


def _merge(old, new):
    """``old`` (a round-trip node) with ``new``'s values where they differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [k for k in old if k not in new]:
            del old[key]
        for key, value in new.items():
            old[key] = _merge(old[key], value) if key in old else _like(None, value)
        return old
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, value in enumerate(new):
            old[i] = _merge(old[i], value)
        return old
    if isinstance(old, (dict, list)) or isinstance(new, (dict, list)):
        return _like(old, new)
    return old if _same(old, new) else new


def edited_text(original: str | None, data) -> str:
    """``original`` (a tariff file's text) with the values of ``data`` (the edited tariff as plain data: dates
    as ISO text) written in; with no original, ``data`` written plainly."""
    if original is None:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
    writer = _yaml()
    tree = _merge(writer.load(original), data)
    out = io.StringIO()
    writer.dump(tree, out)
    return out.getvalue()
