"""Hostile input to the readers: entity expansion, external entities, truncation, non-XML, huge attributes.

Every case must end in an IntervalDataError naming the file (and the line where there is one), quickly,
without expanding or fetching anything and without returning a partial result.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from _samples import GREENBUTTON_SAMPLES

from workbench.ami.readers import read_file, stream_file
from workbench.errors import IntervalDataError, WorkbenchError

SAMPLES = GREENBUTTON_SAMPLES

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&lol9;</title><content>
<IntervalBlock xmlns="http://naesb.org/espi"><IntervalReading><timePeriod><duration>3600</duration>
<start>0</start></timePeriod><value>&lol9;</value></IntervalReading></IntervalBlock></content></entry></feed>
"""


def _xxe(secret: Path, uri: str | None = None) -> str:
    uri = uri or secret.as_uri()
    return f"""<?xml version="1.0"?>
<!DOCTYPE feed [ <!ENTITY xxe SYSTEM "{uri}"> ]>
<feed xmlns="http://www.w3.org/2005/Atom">
<entry><link rel="self" href="UP/1/MeterReading/1"/><link rel="up" href="UP/1/MeterReading"/>
<link rel="related" href="UP/1/MeterReading/1/IntervalBlock"/><link rel="related" href="RT/1"/>
<title>&xxe;</title><content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>
<entry><link rel="self" href="RT/1"/><content><ReadingType xmlns="http://naesb.org/espi">
<flowDirection>1</flowDirection><uom>72</uom><powerOfTenMultiplier>0</powerOfTenMultiplier></ReadingType>
</content></entry>
<entry><link rel="self" href="B/1"/><link rel="up" href="UP/1/MeterReading/1/IntervalBlock"/><content>
<IntervalBlock xmlns="http://naesb.org/espi"><IntervalReading><timePeriod><duration>3600</duration>
<start>0</start></timePeriod><value>&xxe;</value></IntervalReading></IntervalBlock></content></entry>
</feed>
"""


def _assert_refused(path: Path, match="DOCTYPE"):
    t0 = time.perf_counter()
    with pytest.raises(IntervalDataError, match=match) as info:
        read_file(path)
    assert time.perf_counter() - t0 < 5, "refusal must be quick"
    assert str(path) in str(info.value)
    return str(info.value)


def test_billion_laughs_is_refused_not_expanded(tmp_path):
    p = tmp_path / "laughs.xml"
    p.write_text(BILLION_LAUGHS)
    msg = _assert_refused(p)
    assert "lol" not in msg


