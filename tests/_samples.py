"""Where the public Green Button sample feeds are (see ../shared/data/greenbutton/SOURCES.md).

They live beside the project (``../shared/data/greenbutton`` from the repository root), or wherever
``WORKBENCH_GREENBUTTON_SAMPLES`` points; the tests that read them say so when they are absent.
"""

from __future__ import annotations

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
_CANDIDATES = [os.environ.get("WORKBENCH_GREENBUTTON_SAMPLES", ""), _ROOT.parent / "shared" / "data" / "greenbutton",
               Path("/work/shared/data/greenbutton")]
GREENBUTTON_SAMPLES = next((Path(p) for p in _CANDIDATES if p and Path(p, "SOURCES.md").exists()),
                           Path("/work/shared/data/greenbutton"))
