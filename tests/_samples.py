"""Where the public Green Button sample feeds are (see ../shared/data/greenbutton/SOURCES.md).

They live beside the project (``../shared/data/greenbutton`` from the repository root), or wherever
``WORKBENCH_GREENBUTTON_SAMPLES`` points. Nothing here reads a feed at import time: ``sample_files`` and
``sample_bytes`` are called by the tests, and on a machine without the samples the tests that need them FAIL
with one clear message (never skip, never pass vacuously over an empty list).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[1]
_CANDIDATES = [_ROOT.parent / "shared" / "data" / "greenbutton", Path("/work/shared/data/greenbutton")]
if os.environ.get("WORKBENCH_GREENBUTTON_SAMPLES"):  # where it points, and nowhere else
    _CANDIDATES = [Path(os.environ["WORKBENCH_GREENBUTTON_SAMPLES"])]
GREENBUTTON_SAMPLES = next((p for p in _CANDIDATES if Path(p, "SOURCES.md").exists()), _CANDIDATES[0])
MISSING = (f"the public Green Button sample feeds are not in {GREENBUTTON_SAMPLES} (tried: "
           f"{', '.join(str(p) for p in _CANDIDATES)}): set WORKBENCH_GREENBUTTON_SAMPLES to their folder")


class _Missing:
    """The one parameter of a sample parametrization when there are no samples: its test fails, loudly."""

    name = "no-samples"

    def __fspath__(self):
        pytest.fail(MISSING)

    def __getattr__(self, attr):
        pytest.fail(MISSING)


def sample_files(pattern: str = "*.xml") -> list:
    """The sample feeds matching ``pattern``, sorted; never empty: without samples, one parameter whose test
    fails with ``MISSING`` (a parametrization over an empty list would pass, or skip, silently)."""
    found = sorted(GREENBUTTON_SAMPLES.glob(pattern))
    return found or [_Missing()]


def require_samples(minimum: int = 1, pattern: str = "*.xml") -> list[Path]:
    """Inside a test: the sample feeds, failing the test (not skipping it) when fewer than ``minimum``."""
    found = sorted(GREENBUTTON_SAMPLES.glob(pattern))
    if len(found) < minimum:
        pytest.fail(f"{MISSING} (found {len(found)} of {pattern}, need {minimum})")
    return found


@functools.cache
def sample_bytes(name: str) -> bytes:
    """One sample feed's bytes, read when a test first asks for them; fails the test clearly when absent."""
    path = GREENBUTTON_SAMPLES / name
    if not path.is_file():
        pytest.fail(f"{path}: sample feed not found; {MISSING}")
    return path.read_bytes()
