"""The Green Button XML scan engine on its own: exact numbers, reject rows and lines, the libxml2 check (in
this process and in a second one), hostile files, engine choice, and the second process's lifetime.

Expected figures come from the test's own arithmetic or from Python's ``float``/``int``, never from the
reader under test.
"""

from __future__ import annotations

import math
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.ami.readers import _xmlscan, greenbutton_xml, read_file
from workbench.ami.readers._result import ReadStream, collect
from workbench.ami.readers.greenbutton_xml import read_greenbutton_xml_batches
from workbench.errors import IntervalDataError
from workbench.kernels.greenbutton_xml import _body

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
T0 = 1_700_000_000 - 1_700_000_000 % 3600


def read(path, engine="scan", **options):
    return collect(
        ReadStream(
            Path(path),
            "greenbutton_xml",
            lambda t: read_greenbutton_xml_batches(path, t, engine=engine, **options),
        )
    )


def write_feed(path: Path, values_per_block: list[list[str]], indent: str = "\n  ", rt_last=False) -> Path:
    """One usage point, one MeterReading, one IntervalBlock entry per list of value texts (hourly, Wh)."""
    up, mr = "RetailCustomer/1/UsagePoint/1", "RetailCustomer/1/UsagePoint/1/MeterReading/1"
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="{ATOM}">\n'
        f'<entry><link rel="self" href="{up}"/><link rel="related" href="{up}/MeterReading"/><content>'
        f'<UsagePoint xmlns="{ESPI}"/></content></entry>\n'
        f'<entry><link rel="self" href="{mr}"/><link rel="up" href="{up}/MeterReading"/>'
        f'<link rel="related" href="{mr}/IntervalBlock"/><link rel="related" href="RT/1"/><content>'
        f'<MeterReading xmlns="{ESPI}"/></content></entry>\n'
    )
    rt = (
        f'<entry><link rel="self" href="RT/1"/><content><ReadingType xmlns="{ESPI}"><flowDirection>1'
        f"</flowDirection><intervalLength>3600</intervalLength><powerOfTenMultiplier>0</powerOfTenMultiplier>"
        f"<uom>72</uom></ReadingType></content></entry>\n"
    )
    parts = [head] + ([] if rt_last else [rt])
    t = T0
    for b, values in enumerate(values_per_block):
        readings = []
        for v in values:
            readings.append(
                f"{indent}<IntervalReading>{indent}  <timePeriod><duration>3600</duration><start>{t}</start>"
                f"</timePeriod>{indent}  <value>{v}</value>{indent}</IntervalReading>"
            )
            t += 3600
        parts.append(
            f'<entry>\n  <link rel="self" href="{mr}/IntervalBlock/{b}"/>\n  <link rel="up" href="{mr}/IntervalBlock"/>'
            f'\n  <content>\n<IntervalBlock xmlns="{ESPI}">{"".join(readings)}\n</IntervalBlock>\n  </content>\n</entry>\n'
        )
    parts += [rt] if rt_last else []
    parts.append("</feed>\n")
    path.write_text("".join(parts), encoding="utf-8")
    return path


# -- the kernel's numbers --------------------------------------------------------------------------------


def kernel_value(text: str):
    """The kernel's reading of ``<value>text</value>``: a float, or None if it leaves the block to lxml."""
    body = (
        f"<IntervalReading><timePeriod><duration>1</duration><start>2</start></timePeriod><value>{text}</value>"
        "</IntervalReading></IntervalBlock>"
    ).encode()
    buf = np.frombuffer(body, dtype=np.uint8)
    out = [
        np.zeros(4, np.int64),
        np.zeros(4, np.int64),
        np.zeros(4),
        np.zeros(4, np.int64),
        np.zeros(4, np.int64),
    ]
    k, end = _body(buf, 0, buf.size, 0, 0, 0, *out)
    if k < 0:
        return None
    assert k == 1 and end == buf.size
    return out[2][0]


decimal_text = st.from_regex(r"\A-?[0-9]{1,20}(\.[0-9]{0,20})?([eE][+-]?[0-9]{1,3})?\Z")


