"""The PySAM oracle: without nrel-pysam its tests FAIL, saying what to install (never skip silently).

Leave the oracle out on purpose with ``-m "not oracle"`` (its tests are marked ``oracle``).
"""

from __future__ import annotations

import importlib.util

import pytest

PYSAM_MISSING = None
try:
    if importlib.util.find_spec("PySAM") is None or importlib.util.find_spec("PySAM.Utilityrate5") is None:
        PYSAM_MISSING = "nrel-pysam is not installed"
except ImportError as exc:  # PySAM present but broken
    PYSAM_MISSING = f"PySAM cannot be imported: {exc}"


@pytest.fixture(autouse=True)
def _pysam_installed():
    if PYSAM_MISSING:
        pytest.fail(f"{PYSAM_MISSING}: the oracle needs it (pip install '.[oracle]'); "
                    "leave the oracle out with -m 'not oracle'")
