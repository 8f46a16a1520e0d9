"""Text-file guards shared by the CSV readers: a cap on line length, strict UTF-8, the delimiter sniffed.

Kept by hand on purpose: the delimiter is sniffed by counting candidates in the header line alone, which reads
one bounded line and never guesses quoting (``csv.Sniffer`` needs several whole lines and guesses both).

A line longer than :data:`MAX_LINE_CHARS` is refused with the file and row, after reading at most the cap
(a 1 GB line never enters memory). A file that is not UTF-8 is refused naming the file, the byte and the
encoding expected: guessing cp1252 / latin-1 would turn meter ids and units into other characters silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from workbench.errors import IntervalDataError

#: the longest line any interval file has a reason to hold [characters] (a CMEP row of a day of 1-minute
#: triplets is ~45 kB)
MAX_LINE_CHARS = 1 << 20
DELIMITERS = (",", ";", "\t", "|")


def long_line_error(path, row: int) -> IntervalDataError:
    return IntervalDataError(
        f"{path}: row {row}: the line is longer than {MAX_LINE_CHARS:,} characters (no interval file has such "
        "rows: a damaged or wrong file?)"
    )


def not_utf8_error(path, exc: UnicodeDecodeError, row: int | None = None) -> IntervalDataError:
    where = f"row {row}: " if row else ""
    return IntervalDataError(
        f"{path}: {where}not UTF-8 text ({exc.reason} at byte {exc.start}); the file must be saved as UTF-8 "
        "(e.g. Excel: CSV UTF-8)"
    )


def bounded_lines(f, path, first_row: int = 1) -> Iterator[str]:
    """The lines of text file ``f`` (opened with ``newline=""``), refusing one longer than the cap."""
    row = first_row
    while True:
        line = f.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        if len(line) > MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise long_line_error(path, row)
        yield line
        row += 1


def header_line(path) -> str:
    """The first line of a text file (BOM stripped, line end removed), read with the cap and strict UTF-8."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.readline(MAX_LINE_CHARS + 1)
    except OSError as e:
        raise IntervalDataError(f"{path}: cannot read the file: {e}") from None
    raw = raw.split(b"\r", 1)[0]  # a file with old-Mac line ends (CR only)
    if len(raw) > MAX_LINE_CHARS and not raw.endswith(b"\n"):
        raise long_line_error(path, 1)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise not_utf8_error(path, e, 1) from None
    return text.rstrip("\r\n")


def sniff_delimiter(path, header: str) -> str:
    """``,``, ``;``, tab or ``|``: the one the header line uses most (a ``.tsv`` file: tab when the header has
    one); ``,`` when it has none (a one-column header)."""
    counts = {d: header.count(d) for d in DELIMITERS}
    if Path(path).suffix.lower() == ".tsv" and counts["\t"]:
        return "\t"
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def check_delimiter(text: str, option: str = "delimiter") -> str:
    """The delimiter a user named (one character, or ``tab``), or :class:`IntervalDataError` saying what is
    accepted."""
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(str(text).lower(), text)
    if not isinstance(value, str) or len(value) != 1 or value in "\"\r\n" or value.isalnum():
        raise IntervalDataError(f"{option}: {text!r} is not a field separator; expected one character such as "
                                "',' ';' '|' or 'tab' (not a letter, digit, quote or line end)")
    return value


__all__ = ["MAX_LINE_CHARS", "check_delimiter", "bounded_lines", "header_line", "long_line_error", "not_utf8_error",
           "sniff_delimiter"]
