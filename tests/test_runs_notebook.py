"""The billing-cycle notebook's parameter contract with `workbench run-cycle` (papermill.inspect_notebook)."""

from __future__ import annotations

from pathlib import Path

import papermill as pm
import pytest

from workbench.runs.execute import NOTEBOOK


@pytest.mark.notebook
def test_billing_cycle_parameters_are_what_run_cycle_passes():
    params = pm.inspect_notebook(str(NOTEBOOK))
    passed = {"cube", "tariffs", "cycle", "period", "db", "run_dir", "run_key", "rules", "batch_size", "pdfs",
              "documents", "code_version", "inputs_checksum"}
    assert passed == set(params)
    assert params["cycle"]["inferred_type_name"] == "int" and params["batch_size"]["inferred_type_name"] == "int"
    assert Path(NOTEBOOK).name == "billing_cycle.ipynb"
