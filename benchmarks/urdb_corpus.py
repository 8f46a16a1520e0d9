"""Try every URDB tariff of a folder the way a new user would: billed, refused (by reason) or crashed.

    python -m benchmarks.urdb_corpus tests/data/urdb            # the sample kept in the repository
    python -m benchmarks.urdb_corpus ~/urdb-cache --json out.json  # any larger folder of URDB JSON

Every ``*.json`` under the folder (recursively) is one URDB item, or an API response ``{"items": [...]}``
whose items are tried one by one. Each item is imported (``load_tariff``) and billed for a year of hourly
load (a commercial profile of 50 kW peak, 2018 calendar months, no system-peak file). The outcome:

- billed: every bill of the year computed;
- refused: a one-line :class:`~workbench.errors.WorkbenchError`; the reason is the URDB field it names
  (``'coincidentratestructure'``) or, failing that, the start of the message;
- crashed: any other exception (a bug: the run exits 1 when there is one).

``--system-peaks FILE`` bills coincident-peak tariffs on those peaks (else they are refused naming the file).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
import traceback
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.billing import bill_series
from workbench.errors import WorkbenchError
from workbench.tariffs import load_tariff
from workbench.tariffs.system_peaks import read_system_peaks


def year_profile(tariff=None):
    """A year of hourly commercial load [kWh]: 10 kW at night, up to 50 kW on weekday afternoons (kVARh at PF 0.88).

    The year: 2018 (PySAM's), or for a tariff in force only at other dates the twelve calendar months
    from its first full month (fewer if it expires sooner), so dates are never the reason it is refused.
    """
    start, end = pd.Timestamp("2018-01-01"), pd.Timestamp("2019-01-01")
    if tariff is not None:
        effective = min(v.effective for v in tariff.versions)
        ends = [v.expires for v in tariff.versions]
        expires = None if None in ends else max(ends)
        if effective.year > 1900 and pd.Timestamp(effective) > start or (expires and pd.Timestamp(expires) < end):
            start = (pd.Timestamp(effective) + pd.offsets.MonthBegin(0)).normalize()
            end = start + pd.DateOffset(years=1)
            if expires is not None and pd.Timestamp(expires) < end:
                end = pd.Timestamp(expires).to_period("M").to_timestamp()
    idx = pd.date_range(start, max(end, start + pd.Timedelta(days=1)), freq="h", tz="Etc/GMT+7", inclusive="left")
    hour, weekday = idx.hour.to_numpy(), idx.day_of_week.to_numpy() < 5
    summer = np.isin(idx.month.to_numpy(), [6, 7, 8, 9])
    kwh = 10.0 + np.where(weekday & (hour >= 8) & (hour < 18), 25.0, 0.0) + np.where(summer & (hour == 15), 15.0, 0.0)
    return idx, kwh


def items(folder: Path):
    """(name, item) of every URDB item under ``folder``; an unreadable file is its own refused item."""
    for path in sorted(folder.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            yield str(path), exc
            continue
        listed = data.get("items") if isinstance(data, dict) else None
        if isinstance(listed, list) and len(listed) > 1:
            for i, item in enumerate(listed):
                yield f"{path}#{i}", item
        else:
            yield str(path), data


def reason(message: str) -> str:
    """The URDB field a refusal names, else the start of its message."""
    found = re.search(r"URDB field '([a-z_]+)", message)
    if found:
        return found.group(1)
    text = message.split(": ", 1)[-1]
    return " ".join(text.split()[:8])


def try_item(item, peaks=None) -> tuple[str, str, float | None]:
    """('billed' | 'refused' | 'crashed', reason or '', the year's total [$] when billed)."""
    if isinstance(item, Exception):
        return "refused", f"unreadable JSON: {item}", None
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # plausibility warnings: counted, not printed
            tariff = load_tariff(item, system_peaks=peaks)
            idx, kwh = year_profile(tariff)
            # the meter records kVARh too, at a lagging power factor of 0.88 (tan(acos(0.88)) = 0.5397 kVAR/kW)
            bills = bill_series(tariff, idx, kwh, reactive_kvarh=kwh * np.tan(np.arccos(0.88)))
        return "billed", "", round(sum(b.total for b in bills), 2)
    except WorkbenchError as exc:
        return "refused", reason(str(exc)), None
    except Exception:  # noqa: BLE001 - a crash is the finding
        return "crashed", traceback.format_exc(limit=3).strip().splitlines()[-1], None


def run(folder, peaks=None) -> dict:
    rows = []
    for name, item in items(Path(folder)):
        outcome, why, total = try_item(item, peaks)
        rows.append({"item": name, "outcome": outcome, "reason": why, "total": total})
    counts = Counter(r["outcome"] for r in rows)
    reasons = Counter(r["reason"] for r in rows if r["outcome"] == "refused")
    return {"items": len(rows), "billed": counts["billed"], "refused": counts["refused"],
            "crashed": counts["crashed"], "refused_by_reason": dict(reasons.most_common()), "rows": rows}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="example: python -m benchmarks.urdb_corpus tests/data/urdb")
    parser.add_argument("folder", help="folder of URDB JSON files (searched recursively)")
    parser.add_argument("--system-peaks", help="system-peak CSV for coincident-peak tariffs (default: none)")
    parser.add_argument("--json", help="also write every item's outcome to this JSON file")
    args = parser.parse_args(argv)
    peaks = read_system_peaks(args.system_peaks) if args.system_peaks else None
    result = run(args.folder, peaks)
    n = max(result["items"], 1)
    print(f"{result['items']} URDB items in {args.folder}")
    for key in ("billed", "refused", "crashed"):
        print(f"  {key:<8} {result[key]:>6}  {100 * result[key] / n:5.1f} %")
    for why, count in result["refused_by_reason"].items():
        print(f"    refused {count:>4}  {why}")
    for row in result["rows"]:
        if row["outcome"] == "crashed":
            print(f"  CRASH {row['item']}: {row['reason']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 1 if result["crashed"] else 0


if __name__ == "__main__":
    sys.exit(main())
