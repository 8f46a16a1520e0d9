"""Fuzzing the readers with hypothesis: whatever the bytes, a reader either reads (with read == accepted +
rejected) or raises a WorkbenchError; never another exception, never a hang (deadline per example)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from _samples import GREENBUTTON_SAMPLES, sample_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.ami.readers import read_file
from workbench.errors import WorkbenchError

SAMPLE_NAME = "Electric.xml"  # read when a test first needs it (not at import: a clear failure without samples)
COASTAL_NAME = "Coastal_Single_Family_Jan_1_2011_to_Jan_1_2012.xml"
ANYWHERE = st.integers(0, 2**24)  # a position in a sample feed, taken modulo its length inside the test
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


@pytest.fixture(scope="module", autouse=True)
def _compiled_scan_kernel():
    """Compile (or load from numba's cache) the scan kernel once, so a fresh checkout's first compile (10-25 s)
    is not charged to the first example's deadline. Without the samples this does nothing: the tests that need
    them fail, saying so; the others need no sample."""
    if (GREENBUTTON_SAMPLES / SAMPLE_NAME).is_file():
        _read_scan(sample_bytes(SAMPLE_NAME))


@FUZZ
@given(
    st.lists(st.tuples(ANYWHERE, st.binary(min_size=0, max_size=8)), max_size=6),
    ANYWHERE,
)
def test_mutated_sample_feed(edits, cut):
    sample = sample_bytes(SAMPLE_NAME)
    cut %= len(sample) + 1
    data = bytearray(sample[:cut] if cut > len(sample) // 2 else sample)
    for pos, repl in edits:
        pos %= len(sample)
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


# -- the Green Button XML scan engine (byte splitter + numba kernel), forced on small files ---------------

def _read_scan(data: bytes):
    """Read with the scan engine, its libxml2 check deferred to the end as when it runs in a second process:
    the scanner itself meets the broken bytes."""
    from workbench.ami.readers import greenbutton_xml
    from workbench.ami.readers._result import ReadStream, collect
    from workbench.ami.readers.greenbutton_xml_check import check_file

    class LateCheck(greenbutton_xml._Check):
        def __init__(self, path, parallel):
            self.path, self.proc, self.verdict = path, None, None

        def raise_if_bad(self):
            if self.verdict is None:
                self.verdict = check_file(self.path)
            super().raise_if_bad()

    saved = greenbutton_xml._Check, greenbutton_xml.PARALLEL_CHECK_BYTES
    greenbutton_xml._Check, greenbutton_xml.PARALLEL_CHECK_BYTES = LateCheck, 0
    try:
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "fuzz.xml"
            p.write_bytes(data)
            stream = ReadStream(
                p,
                "greenbutton_xml",
                lambda t: greenbutton_xml.read_greenbutton_xml_batches(p, t, engine="scan"),
            )
            try:
                res = collect(stream)
            except WorkbenchError as e:
                assert str(p) in str(e)
                return None
            c = res.counts
            assert c["read"] == c["accepted"] + c["rejected"]
            return res
    finally:
        greenbutton_xml._Check, greenbutton_xml.PARALLEL_CHECK_BYTES = saved


@pytest.fixture(scope="module", autouse=True)
def _compiled_scan_kernel():
    """Compile (or load from numba's cache) the scan kernel once, so a fresh checkout's first compile (10-25 s)
    is not charged to the first example's deadline. Without the samples this does nothing: the tests that need
    them fail, saying so; the others need no sample."""
    if (GREENBUTTON_SAMPLES / SAMPLE_NAME).is_file():
        _read_scan(sample_bytes(SAMPLE_NAME))


@FUZZ
@given(
    st.lists(st.tuples(ANYWHERE, st.binary(min_size=0, max_size=8)), max_size=6),
    ANYWHERE,
)
def test_mutated_sample_feed_through_the_scan_engine(edits, cut):
    sample = sample_bytes(SAMPLE_NAME)
    cut %= len(sample) + 1
    data = bytearray(sample[:cut] if cut > len(sample) // 2 else sample)
    for pos, repl in edits:
        pos %= len(sample)
        pos = min(pos, len(data))
        data[pos : pos + len(repl)] = repl
    _read_scan(bytes(data))


@FUZZ
@given(
    st.lists(
        st.tuples(
            ANYWHERE, st.sampled_from([b"<", b">", b"/", b"&", b"-", b"9", b" ", b""])
        ),
        min_size=1,
        max_size=4,
    )
)
def test_markup_bytes_flipped_in_a_year_long_feed_through_the_scan_engine(edits):
    data = bytearray(sample_bytes(COASTAL_NAME))
    for pos, repl in edits:
        pos %= len(data)
        data[pos : pos + 1] = repl
    _read_scan(bytes(data))
