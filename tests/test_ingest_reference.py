"""The ingest against a slow, obviously-correct pandas reference, on shuffled random reads with every kind of
problem (unknown meters, wrong lengths, off-grid and out-of-period times, inactive meters, channels a meter
does not record, identical and conflicting duplicates across two files of two formats), in small batches and
a tiny memory budget so that chunks are partitioned, parked and brought back. Then a second ingest of
corrections, checked the same way (new / updated / unchanged, and the audit trail).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.ami.cube import open_cube
from workbench.ami.ingest import ingest
from workbench.ami.registry import MeterRegistry
from workbench.ami.registry_meter import Meter

STEP = 900_000_000  # 15 minutes [µs]
T0 = int(pd.Timestamp("2025-01-01T00:00Z").value // 1000)  # µs, UTC cube: January
N_TIME = 31 * 96
EXCHANGE = T0 + 1000 * STEP  # X-OLD removed / X-NEW installed at interval 1000


def make_registry() -> MeterRegistry:
    meters = []
    for i in range(30):
        ct = 10.0 if i % 5 == 0 else 1.0
        meters.append(Meter(f"M{i}", f"M{i}", f"A{i}", "RES", "RES-FLAT", ct_ratio=ct, pt_ratio=2.0 if i % 5 == 0
                            else 1.0, multiplier_applied=(i % 7 == 0), channels=("delivered", "received") if i % 2 == 0
                            else ("delivered",), timezone="UTC", row=i + 2))
    ex = pd.Timestamp(EXCHANGE * 1000).to_pydatetime()
    meters.append(Meter("X-OLD", "X", "AX", "RES", "RES-FLAT", removal=ex, timezone="UTC", row=40))
    meters.append(Meter("X-NEW", "X", "AX", "RES", "RES-FLAT", channels=("delivered", "received"), ct_ratio=4,
                        install=ex, timezone="UTC", row=41))
    return MeterRegistry(meters, "ref")


def make_reads(rng, n=6000) -> pd.DataFrame:
    ids = [f"M{i}" for i in range(30)] + ["X-OLD", "X-NEW", "U1", "U2"]
    meter = rng.choice(ids, n)
    t = rng.integers(-20, N_TIME + 20, n)
    start = T0 + t * STEP + np.where(rng.random(n) < 0.01, 60_000_000, 0)  # 1% a minute off the grid
    seconds = np.where(rng.random(n) < 0.01, 3600, 900)
    frame = pd.DataFrame({
        "meter": meter, "start": start, "channel": rng.choice(["delivered", "received"], n),
        "value": np.round(rng.random(n) * 3, 3), "quality": np.where(rng.random(n) < 0.1, "E", "A"),
        "seconds": seconds,
    })
    same = frame.sample(400, random_state=1)  # identical duplicates
    differ = frame.sample(60, random_state=2).assign(value=lambda f: f["value"] + 0.5)  # conflicting
    flag = frame.sample(20, random_state=3).assign(quality=lambda f: np.where(f["quality"] == "E", "A", "E"))
    return pd.concat([frame, same, differ, flag]).sample(frac=1, random_state=4).reset_index(drop=True)


def write_files(frame: pd.DataFrame, tmp_path, tag: str):
    """First half as MDM CSV, second half as MDM Parquet; returns paths and the frame with file/row columns."""
    half = len(frame) // 2
    a, b = frame.iloc[:half].copy(), frame.iloc[half:].copy()
    csv_path, pq_path = tmp_path / f"{tag}.csv", tmp_path / f"{tag}.parquet"
    out = a.assign(interval_start=pd.to_datetime(a["start"], unit="us", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   unit="kWh")
    out[["meter", "interval_start", "channel", "value", "unit", "quality", "seconds"]].rename(
        columns={"seconds": "interval_seconds"}).to_csv(csv_path, index=False)
    pq.write_table(pa.table({
        "meter": b["meter"].to_numpy(), "interval_start": pa.array(b["start"].to_numpy()).view(
            pa.timestamp("us", tz="UTC")),
        "channel": b["channel"].to_numpy(), "value": b["value"].to_numpy(), "unit": ["kWh"] * len(b),
        "quality": b["quality"].to_numpy(), "interval_seconds": b["seconds"].to_numpy()}), pq_path, row_group_size=700)
    a["file"], a["row"] = str(csv_path), np.arange(len(a)) + 2  # line 1 is the header
    b["file"], b["row"] = str(pq_path), np.arange(len(b)) + 1
    return [csv_path, pq_path], pd.concat([a, b])


def reference(reads: pd.DataFrame, reg: MeterRegistry, rows: list[str], prev: dict | None):
    """Per read the reject category or None, then per cell the value kept; the expected cube and counts."""
    by_id = {m.meter_id: m for m in reg}
    cats = []
    for r in reads.itertuples():
        m = by_id.get(r.meter)
        off = r.start - T0
        lo, hi = m.window_utc("UTC") if m else (None, None)
        if m is None:
            cats.append("unknown meter")
        elif r.channel not in m.channels:
            cats.append("channel not on the meter")
        elif r.seconds != 900:
            cats.append("interval length differs from the cube's step")
        elif off % STEP:
            cats.append("timestamp not on the cube's interval grid")
        elif not 0 <= off < N_TIME * STEP:
            cats.append("timestamp outside the cube's period")
        elif (lo is not None and r.start < lo.astype(np.int64)) or (hi is not None and r.start >= hi.astype(np.int64)):
            cats.append("data on inactive meter")
        else:
            cats.append(None)
    reads = reads.assign(category=cats)
    ok = reads[reads["category"].isna()].copy()
    factor = {m.meter_id: 1.0 if m.multiplier_applied else m.multiplier for m in reg}
    ok["kwh"] = (ok["value"] * ok["meter"].map(factor)).astype(np.float32)
    ok["est"] = ok["quality"] == "E"
    ok["row_i"] = ok["meter"].map(lambda mid: rows.index(by_id[mid].service_point))
    ok["t"] = (ok["start"] - T0) // STEP
    ok["c"] = (ok["channel"] == "received").astype(int)
    cells = ok.groupby(["row_i", "t", "c"])
    agree = (cells["kwh"].nunique() == 1) & (cells["est"].nunique() == 1)
    conflicted = ok.set_index(["row_i", "t", "c"]).index.isin(agree[~agree].index)
    n_conflict = int(conflicted.sum())
    kept = cells.first()[agree]
    # the cube: NaN / 0 for delivered-only meters' received, quality 2; then the kept values
    d = np.full((len(rows), N_TIME), np.nan, np.float32) if prev is None else prev["d"].copy()
    r_ = np.full((len(rows), N_TIME), np.nan, np.float32) if prev is None else prev["r"].copy()
    q = np.full((len(rows), N_TIME), 2, np.uint8) if prev is None else prev["q"].copy()
    est = np.zeros((2, len(rows), N_TIME), bool) if prev is None else prev["est"].copy()
    if prev is None:
        for i, sp in enumerate(rows):
            if sp.startswith("M") and int(sp[1:]) % 2:
                r_[i] = 0
            if sp == "X":
                r_[i, : (EXCHANGE - T0) // STEP] = 0
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    had = np.zeros((2, len(rows), N_TIME), bool) if prev is None else prev["had"].copy()
    touched = np.zeros((len(rows), N_TIME), bool)
    for (i, t, c), rec in kept.iterrows():
        arr = d if c == 0 else r_
        old, old_est = arr[i, t], est[c, i, t]
        if np.isnan(old):
            counts["new"] += 1
        elif old == rec["kwh"] and old_est == rec["est"]:
            counts["unchanged"] += 1
            continue
        else:
            counts["updated"] += 1
        arr[i, t], est[c, i, t], had[c, i, t] = rec["kwh"], rec["est"], True
        touched[i, t] = True
    for i, t in zip(*np.nonzero(touched), strict=True):
        parts = [int(est[c, i, t]) if had[c, i, t] else 2 for c, v in ((0, d[i, t]), (1, r_[i, t]))
                 if had[c, i, t] or np.isnan(v)]
        q[i, t] = max(parts)
    rejected = reads["category"].value_counts().to_dict()
    if n_conflict:
        rejected["conflicting duplicate"] = n_conflict
    duplicates = len(ok) - n_conflict - len(kept)
    return {"d": d, "r": r_, "q": q, "est": est, "had": had, "counts": counts, "rejected": rejected,
            "duplicates": duplicates, "accepted": len(kept), "reads": reads}


@pytest.mark.parametrize("seed", [0, 1])
def test_ingest_matches_the_pandas_reference(tmp_path, seed):
    rng = np.random.default_rng(seed)
    reg = make_registry()
    reads = make_reads(rng)
    files, reads = write_files(reads, tmp_path, "first")
    cube = tmp_path / "c.zarr"
    res = ingest(files, cube, reg, create_period="2025-01", step_minutes=15, meter_chunk=7, batch_rows=500,
                 memory_budget=1)
    ds = open_cube(cube, chunks=False)
    rows = list(ds["meter"].values)
    assert rows == [f"M{i}" for i in range(30)] + ["X"]
    ref = reference(reads, reg, rows, None)
    reads = ref["reads"]
    a = res.accounting
    assert len(ref["rejected"]) == 7 and ref["duplicates"] > 100  # every kind of reject happened
    assert a["rejects_by_reason"] == ref["rejected"]
    assert (a["accepted"], a["duplicates"], a["new"]) == (ref["accepted"], ref["duplicates"], ref["accepted"])
    assert a["reads_in"] == len(reads) == a["accepted"] + a["rejected"] + a["duplicates"]
    np.testing.assert_array_equal(ds["delivered_kwh"].values, ref["d"])
    np.testing.assert_array_equal(ds["received_kwh"].values, ref["r"])
    np.testing.assert_array_equal(ds["quality"].values, ref["q"])
    rej = pd.read_parquet(res.rejects_path)
    got = sorted(zip(rej["file"], rej["row"], rej["category"], strict=True))
    want = sorted((f, r, c) for f, r, c in zip(reads["file"], reads["row"], reads["category"], strict=True)
                  if isinstance(c, str))
    assert [g for g in got if g[2] != "conflicting duplicate"] == want

    # corrections: a third of the accepted cells again, some changed, plus new reads
    again = reads[reads["category"].isna()].sample(frac=0.3, random_state=seed).copy()
    change = rng.random(len(again)) < 0.4
    again.loc[change, "value"] = np.round(again.loc[change, "value"] + 0.25, 3)
    fresh = make_reads(np.random.default_rng(seed + 10), n=800)
    second = pd.concat([again.drop(columns=["file", "row", "category"]), fresh])
    second = second.drop_duplicates(["meter", "start", "channel"], keep="first")  # no conflicts this time
    files2, second = write_files(second, tmp_path, "second")
    res2 = ingest(files2, cube, reg, batch_rows=300)
    prev = {k: ref[k] for k in ("d", "r", "q", "est", "had")}
    ref2 = reference(second, reg, rows, prev)
    a2 = res2.accounting
    assert min(ref2["counts"].values()) > 100
    assert {k: a2[k] for k in ("new", "updated", "unchanged")} == ref2["counts"]
    assert a2["rejects_by_reason"] == ref2["rejected"] and a2["duplicates"] == ref2["duplicates"]
    ds2 = open_cube(cube, chunks=False)
    np.testing.assert_array_equal(ds2["delivered_kwh"].values, ref2["d"])
    np.testing.assert_array_equal(ds2["received_kwh"].values, ref2["r"])
    np.testing.assert_array_equal(ds2["quality"].values, ref2["q"])
    audit = pd.read_parquet(res2.audit_path) if res2.audit_path else pd.DataFrame(columns=["previous_kwh"])
    assert len(audit) == ref2["counts"]["updated"]
    if len(audit):
        i = audit["meter"].map(rows.index).to_numpy()
        t = (audit["time"].dt.tz_convert(None).to_numpy().astype("datetime64[us]").astype(np.int64) - T0) // STEP
        c = (audit["channel"] == "received").to_numpy()
        prev_vals = np.where(c, ref["r"][i, t], ref["d"][i, t])
        np.testing.assert_array_equal(audit["previous_kwh"].to_numpy(), prev_vals)
        assert set(audit["previous_source"]) <= {str(f) for f in files}
        assert set(audit["new_source"]) <= {str(f) for f in files2}
