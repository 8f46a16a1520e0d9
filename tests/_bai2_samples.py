"""Where the real banks' BAI2 sample files are (see ../shared/data/bai2/SOURCES.md).

Beside the project (``../shared/data/bai2`` from the repository root), or wherever ``WORKBENCH_BAI2_SAMPLES``
points. On a machine without them the tests that need them FAIL with one clear message (never skip, never pass
vacuously over an empty list), as tests/_samples.py does for the Green Button feeds.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[1]
_CANDIDATES = [_ROOT.parent / "shared" / "data" / "bai2", Path("/work/shared/data/bai2")]
if os.environ.get("WORKBENCH_BAI2_SAMPLES"):  # where it points, and nowhere else
    _CANDIDATES = [Path(os.environ["WORKBENCH_BAI2_SAMPLES"])]
BAI2_SAMPLES = next((p for p in _CANDIDATES if Path(p, "SOURCES.md").exists()), _CANDIDATES[0])
MISSING = (f"the real BAI2 sample files are not in {BAI2_SAMPLES} (tried: {', '.join(str(p) for p in _CANDIDATES)}): "
           "set WORKBENCH_BAI2_SAMPLES to their folder")


def bai2_sample(name: str) -> Path:
    """One sample file's path; fails the test clearly when it is absent."""
    path = BAI2_SAMPLES / name
    if not path.is_file():
        pytest.fail(f"{path}: BAI2 sample not found; {MISSING}")
    return path


def all_bai2_samples(minimum: int = 2) -> list[Path]:
    """Every sample file, failing the test (not skipping it) when fewer than ``minimum``."""
    found = sorted(BAI2_SAMPLES.glob("*.bai2"))
    if len(found) < minimum:
        pytest.fail(f"{MISSING} (found {len(found)} .bai2 files, need {minimum})")
    return found
