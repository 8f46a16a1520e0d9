"""The Green Button XML scan engine (byte splitter + numba kernel) against the lxml engine, on random feeds.

The lxml engine is the reference: hardened iterparse and XPath, the reader as it was before the scan engine.
Hypothesis builds feeds the way real exports differ (default namespace, ``espi:``/``ns0:`` prefixes declared
on the root or on the element, indentation or none, comments, CDATA, cost and ReadingQuality elements,
elements in another order, several blocks per entry and several usage points) and the way broken exports
differ (values that are not numbers or are beyond exact reading, missing elements, entity references,
attributes, entries nested in other elements). Whatever the feed, both engines must give the same reads, the
same rejects with the same reasons, the same counts and metadata, or both refuse the file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from _samples import sample_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.ami.readers import _xmlscan
from workbench.ami.readers._result import ReadStream, collect
from workbench.ami.readers.greenbutton_xml import read_greenbutton_xml_batches
from workbench.errors import IntervalDataError

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
SAMPLES = sample_files("*.xml")  # never empty: without samples, one test that fails saying so
AGREE = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def read(path, engine, **options):
    stream = ReadStream(
        Path(path),
        "greenbutton_xml",
        lambda t: read_greenbutton_xml_batches(path, t, engine=engine, **options),
    )
    return collect(stream)


def outcome(path, engine, **options):
    """Everything a reader says about a file, comparable across engines (rows in file order)."""
    try:
        res = read(path, engine, **options)
    except IntervalDataError as e:
        assert str(path) in str(e)
        return "refused"
    table = res.table.sort_by("row") if options.get("max_pending_readings") else res.table
    rejects = res.rejects.sort_by("row") if options.get("max_pending_readings") else res.rejects
    return (
        {k: v for k, v in table.to_pydict().items()},
        rejects.to_pydict(),
        res.counts,
        res.metadata,
    )


def assert_engines_agree(path, **options):
    expected = outcome(path, "lxml", **options)
    got = outcome(path, "scan", **options)
    assert got == expected
    return expected


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_feeds_read_the_same_with_both_engines(path):
    expected = assert_engines_agree(path)
    assert expected != "refused" and expected[2]["read"] > 0


@pytest.mark.parametrize("chunk", [64, 1000, 50_000])
def test_sample_feed_read_in_small_windows(monkeypatch, chunk):
    monkeypatch.setattr(_xmlscan, "CHUNK_BYTES", chunk)
    for path in SAMPLES:
        assert_engines_agree(path)


# -- random feeds ------------------------------------------------------------------------------------------


def mostly(clean, odd, one_in: int = 8):
    """``clean``, or ``odd`` one time in ``one_in``."""
    return st.integers(1, one_in).flatmap(lambda i: odd if i == 1 else clean)


ws = st.sampled_from(["", " ", "\n", "\n    ", "\r\n\t"])
comment = mostly(st.just(""), st.sampled_from(["<!-- a comment -->", "<!-- - -->", "<?pi some data?>"]), 4)
integer_text = mostly(
    st.integers(-(10**6), 2_000_000_000).map(str),
    st.sampled_from(["0", "-0", "007", " 3600 ", "\n900\n", "1.0", "1e3", "+5", "1_0", "", "x", "9" * 16]),
    25,
)
value_text = mostly(
    st.one_of(  # what meters write: Wh as integers, or a few decimals
        st.integers(-(10**6), 10**9).map(str),
        st.integers(0, 3)
        .flatmap(lambda places: st.decimals(-(10**6), 10**9, allow_nan=False, places=places))
        .map(str),
    ),
    st.one_of(
        st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),  # up to 17 digits
        st.integers(0, 20)
        .flatmap(lambda places: st.decimals(allow_nan=False, allow_infinity=False, places=places))
        .map(str),
        st.sampled_from(
            [
                "0.1",
                "-0",
                ".5",
                "5.",
                "1E22",
                "1e23",
                "123456789012345",
                "1234567890123456",
                "0.000000000000000000000001",
                " 12.5 ",
                "1e400",
                "nan",
                "inf",
                "abc",
                "",
                "1,5",
                "&#52;2",
                "<![CDATA[42]]>",
                "4<!-- c -->2",
                "42<!-- c -->",
            ]
        ),
    ),
    8,
)
quality_text = mostly(
    st.sampled_from(["8", "08", "19", "7", " 9 ", "0"]), st.sampled_from(["-1", "x", "1234567890"])
)


@st.composite
def reading(draw, p):
    """One IntervalReading with the ESPI prefix ``p`` (e.g. "" or "espi:")."""
    w = draw(ws)
    start, duration = draw(integer_text), draw(integer_text)
    parts = {
        "period": (
            f"<{p}timePeriod>{w}<{p}duration>{duration}</{p}duration>{w}<{p}start>{start}</{p}start>"
            f"{w}</{p}timePeriod>"
        ),
        "value": f"<{p}value>{draw(value_text)}</{p}value>",
    }
    if draw(st.booleans()):
        parts["period"] = parts["period"].replace(
            f"<{p}duration>{duration}</{p}duration>{w}<{p}start>{start}</{p}start>",
            f"<{p}start>{start}</{p}start>{w}<{p}duration>{duration}</{p}duration>",
        )
    if draw(st.integers(0, 4)) == 0:
        parts["cost"] = f"<{p}cost>{draw(st.integers(0, 999))}</{p}cost>"
    if draw(st.integers(0, 3)) == 0:
        parts["quality"] = (
            f"<{p}ReadingQuality>{w}<{p}quality>{draw(quality_text)}</{p}quality>{w}</{p}ReadingQuality>"
        )
    oddity = draw(st.integers(0, 60))
    if oddity == 0:
        del parts["value"]
    elif oddity == 1:
        parts["period"] = f"<{p}timePeriod><{p}duration>900</{p}duration></{p}timePeriod>"
    elif oddity == 2:
        parts["value"] = f'<{p}value unit="Wh">1</{p}value>'
    elif oddity == 3:
        parts["extra"] = f"<{p}tou>1</{p}tou>"
    elif oddity == 4:
        parts["quality2"] = f"<{p}ReadingQuality><{p}quality>9</{p}quality></{p}ReadingQuality>"
    elif oddity == 5:
        parts["value"] = f"<{p}value/>"
    elif oddity == 6:
        return f"<{p}IntervalReading/>"
    elif oddity == 7:
        parts["value"] = f"<{p}value >7</{p}value >"
    order = draw(st.permutations(sorted(parts))) if draw(st.integers(0, 5)) == 0 else None
    keys = order or [k for k in ("cost", "quality", "quality2", "period", "value", "extra") if k in parts]
    body = draw(comment).join(parts[k] for k in keys)
    return f"<{p}IntervalReading>{w}{body}{w}</{p}IntervalReading>"


@st.composite
def interval_block(draw, p, declare):
    w = draw(ws)
    readings = [draw(reading(p)) for _ in range(draw(st.integers(0, 5)))]
    interval = ""
    if draw(st.booleans()):
        interval = f"<{p}interval><{p}duration>86400</{p}duration><{p}start>1700000000</{p}start>{draw(comment)}</{p}interval>"
    oddity = draw(st.integers(0, 30))
    if oddity == 0:
        readings.insert(0, "<foo/>")
    elif oddity == 1:
        readings.append("stray text")
    elif oddity == 2 and readings:  # the same namespace under another prefix
        declare += f' xmlns:other="{ESPI}"'
        readings[0] = readings[0].replace(f"<{p}IntervalReading>", "<other:IntervalReading>", 1)
        readings[0] = readings[0].replace(f"</{p}IntervalReading>", "</other:IntervalReading>", 1)
    elif oddity == 3:
        interval = interval.replace("86400", "<![CDATA[86400]]>")
    body = (w + draw(comment)).join(readings)
    return f"<{p}IntervalBlock{declare}>{w}{interval}{w}{body}{w}</{p}IntervalBlock>"


def espi_style(draw):
    """(prefix, declaration on the resource element) for one ESPI resource."""
    style = draw(st.sampled_from(["default", "root", "element", "ns0"]))
    if style == "default":
        return "", f' xmlns="{ESPI}"'
    if style == "root":
        return "espi:", ""
    if style == "element":
        return "e:", f' xmlns:e="{ESPI}"'
    return "ns0:", f' xmlns:ns0="{ESPI}"'


@st.composite
def feed(draw):
    a = draw(st.sampled_from(["", "atom:"]))  # the Atom prefix
    atom_decl = f'xmlns{":" + a[:-1] if a else ""}="{ATOM}"'
    w = draw(ws)
    n_points = draw(st.integers(1, 3))
    entries = []

    def entry(self_href, up=None, related=(), body="", head_extra=""):
        links = [f'<{a}link rel="self" href="{self_href}"/>']
        if up is not None:
            links.append(f'<{a}link rel="up" href="{up}"/>')
        links += [f'<{a}link rel="related" href="{r}"/>' for r in related]
        title = draw(st.sampled_from(["", f"<{a}title/>", f"<{a}title>Usage &amp; cost</{a}title>"]))
        content_attrs = draw(st.sampled_from(["", ' type="xml"']))
        head = w.join([f"<{a}id>urn:x</{a}id>", title, head_extra, *links])
        tail = draw(st.sampled_from(["", f"<{a}published>2012-10-24T00:00:00Z</{a}published>"]))
        return (
            f"<{a}entry>{w}{head}{w}<{a}content{content_attrs}>{w}{body}{w}</{a}content>{w}{tail}</{a}entry>"
        )

    for u in range(n_points):
        up = f"RetailCustomer/1/UsagePoint/{u}"
        p, d = espi_style(draw)
        entries.append(
            entry(
                up,
                "RetailCustomer/1/UsagePoint",
                [f"{up}/MeterReading"],
                f"<{p}UsagePoint{d}><{p}ServiceCategory><{p}kind>0</{p}kind></{p}ServiceCategory></{p}UsagePoint>",
            )
        )
        for m in range(draw(st.integers(1, 2))):
            mr = f"{up}/MeterReading/{m}"
            rt = f"ReadingType/{u}{m}"
            p, d = espi_style(draw)
            entries.append(
                entry(mr, f"{up}/MeterReading", [f"{mr}/IntervalBlock", rt], f"<{p}MeterReading{d}/>")
            )
            flow = draw(st.sampled_from([1, 1, 19, 4]))
            power = draw(st.sampled_from([0, 0, -3, 3]))
            p, d = espi_style(draw)
            reading_type = entry(
                rt,
                "ReadingType",
                (),
                f"<{p}ReadingType{d}><{p}accumulationBehaviour>4</{p}accumulationBehaviour>"
                f"<{p}flowDirection>{flow}</{p}flowDirection><{p}intervalLength>900</{p}intervalLength>"
                f"<{p}powerOfTenMultiplier>{power}</{p}powerOfTenMultiplier><{p}uom>72</{p}uom></{p}ReadingType>",
            )
            type_first = draw(st.booleans())
            if type_first:
                entries.append(reading_type)
            for b in range(draw(st.integers(0, 4))):
                p, d = espi_style(draw)
                blocks = "".join(draw(interval_block(p, d)) for _ in range(draw(st.integers(1, 2))))
                if draw(st.integers(0, 15)) == 0:  # a second block in another namespace: not read
                    blocks += draw(interval_block("", ' xmlns="urn:other"'))
                up_link = draw(
                    st.sampled_from([f"{mr}/IntervalBlock"] * 4 + [None, f" {mr}/IntervalBlock\n"])
                )
                head_extra = draw(
                    mostly(
                        st.just(""),
                        st.sampled_from(
                            [
                                "<!-- head -->",
                                f'<{a}link rel="alternate" href="x?a=1&amp;b=2"/>',
                                f'<{a}link rel="up" href="elsewhere"/>',  # the last up link counts
                                f'<{a}link rel="up"/>',
                                f'<{a}link rel="&#117;p" href="by-entity"/>',
                                f'<{a}link rel="up" href="a&amp;b"/>',
                                f'<{a}link rel="up" href="Caf\u00e9/\u65e5"/>',
                                '<link xmlns="urn:other" rel="up" href="not-atom"/>',
                                f"<{a}author><{a}name>x</{a}name></{a}author>",
                            ]
                        ),
                        5,
                    )
                )
                entries.append(entry(f"{mr}/IntervalBlock/{b}", up_link, (), blocks, head_extra))
            if not type_first:
                entries.append(reading_type)
    oddity = draw(st.integers(0, 20))
    if oddity == 0 and entries:  # a feed-level element between entries
        entries.insert(draw(st.integers(0, len(entries))), f'<{a}link rel="next" href="page2"/>')
    elif oddity == 1:
        entries.insert(draw(st.integers(0, len(entries))), f"<{a}entry/>")
    elif oddity == 2:  # an entry inside another element: its namespace scope is not the root's
        i = draw(st.integers(0, len(entries) - 1))
        entries[i] = f'<wrap xmlns="urn:other">{entries[i]}</wrap>'
    elif oddity == 3:
        i = draw(st.integers(0, len(entries) - 1))
        entries[i] = entries[i].replace(f"<{a}entry>", f'<{a}entry xml:lang="en">', 1)
    elif oddity == 4:
        entries.insert(draw(st.integers(0, len(entries))), '<x:entry xmlns:x="urn:other"><x:id/></x:entry>')
    elif oddity == 5:
        entries.insert(draw(st.integers(0, len(entries))), "<![CDATA[ <entry> ]]>")
    elif oddity == 6:  # an entry re-declaring its namespace
        i = draw(st.integers(0, len(entries) - 1))
        entries[i] = entries[i].replace(
            f"<{a}entry>", f'<{a}entry xmlns{":" + a[:-1] if a else ""}="{ATOM}">', 1
        )
    elif oddity == 7:  # an entry inside an entry
        i = draw(st.integers(0, len(entries) - 1))
        inner = f'<{a}entry><{a}link rel="self" href="inner"/></{a}entry>'
        entries[i] = entries[i].replace(f"</{a}content>", f"</{a}content>{inner}", 1)
    elif oddity == 8 and a == "":  # entries under another prefix bound to Atom
        i = draw(st.integers(0, len(entries) - 1))
        entries[i] = (
            entries[i].replace("<entry>", f'<A:entry xmlns:A="{ATOM}">', 1).replace("</entry>", "</A:entry>")
        )
    elif oddity == 9:  # a prefix declared on content
        i = draw(st.integers(0, len(entries) - 1))
        entries[i] = entries[i].replace(f"<{a}content>", f'<{a}content xmlns:q="{ESPI}">', 1)
    head = draw(
        st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>\n', "<?xml version='1.0'?><!-- c -->"])
    )
    espi_root = f' xmlns:espi="{ESPI}"'
    body = (w + draw(comment)).join(entries)
    return f"{head}<{a}feed {atom_decl}{espi_root}>{w}<{a}id>urn:feed</{a}id>{w}{body}{w}</{a}feed>\n"


@AGREE
@given(feed(), st.sampled_from([8 << 20, 8 << 20, 200, 3000]))
def test_random_feeds_read_the_same_with_both_engines(text, chunk):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "feed.xml"
        path.write_text(text, encoding="utf-8")
        old = _xmlscan.CHUNK_BYTES
        _xmlscan.CHUNK_BYTES = chunk
        try:
            assert_engines_agree(path)
        finally:
            _xmlscan.CHUNK_BYTES = old


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(feed(), st.sampled_from([1, 5, 40]))
def test_random_feeds_with_a_small_pending_bound(text, bound):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "feed.xml"
        path.write_text(text, encoding="utf-8")
        assert_engines_agree(path, max_pending_readings=bound)


def test_the_generator_makes_feeds_the_scan_engine_reads_itself():
    """Guard against a test that passes because every entry goes the lxml way: on plain random feeds the
    kernel reads most IntervalBlock entries."""
    calls = {"kernel": 0, "lxml": 0}
    original = _xmlscan.Kernel.scan

    def counting(self, view, pos, final):
        out = original(self, view, pos, final)
        calls["kernel"] += len(out[0])
        return out

    @settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(feed())
    def run(feed_text):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "feed.xml"
            path.write_text(feed_text, encoding="utf-8")
            outcome(path, "scan")

    _xmlscan.Kernel.scan = counting
    try:
        run()
    finally:
        _xmlscan.Kernel.scan = original
    assert calls["kernel"] >= 15  # 30 feeds: the kernel must take a large share (22-40+ seen, by test order)
