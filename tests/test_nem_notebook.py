"""The NEM 2.0 vs 3.0 impact notebook: its parameter contract, and a run on a tiny sample with papermill."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "nem_impact.ipynb"


@pytest.mark.notebook
def test_nem_impact_parameters_contract():
    params = pm.inspect_notebook(str(NOTEBOOK))
    assert {"cube", "n_meters", "customer_class", "system_sizes", "size_kw", "vintage", "cost_per_watt",
            "rate_multiplier", "out"} <= set(params)
    assert params["n_meters"]["inferred_type_name"] == "int"
    assert params["cost_per_watt"]["inferred_type_name"] == "float"
    assert params["system_sizes"]["inferred_type_name"] == "list"
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "strip outputs before committing"


@pytest.mark.notebook
@pytest.mark.slow
def test_nem_impact_runs_on_a_tiny_sample(tmp_path):
    executed = tmp_path / "nem_impact.ipynb"
    out = tmp_path / "study"
    pm.execute_notebook(
        str(NOTEBOOK), str(executed), cwd=str(NOTEBOOK.parent), kernel_name="python3", progress_bar=False,
        parameters={"cube": str(tmp_path / "cube.zarr"), "n_meters": 60, "system_sizes": [0.0, 3.0, 6.0],
                    "size_kw": 6.0, "vintage": 2022, "out": str(out)},
    )
    nb = nbformat.read(executed, as_version=4)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "RES:" in text and "Wrote" in text
    # three plots: bill distribution, savings by size, cost shift (HoloViews/Bokeh payloads)
    plots = [o for o in outputs if "application/vnd.holoviews_exec.v0+json" in o.get("data", {})]
    assert len(plots) >= 3
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["size_kw"]) == [3.0, 6.0]
    assert (summary["vintage"] == 2022).all()
    assert {"mean_savings_nem2", "mean_savings_nem3", "median_payback_nem3", "mean_cost_shift_nem3"} <= set(summary)
    customers = pd.read_csv(out / "customers.csv")
    assert len(customers) == summary["customers"].iloc[0] + customers["existing_solar"].sum()
    assert customers.loc[~customers["existing_solar"], "export_share"].between(0, 1).all()
