"""Benchmark: load a meter registry and an enrollment file of N rows (issue 11: 500,000 rows in a few seconds).

    PYTHONPATH=$PWD python -m tests.bench_registry_rows [N_ROWS]

Set-up (not timed): a registry CSV of N meters (every column filled on a third of the rows: install dates,
time zones, CT ratios, NEM programs with both channels; meter exchanges on some service points) and an
enrollment CSV of N accounts. Timed: ``load_registry`` and ``load_enrollments`` (reading, every field checked,
the cross-row checks). The floor, timed in the same run: ``csv.DictReader`` reading the same file into dicts
(no checks at all).
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from workbench.ami.registry import load_registry
from workbench.nem.enrollments import load_enrollments

HEADER = ("meter_id,service_point,account,customer_class,rate_code,cycle,nem_program,channels,unit,ct_ratio,"
          "pt_ratio,multiplier_applied,install_date,removal_date,timezone,max_kw")


def _registry(path: Path, n: int) -> None:
    lines = [HEADER]
    for i in range(n):
        if i % 3 == 0:
            lines.append(f"M{i:07d},SP{i:07d},A{i:07d},SGS,SGS-TOU,{i % 20 + 1},NEM2,delivered+received,kWh,"
                         f"80,1,no,2021-{i % 12 + 1:02d}-15,,America/Denver,250")
        elif i % 3 == 1:
            lines.append(f"M{i:07d},,,RES,RES-TOU,{i % 20 + 1},,,,,,,,,,")
        else:  # an exchange: the old meter removed the day the new one goes in (new meter on the next line)
            lines.append(f"M{i:07d},SP{i - 1:07d},A{i - 1:07d},RES,RES-TOU,{(i - 1) % 20 + 1},,,,,,,"
                         f"2019-01-01,2021-{(i - 1) % 12 + 1:02d}-15,America/Denver,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _enrollments(path: Path, n: int) -> None:
    lines = ["account,program,pto_date,start,end,true_up_month,policy_version"]
    for i in range(n):
        pto = dt.date(2017, 1, 1) + dt.timedelta(days=i % 2000)
        lines.append(f"A{i:07d},NEM2,{pto},,,{i % 12 + 1 if i % 4 == 0 else ''},D.16-01-044")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _floor(path: Path) -> int:
    with open(path, newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.DictReader(f))


def _time(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(n: int = 100_000) -> None:
    from types import SimpleNamespace

    programs = {"NEM2": SimpleNamespace(code="NEM2", closed_after=None, successor=None)}
    with tempfile.TemporaryDirectory() as tmp:
        reg, enr = Path(tmp) / "meters.csv", Path(tmp) / "enrollments.csv"
        _registry(reg, n)
        _enrollments(enr, n)
        for label, path, load in (("registry", reg, lambda: load_registry(reg)),
                                  ("enrollments", enr, lambda: load_enrollments(enr, programs))):
            _, floor = _time(lambda p=path: _floor(p))
            loaded, took = _time(load)
            print(f"{label}: {n:,} rows loaded in {took:.2f} s ({len(loaded):,} records); csv.DictReader floor "
                  f"{floor:.2f} s; ratio {took / floor:.1f}x")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
