"""`workbench design determinants --enrollments` (and `workbench filing --enrollments`): the net-metering customers
scanned with the programs, PTO dates, true-up months and opening banks of an enrollment file, as `workbench cycle
--enrollments` bills them.

The hand-checked customers of tests/test_filing_nem.py (class RES, rate HAND-FLAT: present $10.00 a month +
$0.10/kWh, proposed $12.00 + $0.12/kWh; 10 kWh from the grid at 12:00 every day of 2025): M1 (account A0, on
NM-MONTHLY in the cube, exports 1,200 kWh in June and 900 in November), M2 (A1, INFLOW-OUTFLOW, exports 600 kWh in
June), M3 (A2, on no program in the cube, no exports). The enrollment file:

- A0 on NM-MONTHLY since 2020 with an opening bank of 100 kWh: January draws the 100 kWh and bills 210 kWh, the
  rest as without it (tests/test_design_nem.py), so 1,740 kWh are billed and December cashes out 290 kWh:
  present 12 x 10.00 + 1,740 x 0.10 - 16.94 = $277.06, proposed 12 x 12.00 + 1,740 x 0.12 - 16.94 = $335.86;
- A1 on INFLOW-OUTFLOW since 2019 with no opening balance (it banks dollars): its bank starts at zero, said
  loudly; its bills as before ($440.36);
- A2 on NM-MONTHLY since 2024 with an opening bank of 0: M3 becomes a net-metering customer; with no exports its
  bills are as before ($485.00 present, $582.00 proposed).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.hostile._cli import assert_refused, run_in_process
from tests.test_filing_nem import _scan
from workbench.billing.cycle import run_cycle
from workbench.design.nem_revenue import NetMeteringStudy
from workbench.tariffs import load_tariff_book

ENROLLMENTS = """\
account,program,pto_date,start,end,true_up_month,policy_version,opening_credit,opening_kwh
A0,NM-MONTHLY,2020-01-01,,,,,,100
A1,INFLOW-OUTFLOW,2019-01-01,,,,,,
A2,NM-MONTHLY,2024-05-01,,,,,,0
"""


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory):
    root = tmp_path_factory.mktemp("enrolled")
    (root / "enrollments.csv").write_text(ENROLLMENTS)
    return root, _scan(root, ["M1", "M2", "M3"], "--enrollments", root / "enrollments.csv")


def _annual_cents(study, folder, name):
    table = study.price(load_tariff_book(folder), folder, name).customers()
    return dict(zip(table["meter"], np.rint(table["annual_bill"] * 100).astype(np.int64), strict=True))


def test_the_scan_takes_the_enrollment_file(enrolled, capsys):
    root, (ty, present, proposed) = enrolled
    identity = json.loads((ty / "identity.json").read_text())
    assert identity["enrollments"] == str((root / "enrollments.csv").resolve())
    assert len(identity["enrollments_sha256"]) == 64
    assert identity["no_opening_bank_meters"] == 1  # A1: banks dollars, enrolled before the cube, no balance given
    assert identity["rate_codes"]["HAND-FLAT"]["net_metering_meters"] == {"INFLOW-OUTFLOW": 1, "NM-MONTHLY": 2}
    nem = NetMeteringStudy(ty)
    assert _annual_cents(nem, present, "present") == {"M1": 27706, "M2": 44036, "M3": 48500}
    assert _annual_cents(nem, proposed, "proposed") == {"M1": 33586, "M2": 53736, "M3": 58200}
    # as `workbench cycle --enrollments` bills them
    run_cycle(root / "cube.zarr", present, root / "cycle", progress=False, enrollments=root / "enrollments.csv")
    bills = pd.read_parquet(root / "cycle" / "bills.parquet")
    cycle = np.rint(bills["total"] * 100).astype(np.int64).groupby(bills["meter"]).sum().to_dict()
    assert cycle == _annual_cents(nem, present, "present")


def test_the_scan_warns_of_a_bank_starting_at_zero(tmp_path, capsys):
    (tmp_path / "enrollments.csv").write_text(ENROLLMENTS)
    _scan(tmp_path, ["M1", "M2"], "--enrollments", tmp_path / "enrollments.csv")
    said = capsys.readouterr().out
    assert "WARNING: 1 meter(s) on a net-metering program that banks" in said and "enrollments.csv" in said


def test_determinants_scanned_with_other_enrollments_are_refused(enrolled, tmp_path, capsys):
    """design price --proposed-determinants and filing --determinants: another enrollment file is another set of
    net-metering customers; refused in one line naming both."""
    root, (ty, present, proposed) = enrolled
    other = _scan(root, ["M1", "M2", "M3"], out="ty-plain")[0]
    result = run_in_process(["design", "price", "--determinants", str(ty), "--proposed-determinants", str(other),
                             "--proposed", str(proposed), "--out", str(tmp_path / "p")], capsys)
    assert_refused(result, "different net-metering enrollments", "enrollments.csv", "no enrollment file")
    result = run_in_process(["filing", "--cube", str(root / "cube.zarr"), "--test-year", "2025", "--present",
                             str(present), "--proposed", str(proposed), "--determinants", str(other),
                             "--enrollments", str(root / "enrollments.csv"), "--out", str(tmp_path / "f")], capsys)
    assert_refused(result, "--determinants", "scanned with no enrollment file", "--enrollments")
    assert not (tmp_path / "f").exists() and not (tmp_path / "p").exists()
