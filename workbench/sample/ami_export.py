"""The sample utility as its AMI head-end would hand it over: an MDM export, a meter registry, read dates.

:func:`export_ami` turns a (clean, generated) interval cube into what a real utility's billing staff receive,
with the faults real exports have, so that the meter-to-cash path can be run end to end and checked:

    workbench sample --meters 2000 --out data/sample/cube.zarr --ami data/sample/ami
    workbench ingest data/sample/ami/reads-*.parquet --into data/sample/ingested.zarr \\
        --registry data/sample/ami/meters.csv --read-dates data/sample/ami/read-dates.csv --period 2025-01:2025-12
    workbench vee --cube data/sample/ingested.zarr --report reports/vee

Written to ``out_dir`` (new, empty or an earlier AMI export, see :mod:`workbench.sample.output`; staged and
renamed into place):

- ``reads-YYYY-MM.parquet``: MDM long format (``meter_id, interval_start, channel, value, unit, quality``), one
  file per month, raw meter values (CT × PT not applied: the registry applies it), only the intervals read;
- ``accounts.csv``: the accounts file of docs/ledger.md (synthetic names and addresses, a few opening
  balances and deposits): ``workbench ledger load-accounts`` loads it (:mod:`workbench.sample.accounts`);
- ``meters.csv``: the meter registry; a few service points have a meter exchange mid-year (two meter ids, the
  old one removed the day the new one is installed);
- ``read-dates.csv``: ``cycle,read_date`` of every bill cycle;
- ``faults.json``: what was injected, the truth to check the ingest and VEE against.

Faults: interval faults from :func:`workbench.vee.faults.inject_faults` (gaps, spikes, flatlines, negative
reads, reverse flow, zero-use days, outages) and, in the files, what ingest must reject or count: identical
and conflicting duplicate rows, reads of a meter not in the registry, reads after the export's year, a
non-energy unit (kW), and reads of an exchanged meter after its removal. The large C&I meters that record
kVARh (the cube's ``has_reactive``) export them as ``kVArh`` rows of channel ``delivered`` (lagging).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.ami.cube import open_cube
from workbench.outputs.guard import staged_output
from workbench.sample.accounts import sample_accounts
from workbench.sample.output import AMI_KIND, check_ami_out
from workbench.vee.faults import inject_faults

#: file-level faults written into the export (rows of each)
FILE_FAULTS = {"identical_duplicates": 6, "conflicting_duplicates": 3, "unknown_meter": 96,
               "after_period": 96, "wrong_unit": 4, "inactive_meter": 8}

_SCHEMA = pa.schema([("meter_id", pa.dictionary(pa.int32(), pa.string())), ("interval_start", pa.timestamp("us", tz="UTC")),
                     ("channel", pa.dictionary(pa.int32(), pa.string())), ("value", pa.float64()),
                     ("unit", pa.dictionary(pa.int32(), pa.string())), ("quality", pa.dictionary(pa.int32(), pa.string()))])


def _dict(codes, labels) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, np.int32)), pa.array(labels, pa.string()))


def _batch(meter_codes, meter_labels, start_us, channel, value, unit="kWh", estimated=None) -> pa.RecordBatch:
    n = len(value)
    quality = np.zeros(n, np.int32) if estimated is None else np.asarray(estimated, np.int32)
    return pa.RecordBatch.from_arrays([
        _dict(meter_codes, meter_labels),
        pa.array(np.asarray(start_us, np.int64)).view(pa.timestamp("us", tz="UTC")),
        _dict(np.zeros(n), [channel]), pa.array(np.asarray(value, np.float64)),
        _dict(np.zeros(n), [unit]), _dict(quality, ["A", "E"]),
    ], schema=_SCHEMA)


def _exchanges(ds, n: int, rng) -> dict[int, np.datetime64]:
    """Service-point rows whose meter is exchanged, and the UTC instant of the exchange (local midnight)."""
    t0 = ds["time"].values[0].astype("datetime64[D]")
    # inside the cube's span (a --months cube is shorter than a year), with 2 days after it for the
    # inactive-meter reads; a whole year draws as it always did (60..300)
    span_days = int((ds["time"].values[-1].astype("datetime64[D]") - t0) / np.timedelta64(1, "D"))
    high = min(300, span_days - 2)
    if high <= 1:
        return {}
    rows = rng.choice(ds.sizes["meter"], size=min(n, ds.sizes["meter"]), replace=False)
    days = rng.integers(min(60, high // 3), high, size=len(rows))
    tz = ds.attrs["timezone"]
    out = {}
    for r, d in zip(rows, days, strict=True):
        local = pd.Timestamp(t0 + np.timedelta64(int(d), "D")).tz_localize(tz)
        out[int(r)] = np.datetime64(local.tz_convert("UTC").tz_localize(None), "us")
    return out


def export_ami(cube, out_dir, *, seed: int = 7, fault_share: float = 0.02, exchanges: int = 2,
               file_faults: bool = True) -> dict:
    """Write the AMI export of ``cube`` into ``out_dir``; returns the truth (also in ``faults.json``)."""
    check_ami_out(out_dir)  # before any work: a folder that is not ours is refused at once
    ds = open_cube(cube)
    rng = np.random.default_rng(seed)
    n, times = ds.sizes["meter"], ds["time"].values.astype("datetime64[us]")
    t_us = times.astype(np.int64)
    local = pd.DatetimeIndex(times).tz_localize("UTC").tz_convert(ds.attrs["timezone"]).tz_localize(None)
    months = local.to_numpy().astype("datetime64[M]")  # files by local month, as a utility exports them
    month_keys = [str(m) for m in np.unique(months)]
    meters = ds["meter"].values.astype(str)
    mult = ds["multiplier"].values.astype(np.float64)
    exchange = _exchanges(ds, exchanges, rng)
    chunk = ds["delivered_kwh"].chunks[0][0] if ds["delivered_kwh"].chunks else 1000
    truth_frames, reads = [], 0
    with staged_output(out_dir, AMI_KIND, check_ami_out, option="--ami") as tmp:
        writers = {m: pq.ParquetWriter(tmp / f"reads-{m}.parquet", _SCHEMA, compression="zstd") for m in month_keys}
        try:
            for c, start in enumerate(range(0, n, chunk)):
                block = ds.isel(meter=slice(start, start + chunk)).load()
                block, truth = inject_faults(block, seed + c, share=fault_share)
                if c == 0:  # meter 0's first reads, as exported: the duplicates below repeat them
                    ref = block["delivered_kwh"].values[0, :400].astype(np.float64) / mult[0]
                truth_frames.append(truth.assign(meter_index=truth["meter_index"] + start))
                labels = list(meters[start:start + chunk]) + [f"{meters[r]}-B" for r in exchange if start <= r < start + chunk]
                extra = {r: len(meters[start:start + chunk]) + i
                         for i, r in enumerate(r for r in exchange if start <= r < start + chunk)}
                for channel, unit in _channels(block):
                    name = "reactive_kvarh" if unit == "kVArh" else f"{channel}_kwh"
                    values = block[name].values.astype(np.float64) / mult[start:start + chunk, None]
                    estimated = block["quality"].values == 1
                    if unit == "kVArh":  # kVARh carry no quality of their own: as read
                        estimated = np.zeros_like(estimated)
                    rows_idx = np.arange(values.shape[0])  # AMI meters are bidirectional: both channels, always
                    for mkey in month_keys:
                        cols = np.flatnonzero(months == np.datetime64(mkey))
                        sub = values[np.ix_(rows_idx, cols)]
                        m_i, t_i = np.nonzero(~np.isnan(sub))
                        if not len(m_i):
                            continue
                        code = rows_idx[m_i].astype(np.int32)
                        when = t_us[cols][t_i]
                        for r, local_row in extra.items():  # reads after the exchange carry the new meter's id
                            code[(code == r - start) & (when >= exchange[r].astype(np.int64))] = local_row
                        writers[mkey].write_batch(_batch(code, labels, when, channel, sub[m_i, t_i], unit,
                                                         estimated=estimated[np.ix_(rows_idx, cols)][m_i, t_i]))
                        reads += len(m_i)
            if file_faults:
                reads += _file_faults(writers, month_keys, meters, times, exchange, rng, ref)
        finally:
            for w in writers.values():
                w.close()
        registry = _registry(ds, exchange)
        registry.to_csv(tmp / "meters.csv", index=False)
        sample_accounts(registry, seed=seed).to_csv(tmp / "accounts.csv", index=False)  # docs/ledger.md layout
        _read_dates(ds).to_csv(tmp / "read-dates.csv", index=False)
        truth = pd.concat(truth_frames, ignore_index=True)
        summary = {"cube": str(cube), "reads_written": int(reads), "months": month_keys,
                   "exchanges": {meters[r]: str(exchange[r]) + "Z" for r in exchange},
                   "file_faults": FILE_FAULTS if file_faults else {},
                   "interval_faults": truth["fault"].value_counts().sort_index().to_dict()}
        truth.to_csv(tmp / "interval-faults.csv", index=False)
        (tmp / "faults.json").write_text(json.dumps(summary, indent=2))
    return summary


def _channels(block) -> list[tuple[str, str]]:
    """(channel, unit) of the export's reads: kWh both ways, and lagging kVArh (channel delivered) for a chunk
    with meters that record it."""
    out = [("delivered", "kWh"), ("received", "kWh")]
    if "reactive_kvarh" in block and bool(np.asarray(block["has_reactive"].values).any()):
        out.append(("delivered", "kVArh"))
    return out


def _file_faults(writers, month_keys, meters, times, exchange, rng, ref) -> int:
    """Rows every ingest must reject or count as duplicates; written into the first month's file."""
    first = writers[month_keys[0]]
    t_us = times.astype(np.int64)
    step = int(t_us[1] - t_us[0])
    f = FILE_FAULTS
    rows = 0

    def write(codes, labels, when, values, unit="kWh"):
        nonlocal rows
        first.write_batch(_batch(codes, labels, when, "delivered", values, unit))
        rows += len(values)

    # duplicates of real reads of meter 0: identical ones, and ones with another value
    read = np.flatnonzero(~np.isnan(ref))
    same, other = read[: f["identical_duplicates"]], read[-f["conflicting_duplicates"]:]
    write(np.zeros(len(same)), [meters[0]], t_us[same], ref[same])
    write(np.zeros(len(other)), [meters[0]], t_us[other], ref[other] + 1.0)
    write(np.zeros(f["unknown_meter"]), ["M-NOT-IN-REGISTRY"], t_us[: f["unknown_meter"]], rng.random(f["unknown_meter"]))
    after = t_us[-1] + step * (1 + np.arange(f["after_period"]))
    write(np.zeros(f["after_period"]), [meters[-1]], after, rng.random(f["after_period"]))
    # a demand (kW) read in an energy export: not energy, rejected (kVArh reads are real data: they land)
    write(np.zeros(f["wrong_unit"]), [meters[1 % len(meters)]], t_us[200: 200 + f["wrong_unit"]], np.ones(f["wrong_unit"]),
          unit="kW")
    if exchange:
        r, when = next(iter(exchange.items()))
        k = int(np.searchsorted(t_us, when.astype(np.int64)))
        write(np.zeros(f["inactive_meter"]), [meters[r]], t_us[k + 100: k + 100 + f["inactive_meter"]], np.ones(f["inactive_meter"]))
    return rows


