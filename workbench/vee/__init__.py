"""VEE: validation, estimation and editing of interval data, between the interval cube and billing.

See ``docs/vee.md``: the rules and their codes, the defaults (``defaults.yaml``), the estimation methods and
their ESPI quality codes, and the bill-ready rule.
"""

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
