"""Start-up of a one-shot bill run: what ``import workbench.billing.cycle`` leaves out, and the lazy VEE package."""

import subprocess
import sys

import pytest

import workbench.vee as vee


def test_bill_run_imports_leave_out_vee_engine_report_and_store():
    """Bug caught: an eager ``from workbench.vee.report import ...`` back in the package (Jinja2, zarr, the VEE
    engine at every one-shot command's start-up)."""
    code = ("import sys, workbench.billing.cycle; "
            "print(sorted(m for m in ('jinja2', 'workbench.vee.engine', 'workbench.vee.store', "
            "'workbench.vee.report', 'workbench.vee.faults') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


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