@settings(max_examples=400, deadline=None, derandomize=True)
@given(decimal_text)
def test_kernel_reads_a_decimal_exactly_as_float_does_or_leaves_it(text):
    got = kernel_value(text)
    if got is None:
        return
    expected = float(text)
    assert struct.pack("<d", got) == struct.pack("<d", expected)  # same double, sign of zero included


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.integers(-(10**9), 10**9), st.integers(0, 6))
def test_kernel_takes_the_plain_decimals_meters_write(units, places):
    text = f"{units}" if places == 0 else f"{units // 10**places}.{abs(units) % 10**places:0{places}d}"
    got = kernel_value(text)
    assert got is not None, text
    assert struct.pack("<d", got) == struct.pack("<d", float(text))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("462", 462.0),
        (" 462\n", 462.0),  # XML whitespace around the number, as str.strip() removes it
        ("-0", -0.0),
        ("0.1", 0.1),
        ("1.5e3", 1500.0),
        ("1E22", 1e22),
        ("123456789012345", 123456789012345.0),  # 15 significant digits: exact
        ("1234567890123456", None),  # 16: left to lxml
        ("1e23", None),  # 10^23 is not an exact double
        ("abc", None),
        ("", None),
        ("1_0", None),
        ("+5", None),
        ("1e400", None),
        ("nan", None),
        ("4&#50;", None),  # an entity reference: lxml decodes it
        ("<![CDATA[42]]>", None),
    ],
)
def test_kernel_value_cases(text, expected):
    got = kernel_value(text)
    if expected is None:
        assert got is None
    else:
        assert got == expected and math.copysign(1, got) == math.copysign(1, expected)


# -- rows, rejects, lines ------------------------------------------------------------------------------------


def test_reject_row_is_the_reading_ordinal_and_raw_names_its_line(tmp_path):
    blocks = [["100", "200"], ["300", "4x0", "500"], ["600"]]  # the 4th reading of the file is bad
    path = write_feed(tmp_path / "bad_value.xml", blocks)
    res = read(path)
    assert res.counts == {"read": 6, "accepted": 5, "rejected": 1}
    (rej,) = res.rejects.to_pylist()
    assert rej["row"] == 4
    assert "'4x0' is not a number" in rej["reason"]
    lines = path.read_text().split("\n")
    value_line = next(i + 1 for i, text in enumerate(lines) if "<value>4x0</value>" in text)
    reading_line = max(i + 1 for i in range(value_line) if lines[i].strip() == "<IntervalReading>")
    assert rej["raw"].startswith(f"line {reading_line}: ")
    assert res.table["kwh"].to_pylist() == pytest.approx([0.1, 0.2, 0.3, 0.5, 0.6])
    assert res.table["row"].to_pylist() == [1, 2, 3, 5, 6]
    assert read(path, "lxml").rejects.to_pylist() == res.rejects.to_pylist()


def test_blocks_waiting_for_their_reading_type_in_small_windows(tmp_path, monkeypatch):
    monkeypatch.setattr(_xmlscan, "CHUNK_BYTES", 300)  # windows smaller than one entry: they grow
    blocks = [[str(10 * i + j) for j in range(24)] for i in range(30)]
    path = write_feed(tmp_path / "rt_last.xml", blocks, rt_last=True)
    res = read(path)
    assert res.counts == {"read": 720, "accepted": 720, "rejected": 0}
    expected = [(10 * i + j) / 1000 for i in range(30) for j in range(24)]
    assert res.table["kwh"].to_pylist() == pytest.approx(expected)
    starts = res.table["start"].cast("int64").to_numpy() // 1_000_000
    assert (starts == T0 + 3600 * np.arange(720)).all()


def test_batches_are_bounded(tmp_path):
    path = write_feed(tmp_path / "many.xml", [[str(j) for j in range(24)] for _ in range(50)])
    stream = ReadStream(
        path,
        "greenbutton_xml",
        lambda t: read_greenbutton_xml_batches(path, t, engine="scan", batch_rows=100),
    )
    sizes = [b.num_rows for b in stream]
    assert max(sizes) <= 100 and sum(sizes) == 1200 and stream.counts["accepted"] == 1200


