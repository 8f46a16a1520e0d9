"""Writes environment.yml (the conda route) from pyproject.toml (the pip route), so the two cannot drift.

``python scripts/environment_yml.py > environment.yml``; tests/test_environment.py checks the file is current.
Every dependency of the core install and of the ``dev`` extra, with its version floor, under its conda-forge
name; packages conda-forge does not carry go to the pip section.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pvlib": "pvlib-python", "dask[array]": "dask", "psycopg[binary]": "psycopg"}
PIP_ONLY = {"bai2", "nrel-pysam"}  # not on conda-forge


def requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    wanted = list(project["dependencies"])
    for spec in extras["dev"]:
        for name in re.search(r"\[(.*)\]", spec).group(1).split(","):
            wanted += extras[name.strip()]
    return wanted


def render() -> str:
    conda, pip = [], []
    for spec in requirements():
        name, floor = re.match(r"([A-Za-z0-9_.\-\[\]]+)\s*(.*)", spec).groups()
        if name in PIP_ONLY:
            pip.append(f"{name}{floor}")
        else:
            conda.append(f"{CONDA_NAMES.get(name, name.lower())}{floor}")
    lines = ["# Generated from pyproject.toml by scripts/environment_yml.py; do not edit (tests check it).",
             "# conda users: `conda env create -f environment.yml && conda activate rate-workbench`",
             "name: rate-workbench", "channels:", "  - conda-forge", "dependencies:", "  - python>=3.11"]
    lines += [f"  - {c}" for c in conda] + ["  - pip", "  - pip:"] + [f"      - {p}" for p in pip] + ["      - -e ."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
