"""AMI / MDM interval-data readers, all producing one long-format result (see ``docs/readers.md``).

- :func:`read_file` reads a whole file into a :class:`ReadResult` (``table``, ``rejects``, ``counts``,
  ``metadata``); on any error it raises :class:`~workbench.errors.WorkbenchError` and returns nothing.
- :func:`stream_file` returns a :class:`ReadStream`: an iterator of :class:`pyarrow.RecordBatch` of at most
  ``batch_rows`` rows (memory bounded by the batch, not the file); ``rejects``/``counts`` once exhausted.

Formats (``format=``): ``greenbutton_xml``, ``greenbutton_csv``, ``mdm_csv``, ``mdm_parquet``, ``cmep``;
sniffed from the content (then the extension) when ``None``.
"""

from __future__ import annotations

import inspect
import re
from functools import partial
from pathlib import Path

from workbench.ami.readers._result import (
    READ_SCHEMA,
    REJECT_SCHEMA,
    ReadResult,
    ReadStream,
    check_interval_kwh,
    collect,
)
from workbench.ami.readers._text import check_delimiter
from workbench.ami.readers.cmep import read_cmep, stream_cmep
from workbench.ami.readers.greenbutton_csv import read_greenbutton_csv, stream_greenbutton_csv
from workbench.ami.readers.greenbutton_xml import read_greenbutton_xml, stream_greenbutton_xml
from workbench.ami.readers.mdm import read_mdm, stream_mdm
from workbench.errors import IntervalDataError

FORMATS = ("greenbutton_xml", "greenbutton_csv", "mdm_csv", "mdm_parquet", "cmep")

_GB_CSV_MARKERS = (
    "TYPE,DATE,START TIME",
    "METER NUMBER,DATE,START TIME",
    "ENERGY DELIVERED",
    "ENERGY RECEIVED",
    "IMPORT (KWH)",
    "USAGE (KWH)",
)


_ALL_OPTIONS = {
    "batch_rows",
    "delimiter",
    "timezone",
    "meter",
    "meter_ids",
    "max_pending_readings",
    "columns",
    "timestamp",
    "unit",
    "interval_seconds",
    "channels",
}


def sniff_format(path) -> str:
    """The format of a file, from its first bytes (then its extension)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
    except OSError as e:
        raise IntervalDataError(f"{path}: cannot read the file: {e}") from None
    if head.startswith(b"PAR1"):
        return "mdm_parquet"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<") or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "greenbutton_xml"
    upper = re.sub(r"[ \t]+", " ", text.decode("utf-8", errors="replace").upper())
    first = upper.split("\n", 1)[0]
    if first.startswith("MEPMD01"):
        return "cmep"
    if any(m in upper for m in _GB_CSV_MARKERS):
        return "greenbutton_csv"
    suffix = path.suffix.lower()
    if suffix == ".xml":
        return "greenbutton_xml"
    if suffix in (".parquet", ".pq"):
        return "mdm_parquet"
    if suffix in (".csv", ".txt", ".tsv"):
        return "mdm_csv"
    raise IntervalDataError(
        f"{path}: cannot tell the format of this file: expected Green Button XML or CSV, an MDM export "
        f"(.csv, .tsv, .txt, .parquet) or CMEP (in Python: format= one of {', '.join(FORMATS)})"
    )


def stream_file(path, format: str | None = None, **options) -> ReadStream:  # noqa: A002
    """Stream any supported file; ``options`` go to the format's reader (see docs/readers.md)."""
    path = Path(path)
    if not path.exists():
        raise IntervalDataError(f"{path}: file not found")
    fmt = format or sniff_format(path)
    readers = {
        "greenbutton_xml": stream_greenbutton_xml,
        "greenbutton_csv": stream_greenbutton_csv,
        "mdm_csv": partial(stream_mdm, kind="csv"),
        "mdm_parquet": partial(stream_mdm, kind="parquet"),
        "cmep": stream_cmep,
    }
    if fmt not in readers:
        raise IntervalDataError(f"{path}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    unknown = set(options) - _ALL_OPTIONS
    if unknown:
        raise TypeError(f"unknown reader option(s) {sorted(unknown)}; known: {sorted(_ALL_OPTIONS)}")
    # one set of options serves a batch of files of mixed formats: each reader takes the ones it knows
    reader = readers[fmt]
    accepted = _options_of(reader)
    return reader(path, **{k: v for k, v in options.items() if k in accepted})


def _options_of(func) -> set[str]:
    func = func.func if isinstance(func, partial) else func
    return {p.name for p in inspect.signature(func).parameters.values() if p.kind is p.KEYWORD_ONLY}


def read_file(path, format: str | None = None, **options) -> ReadResult:  # noqa: A002
    """Read a whole file; no partial result on error. ``format`` is sniffed when None."""
    return collect(stream_file(path, format, **options))


__all__ = [
    "FORMATS",
    "READ_SCHEMA",
    "REJECT_SCHEMA",
    "ReadResult",
    "ReadStream",
    "check_delimiter",
    "check_interval_kwh",
    "read_cmep",
    "read_file",
    "read_greenbutton_csv",
    "read_greenbutton_xml",
    "read_mdm",
    "sniff_format",
    "stream_cmep",
    "stream_file",
    "stream_greenbutton_csv",
    "stream_greenbutton_xml",
    "stream_mdm",
]