def _registry(ds, exchange) -> pd.DataFrame:
    tz = ds.attrs["timezone"]
    base = pd.DataFrame({
        "meter_id": ds["meter"].values.astype(str), "service_point": ds["meter"].values.astype(str),
        "account": ds["account"].values.astype(str), "customer_class": ds["customer_class"].values.astype(str),
        "rate_code": ds["rate_code"].values.astype(str), "cycle": ds["cycle"].values.astype(int),
        "nem_program": ds["nem_program"].values.astype(str), "ct_ratio": ds["multiplier"].values.astype(float),
        "pt_ratio": 1.0, "multiplier_applied": "no", "channels": "delivered+received",  # AMI meters are bidirectional
        "install_date": "", "removal_date": "", "timezone": tz,
    })
    new_rows = []
    for r, when in exchange.items():
        local = pd.Timestamp(when).tz_localize("UTC").tz_convert(tz).strftime("%Y-%m-%d")
        base.loc[r, "removal_date"] = local
        row = base.loc[r].copy()
        row["meter_id"], row["install_date"], row["removal_date"] = f"{row['service_point']}-B", local, ""
        new_rows.append(row)
    return pd.concat([base, pd.DataFrame(new_rows)], ignore_index=True)


def _read_dates(ds) -> pd.DataFrame:
    rd = ds["read_date"].values
    cyc = ds["cycle_id"].values
    out = [(int(c), str(np.datetime64(d, "D"))) for i, c in enumerate(cyc) for d in rd[i] if not np.isnat(d)]
    return pd.DataFrame(out, columns=["cycle", "read_date"])


__all__ = ["FILE_FAULTS", "export_ami"]
