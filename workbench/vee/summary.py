"""What a VEE run's report needs, kept small: counts, per meter-day missing / estimated, exceptions."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.kernels import vee_codes as k
from workbench.vee.rules import RULE_CODES, RULES
from workbench.vee.tables import EXCEPTIONS_SCHEMA

_METHOD_COUNTS = ("ESTIMATED_LINEAR", "ESTIMATED_LIKE_DAY", "ESTIMATED_FLAT_FILL")


@dataclass
class VeeSummary:
    """A VEE run (one slice or a whole cube, chunk by chunk) as the report sees it.

    meters : (M,) meter ids; days : (D,) local dates
    missing_by_day / estimated_by_day : (M, D) int16 intervals without a read (before estimation) and
        intervals VEE estimated, per meter and local day
    counts : {rule: {"intervals", "meter_days", "meters"}}
    exceptions : pyarrow table (meter, rule, day, count, detail)
    held : held meter-periods (meter, period_start, period_end, intervals, estimated, missing, reason)
    meter_periods : meter-periods checked for bill-readiness
    faults : fault-injection scores (workbench.vee.faults.fault_rates) or None
    """

    meters: np.ndarray
    days: np.ndarray
    n_intervals: int
    missing_by_day: np.ndarray
    estimated_by_day: np.ndarray
    counts: dict
    exceptions: pa.Table
    edits: int
    seconds: float = 0.0
    held: pd.DataFrame | None = None
    meter_periods: int = 0
    faults: dict | None = None
    info: dict = field(default_factory=dict)

    @classmethod
    def from_result(cls, result) -> VeeSummary:
        dc = result.day_counts
        return cls(
            meters=result.meters, days=result.calendar.days, n_intervals=int(result.dataset.sizes["meter"]
                                                                              * result.dataset.sizes["time"]),
            missing_by_day=dc[RULES["MISSING"][0]].astype(np.int16),  # <= 100 intervals a day
            estimated_by_day=dc[k.N_RULE_BITS:].sum(axis=0).astype(np.int16),
            counts=result.counts, exceptions=result.exceptions, edits=result.edits.num_rows,
            seconds=result.seconds,
        )

    @classmethod
    def merge(cls, parts: list[VeeSummary]) -> VeeSummary:
        """One summary of consecutive meter chunks (same days)."""
        if not parts:
            raise ValueError("merge: no summaries")
        counts = {}
        for p in parts:
            for rule, c in p.counts.items():
                acc = counts.setdefault(rule, {"intervals": 0, "meter_days": 0, "meters": 0})
                for key in acc:
                    acc[key] += c[key]
        held = [p.held for p in parts if p.held is not None]
        return cls(
            meters=np.concatenate([p.meters for p in parts]), days=parts[0].days,
            n_intervals=sum(p.n_intervals for p in parts),
            missing_by_day=np.concatenate([p.missing_by_day for p in parts]),
            estimated_by_day=np.concatenate([p.estimated_by_day for p in parts]),
            counts=counts, exceptions=pa.concat_tables([p.exceptions for p in parts]),
            edits=sum(p.edits for p in parts), seconds=sum(p.seconds for p in parts),
            held=pd.concat(held, ignore_index=True) if held else None,
            meter_periods=sum(p.meter_periods for p in parts), info=dict(parts[0].info),
        )

    def add_exceptions(self, table: pa.Table) -> None:
        """Append exceptions found elsewhere (e.g. the ingest's duplicates, :func:`input_exceptions`)."""
        self.exceptions = pa.concat_tables([self.exceptions, table.select(EXCEPTIONS_SCHEMA.names).cast(
            EXCEPTIONS_SCHEMA)])

    @property
    def n_meters(self) -> int:
        return len(self.meters)

    @property
    def intervals_estimated(self) -> int:
        return int(sum(self.counts.get(c, {}).get("intervals", 0) for c in _METHOD_COUNTS))

    @property
    def meters_not_ready(self) -> int:
        return 0 if self.held is None or not len(self.held) else int(self.held["meter"].nunique())

    def rule_table(self) -> pd.DataFrame:
        """Intervals, meter-days and meters per rule (the rules of the exceptions, input-level ones included)."""
        ex = self.exceptions.to_pandas() if self.exceptions.num_rows else pd.DataFrame(columns=EXCEPTIONS_SCHEMA.names)
        rows = []
        for code in [*RULE_CODES, *sorted(set(ex["rule"]) - set(RULE_CODES))]:
            c = self.counts.get(code)
            if c is None:
                sub = ex[ex["rule"] == code]
                c = {"intervals": int(sub["count"].sum()), "meter_days": len(sub), "meters": sub["meter"].nunique()}
            rows.append({"rule": code, **c})
        for code in _METHOD_COUNTS:
            rows.append({"rule": code, **self.counts.get(code, {"intervals": 0, "meter_days": 0, "meters": 0})})
        return pd.DataFrame(rows, columns=["rule", "intervals", "meter_days", "meters"])

    def worst_meters(self, n: int = 20) -> pd.DataFrame:
        """The ``n`` meters with the most missing + estimated intervals and exceptions."""
        ex = self.exceptions.to_pandas() if self.exceptions.num_rows else pd.DataFrame(columns=EXCEPTIONS_SCHEMA.names)
        per_meter = ex.groupby("meter").agg(exceptions=("rule", "size"),
                                            rules=("rule", lambda r: ", ".join(sorted(set(r)))))
        frame = pd.DataFrame({"meter": self.meters, "missing": self.missing_by_day.sum(axis=1),
                              "estimated": self.estimated_by_day.sum(axis=1)}).set_index("meter")
        frame = frame.join(per_meter, how="outer").fillna({"missing": 0, "estimated": 0, "exceptions": 0, "rules": ""})
        frame = frame.astype({"missing": int, "estimated": int, "exceptions": int})
        frame["score"] = frame["missing"] + frame["estimated"] + frame["exceptions"]
        frame = frame[frame["score"] > 0].sort_values(["score", "missing"], ascending=False).head(n)
        return frame.drop(columns="score").reset_index()

    def summary_text(self) -> str:
        lines = [f"VEE of {self.n_meters:,} meters x {len(self.days):,} days ({self.n_intervals:,} intervals) "
                 f"in {self.seconds:.1f} s"]
        table = self.rule_table()
        table = table[table["intervals"] > 0]
        if len(table):
            lines.append(table.to_string(index=False))
        else:
            lines.append("no rule failed")
        not_est = self.counts.get("NOT_ESTIMATED", {}).get("intervals", 0)
        lines.append(f"intervals estimated: {self.intervals_estimated:,} ({self.edits:,} values changed, originals "
                     f"kept in the edits table); failed but not estimated: {not_est:,}")
        if self.meter_periods:
            held = 0 if self.held is None else len(self.held)
            lines.append(f"bill-ready: {self.meter_periods - held:,} of {self.meter_periods:,} meter-periods ready; "
                         f"meters not bill-ready: {self.meters_not_ready:,}")
        if self.faults is not None:
            bf = self.faults["by_fault"]
            lines.append(f"injected faults caught: {int(bf['caught'].sum())} of {int(bf['injected'].sum())}")
        return "\n".join(lines)
