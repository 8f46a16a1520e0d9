"""Under pytest-xdist (``make test``), the workers are handed the heavy test files first.

``make test`` runs ``-n auto --dist loadfile --no-loadscope-reorder``: each file goes whole to one worker
(its module fixtures are built once), in collection order. A file of minutes (the audited cycle runs, the
notebooks, the filing) handed out last would keep one worker busy while the other sits idle, so on a worker
the files holding a slow, notebook, oracle or ui test are collected first, each file's own order kept.
A plain ``pytest`` (one process, no xdist worker) keeps the usual order.
"""

from __future__ import annotations

HEAVY = ("slow", "notebook", "oracle", "ui")


def pytest_collection_modifyitems(config, items):
    if not hasattr(config, "workerinput"):
        return
    heavy = {item.path for item in items if any(item.get_closest_marker(mark) for mark in HEAVY)}
    items.sort(key=lambda item: item.path not in heavy)  # a stable sort: a file's tests stay in their order
