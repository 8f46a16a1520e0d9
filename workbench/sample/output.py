"""The folders ``workbench sample`` writes (the cube of ``--out``, the AMI export of ``--ami``) and what may be there.

Each is written only if it is new, empty, or an earlier output of the same kind (the marker file of
:mod:`workbench.outputs`), by staging beside it and renaming into place (:func:`workbench.outputs.guard.staged_output`).
Outputs written before the marker existed are recognised: a sample cube by its Zarr attributes (``synthetic``,
``generator`` naming :func:`workbench.sample.generate_sample_utility`), an AMI export by its file names.
Anything else (a user's folder, an ingested cube, a sample cube that reads were ingested into, the working
directory) is refused and left as it was.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.outputs import MARKER, check_output_dir
from workbench.outputs.guard import refuse_nested, refuse_working_dir

SAMPLE_KIND = "sample utility"
AMI_KIND = "sample AMI export"

_AMI_FILE = re.compile(r"reads-\d{4}-\d{2}\.parquet|meters\.csv|read-dates\.csv|faults\.json|interval-faults\.csv")


def _zarr_attributes(path: Path) -> dict:
    for name, key in (("zarr.json", "attributes"), (".zattrs", None)):
        try:
            meta = json.loads((path / name).read_text())
        except (OSError, ValueError):
            continue
        attrs = meta.get(key, {}) if key else meta
        return attrs if isinstance(attrs, dict) else {}
    return {}


def _legacy_sample_cube(path: Path) -> bool:
    if path.is_symlink() or not path.is_dir() or (path / MARKER).exists():
        return False
    attrs = _zarr_attributes(path)
    return attrs.get("synthetic") is True and str(attrs.get("generator", "")).startswith(
        "workbench.sample.generate_sample_utility(")


def check_sample_out(path, option: str = "--out") -> bool:
    """Refuse ``path`` unless ``workbench sample`` may write its cube there; True for a pre-marker sample cube."""
    path = Path(path)
    refuse_working_dir(path, SAMPLE_KIND, option)
    if (path / "_ingest").is_dir():  # a sample cube that real reads were loaded into is not the sample's any more
        raise WorkbenchError(f"{option} {path}: the cube holds reads loaded by workbench ingest (_ingest/), which a "
                             "new sample would delete; name a new folder for the sample utility (nothing was changed)")
    if _legacy_sample_cube(path):
        return True
    check_output_dir(path, SAMPLE_KIND, option)
    return False


def _legacy_ami(path: Path) -> bool:
    if path.is_symlink() or not path.is_dir() or (path / MARKER).exists():
        return False
    try:
        names = [p.name for p in path.iterdir()]
    except OSError:
        return False
    return "faults.json" in names and all(_AMI_FILE.fullmatch(n) for n in names)


def check_ami_out(path, option: str = "--ami") -> bool:
    """Refuse ``path`` unless the AMI export may be written there; True for a pre-marker AMI export."""
    path = Path(path)
    refuse_working_dir(path, AMI_KIND, option)
    if _legacy_ami(path):
        return True
    check_output_dir(path, AMI_KIND, option)
    return False


def check_sample_outputs(out, ami=None) -> None:
    """Check both folders of ``workbench sample --out OUT [--ami DIR]`` before anything is generated."""
    check_sample_out(out)
    if ami is not None:
        refuse_nested(ami, out, "the sample cube --out", option="--ami")
        check_ami_out(ami)


__all__ = ["AMI_KIND", "SAMPLE_KIND", "check_ami_out", "check_sample_out", "check_sample_outputs"]
