"""Reader benchmark: ``python -m benchmarks.bench_readers`` (``--help`` for sizes).

Prints, on synthetic files written to a temporary directory:

1. MDM long-format Parquet: rows per second through ``stream_file`` (every batch converted to the common
   schema: units, channel, quality, interval end -> start), against ``pyarrow.parquet.read_table`` of the same
   file (the floor: decoding alone, no conversion). Target: > 10 million rows/s.
2. Green Button XML: interval readings per second through ``stream_file`` (the scan engine: byte splitter,
   numba kernel, libxml2 safety check in a second process), against references measured in the same run on
   the same file: expat and libxml2 with no Python per element (the floor for parsing the XML at all, with
   no tree), expat counting elements, bare lxml ``iterparse`` counting IntervalReadings, and the lxml engine
   (the reader before the scan engine) on a tenth of the file. Target: >= 300,000/s.
3. Peak RSS (``VmHWM``, measured in a fresh subprocess per case) when streaming each big file with small
   batches, against the same process after imports only and against the file size: memory must be bounded
   by the batch, not the file. For XML: a file and one 10x larger, and the check process's own peak.
   ``--parquet-rows 0`` skips the Parquet cases.

Medians of --repeats runs; the machine is shared, so compare ratios more than seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.ami.readers import stream_file

CHECK_SCRIPT = Path(__file__).parents[1] / "workbench" / "ami" / "readers" / "greenbutton_xml_check.py"


def write_mdm_parquet(path: Path, rows: int, meters: int = 5000) -> None:
    """Long-format rows: meter × 15-minute interval end, two channels, Wh and kWh, quality codes."""
    writer = None
    per_meter = max(1, rows // meters)
    t0 = np.datetime64("2024-01-01T00:15", "us").astype(np.int64)
    chunk_meters = max(1, (1 << 21) // per_meter)
    rng = np.random.default_rng(0)
    for m0 in range(0, meters, chunk_meters):
        ms = np.arange(m0, min(meters, m0 + chunk_meters))
        n = len(ms) * per_meter
        meter = np.repeat(np.char.add("M", ms.astype(str)), per_meter)
        ends = t0 + np.tile(np.arange(per_meter, dtype=np.int64) * 900_000_000, len(ms))
        idx = np.arange(n)
        table = pa.table(
            {
                "meter_id": pa.array(meter),
                "interval_end": pa.array(ends).view(pa.timestamp("us", tz="UTC")),
                "channel": pa.array(np.where(idx % 5 == 0, "received", "delivered")),
                "value": rng.random(n) * 1000.0,
                "unit": pa.array(np.where(idx % 2 == 0, "Wh", "kWh")),
                "quality": pa.array(np.where(idx % 97 == 0, "E", "A")),
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=1 << 20)
    writer.close()


def write_greenbutton_feed(path: Path, readings: int, usage_points: int = 20, block_hours: int = 24) -> None:
    """A Green Button feed: usage points × hourly readings in daily IntervalBlocks, ReadingType after them."""
    per_up = max(block_hours, readings // usage_points)
    t0 = 1_704_067_200
    with open(path, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n')
        for u in range(usage_points):
            up = f"RetailCustomer/{u}/UsagePoint/1"
            mr = f"{up}/MeterReading/1"
            f.write(
                f'<entry><link rel="self" href="{up}"/><link rel="related" href="{up}/MeterReading"/><content>'
                '<UsagePoint xmlns="http://naesb.org/espi"><ServiceCategory><kind>0</kind></ServiceCategory>'
                "</UsagePoint></content></entry>\n"
                f'<entry><link rel="self" href="{mr}"/><link rel="up" href="{up}/MeterReading"/>'
                f'<link rel="related" href="{mr}/IntervalBlock"/><link rel="related" href="ReadingType/{u}"/>'
                '<content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>\n'
            )
            for b in range(per_up // block_hours):
                start = t0 + b * block_hours * 3600
                parts = [
                    f'<entry><link rel="self" href="{mr}/IntervalBlock/{b}"/>'
                    f'<link rel="up" href="{mr}/IntervalBlock"/><content>'
                    f'<IntervalBlock xmlns="http://naesb.org/espi"><interval><duration>{block_hours * 3600}'
                    f"</duration><start>{start}</start></interval>"
                ]
                for h in range(block_hours):
                    parts.append(
                        f"<IntervalReading><cost>{h * 17}</cost><timePeriod><duration>3600</duration>"
                        f"<start>{start + h * 3600}</start></timePeriod><value>{(b * 7 + h * 13) % 5000}</value>"
                        "</IntervalReading>"
                    )
                parts.append("</IntervalBlock></content></entry>\n")
                f.write("".join(parts))
            f.write(
                f'<entry><link rel="self" href="ReadingType/{u}"/><content>'
                '<ReadingType xmlns="http://naesb.org/espi"><accumulationBehaviour>4</accumulationBehaviour>'
                "<flowDirection>1</flowDirection><intervalLength>3600</intervalLength><kind>12</kind>"
                "<powerOfTenMultiplier>0</powerOfTenMultiplier><uom>72</uom></ReadingType></content></entry>\n"
            )
        f.write("</feed>\n")


def time_stream(path: Path, **options) -> tuple[float, int]:
    t0 = time.perf_counter()
    stream = stream_file(path, **options)
    n = 0
    for batch in stream:
        n += batch.num_rows
    return time.perf_counter() - t0, n


def median_time(fn, repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


_RSS_CHILD = """
import json, resource, sys
from workbench.ami.readers import stream_file

