"""VEE of the reactive channel (lagging kVARh): validation only, no estimation.

For every meter the cube says records kVARh (``has_reactive``), per local day:

- ``REACTIVE_GAP``: intervals without a kVARh read. Not estimated: a bill period with one is refused for a tariff
  that needs kVARh, with the reason (never billed at power factor 1); fix the feed or re-read the meter.
- ``REACTIVE_NEGATIVE``: negative kVARh (the ingest rejects them; a cube written by other means may hold some).
- ``REACTIVE_WITHOUT_ENERGY``: a kVARh read where the energy is missing (quality 2 before VEE): noted, because the
  power factor of such an interval rests on an estimated kWh once VEE fills the energy gap.

Meters without kVARh get no exception: no reactive data is not a fault. See ``docs/reactive-power.md``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from workbench.ami.cube_schema import QUALITY_MISSING
from workbench.vee.calendar import VeeCalendar
from workbench.vee.tables import EXCEPTIONS_SCHEMA

REACTIVE_RULES = {
    "REACTIVE_GAP": "{n} of {nd} intervals without a kVARh read (not estimated: a bill period with a gap is refused "
                    "for tariffs that need kVARh)",
    "REACTIVE_NEGATIVE": "{n} negative kVARh read(s) (lagging kVARh is 0 or more)",
    "REACTIVE_WITHOUT_ENERGY": "{n} kVARh read(s) where the energy is missing (their power factor rests on the "
                               "estimated kWh)",
}


def reactive_exceptions(meters, has_reactive, reactive_kvarh, quality, cal: VeeCalendar) -> pa.Table:
    """One exceptions row (``EXCEPTIONS_SCHEMA``) per meter with kVARh, rule and local day that fails the rule.

    ``reactive_kvarh`` (M, T) [kVARh], NaN = no read; ``quality`` (M, T) the energy quality before VEE.
    """
    rows = np.flatnonzero(np.asarray(has_reactive, bool))
    if not len(rows):
        return EXCEPTIONS_SCHEMA.empty_table()
    kvarh = np.asarray(reactive_kvarh, np.float64)[rows]
    read = ~np.isnan(kvarh)
    tests = {"REACTIVE_GAP": ~read,
             "REACTIVE_NEGATIVE": read & (np.nan_to_num(kvarh) < 0),
             "REACTIVE_WITHOUT_ENERGY": read & (np.asarray(quality)[rows] == QUALITY_MISSING)}
    starts = cal.day_start[:-1]
    lengths = cal.day_lengths
    out = {name: [] for name in EXCEPTIONS_SCHEMA.names}
    for rule, hit in tests.items():
        per_day = np.add.reduceat(hit.astype(np.int32), starts, axis=1) if hit.shape[1] else hit
        m_idx, d_idx = np.nonzero(per_day)
        for m, d in zip(m_idx.tolist(), d_idx.tolist(), strict=True):
            n = int(per_day[m, d])
            out["meter"].append(str(meters[rows[m]]))
            out["rule"].append(rule)
            out["day"].append(cal.days[d])
            out["count"].append(n)
            out["detail"].append(REACTIVE_RULES[rule].format(n=n, nd=int(lengths[d])))
    return pa.table({"meter": pa.array(out["meter"], pa.string()), "rule": pa.array(out["rule"], pa.string()),
                     "day": pa.array(np.asarray(out["day"], "datetime64[D]"), pa.date32()),
                     "count": pa.array(out["count"], pa.int32()), "detail": pa.array(out["detail"], pa.string())},
                    schema=EXCEPTIONS_SCHEMA)
