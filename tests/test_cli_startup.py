"""What ``workbench COMMAND`` loads before it starts: the wings only when the command may be theirs, and numba's
OpenMP threads set to sleep, not spin, between parallel regions (unless the user says otherwise).

Plausible one-line bugs caught: a wing imported at the top of cli.py again (every `workbench cycle` pays ~2 s of
pandas, SQLAlchemy, WeasyPrint: `test_own_command_does_not_import_the_wings`); the parser built without the
wings for a wing's command (`workbench ledger` unknown: `test_a_wings_command_still_parses`); the environment
overwritten instead of defaulted (`test_wait_policy_is_a_default`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent("""
    import os, sys
    from workbench.cli import main
    status = main(sys.argv[1:])
    wings = sorted(m for m in sys.modules if m.startswith(("workbench.cli_design", "workbench.cli_ledger",
                   "workbench.cli_filing", "workbench.cli_cos", "workbench.cli_runs", "workbench.cli_receivables")))
    print(status, os.environ.get("OMP_WAIT_POLICY"), ",".join(wings) or "-")
""")


def _probe(*argv: str, env: dict | None = None) -> list[str]:
    full = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}  # the default, unless env sets it
    full.update(PYTHONPATH=str(ROOT), **(env or {}))
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=full, cwd=ROOT,
                         timeout=120)
    return out.stdout.split()


def test_own_command_does_not_import_the_wings(tmp_path):
    status, policy, wings = _probe("cycle", "--cube", str(tmp_path / "no-such.zarr"), "--out", str(tmp_path / "o"))
    assert status == "2"  # refused: the cube does not exist
    assert wings == "-"
    assert policy == "PASSIVE"


def test_a_wings_command_still_parses(tmp_path):
    status, _, wings = _probe("ledger", "check", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert status in ("0", "2")  # a usage error would have exited inside parse_args, printing nothing here
    assert "workbench.cli_ledger" in wings


def test_wait_policy_is_a_default(tmp_path):
    _, policy, _ = _probe("cycle", "--cube", str(tmp_path / "no-such.zarr"), "--out", str(tmp_path / "o"),
                          env={"OMP_WAIT_POLICY": "ACTIVE"})
    assert policy == "ACTIVE"