def hwm_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

base = rss_kib()
try:  # reset the high-water mark so the import-time peak does not hide the reading peak (Linux >= 4.0)
    open("/proc/self/clear_refs", "w").write("5")
except OSError:
    pass
n = 0
if sys.argv[1] != "-":
    stream = stream_file(sys.argv[1], batch_rows=int(sys.argv[2]))
    for batch in stream:
        n += batch.num_rows
print(json.dumps({"rows": n, "base_kib": base, "peak_kib": hwm_kib(),
                  "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def peak_rss(path: Path | None, batch_rows: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(path) if path else "-", str(batch_rows)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONWARNINGS": "ignore"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


_RSS_CHILD_XML = _RSS_CHILD.replace(
    "base = rss_kib()",
    # the numba kernel's import and cache load are paid once per process, not per reading: before the base
    "import workbench.kernels.greenbutton_xml_entries as k, numpy as np\n"
    "k.scan_entries(np.zeros(1, np.uint8), 0, True, np.zeros(0, np.uint8), np.zeros((1, 6), np.int64),"
    " *(np.zeros(1, t) for t in (np.int64, np.int64, np.float64, np.int64, np.int64)))\n"
    "base = rss_kib()",
)


def xml_peak_rss(path: Path, batch_rows: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD_XML, str(path), str(batch_rows)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONWARNINGS": "ignore"},
    )
    reader = json.loads(out.stdout.strip().splitlines()[-1])
    check = subprocess.run(  # the libxml2 check, as the reader runs it beside itself: its own peak
        [sys.executable, "-P", str(CHECK_SCRIPT), str(path)], check=True, capture_output=True, text=True
    )
    return reader | {"check_peak_kib": json.loads(check.stdout)["peak_kib"]}


def _expat(path: Path, count: bool) -> int:
    import xml.parsers.expat

    parser = xml.parsers.expat.ParserCreate()
    n = [0]
    if count:

        def start(name, attrs):
            n[0] += 1

        parser.StartElementHandler = start
    with open(path, "rb") as f:
        parser.ParseFile(f)
    return n[0]


def _lxml_count(path: Path) -> int:
    from lxml import etree

    n = 0
    for _, elem in etree.iterparse(
        str(path), events=("end",), tag="{http://naesb.org/espi}IntervalReading", resolve_entities=False
    ):
        n += 1
        elem.clear(keep_tail=False)
    return n


def _lxml_engine(path: Path) -> float:
    from workbench.ami.readers._result import ReadStream
    from workbench.ami.readers.greenbutton_xml import read_greenbutton_xml_batches

    t0 = time.perf_counter()
    stream = ReadStream(
        path, "greenbutton_xml", lambda t: read_greenbutton_xml_batches(path, t, engine="lxml")
    )
    n = sum(b.num_rows for b in stream)
    return n / (time.perf_counter() - t0)


def bench_xml(feed: Path, small: Path, n_xml: int, repeats: int) -> None:
    from workbench.ami.readers.greenbutton_xml_check import check_file

    print(
        f"\n2. Green Button XML ({n_xml:,} readings, {feed.stat().st_size / 1e6:.0f} MB), "
        f"median of {repeats} runs, readings/s"
    )
    ours = median_time(lambda: time_stream(feed)[0], repeats)
    cases = [
        ("expat, no handlers (well-formedness floor)", lambda: _expat(feed, False)),
        ("libxml2 SAX check, no tree (our safety pass)", lambda: check_file(feed)),
        ("expat counting start tags (bare reference)", lambda: _expat(feed, True)),
        ("lxml iterparse counting IntervalReading (bare)", lambda: _lxml_count(feed)),
    ]
    refs = {name: median_time(lambda fn=fn: _timed(fn), repeats) for name, fn in cases}
    for name, secs in refs.items():
        print(f"   {name:<48} {n_xml / secs:12,.0f}   (ours = {secs / ours:5.2f}x this)")
    print(f"   {'lxml engine (reader before + check, 1/10 file)':<48} {_lxml_engine(small):12,.0f}")
    print(f"   {'workbench stream_file (scan engine)':<48} {n_xml / ours:12,.0f}   (target >= 300,000/s)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parquet-rows", type=int, default=20_000_000, help="rows in the MDM Parquet file")
    ap.add_argument("--xml-readings", type=int, default=1_000_000, help="IntervalReadings in the XML feed")
    ap.add_argument("--batch-rows", type=int, default=65_536, help="batch size for the peak-RSS runs")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--workdir", type=Path, default=None, help="where to write the files (default: a temp dir)"
    )
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(dir=args.workdir) as d:
        d = Path(d)
        parquet = d / "mdm.parquet"
        feed = d / "feed.xml"
        small_feed = d / "feed_tenth.xml"
        print(
            f"writing {args.parquet_rows:,} Parquet rows and {args.xml_readings:,} Green Button readings ..."
        )
        if args.parquet_rows:
            write_mdm_parquet(parquet, args.parquet_rows)
        write_greenbutton_feed(feed, args.xml_readings)
        # a tenth of the feed with the same layout (readings per usage point, so per ReadingType wait)
        write_greenbutton_feed(small_feed, args.xml_readings // 10, usage_points=2)

        if args.parquet_rows:
            n_parquet = pq.ParquetFile(parquet).metadata.num_rows
            print(
                f"\n1. MDM long-format Parquet ({n_parquet:,} rows, {parquet.stat().st_size / 1e6:.0f} MB), "
                f"cores: {os.cpu_count()}"
            )
            floor = median_time(lambda: _timed(lambda: pq.read_table(parquet)), args.repeats)
            ours = median_time(lambda: time_stream(parquet)[0], args.repeats)
            print(
                f"   pyarrow.parquet.read_table (floor, decode only): {n_parquet / floor / 1e6:6.1f} M rows/s"
            )
            print(
                f"   workbench stream_file -> common schema:          {n_parquet / ours / 1e6:6.1f} M rows/s"
                f"   (target > 10 M rows/s; {ours / floor:.2f}x the floor's time)"
            )

        n_xml = time_stream(feed)[1]  # (also loads the numba kernel, once per process)
        bench_xml(feed, small_feed, n_xml, args.repeats)

        print(f"\n3. Peak RSS streaming with batch_rows={args.batch_rows:,} (fresh process each)")
        base = peak_rss(None, args.batch_rows)
        print(
            f"   after imports only: RSS {base['base_kib'] / 1024:5.0f} MiB "
            f"(getrusage ru_maxrss {base['ru_maxrss_kib'] / 1024:.0f} MiB is not used: Linux carries the parent's peak across fork/exec)"
        )
        for path in (parquet,) if args.parquet_rows else ():
            r = peak_rss(path, args.batch_rows)
            print(
                f"   {path.name:<12} peak RSS while reading {r['peak_kib'] / 1024:5.0f} MiB "
                f"(+{(r['peak_kib'] - r['base_kib']) / 1024:.0f} MiB over imports; "
                f"file {path.stat().st_size / 2**20:,.0f} MiB, {r['rows']:,} rows; "
                f"the whole result in memory would be ~{r['rows'] * 41 / 2**20:,.0f} MiB)"
            )
        for path in (small_feed, feed):  # the same layout, 10x longer: the peak must not grow with it
            r = xml_peak_rss(path, args.batch_rows)
            print(
                f"   {path.name:<14} peak RSS while reading {r['peak_kib'] / 1024:5.0f} MiB "
                f"(+{(r['peak_kib'] - r['base_kib']) / 1024:.0f} MiB over imports and the numba kernel; "
                f"check process {r['check_peak_kib'] / 1024:.0f} MiB; "
                f"file {path.stat().st_size / 2**20:,.0f} MiB, {r['rows']:,} rows; "
                f"the whole result in memory would be ~{r['rows'] * 41 / 2**20:,.0f} MiB)"
            )
    return 0


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    raise SystemExit(main())
