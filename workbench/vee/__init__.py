"""VEE: validation, estimation and editing of interval data, between the interval cube and billing.

See ``docs/vee.md``: the rules and their codes, the defaults (``defaults.yaml``), the estimation methods and
their ESPI quality codes, and the bill-ready rule.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names below, for readers and type checkers; at run time they load on first use
    from workbench.vee.billready import bill_ready, held_table, period_quality, ready_verdict
    from workbench.vee.calendar import active_ranges, vee_calendar
    from workbench.vee.config import VeeConfig, load_config
    from workbench.vee.engine import VeeResult, run_vee
    from workbench.vee.faults import fault_rates, inject_faults, score_faults
    from workbench.vee.inputs import (
        CONFLICTING,
        IDENTICAL,
        UNIQUE,
        classify_duplicates,
        input_exceptions,
        register_check,
        wrong_interval_length,
    )
    from workbench.vee.report import write_report
    from workbench.vee.rules import INPUT_RULES, METHODS, RULES, VeeError, bit
    from workbench.vee.store import audit_dir, read_edits, vee_cube
    from workbench.vee.summary import VeeSummary
    from workbench.vee.tables import EDITS_SCHEMA, EXCEPTIONS_SCHEMA

# Each public name and the module that defines it. The package loads a module on first use of one of its
# names (PEP 562), so a bill run, which needs only the bill-ready verdict and the configuration, does not
# import the VEE engine, its store, its report (Jinja2) and its fault injector (~0.07 s of every one-shot
# command).
_HOMES = {
    "bill_ready": "billready",
    "held_table": "billready",
    "period_quality": "billready",
    "ready_verdict": "billready",
    "active_ranges": "calendar",
    "vee_calendar": "calendar",
    "VeeConfig": "config",
    "load_config": "config",
    "VeeResult": "engine",
    "run_vee": "engine",
    "fault_rates": "faults",
    "inject_faults": "faults",
    "score_faults": "faults",
    "CONFLICTING": "inputs",
    "IDENTICAL": "inputs",
    "UNIQUE": "inputs",
    "classify_duplicates": "inputs",
    "input_exceptions": "inputs",
    "register_check": "inputs",
    "wrong_interval_length": "inputs",
    "write_report": "report",
    "INPUT_RULES": "rules",
    "METHODS": "rules",
    "RULES": "rules",
    "VeeError": "rules",
    "bit": "rules",
    "audit_dir": "store",
    "read_edits": "store",
    "vee_cube": "store",
    "VeeSummary": "summary",
    "EDITS_SCHEMA": "tables",
    "EXCEPTIONS_SCHEMA": "tables",
}


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'workbench.vee' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"workbench.vee.{home}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_HOMES))


__all__ = [
    "CONFLICTING",
    "EDITS_SCHEMA",
    "EXCEPTIONS_SCHEMA",
    "IDENTICAL",
    "INPUT_RULES",
    "METHODS",
    "RULES",
    "UNIQUE",
    "VeeConfig",
    "VeeError",
    "VeeResult",
    "VeeSummary",
    "active_ranges",
    "audit_dir",
    "bill_ready",
    "bit",
    "classify_duplicates",
    "fault_rates",
    "held_table",
    "inject_faults",
    "input_exceptions",
    "load_config",
    "period_quality",
    "read_edits",
    "ready_verdict",
    "register_check",
    "run_vee",
    "score_faults",
    "vee_calendar",
    "vee_cube",
    "wrong_interval_length",
    "write_report",
]
