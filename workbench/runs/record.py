"""The record of a cycle run: its id, the inputs' checksums and the code version, kept under reports/runs/.

A run is named by what it bills: ``cycle<N>-<YYYY-MM>-<hash>``, the hash over the inputs' checksums (the cube's
version, every tariff file, the rules file, the notebook, the ledger it posts to). Running the same inputs
again finds the same folder, ``reports/runs/<run-id>/``, and adds its executed notebook beside the earlier
ones (``notebook-<UTC time>.ipynb``; nothing of an earlier execution is overwritten); ``record.json`` lists
every execution with its outcome.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from pathlib import Path

from workbench import __version__
from workbench.billing.cube_source import cube_fingerprint
from workbench.outputs import atomic_write_text, ensure_output_dir
from workbench.outputs.checksums import file_sha256

KIND = "cycle-run"  #: the output marker kind of a run's folder
PACKAGE_ROOT = Path(__file__).resolve().parents[2]



def folder_checksums(folder) -> dict[str, str]:
    """sha256 of every file under ``folder`` (hidden files skipped), by relative path."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): file_sha256(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def code_version() -> dict:
    """``workbench.__version__`` and, when the package sits in a git checkout, ``git describe --always --dirty``."""
    version = {"workbench": __version__, "git": None}
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=PACKAGE_ROOT,
                              capture_output=True, text=True, timeout=10, check=False)
        if done.returncode == 0:
            version["git"] = done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return version


def run_inputs(*, cube, tariffs, cycle, period, notebook, db_url: str, rules=None) -> dict:
    """The checksums that make a run: what it billed, under which rules, into which ledger."""
    return {"cycle": int(cycle), "period": str(period), "cube": cube_fingerprint(cube),
            "tariffs": folder_checksums(tariffs), "rules": file_sha256(rules) if rules else "defaults",
            "notebook": file_sha256(notebook), "ledger": db_url}


def run_id(inputs: dict) -> str:
    """``cycle<N>-<period>-<12 hex>``: the same inputs give the same id (the cube's write time included)."""
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"cycle{inputs['cycle']}-{inputs['period']}-{digest}"


def run_folder(root, rid: str) -> Path:
    """``root/<rid>``, created (or found: an earlier execution of the same run) as a run folder."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    return ensure_output_dir(root / rid, KIND, option="--reports")


def now_stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def read_record(folder) -> dict:
    path = Path(folder) / "record.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"executions": []}


def add_execution(folder, inputs: dict, execution: dict) -> dict:
    """Append one execution (notebook, started, finished, outcome) to ``record.json`` (written atomically)."""
    record = read_record(folder)
    record.update({"run_id": Path(folder).name, "inputs": inputs, "code_version": code_version()})
    record.setdefault("executions", []).append(execution)
    atomic_write_text(Path(folder) / "record.json", json.dumps(record, indent=2, default=str))
    return record
