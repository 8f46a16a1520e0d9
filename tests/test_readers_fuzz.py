"""Fuzzing the readers with hypothesis: whatever the bytes, a reader either reads (with read == accepted +
rejected) or raises a WorkbenchError; never another exception, never a hang (deadline per example)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.ami.readers import read_file
from workbench.errors import WorkbenchError

SAMPLE = Path("/work/shared/data/greenbutton/Electric.xml").read_bytes()
FUZZ = settings(
    max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def _read(data: bytes, suffix: str, fmt: str | None = None, **options):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"fuzz{suffix}"
        p.write_bytes(data)
        try:
            res = read_file(p, fmt, **options)
        except WorkbenchError as e:
            assert str(p) in str(e)  # every error names the file
            return None
        c = res.counts
        assert c["read"] == c["accepted"] + c["rejected"]
        return res


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_as_greenbutton_xml(data):
    _read(data, ".xml", "greenbutton_xml")


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_sniffed(data):
    _read(data, ".dat", None, timezone="UTC", interval_seconds=900)


@FUZZ
@given(
    st.lists(st.tuples(st.integers(0, len(SAMPLE) - 1), st.binary(min_size=0, max_size=8)), max_size=6),
    st.integers(0, len(SAMPLE)),
)
def test_mutated_sample_feed(edits, cut):
    data = bytearray(SAMPLE[:cut] if cut > len(SAMPLE) // 2 else SAMPLE)
    for pos, repl in edits:
        pos = min(pos, len(data))
        data[pos : pos + len(repl)] = repl
    _read(bytes(data), ".xml", "greenbutton_xml")


_cell = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "0.5",
            "-1",
            "nan",
            "1e400",
            "2024-11-03",
            "01:00",
            "1:00 AM",
            "00:59",
            "kWh",
            "Wh",
            "therms",
            "2024-01-01T00:00:00Z",
            "delivered",
            "received",
            "E",
            "R0",
            "000015",
            "MEPMD01",
        ]
    ),
)
_rows = st.lists(st.lists(_cell, min_size=1, max_size=8), max_size=8)


def _csv(header: str, rows) -> bytes:
    import csv
    import io

    buf = io.StringIO()
    buf.write(header + "\n")
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8", errors="surrogatepass")


@FUZZ
@given(_rows)
def test_random_rows_pge_csv(rows):
    _read(
        _csv("Account Number,1\nTYPE,DATE,START TIME,END TIME,USAGE (kWh),COST,NOTES", rows),
        ".csv",
        "greenbutton_csv",
        timezone="America/Los_Angeles",
    )


@FUZZ
@given(_rows)
def test_random_rows_sdge_csv(rows):
    _read(
        _csv("Meter Number,Date,Start Time,Duration,Consumption,Generation,Net", rows),
        ".csv",
        "greenbutton_csv",
        timezone="America/Los_Angeles",
    )


@FUZZ
@given(_rows)
def test_random_rows_mdm_csv(rows):
    _read(
        _csv("meter,interval_end,channel,value,unit,quality", rows),
        ".csv",
        "mdm_csv",
        timezone="America/New_York",
        interval_seconds=900,
    )


@FUZZ
@given(_rows)
def test_random_rows_cmep(rows):
    rows = [["MEPMD01", *r] for r in rows]
    _read(
        _csv("MEPMD01,x,S,C,R,RC,202401010000,M1,OK,E,KWH,1,000015,1,202401010015,R0,1", rows),
        ".csv",
        "cmep",
        timezone="America/New_York",
    )
