"""notebooks/rate_design.ipynb: its parameters, and a papermill run on a 200-meter sample utility."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill as pm
import pytest

from workbench.tariffs import load_tariff

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "rate_design.ipynb"


@pytest.mark.notebook
def test_rate_design_parameters_contract():
    params = pm.inspect_notebook(str(NOTEBOOK))
    assert {"cube", "n_meters", "tariffs", "test_year", "out", "study_class", "energy_scale", "customer_charge",
            "requirement_change_pct"} <= set(params)
    assert params["n_meters"]["inferred_type_name"] == "int"
    assert params["requirement_change_pct"]["inferred_type_name"] == "float"


@pytest.mark.notebook
@pytest.mark.slow
def test_rate_design_runs_on_a_small_sample(tmp_path):
    executed = tmp_path / "rate_design.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(executed), cwd=str(NOTEBOOK.parent), kernel_name="python3",
                        parameters={"cube": str(tmp_path / "cube.zarr"), "n_meters": 200, "out": str(tmp_path / "rd")},
                        progress_bar=False)
    nb = nbformat.read(executed, as_version=4)
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    text = "\n".join(str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", "")) for out in outputs)
    assert "the lines cross-foot" in text
    assert "recovers it to the cent" in text and "residual $+0.00" in text
    # the net-metering customers are kept in the determinants and priced beside, never in excluded.csv: the
    # notebook says how many there are and that its tables leave them out (it said they were in excluded.csv)
    assert "net-metering customers (on RES-TOU) settle credits under their programs and are not in them" in text
    assert "are listed in" not in text
    # the solved book is written with the prices rounded as filed, and says what the rounding costs
    assert "rounded book: revenue $" in text and "the test year's bills before that day keep" in text
    assert len(str(load_tariff(tmp_path / "rd" / "solved-tariffs" / "RES-TOU.yaml").versions[-1].charges[1]
                   .rates.flat[0]).partition(".")[2]) <= 5
    # the plots are PNG images in the notebook (offline): load shapes, bill distributions, impacts
    assert sum("image/png" in out.get("data", {}) for out in outputs) >= 3
    assert not any("<script src=\"http" in str(out.get("data", {}).get("text/html", "")) for out in outputs)
    assert (tmp_path / "rd" / "solved-tariffs" / "RES-TOU.yaml").exists()