# -- the well-formedness check, here and in a second process ------------------------------------------------


@pytest.fixture(params=["inline", "process"])
def check_mode(request, monkeypatch):
    if request.param == "process":
        monkeypatch.setattr(greenbutton_xml, "PARALLEL_CHECK_BYTES", 0)
        monkeypatch.setattr(greenbutton_xml.os, "cpu_count", lambda: 2)
    return request.param


def test_a_block_malformed_mid_file_is_an_error_naming_the_line(tmp_path, check_mode):
    blocks = [[str(j) for j in range(24)] for _ in range(40)]
    path = write_feed(tmp_path / "broken_mid.xml", blocks)
    lines = path.read_text().split("\n")
    target = next(i for i, t in enumerate(lines) if "/IntervalBlock/20" in t)  # the 21st block entry
    bad = next(i for i in range(target, len(lines)) if lines[i].strip() == "</IntervalReading>")
    lines[bad] = lines[bad].replace("</IntervalReading>", "</IntervalReadin>")
    path.write_text("\n".join(lines))
    with pytest.raises(IntervalDataError, match=rf"broken_mid\.xml.*malformed at line {bad + 1}\b"):
        for _ in _stream(path):  # in a second process the error may come after some batches
            pass


def _stream(path):
    return ReadStream(path, "greenbutton_xml", lambda t: read_greenbutton_xml_batches(path, t, engine="scan"))