def test_billion_laughs_in_utf16_is_refused_by_the_parser_check(tmp_path):
    # the byte-level prolog scan cannot see UTF-16; the root's docinfo check must
    p = tmp_path / "laughs16.xml"
    p.write_bytes(BILLION_LAUGHS.replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16"))
    _assert_refused(p)


def test_xxe_file_entity_is_refused_and_the_secret_never_appears(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-PASSWORD-42")
    p = tmp_path / "xxe.xml"
    p.write_text(_xxe(secret))
    msg = _assert_refused(p)
    assert "TOP-SECRET" not in msg
    # and streaming gives nothing either
    with pytest.raises(IntervalDataError):
        for batch in stream_file(p):
            assert "TOP-SECRET" not in str(batch.to_pylist())


def test_xxe_network_entity_is_never_fetched(tmp_path):
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"FETCHED")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        p = tmp_path / "xxe_http.xml"
        p.write_text(_xxe(tmp_path / "x", uri=f"http://127.0.0.1:{server.server_port}/steal"))
        _assert_refused(p)
        # a DTD-less variant with an external parameter reference inside a comment-like prolog: also refused
    finally:
        server.shutdown()
    assert hits == []


def test_doctype_after_a_long_comment_is_refused(tmp_path):
    p = tmp_path / "late_doctype.xml"
    p.write_text("<?xml version='1.0'?>\n<!--" + "x" * 50_000 + "-->\n" + BILLION_LAUGHS.split("\n", 1)[1])
    _assert_refused(p)


def test_truncated_feed_names_file_and_line_and_returns_nothing(tmp_path):
    text = (SAMPLES / "15minLP_15Days.xml").read_text()
    p = tmp_path / "truncated.xml"
    p.write_text(text[: len(text) // 2])
    n_lines = p.read_text().count("\n") + 1
    with pytest.raises(IntervalDataError, match=r"truncated\.xml.*malformed at line (\d+)") as info:
        read_file(p)
    line = int(info.value.args[0].split("line ")[1].split(":")[0])
    assert n_lines - 2 <= line <= n_lines + 1


def test_malformed_tag_mid_file(tmp_path):
    text = (SAMPLES / "Electric.xml").read_text()
    p = tmp_path / "broken.xml"
    p.write_text(text.replace("</IntervalReading>", "</IntervalReadin>", 1))
    with pytest.raises(IntervalDataError, match=r"broken\.xml.*malformed at line \d+"):
        read_file(p)


def test_undefined_entity_without_dtd(tmp_path):
    p = tmp_path / "undefined_entity.xml"
    p.write_text('<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&nope;</title></entry></feed>')
    with pytest.raises(IntervalDataError, match=r"undefined_entity\.xml.*line 1"):
        read_file(p)


def test_non_xml_file_given_as_xml(tmp_path):
    p = tmp_path / "really_a_csv.xml"
    p.write_text("meter,interval_start,value\nM1,2024-01-01,1\n")
    with pytest.raises(IntervalDataError, match=r"really_a_csv\.xml"):
        read_file(p, format="greenbutton_xml")
    b = tmp_path / "binary.xml"
    b.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(IntervalDataError, match=r"binary\.xml"):
        read_file(b)


def test_xml_that_is_not_a_feed(tmp_path):
    p = tmp_path / "html.xml"
    p.write_text("<html><body>Sign in to download your data</body></html>")
    with pytest.raises(IntervalDataError, match=r"html\.xml.*not a Green Button feed.*<html>"):
        read_file(p)


def test_huge_attribute_is_refused_by_parser_limits(tmp_path):
    p = tmp_path / "huge_attr.xml"
    with open(p, "w") as f:
        f.write('<feed xmlns="http://www.w3.org/2005/Atom"><entry><link rel="self" href="')
        f.write("A" * 12_000_000)  # over libxml2's 10 MB limit without huge_tree
        f.write('"/></entry></feed>')
    t0 = time.perf_counter()
    with pytest.raises(IntervalDataError, match=r"huge_attr\.xml.*line 1"):
        read_file(p)
    assert time.perf_counter() - t0 < 10


def test_deep_nesting_is_refused(tmp_path):
    p = tmp_path / "deep.xml"
    p.write_text('<feed xmlns="http://www.w3.org/2005/Atom">' + "<a>" * 5000 + "</a>" * 5000 + "</feed>")
    with pytest.raises(WorkbenchError, match=r"deep\.xml"):
        read_file(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.xml"
    p.write_text("")
    with pytest.raises(WorkbenchError, match=r"empty\.xml"):
        read_file(p, format="greenbutton_xml")


def test_check_interval_kwh_names_the_row_and_the_reason():
    """The one-file path's check: the first bad read's row (first read = row 2) and the screen's reason."""
    from workbench.ami.readers import check_interval_kwh

    check_interval_kwh([0.0, 1.0, 2500.0], [0.0, 0.0, 0.0], 900, "f.csv")  # 2,500 kWh in 15 min = 10 MW: possible
    for delivered, received, expected in (
        ([1.0, float("nan")], [0.0, 0.0], "f.csv: row 3: delivered nan kWh: non-finite kWh"),
        ([1.0, 1.0, 1e30], [0.0, 0.0, 0.0], "f.csv: row 4: delivered 1e+30 kWh: kWh beyond any meter's physical limit"),
        ([-0.5], [0.0], "f.csv: row 2: delivered -0.5 kWh: negative delivered kWh"),
        ([1.0], [float("inf")], "f.csv: row 2: received inf kWh: non-finite kWh"),
    ):
        with pytest.raises(IntervalDataError) as info:
            check_interval_kwh(delivered, received, 900, "f.csv")
        assert str(info.value) == expected
