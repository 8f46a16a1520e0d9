"""Notebooks are production code paths: executed with papermill on small data, parameters checked."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill as pm
import pytest

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


@pytest.mark.notebook
def test_tour_parameters_contract():
    params = pm.inspect_notebook(str(NOTEBOOKS / "tour.ipynb"))
    assert {"cube", "n_meters", "tariffs", "out", "seed"} <= set(params)
    assert params["n_meters"]["inferred_type_name"] == "int"


@pytest.mark.notebook
def test_committed_notebooks_have_no_outputs():
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name}: strip outputs before committing"


@pytest.mark.notebook
@pytest.mark.slow
def test_tour_runs_on_a_small_sample(tmp_path):
    executed = tmp_path / "tour.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS / "tour.ipynb"), str(executed), cwd=str(NOTEBOOKS), kernel_name="python3",
        parameters={"cube": str(tmp_path / "cube.zarr"), "n_meters": 60, "out": str(tmp_path / "cycle")},
        progress_bar=False,
    )
    nb = nbformat.read(executed, as_version=4)
    text = "\n".join(
        str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
        for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
    )
    assert "Billed 60 of 60 meters" in text
    # the plots rendered (HoloViews/Bokeh outputs carry an application/vnd.holoviews or html payload)
    plots = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
             if any("holoviews" in k or k == "text/html" for k in out.get("data", {}))]
    assert len(plots) >= 3
    assert (tmp_path / "cycle" / "bills.parquet").exists()

# the billing-cycle notebook (an audited run of `workbench run-cycle`) is tested in tests/test_runs_cycle.py
