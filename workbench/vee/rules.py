"""The VEE rules: codes, flag bits, estimation methods and their ESPI quality codes (docs/vee.md)."""

from __future__ import annotations

from workbench.errors import WorkbenchError
from workbench.kernels import vee_codes as k


class VeeError(WorkbenchError):
    """VEE cannot run as asked (a bad configuration file, register reads that do not fit the cube...)."""


#: rule code -> (bit in ``vee_flags``, what it means). Bits are stable: never renumber.
RULES = {
    "MISSING": (k.MISSING, "no read for an interval in the meter's active range"),
    "NEGATIVE": (k.NEGATIVE, "negative energy on the delivered or received channel"),
    "SPIKE": (k.SPIKE, "interval above spike.ratio x the day's third-highest interval"),
    "HIGH_USE": (k.HIGH_USE, "day's use above high_low.high_ratio x the meter's recent average daily use"),
    "LOW_USE": (k.LOW_USE, "day's use below high_low.low_ratio x the meter's recent average daily use"),
    "FLATLINE": (k.FLATLINE, "identical delivered reads for at least flatline.min_minutes"),
    "ZERO_USE": (k.ZERO_USE, "a whole day with nothing delivered or received on an active meter"),
    "REVERSE_FLOW": (k.REVERSE_FLOW, "energy received from the customer on a meter with no net-metering program"),
    "INACTIVE": (k.INACTIVE, "a read outside the meter's install/removal dates"),
    "REGISTER_MISMATCH": (k.REGISTER_MISMATCH, "interval sum disagrees with the register reads"),
    "NOT_ESTIMATED": (k.NOT_ESTIMATED, "failed validation but no estimate was possible (no neighbours, no like days)"),
    "IMPLAUSIBLE": (k.IMPLAUSIBLE, "a read above the meter's physical limit (registry max_kw or the class default): "
                                   "withheld, never estimated, the bill period held"),
}

#: input-level rules, checked on the reads before they reach the cube (no bit: the cube cannot hold them)
INPUT_RULES = {
    "DUPLICATE_IDENTICAL": "the same (meter, channel, interval) read more than once with the same value",
    "DUPLICATE_CONFLICT": "the same (meter, channel, interval) read more than once with different values",
    "INTERVAL_LENGTH": "a read whose interval length differs from the cube's step",
}

RULE_BY_BIT = {bit: code for code, (bit, _) in RULES.items()}
RULE_CODES = [RULE_BY_BIT[b] for b in range(k.N_RULE_BITS)]

#: rules whose failing intervals may be estimated (action: estimate); the others are flag-only
ESTIMABLE_RULES = ("MISSING", "NEGATIVE", "SPIKE", "FLATLINE")
#: the order in which an edit names its cause when several rules failed
EDIT_RULE_ORDER = ("IMPLAUSIBLE", "MISSING", "NEGATIVE", "SPIKE", "FLATLINE")

#: method code -> (name, ESPI QualityOfReading code, meaning)
METHODS = {
    k.METHOD_NONE: ("none", None, "not estimated by VEE"),
    k.METHOD_LINEAR: ("linear", 9, "linear interpolation between the valid neighbours"),
    k.METHOD_LIKE_DAY: ("like_day", 8, "average of the same interval on previous like days"),
    k.METHOD_FLAT_FILL: ("flat_fill", 9, "one-sided gap: the one valid neighbour repeated"),
    k.METHOD_SOURCE: ("source_estimate", 8, "estimated before VEE (quality 1 in the input)"),
    k.METHOD_WITHHELD: ("withheld", None, "an implausible read removed (no value, quality 2); never estimated"),
}
METHOD_NAMES = {code: name for code, (name, _, _) in METHODS.items()}

FLAG_ATTRS = {
    "long_name": "VEE validation flags (bitmask)",
    "flag_masks": [1 << RULES[c][0] for c in RULE_CODES],  # CF: numbers (older cubes hold a string)
    "flag_meanings": " ".join(c.lower() for c in RULE_CODES),
    "description": "see docs/vee.md",
}
METHOD_ATTRS = {
    "long_name": "VEE estimation method",
    "flag_values": [int(c) for c in METHODS],  # CF: numbers (older cubes hold a string)
    "flag_meanings": " ".join(name for name, _, _ in METHODS.values()),
    "description": "see docs/vee.md",
}


def bit(code: str) -> int:
    """The ``vee_flags`` mask of a rule code, e.g. ``bit("SPIKE") == 4``."""
    return 1 << RULES[code][0]
