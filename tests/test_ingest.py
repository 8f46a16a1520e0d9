"""`workbench ingest`: multipliers once, meter exchange, rejects with file and row, duplicates, idempotence,
corrections with an audit trail, atomicity, and the accounting identity in every test.

Expected values are worked out by hand in the comments (or counted independently from the reader's output).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from _samples import GREENBUTTON_SAMPLES, require_samples

from workbench.ami.cube import open_cube
from workbench.ami.ingest import ingest
from workbench.ami.ingest_records import read_log, records_dir
from workbench.ami.ingest_store import ChunkStore
from workbench.errors import IntervalDataError, WorkbenchError

REG = ("meter_id,service_point,account,customer_class,rate_code,cycle,nem_program,channels,ct_ratio,pt_ratio,"
       "multiplier_applied,install_date,removal_date,timezone")
MDM = "meter_id,interval_start,channel,value,unit,quality,interval_seconds"


def registry(tmp_path: Path, *rows: str, name="meters.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([REG, *rows]) + "\n")
    return path


def mdm(tmp_path: Path, name: str, rows) -> Path:
    """rows: (meter, start, value[, channel, quality, seconds]); start like '2025-01-01T00:00Z'."""
    lines = [MDM]
    for r in rows:
        meter, start, value, *rest = r
        channel, quality, seconds = (list(rest) + ["delivered", "A", 3600][len(rest):])[:3]
        lines.append(f"{meter},{start},{channel},{value},kWh,{quality},{seconds}")
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def hours(day: int, first: int, n: int, month: int = 1) -> list[str]:
    t0 = pd.Timestamp(f"2025-{month:02d}-{day:02d}T{first:02d}:00Z")
    return [(t0 + pd.Timedelta(hours=i)).strftime("%Y-%m-%dT%H:%MZ") for i in range(n)]


def check(result) -> dict:
    """The accounting identity, per file and in total; rejects by reason add up to the rejected count."""
    a = result.accounting
    for f in [*a["files"], a]:
        assert f["reads_in"] == f["accepted"] + f["rejected"] + f["duplicates"], f
    assert sum(a["rejects_by_reason"].values()) == a["rejected"]
    assert a["accepted"] == a["new"] + a["updated"] + a["unchanged"]
    if result.rejects_path is not None:
        assert pq.read_metadata(result.rejects_path).num_rows == a["rejected"]
    return a


def snapshot(cube: Path) -> dict:
    """Every file of the cube directory: content hash and inode."""
    out = {}
    for root, _, files in os.walk(cube):
        for name in files:
            p = Path(root) / name
            out[str(p.relative_to(cube))] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_ino)
    return out


def row(ds, sp: str) -> int:
    return list(ds["meter"].values).index(sp)


def t_index(ds, when: str) -> int:
    return int(np.flatnonzero(ds["time"].values == np.datetime64(pd.Timestamp(when).tz_localize(None)))[0])


# ---------------------------------------------------------------------------------------------------------


def test_multiplier_applied_exactly_once(tmp_path):
    reg = registry(tmp_path, "RAW,,A1,LGS,LGS-TOU,,,,200,1,no,,,UTC", "DONE,,A2,LGS,LGS-TOU,,,,200,1,yes,,,UTC")
    data = mdm(tmp_path, "reads.csv", [("RAW", "2025-01-01T00:00Z", 0.5), ("DONE", "2025-01-01T00:00Z", 0.5)])
    res = ingest([data], tmp_path / "c.zarr", reg, create_period="2025-01")
    check(res)
    ds = open_cube(tmp_path / "c.zarr", chunks=False)
    # raw 0.5 kWh x CT 200 x PT 1 = 100 kWh; the source already applied it on DONE: 0.5 stays 0.5
    assert ds["delivered_kwh"].values[row(ds, "RAW"), 0] == 100.0
    assert ds["delivered_kwh"].values[row(ds, "DONE"), 0] == 0.5
    assert list(ds["multiplier"].values) == [200.0, 200.0]
    # the file-level override wins over the registry flag, both ways
    check(ingest([data], tmp_path / "yes.zarr", reg, create_period="2025-01", multiplier_applied=True))
    check(ingest([data], tmp_path / "no.zarr", reg, create_period="2025-01", multiplier_applied=False))
    assert list(open_cube(tmp_path / "yes.zarr", chunks=False)["delivered_kwh"].values[:, 0]) == [0.5, 0.5]
    assert list(open_cube(tmp_path / "no.zarr", chunks=False)["delivered_kwh"].values[:, 0]) == [100.0, 100.0]


def test_quality_estimated_missing_and_received_zero(tmp_path):
    reg = registry(tmp_path, "M1,,,RES,RES-FLAT,,,,,,,,,UTC", "S1,,,RES,RES-TOU,,NEM2,,,,,,,UTC")
    data = mdm(tmp_path, "r.csv", [
        ("M1", "2025-01-01T00:00Z", 1.0, "delivered", "A"),
        ("M1", "2025-01-01T01:00Z", 2.0, "delivered", "E"),
        ("S1", "2025-01-01T00:00Z", 1.0, "delivered", "A"),
        ("S1", "2025-01-01T00:00Z", 0.25, "received", "A"),
        ("S1", "2025-01-01T01:00Z", 3.0, "delivered", "A"),  # its received hour never read
        ("M1", "2025-01-01T02:00Z", 1.0, "received", "A"),  # M1 records no received channel
    ])
    a = check(ingest([data], tmp_path / "c.zarr", reg, create_period="2025-01"))
    assert (a["accepted"], a["rejected"]) == (5, 1)
    assert a["rejects_sample"][0]["row"] == 7 and "does not record this channel" in a["rejects_sample"][0]["reason"]
    ds = open_cube(tmp_path / "c.zarr", chunks=False)
    assert ds.sizes["time"] == 31 * 24 and ds.attrs["step_minutes"] == 60  # the data's interval length
    d, r, q = (ds[v].values for v in ("delivered_kwh", "received_kwh", "quality"))
    m, s = row(ds, "M1"), row(ds, "S1")
    assert (d[m, 0], d[m, 1]) == (1.0, 2.0)
    assert np.isnan(d[m, 2:]).all() and list(q[m, :3]) == [0, 1, 2] and (q[m, 2:] == 2).all()
    assert (r[m] == 0).all()  # a delivered-only meter receives nothing: 0, not unread
    assert (d[s, 0], r[s, 0], q[s, 0]) == (1.0, 0.25, 0)
    assert d[s, 1] == 3.0 and np.isnan(r[s, 1]) and q[s, 1] == 2  # one channel never read: missing


def test_meter_exchange_lands_in_one_row_and_bills_one_account(tmp_path):
    from workbench.billing.cycle import run_cycle

    reg = registry(tmp_path,
                   "OLD,SP1,A1,RES,RES-FLAT,1,,,,,,,2025-01-15,America/New_York",
                   "NEW,SP1,A1,RES,RES-FLAT,1,,,,,,2025-01-15,,America/New_York")
    # local midnight 15 January (EST, UTC-5) = 05:00 UTC. OLD: 1 Jan 05:00Z .. 15 Jan 05:00Z = 14 x 24 hours
    # at 1 kWh; NEW: 15 Jan 05:00Z .. 1 Feb 05:00Z = 17 x 24 hours at 2 kWh
    rows = [("OLD", t, 1.0) for t in hours(1, 5, 14 * 24)] + [("NEW", t, 2.0) for t in hours(15, 5, 17 * 24)]
    rows.append(("OLD", "2025-01-20T12:00Z", 5.0))  # after its removal: line 2 + 744 = 746
    rows.append(("NEW", "2025-01-14T12:00Z", 5.0))  # before its install: line 747
    res = ingest([mdm(tmp_path, "x.csv", rows)], tmp_path / "c.zarr", reg)
    a = check(res)
    assert (a["reads_in"], a["accepted"], a["rejected"]) == (746, 744, 2)
    rej = pq.read_table(res.rejects_path).to_pylist()
    assert [(r["row"], r["meter"], r["reason"]) for r in sorted(rej, key=lambda r: r["row"])] == [
        (746, "OLD", "data on inactive meter OLD: removed 2025-01-15"),
        (747, "NEW", "data on inactive meter NEW: installed 2025-01-15"),
    ]
    assert all(r["file"] == str(tmp_path / "x.csv") for r in rej)
    assert a["rejects_by_reason"] == {"data on inactive meter": 2}
    ds = open_cube(tmp_path / "c.zarr", chunks=False)
    assert list(ds["meter"].values) == ["SP1"] and list(ds["account"].values) == ["A1"]
    assert float(np.nansum(ds["delivered_kwh"].values)) == 14 * 24 * 1.0 + 17 * 24 * 2.0  # 1152 kWh
    run = run_cycle(tmp_path / "c.zarr", "tariffs", tmp_path / "bills", progress=False)
    bills = pd.read_parquet(tmp_path / "bills" / "bills.parquet")
    assert run.bills == 1 and list(bills["account"]) == ["A1"]
    assert bills["delivered_kwh"].iloc[0] == pytest.approx(1152.0)


def test_unknown_meter_wrong_length_off_grid_and_out_of_period(tmp_path):
    reg = registry(tmp_path, "M1,,,RES,RES-FLAT,,,,,,,,,UTC")
    data = mdm(tmp_path, "r.csv", [
        ("M1", "2025-01-01T00:00Z", 1.0),
        ("M9", "2025-01-01T00:00Z", 1.0),  # line 3: not in the registry
        ("M1", "2025-01-01T01:00Z", 1.0, "delivered", "A", 900),  # line 4: 15 minutes in an hourly cube
        ("M1", "2025-01-01T02:30Z", 1.0),  # line 5: not on the hour
        ("M1", "2025-02-01T00:00Z", 1.0),  # line 6: February, after the cube's January
        ("M1", "2024-12-31T23:00Z", 1.0),  # line 7: before it
    ])
    res = ingest([data], tmp_path / "c.zarr", reg, create_period="2025-01", step_minutes=60)
    a = check(res)
    assert (a["accepted"], a["rejected"]) == (1, 5)
    got = {r["row"]: (r["meter"], r["category"]) for r in pq.read_table(res.rejects_path).to_pylist()}
    assert got == {
        3: ("M9", "unknown meter"),
        4: ("M1", "interval length differs from the cube's step"),
        5: ("M1", "timestamp not on the cube's interval grid"),
        6: ("M1", "timestamp outside the cube's period"),
        7: ("M1", "timestamp outside the cube's period"),
    }


def test_conflicting_duplicates_rejected_identical_counted(tmp_path):
    reg = registry(tmp_path, "M1,,,RES,RES-FLAT,,,,,,,,,UTC")
    one = mdm(tmp_path, "one.csv", [
        ("M1", "2025-01-01T00:00Z", 1.0),  # line 2
        ("M1", "2025-01-01T00:00Z", 1.0),  # line 3: identical -> a duplicate, one kept
        ("M1", "2025-01-01T01:00Z", 1.0),  # line 4 \ same meter, time, channel, different values:
        ("M1", "2025-01-01T01:00Z", 1.5),  # line 5 / both rejected
        ("M1", "2025-01-01T02:00Z", 4.0),  # line 6: conflicts with two.csv line 2
        ("M1", "2025-01-01T03:00Z", 2.0, "delivered", "A"),  # line 7 \ same value, one estimated: conflict
        ("M1", "2025-01-01T03:00Z", 2.0, "delivered", "E"),  # line 8 /
    ])
    two = mdm(tmp_path, "two.csv", [("M1", "2025-01-01T02:00Z", 4.5), ("M1", "2025-01-01T04:00Z", 7.0)])
    res = ingest([one, two], tmp_path / "c.zarr", reg, create_period="2025-01")
    a = check(res)
    f1, f2 = a["files"]
    assert (f1["reads_in"], f1["accepted"], f1["rejected"], f1["duplicates"]) == (7, 1, 5, 1)
    assert (f2["reads_in"], f2["accepted"], f2["rejected"], f2["duplicates"]) == (2, 1, 1, 0)
    assert a["rejects_by_reason"] == {"conflicting duplicate": 6}
    rej = pd.read_parquet(res.rejects_path)
    assert sorted(zip(rej["file"].map(lambda p: Path(p).name), rej["row"], strict=True)) == [
        ("one.csv", 4), ("one.csv", 5), ("one.csv", 6), ("one.csv", 7), ("one.csv", 8), ("two.csv", 2)]
    reason = rej.loc[rej["row"] == 4, "reason"].iloc[0]
    assert "one.csv row 4: 1 kWh" in reason and "one.csv row 5: 1.5 kWh" in reason
    assert "two.csv row 2: 4.5 kWh" in rej.loc[rej["file"].str.endswith("two.csv"), "reason"].iloc[0]
    d = open_cube(tmp_path / "c.zarr", chunks=False)["delivered_kwh"].values[0]
    assert d[0] == 1.0 and np.isnan(d[1:4]).all() and d[4] == 7.0  # conflicting cells keep their previous NaN


def test_reingest_same_file_changes_nothing(tmp_path):
    reg = registry(tmp_path, "M1,,,RES,RES-FLAT,,,,,,,,,UTC", "M2,,,RES,RES-FLAT,,,,,,,,,UTC")
    data = mdm(tmp_path, "r.csv", [("M1", t, 1.25) for t in hours(1, 0, 48)] + [("M2", "2025-01-03T00:00Z", 2.0)])
    cube = tmp_path / "c.zarr"
    first = check(ingest([data], cube, reg, create_period="2025-01", meter_chunk=1))
    assert first["new"] == 49
    before = snapshot(cube)
    again = ingest([data], cube, reg)
    a = check(again)
    assert a["files"][0]["status"].startswith("already ingested") and "0 changes" in again.summary_text()
    assert (a["reads_in"], a["accepted"], a["new"], a["updated"]) == (0, 0, 0, 0)
    assert snapshot(cube) == before  # same bytes, same inodes: not even rewritten
    forced = check(ingest([data], cube, reg, force=True))
    assert (forced["accepted"], forced["unchanged"], forced["new"], forced["updated"]) == (49, 49, 0, 0)
    assert snapshot(cube) == before
    assert [e["status"] for e in read_log(cube)] == ["ingested", "ingested"]
    assert len(list((records_dir(cube) / "audit").glob("*.parquet"))) == 0


def test_corrected_file_replaces_values_and_keeps_previous_in_audit(tmp_path):
    reg = registry(tmp_path, "M1,,,RES,RES-FLAT,,,,,,,,,UTC")
    cube = tmp_path / "c.zarr"
    times = hours(1, 0, 4)
    v1 = mdm(tmp_path, "v1.csv", [("M1", times[0], 1.0), ("M1", times[1], 2.0), ("M1", times[2], 3.0, "delivered",
                                                                                  "E")])
    first = ingest([v1], cube, reg, create_period="2025-01")
    check(first)
    v2 = mdm(tmp_path, "v2.csv", [
        ("M1", times[0], 1.0),  # unchanged
        ("M1", times[1], 2.5),  # corrected value
        ("M1", times[2], 3.0, "delivered", "A"),  # same value, now an actual read
        ("M1", times[3], 4.0),  # new
    ])
    res = ingest([v2], cube, reg)
    a = check(res)
    assert (a["new"], a["updated"], a["unchanged"]) == (1, 2, 1)
    ds = open_cube(cube, chunks=False)
    assert list(ds["delivered_kwh"].values[0, :4]) == [1.0, 2.5, 3.0, 4.0]
    assert list(ds["quality"].values[0, :4]) == [0, 0, 0, 0]
    audit = pd.read_parquet(res.audit_path).sort_values("time")
    assert list(audit["previous_kwh"]) == [2.0, 3.0] and list(audit["new_kwh"]) == [2.5, 3.0]
    assert list(audit["previous_estimated"]) == [False, True] and list(audit["new_estimated"]) == [False, False]
    assert set(audit["previous_source"]) == {str(v1)} and set(audit["new_source"]) == {str(v2)}
    assert set(audit["ingest_id"]) == {res.ingest_id} and set(audit["channel"]) == {"delivered"}
    assert list(audit["time"].dt.tz_convert(None)) == [pd.Timestamp(times[1][:-1]), pd.Timestamp(times[2][:-1])]
    assert first.ingest_id != res.ingest_id


def test_chunk_whose_quality_becomes_all_actual_is_written(tmp_path):
    # quality's fill value is 0: a chunk of all-actual reads must still replace the old chunk (zarr would skip
    # writing a chunk equal to the fill value, and the old one would be hard-linked back)
    reg = registry(tmp_path, "M1,,,RES,RES-FLAT,,,,,,,,,UTC", "M2,,,RES,RES-FLAT,,,,,,,,,UTC")
    cube = tmp_path / "c.zarr"
    check(ingest([mdm(tmp_path, "a.csv", [("M1", "2025-01-01T00:00Z", 1.0)])], cube, reg, create_period="2025-01",
                 meter_chunk=1))
    full = mdm(tmp_path, "b.csv", [("M1", t, 1.0) for t in hours(1, 0, 31 * 24)])
    check(ingest([full], cube, reg))
    q = open_cube(cube, chunks=False)["quality"].values
    assert (q[0] == 0).all() and (q[1] == 2).all()


def test_interrupted_ingest_leaves_the_cube_byte_identical(tmp_path, monkeypatch):
    reg = registry(tmp_path, "M1,,,RES,RES-FLAT,,,,,,,,,UTC", "M2,,,RES,RES-FLAT,,,,,,,,,UTC")
    cube = tmp_path / "c.zarr"
    check(ingest([mdm(tmp_path, "a.csv", [("M1", "2025-01-01T00:00Z", 1.0), ("M2", "2025-01-01T00:00Z", 1.0)])],
                 cube, reg, create_period="2025-01", meter_chunk=1))
    before, log_before = snapshot(cube), read_log(cube)
    rejects_before = sorted((records_dir(cube) / "rejects").glob("*")) if (records_dir(cube) / "rejects").exists() \
        else []
    update = mdm(tmp_path, "b.csv", [("M1", "2025-01-01T00:00Z", 9.0), ("M2", "2025-01-01T00:00Z", 9.0),
                                     ("M3", "2025-01-01T00:00Z", 1.0)])
    settle, calls = ChunkStore.settle, []

    def failing_settle(self, k, *args, **kwargs):
        calls.append(k)
        if len(calls) == 2:  # the first chunk is already written into the staging copy
            raise OSError("disk full (injected)")
        return settle(self, k, *args, **kwargs)

    monkeypatch.setattr(ChunkStore, "settle", failing_settle)
    with pytest.raises(OSError, match="injected"):
        ingest([update], cube, reg)
    assert len(calls) == 2
    assert snapshot(cube) == before and read_log(cube) == log_before
    assert sorted((records_dir(cube) / "rejects").glob("*")) == rejects_before  # M3's reject not kept
    # no staging or scratch folder; only the cube's flock lock file (free: the kernel dropped the lock)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".c.zarr.lock",
                                                                                     ".c.zarr.lock.holder"]
    monkeypatch.setattr(ChunkStore, "settle", settle)
    assert check(ingest([update], cube, reg))["updated"] == 2  # and the same ingest then goes through


def test_failing_reader_and_new_cube_leave_nothing(tmp_path):
    reg = registry(tmp_path, "RetailCustomer/1/UsagePoint/7,,,RES,RES-TOU,,NEM2,,,,,,,UTC")
    truncated = tmp_path / "cut.xml"
    truncated.write_text(gb_feed(6)[:-400])
    with pytest.raises(IntervalDataError, match="cut.xml"):
        ingest([truncated], tmp_path / "c.zarr", reg, create_period="2025-01", step_minutes=60)
    assert sorted(p.name for p in tmp_path.iterdir() if ".lock" not in p.name) == ["cut.xml", "meters.csv"]


def test_memory_budget_parks_chunks_and_gives_the_same_cube(tmp_path, monkeypatch):
    meters = [f"M{i}" for i in range(12)]
    reg = registry(tmp_path, *[f"{m},,,RES,RES-FLAT,,,,,,,,,UTC" for m in meters])
    # time-major order: every batch touches every chunk, so chunks are parked and brought back repeatedly
    rng = np.random.default_rng(3)
    rows = [(m, t, round(float(rng.random()), 3)) for t in hours(1, 0, 72) for m in meters]
    data = mdm(tmp_path, "r.csv", rows)
    big_result = ingest([data], tmp_path / "big.zarr", reg, create_period="2025-01", meter_chunk=3)
    big = check(big_result)
    unpark, unparked = ChunkStore._unpark, []
    monkeypatch.setattr(ChunkStore, "_unpark", lambda self, k: unparked.append(k) or unpark(self, k))
    small_result = ingest([data], tmp_path / "small.zarr", reg, create_period="2025-01", meter_chunk=3,
                          memory_budget=1, batch_rows=100)
    small = check(small_result)
    assert big["new"] == small["new"] == 12 * 72
    assert len(unparked) >= 20 and set(unparked) == {0, 1, 2, 3}  # 864 reads in batches of 100
    assert "not grouped by meter" in " ".join(small_result.notes) and not big_result.notes
    a, b = open_cube(tmp_path / "big.zarr", chunks=False), open_cube(tmp_path / "small.zarr", chunks=False)
    for v in ("delivered_kwh", "received_kwh", "quality"):
        np.testing.assert_array_equal(a[v].values, b[v].values)
    expected = np.full((12, 31 * 24), np.nan, np.float32)
    for m, t, v in rows:
        expected[meters.index(m), t_index(a, t[:-1])] = v
    np.testing.assert_array_equal(a["delivered_kwh"].values, expected)


def test_existing_sample_cube_updated_in_place_of_its_values(tmp_path):
    from workbench.sample import generate_sample_utility

    cube = tmp_path / "s.zarr"
    generate_sample_utility(cube, n_meters=4, year=2025, seed=5, meter_chunk=2, progress=False)
    old = open_cube(cube, chunks=False)
    before = snapshot(cube)
    t0 = pd.Timestamp(old["time"].values[0]).strftime("%Y-%m-%dT%H:%MZ")
    data = tmp_path / "fix.csv"
    data.write_text(f"meter_id,interval_start,channel,value,unit\nM000002,{t0},delivered,1.5,kWh\n"
                    f"M000002,{t0},received,0.5,kWh\n")
    res = ingest([data], cube, reader_options={"interval_seconds": 900})  # registry_from_cube: one meter a row
    a = check(res)
    assert (a["updated"], a["rejected"]) == (2, 0)
    new = open_cube(cube, chunks=False)
    i = row(new, "M000002")
    assert (new["delivered_kwh"].values[i, 0], new["received_kwh"].values[i, 0], new["quality"].values[i, 0]) == (
        1.5, 0.5, 0)
    audit = pd.read_parquet(res.audit_path).sort_values("channel")
    assert list(audit["previous_kwh"]) == [old["delivered_kwh"].values[i, 0], old["received_kwh"].values[i, 0]]
    assert set(audit["previous_source"]) == {"(before the ingest log)"}
    after = snapshot(cube)
    # the other meter chunk (M000001-M000002 is chunk 0; M000003-M000004 chunk 1) is the same file, linked
    assert after["delivered_kwh/c/1/0"] == before["delivered_kwh/c/1/0"]
    assert after["delivered_kwh/c/0/0"][0] != before["delivered_kwh/c/0/0"][0]


# ---------------------------------------------------------------------------------------------------------
# Green Button XML and its MDM CSV equivalent give the same cube and the same bills

UP = "RetailCustomer/1/UsagePoint/7"
T0 = 1735707600  # 2025-01-01T05:00Z = local midnight in New York


def _values(n):
    i = np.arange(n)
    delivered = 300 + (37 * i) % 900  # Wh
    received = np.where((i % 24 >= 15) & (i % 24 <= 20), (53 * i) % 700, 0)  # Wh, afternoons
    return delivered, received


def gb_feed(n_hours: int) -> str:
    """A bidirectional Green Button feed: flowDirection 1 (delivered) and 19 (received), hourly, Wh."""
    delivered, received = _values(n_hours)

    def entry(self_href, up, related, body):
        links = f'<link rel="self" href="{self_href}"/><link rel="up" href="{up}"/>'
        links += "".join(f'<link rel="related" href="{r}"/>' for r in related)
        return f"<entry><id>x</id>{links}<content>{body}</content></entry>\n"

    def reading_type(flow):
        return ('<ReadingType xmlns="http://naesb.org/espi"><accumulationBehaviour>4</accumulationBehaviour>'
                f"<flowDirection>{flow}</flowDirection><intervalLength>3600</intervalLength><kind>12</kind>"
                "<powerOfTenMultiplier>0</powerOfTenMultiplier><uom>72</uom></ReadingType>")

    body = '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
    body += entry(UP, "RetailCustomer/1/UsagePoint", [f"{UP}/MeterReading"],
                  '<UsagePoint xmlns="http://naesb.org/espi"><ServiceCategory><kind>0</kind></ServiceCategory>'
                  "</UsagePoint>")
    for n, flow, values in ((1, 1, delivered), (2, 19, received)):
        mr = f"{UP}/MeterReading/{n}"
        body += entry(mr, f"{UP}/MeterReading", [f"{mr}/IntervalBlock", f"ReadingType/{n}"],
                      '<MeterReading xmlns="http://naesb.org/espi"/>')
        body += entry(f"ReadingType/{n}", "ReadingType", [], reading_type(flow))
        for day in range(0, n_hours, 24):
            readings = "".join(
                f"<IntervalReading><timePeriod><duration>3600</duration><start>{T0 + 3600 * h}</start></timePeriod>"
                f"<value>{values[h]}</value></IntervalReading>" for h in range(day, min(day + 24, n_hours)))
            block = (f'<IntervalBlock xmlns="http://naesb.org/espi"><interval><duration>86400</duration>'
                     f"<start>{T0 + 3600 * day}</start></interval>{readings}</IntervalBlock>")
            body += entry(f"{mr}/IntervalBlock/{day}", f"{mr}/IntervalBlock", [], block)
    return body + "</feed>\n"


def test_green_button_and_equivalent_mdm_csv_give_the_same_cube_and_bills(tmp_path):
    from workbench.billing.cycle import run_cycle

    n = 31 * 24
    xml = tmp_path / "bidi.xml"
    xml.write_text(gb_feed(n))
    delivered, received = _values(n)
    lines = ["meter,interval_start,channel,value,unit"]
    for h in range(n):
        start = pd.Timestamp(T0 + 3600 * h, unit="s").strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{UP},{start},delivered,{delivered[h] / 1000},kWh")
        lines.append(f"{UP},{start},received,{received[h]},Wh")
    csv_path = tmp_path / "bidi.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    reg = registry(tmp_path, f"{UP},SP-7,ACCT-7,RES,RES-TOU,1,NEM2,delivered+received,,,,,,America/New_York")
    a = check(ingest([xml], tmp_path / "xml.zarr", reg))
    b = check(ingest([csv_path], tmp_path / "csv.zarr", reg, reader_options={"interval_seconds": 3600}))
    assert a["new"] == b["new"] == 2 * n and a["rejected"] == b["rejected"] == 0
    x, c = open_cube(tmp_path / "xml.zarr", chunks=False), open_cube(tmp_path / "csv.zarr", chunks=False)
    assert x.sizes["time"] == n  # local January 2025, hourly
    for v in ("delivered_kwh", "received_kwh", "quality"):
        np.testing.assert_array_equal(x[v].values, c[v].values)
    np.testing.assert_allclose(x["delivered_kwh"].values[0], delivered / 1000, rtol=1e-7)
    np.testing.assert_allclose(x["received_kwh"].values[0], received / 1000, rtol=1e-7)
    bills = []
    for name in ("xml", "csv"):
        run_cycle(tmp_path / f"{name}.zarr", "tariffs", tmp_path / f"bills-{name}", progress=False)
        bills.append(pd.read_parquet(tmp_path / f"bills-{name}" / "bills.parquet"))
    assert len(bills[0]) == 1 and bills[0]["account"].iloc[0] == "ACCT-7"
    assert bills[0]["received_kwh"].iloc[0] == pytest.approx(received.sum() / 1000)
    pd.testing.assert_frame_equal(bills[0], bills[1])


SAMPLES = GREENBUTTON_SAMPLES


def test_public_green_button_sample_feeds(tmp_path):
    require_samples()  # fails (never skips) without the samples
    from workbench.ami.readers import read_file

    ids = ["RetailCustomer/9b6c7063/UsagePoint/01", "RetailCustomer/2/UsagePoint/2"] + [
        f"User/9b6c70{k}/UsagePoint/01" for k in range(63, 68)]
    reg = registry(tmp_path, *[f"{m},,,RES,RES-FLAT,,,,,,,,,America/New_York" for m in ids])
    by_reason = {}
    for k, name in enumerate(["15minLP_15Days.xml", "1hrLP_32DaysFiveUsagePoints_M.xml",
                              "Coastal_Single_Family_Jan_1_2011_to_Jan_1_2012.xml",
                              "TestGBDataHourlyNineDaysBinnedDaily.xml"]):
        res = ingest([SAMPLES / name], tmp_path / f"c{k}.zarr", reg)
        a = check(res)
        by_reason[name] = a["rejects_by_reason"]
        # independently, from the reader's table: reads at the feed's usual interval length, one per meter,
        # channel and start; a start read twice with different values is a conflict
        table = read_file(SAMPLES / name).table.to_pandas()
        usual = table["seconds"].mode()[0]
        groups = table[table["seconds"] == usual].groupby(["meter", "channel", "start"], observed=True)["kwh"]
        agree = groups.nunique() == 1
        assert a["accepted"] == a["new"] == int(agree.sum()), name
        assert a["duplicates"] == int((groups.size() - 1)[agree].sum())
        ds = open_cube(tmp_path / f"c{k}.zarr", chunks=False)
        assert ds.attrs["step_minutes"] * 60 == usual
        assert float(np.nansum(ds["delivered_kwh"].values)) == pytest.approx(groups.first()[agree].sum(), rel=1e-6)
    # Coastal: a reading of zero length (the reader rejects it), a two-hour reading at the spring-forward
    # change, and two different readings starting at 2011-03-13 17:00 UTC
    assert by_reason["Coastal_Single_Family_Jan_1_2011_to_Jan_1_2012.xml"] == {
        "interval length differs from the cube's step": 1, "conflicting duplicate": 2,
        "interval duration 0 s is not a positive length of time": 1}
    assert by_reason["15minLP_15Days.xml"] == {}
    # Electric.xml holds two billing-period totals (30 and 11 days), not intervals
    e = check(ingest([SAMPLES / "Electric.xml"], tmp_path / "e.zarr", reg, create_period="2012-04:2012-05",
                     step_minutes=60))
    assert (e["accepted"], e["rejected"]) == (0, 2)


# ---------------------------------------------------------------------------------------------------------
# command line


def test_cli_exit_codes_and_messages(tmp_path, capsys):
    from workbench.cli import main

    reg = registry(tmp_path, "M1,,,RES,RES-FLAT,,,,,,,,,UTC")
    data = mdm(tmp_path, "r.csv", [("M1", "2025-01-01T00:00Z", 1.0), ("M9", "2025-01-01T00:00Z", 1.0)])
    cube = str(tmp_path / "c.zarr")
    assert main(["ingest", str(data), "--into", cube]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--registry" in err and "Traceback" not in err
    assert main(["ingest", str(data), "--into", cube, "--registry", str(reg), "--period", "2025-13"]) == 2
    assert "2025-13" in capsys.readouterr().err
    assert main(["ingest", str(tmp_path / "missing.csv"), "--into", cube, "--registry", str(reg)]) == 2
    assert "missing.csv: file not found" in capsys.readouterr().err
    # rejected rows are not errors: exit 0, with the accounting and where the rejects are
    assert main(["ingest", str(data), "--into", cube, "--registry", str(reg), "--period", "2025-01",
                 "--report", str(tmp_path / "rep")]) == 0
    out = capsys.readouterr().out
    assert "2 reads in = 1 accepted + 1 rejected + 0 duplicates" in out and "unknown meter" in out
    assert "rejects: " in out and (tmp_path / "rep" / "ingest_accounting.json").exists()
    assert main(["ingest", str(data), "--into", cube]) == 0
    assert "already ingested" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("meter_id,customer_class,rate_code\nM1,XX,RES-FLAT\n")
    assert main(["ingest", str(data), "--into", str(tmp_path / "d.zarr"), "--registry", str(bad)]) == 2
    assert "customer_class" in capsys.readouterr().err


def test_errors_are_workbench_errors(tmp_path):
    reg = registry(tmp_path, "M1,,,RES,RES-FLAT,,,,,,,,,")
    data = mdm(tmp_path, "r.csv", [("M1", "2025-01-01T00:00Z", 1.0)])
    with pytest.raises(WorkbenchError, match="--timezone"):
        ingest([data], tmp_path / "c.zarr", reg)
    other = mdm(tmp_path, "o.csv", [("ZZ", "2025-01-01T00:00Z", 1.0)])
    with pytest.raises(WorkbenchError, match="none of the reads"):
        ingest([other], tmp_path / "c.zarr", reg, timezone="UTC")
    with pytest.raises(WorkbenchError, match="no interval files"):
        ingest([], tmp_path / "c.zarr", reg)


def test_green_button_csv_keeps_the_zone_its_preamble_names(tmp_path):
    # the cube is in New York; the download says Los Angeles: 00:00 PST on 15 January is 08:00 UTC
    reg = registry(tmp_path, "1234567890,,,RES,RES-FLAT,,,,,,,,,America/New_York")
    rows = ("TYPE,DATE,START TIME,END TIME,USAGE (kWh),COST,NOTES\n"
            "Electric usage,2025-01-15,00:00,00:14,0.25,$0.05,\n")
    named = tmp_path / "named.csv"
    named.write_text("Name,PAT\nAccount Number,1234567890\nTime Zone,America/Los_Angeles\n\n" + rows)
    cube = tmp_path / "c.zarr"
    check(ingest([named], cube, reg, create_period="2025-01"))
    ds = open_cube(cube, chunks=False)
    assert ds["delivered_kwh"].values[0, t_index(ds, "2025-01-15T08:00")] == 0.25
    # without a zone in the file the user must say it (the cube's zone is not assumed for these downloads)
    bare = tmp_path / "bare.csv"
    bare.write_text("Name,PAT\nAccount Number,1234567890\n\n" + rows.replace("0.25", "0.5"))
    with pytest.raises(IntervalDataError, match="timezone"):
        ingest([bare], cube, reg)
    check(ingest([bare], cube, reg, timezone="America/Chicago"))  # 00:00 CST = 06:00 UTC
    ds = open_cube(cube, chunks=False)
    assert ds["delivered_kwh"].values[0, t_index(ds, "2025-01-15T06:00")] == 0.5


def test_workbench_bill_reads_a_green_button_file_like_its_csv(tmp_path, capsys):
    """`workbench bill --intervals` takes any AMI format: the same bill from the XML as from the plain CSV."""
    from workbench.cli import main

    n = 31 * 24
    xml = tmp_path / "bidi.xml"
    xml.write_text(gb_feed(n))
    delivered, received = _values(n)
    lines = ["timestamp,delivered_kwh,received_kwh"]
    for h in range(n):
        start = pd.Timestamp(T0 + 3600 * h, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{start},{delivered[h] / 1000},{received[h] / 1000}")
    plain = tmp_path / "bidi.csv"
    plain.write_text("\n".join(lines) + "\n")
    outputs = []
    for path in (xml, plain):
        code = main(["bill", "--tariff", "tariffs/RES-TOU.yaml", "--intervals", str(path), "--program", "NEM2",
                     "--pto-date", "2024-02-01", "--format", "json"])
        assert code == 0
        outputs.append(json.loads(capsys.readouterr().out)["bills"])
    assert outputs[0] == outputs[1] and len(outputs[0]) == 1
    bill = outputs[0][0]
    assert bill["received_kwh"] == pytest.approx(received.sum() / 1000)
    # a URDB tariff has no time zone of its own: an AMI file's UTC times need --timezone
    urdb = sorted(Path("tests/data/urdb").glob("*.json"))[0]
    assert main(["bill", "--tariff", str(urdb), "--intervals", str(xml)]) == 2
    assert "--timezone" in capsys.readouterr().err