def test_truncated_file_is_an_error_with_its_last_line(tmp_path, check_mode):
    path = write_feed(tmp_path / "cut.xml", [[str(j) for j in range(24)] for _ in range(20)])
    text = path.read_text()
    path.write_text(text[: len(text) * 2 // 3])
    n_lines = path.read_text().count("\n") + 1
    with pytest.raises(IntervalDataError, match=r"cut\.xml.*malformed at line (\d+)") as info:
        read(path)
    line = int(str(info.value).split("at line ")[1].split(":")[0])
    assert n_lines - 2 <= line <= n_lines + 1


LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><content><IntervalBlock xmlns="http://naesb.org/espi">
<IntervalReading><timePeriod><duration>3600</duration><start>0</start></timePeriod><value>&lol6;</value>
</IntervalReading></IntervalBlock></content></entry></feed>
"""


def test_doctype_beyond_the_prolog_scan_is_refused_by_the_check(tmp_path, check_mode):
    # the byte-level prolog scan reads 1 MiB: behind a 2 MB comment, only the libxml2 check sees the DOCTYPE
    p = tmp_path / "late_laughs.xml"
    p.write_text("<?xml version='1.0'?>\n<!--" + "x" * 2_000_000 + "-->\n" + LAUGHS.split("\n", 1)[1])
    t0 = time.perf_counter()
    with pytest.raises(
        IntervalDataError, match=r"late_laughs\.xml: refused: the file declares a DOCTYPE"
    ) as info:
        read(p)
    assert time.perf_counter() - t0 < 10 and "lol" not in str(info.value)


def test_external_entity_is_refused_and_the_secret_never_appears(tmp_path, check_mode):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-PASSWORD-42")
    p = tmp_path / "xxe.xml"
    body = f'<!DOCTYPE feed [ <!ENTITY xxe SYSTEM "{secret.as_uri()}"> ]>\n'
    p.write_text(
        "<!--"
        + "y" * 1_100_000
        + "-->\n"
        + body
        + f'<feed xmlns="{ATOM}"><entry><title>&xxe;</title></entry></feed>'
    )
    with pytest.raises(IntervalDataError, match="DOCTYPE") as info:
        read(p)
    assert "TOP-SECRET" not in str(info.value)


@pytest.mark.parametrize(
    "name, text, match",
    [
        (
            "deep.xml",
            f'<feed xmlns="{ATOM}">' + "<a>" * 5000 + "</a>" * 5000 + "</feed>",
            r"deep\.xml.*line 1",
        ),
        (
            "huge_text.xml",
            f'<feed xmlns="{ATOM}"><entry><title>' + "A" * 12_000_000 + "</title></entry></feed>",
            r"huge_text\.xml.*line 1",
        ),
        ("unbound.xml", f'<feed xmlns="{ATOM}"><x:entry><x:id/></x:entry></feed>', r"unbound\.xml.*prefix x"),
        (
            "undefined_entity.xml",
            f'<feed xmlns="{ATOM}"><entry><title>&nope;</title></entry></feed>',
            r"line 1",
        ),
        ("html.xml", "<html><body>Sign in</body></html>", r"html\.xml.*not a Green Button feed.*<html>"),
    ],
)
def test_hostile_files_are_refused_by_the_scan_engine(tmp_path, check_mode, name, text, match):
    p = tmp_path / name
    p.write_text(text)
    t0 = time.perf_counter()
    with pytest.raises(IntervalDataError, match=match):
        read(p)
    assert time.perf_counter() - t0 < 10


def test_the_second_process_ends_when_the_reading_stops_early(tmp_path, monkeypatch):
    monkeypatch.setattr(greenbutton_xml, "PARALLEL_CHECK_BYTES", 0)
    monkeypatch.setattr(greenbutton_xml.os, "cpu_count", lambda: 2)
    started = []
    original = greenbutton_xml._Check.__init__

    def recording(self, path, parallel):
        original(self, path, parallel)
        started.append(self.proc)

    monkeypatch.setattr(greenbutton_xml._Check, "__init__", recording)
    path = write_feed(tmp_path / "early.xml", [[str(j) for j in range(24)] for _ in range(200)])
    stream = ReadStream(
        path, "greenbutton_xml", lambda t: read_greenbutton_xml_batches(path, t, engine="scan", batch_rows=10)
    )
    next(stream)
    (proc,) = started
    assert proc is not None
    stream._batches.close()  # what garbage collection of an abandoned stream does
    assert proc.poll() is not None


# -- which engine reads what ---------------------------------------------------------------------------------


def test_auto_reads_small_files_with_lxml_and_large_ones_with_the_scanner(tmp_path, monkeypatch):
    path = write_feed(tmp_path / "f.xml", [["1", "2"]])
    used = []
    original = _xmlscan.Kernel.scan

    def spy(self, *args):
        used.append(True)
        return original(self, *args)

    monkeypatch.setattr(_xmlscan.Kernel, "scan", spy)
    assert read_file(path).counts["read"] == 2 and not used
    monkeypatch.setattr(greenbutton_xml, "SCAN_MIN_BYTES", 0)
    assert read_file(path).counts["read"] == 2 and used


@pytest.mark.parametrize("encoding", ["utf-16", "iso-8859-1"])
def test_other_encodings_go_to_lxml_and_read_the_same(tmp_path, encoding):
    utf8 = write_feed(tmp_path / "utf8.xml", [["1", "2.5"]])
    text = utf8.read_text().replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"')
    other = tmp_path / f"{encoding}.xml"
    other.write_bytes(text.encode(encoding))
    assert read(other).table.to_pydict()["kwh"] == read(utf8).table.to_pydict()["kwh"] == [0.001, 0.0025]


def test_a_long_stretch_without_entries_does_not_grow_the_window(tmp_path, monkeypatch):
    monkeypatch.setattr(_xmlscan, "CHUNK_BYTES", 1 << 16)
    sizes = []
    original = greenbutton_xml._fill

    def recording(f, buf, start):
        sizes.append(len(buf))
        return original(f, buf, start)

    monkeypatch.setattr(greenbutton_xml, "_fill", recording)
    path = write_feed(tmp_path / "long_head.xml", [["1", "2"], ["3"]])
    text = path.read_text()
    filler = "".join(
        f'<link rel="related" href="Batch/{i}"/><!-- {i} -->\n' for i in range(40_000)
    )  # ~2.5 MB
    filler += "<author>" + "<name>x</name>" * 1000 + "</author>\n"  # an element open across windows
    path.write_text(text.replace("<entry>", filler + "<entry>", 1))
    res = read(path)
    assert res.counts == {"read": 3, "accepted": 3, "rejected": 0}
    assert res.table["kwh"].to_pylist() == pytest.approx([0.001, 0.002, 0.003])
    assert max(sizes) == 1 << 16
