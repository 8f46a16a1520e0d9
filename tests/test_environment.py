"""environment.yml (conda) and pyproject.toml (pip) name the same packages with the same floors."""

import importlib.util
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("environment_yml", ROOT / "scripts" / "environment_yml.py")
environment_yml = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(environment_yml)


def test_environment_yml_is_generated_from_pyproject():
    assert (ROOT / "environment.yml").read_text(encoding="utf-8") == environment_yml.render(), (
        "environment.yml is stale: python scripts/environment_yml.py > environment.yml")


def test_every_pyproject_requirement_is_in_environment_yml_with_its_floor():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))["dependencies"]
    flat = [d for d in env if isinstance(d, str)] + next(d["pip"] for d in env if isinstance(d, dict))
    for spec in environment_yml.requirements():
        floor = spec.partition(">=")[2]
        assert floor, f"{spec}: every requirement in pyproject.toml has a version floor"
        assert any(entry.endswith(f">={floor}") and entry.split(">=")[0] in (
            spec.split(">=")[0].split("[")[0].lower(), environment_yml.CONDA_NAMES.get(spec.split(">=")[0], ""))
            for entry in flat), f"{spec} missing from environment.yml"


def test_the_code_uses_no_private_zarr_module():
    hits = [str(p) for p in (ROOT / "workbench").rglob("*.py") if "zarr.core" in p.read_text(encoding="utf-8")]
    assert not hits, hits
