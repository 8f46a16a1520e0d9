"""Start-up of a one-shot bill run: what ``import workbench.billing.cycle`` leaves out, and the lazy VEE package."""

import subprocess
import sys
from pathlib import Path

import pytest

import workbench.vee as vee

REPO = Path(__file__).resolve().parents[1]


LEFT_OUT = ('jinja2', 'workbench.vee.engine', 'workbench.vee.store', 'workbench.vee.report', 'workbench.vee.faults',
            'xarray', 'dask')


def test_bill_run_imports_leave_out_vee_engine_report_and_store():
    """Bug caught: an eager ``from workbench.vee.report import ...`` back in the package (Jinja2, zarr, the VEE
    engine at every one-shot command's start-up), or an ``import xarray`` back at the top of a module a bill run
    imports (``workbench.ami``'s package, ``cube_schema``, ``cube_calendar``, ``engine.cube``...)."""
    code = f"import sys, workbench.billing.cycle; print(sorted(m for m in {LEFT_OUT!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_cycle_plans_without_xarray_or_dask(tmp_path):
    """Bug caught: the plan opening the cube through xarray again (``open_run_cube`` for ``open_plan_cube``), which
    imports xarray, and dask and Jinja2 when it decodes the time coordinate (~0.5 s before the first chunk)."""
    from workbench.sample import generate_sample_utility

    cube = tmp_path / "cube.zarr"
    generate_sample_utility(cube, n_meters=6, year=2025, seed=3, meter_chunk=3, progress=False, months=(10, 10))
    code = ("import sys; from workbench.billing.cycle_plan import plan_cycle; from workbench.billing.chunk_data import "
            f"read_task; p = plan_cycle(sys.argv[1], {str(REPO / 'tariffs')!r}, sys.argv[2]); "
            "[read_task(p.plan, t) for t in p.tasks]; "
            f"print(len(p.tasks), sorted(m for m in {LEFT_OUT!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(cube), str(tmp_path / "out")], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "2 []"


def test_every_public_vee_name_resolves_to_its_module():
    """Bug caught: a name in ``__all__`` mapped to the wrong module (an AttributeError at first use)."""
    import importlib

    for name in vee.__all__:
        value = getattr(vee, name)
        assert value is getattr(importlib.import_module(f"workbench.vee.{vee._HOMES[name]}"), name)
    assert set(vee.__all__) == set(vee._HOMES)
    assert set(vee.__all__) <= set(dir(vee))


def test_unknown_vee_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        vee.no_such_name  # noqa: B018
    with pytest.raises(ImportError):
        exec("from workbench.vee import no_such_name")
