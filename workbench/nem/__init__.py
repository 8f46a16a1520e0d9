"""Net-metering programs: program files, export values, credits, carry-over and true-up.

Programs are data: YAML files in ``tariffs/programs/`` (see ``docs/net-metering.md``). For URDB tariffs
the five PySAM metering options are available by name.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from workbench.nem.programs import Program, ProgramError, TrueUp
from workbench.tariffs import read_yaml
from workbench.tariffs.checks import read_tariff_text

# PySAM Utilityrate5 ur_metering_option by name
PYSAM_OPTIONS = {
    "net-metering-kwh": 0,
    "net-metering-dollars": 1,
    "net-billing": 2,
    "net-billing-carryover": 3,
    "buy-all-sell-all": 4,
}
# URDB dgrules -> PySAM option name (as PySAM's URDB converter maps them)
DGRULES = {
    "net metering": "net-metering-kwh",
    "net billing instantaneous": "net-billing",
    "net billing hourly": "net-billing-carryover",
    "buy all sell all": "buy-all-sell-all",
}


def pysam_program(name: str, true_up_month: int = 12, yearend_sell_rate: float = 0.0) -> Program:
    """The program that mirrors PySAM's metering option ``name`` (docs/pysam-nem-conventions.md).

    Billed by ``workbench.nem.pysam_options``: option 0 banks kWh per ToU period and cashes out the excess kWh
    at ``yearend_sell_rate`` [$/kWh] in the true-up month; options 1-3 carry dollar credits (applied to the
    energy charge of the month earned) and pay the balance at face value at the true-up; option 4 sells all
    generation.
    """
    if name not in PYSAM_OPTIONS:
        raise ProgramError(f"{name!r} is not a PySAM metering option ({', '.join(PYSAM_OPTIONS)})")
    option = PYSAM_OPTIONS[name]
    true_up = TrueUp(month=true_up_month, kwh_rate=yearend_sell_rate,
                     leftover="pay" if option in (1, 2, 3) else "forfeit")
    kind = {0: "net_metering", 1: "net_metering", 2: "net_billing", 3: "net_billing", 4: "buy_all_sell_all"}[option]
    return Program(code=name, name=f"PySAM metering option {option} ({name})", kind=kind,
                   credits="kwh" if option == 0 else "dollars", offsets=["energy"], true_up=true_up,
                   pysam_option=option)


def load_program(source) -> Program:
    """A program from a YAML file (or a dict)."""
    if isinstance(source, Program):
        return source
    name = str(source)
    data = source
    if not isinstance(source, dict):
        path = Path(source)
        if not path.exists():
            raise ProgramError(f"{path}: program file not found")
        try:
            data = read_yaml(read_tariff_text(path, "program"))
        except yaml.YAMLError as exc:
            raise ProgramError(f"{path}: not valid YAML: {exc}") from None
    try:
        program = Program.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:10]:
            loc = ".".join(str(x) for x in err["loc"])
            msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{loc or '(top level)'}: {msg}")
        raise ProgramError(f"{name}: invalid net-metering program: " + "; ".join(problems)) from None
    program.__dict__["_base_dir"] = str(Path(source).parent) if not isinstance(source, dict) else None
    return program


def load_programs(directory) -> dict[str, Program]:
    """Every program file in a folder, by code."""
    out = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        program = load_program(path)
        if program.code in out:
            raise ProgramError(f"{path}: program code {program.code!r} is used twice")
        out[program.code] = program
    return out


__all__ = ["DGRULES", "PYSAM_OPTIONS", "Program", "ProgramError", "load_program", "load_programs", "pysam_program"]
