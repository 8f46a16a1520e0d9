"""The filing workbook (xlsxwriter): one sheet per schedule, auditable.

Each sheet: a title row (utility, schedule, test year), a note row, the header row with units, the data as
numbers with number formats, and a total row whose cells are Excel formulas (``=SUM(E5:E20)``, or the ratio
of two totals for averages and percentages), so a reviewer who edits a cell sees the totals recompute. The
header is frozen and repeats on every printed page; pages are landscape, one page wide, numbered in the
footer. A last sheet, ``Run``, holds the run's identity (inputs' checksums, code version).
"""

from __future__ import annotations

import io
import math

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from workbench.filing.spec import FORMATS, SCHEDULES, identity_text, schedule_totals

HEADER_ROW = 3  # 0-based: title, note, blank, header
FIRST_DATA_ROW = HEADER_ROW + 1


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def write_workbook(schedules: dict, *, utility: str, test_year: int, basis: str, identity: dict) -> bytes:
    """The workbook of ``schedules`` (name -> DataFrame, in order) as bytes (the caller writes them atomically)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    title_fmt = book.add_format({"bold": True, "font_size": 13})
    note_fmt = book.add_format({"italic": True, "font_color": "#444444"})
    head_fmt = book.add_format({"bold": True, "text_wrap": True, "valign": "bottom", "bottom": 1, "bg_color": "#E8EEF4"})
    fmts = {kind: book.add_format({"num_format": code}) for kind, code in FORMATS.items()}
    total_fmts = {kind: book.add_format({"num_format": code, "bold": True, "top": 1}) for kind, code in FORMATS.items()}
    for name, frame in schedules.items():
        spec = SCHEDULES[name]
        sheet = book.add_worksheet(spec.sheet)
        sheet.write(0, 0, f"{utility}: {spec.title}, test year {test_year}", title_fmt)
        sheet.write(1, 0, f"Basis: {basis}. {spec.note} {frame.attrs.get('covers', '')}".strip(), note_fmt)
        columns = [c for c in spec.columns if c.name in frame.columns]
        for j, col in enumerate(columns):
            sheet.write(HEADER_ROW, j, col.header, head_fmt)
            sheet.set_column(j, j, col.width)
        sheet.set_row(HEADER_ROW, 45)
        for i, row in enumerate(frame[[c.name for c in columns]].itertuples(index=False)):
            for j, (col, value) in enumerate(zip(columns, row, strict=True)):
                if _is_missing(value):
                    continue
                if col.kind == "text":
                    sheet.write_string(FIRST_DATA_ROW + i, j, str(value))
                else:
                    sheet.write_number(FIRST_DATA_ROW + i, j, float(value), fmts[col.kind])
        last = FIRST_DATA_ROW + len(frame) - 1
        _totals(sheet, columns, last + 1, len(frame), total_fmts, schedule_totals(name, frame))
        sheet.freeze_panes(FIRST_DATA_ROW, 0)
        sheet.set_landscape()
        sheet.set_paper(1)  # US Letter
        sheet.fit_to_pages(1, 0)
        sheet.repeat_rows(HEADER_ROW)
        sheet.set_header(f"&L{utility}&R{spec.sheet}, test year {test_year}")
        sheet.set_footer("&LPage &P of &N&R" + identity.get("code_version", "").replace("&", "&&"))
        sheet.print_area(0, 0, last + 1, len(columns) - 1)
    _identity_sheet(book, identity, title_fmt)
    book.close()
    return buffer.getvalue()


def _totals(sheet, columns, total_row: int, n: int, total_fmts, values: dict) -> None:
    """The total row: =SUM over the data cells, or the ratio of two totals; nothing for other columns.

    Each formula is written with its value (``values``, the same sums and ratios), so a reader that does not
    recalculate (openpyxl ``data_only``, pandas, a mail preview) shows the totals instead of 0."""
    if not any(c.total for c in columns):
        return
    sheet.write_string(total_row, 0, "Total", total_fmts["text"])
    where = {c.name: j for j, c in enumerate(columns)}
    for j, col in enumerate(columns):
        if col.total is None:
            continue
        if col.total == "sum":
            first, last = xl_rowcol_to_cell(FIRST_DATA_ROW, j), xl_rowcol_to_cell(FIRST_DATA_ROW + max(n, 1) - 1, j)
            sheet.write_formula(total_row, j, f"=SUM({first}:{last})", total_fmts[col.kind], _cached(values, col.name))
        else:
            _, num, den, factor = col.total
            if num not in where or den not in where:
                continue
            a, b = xl_rowcol_to_cell(total_row, where[num]), xl_rowcol_to_cell(total_row, where[den])
            scale = "" if factor == 1.0 else f"*{factor:g}"
            sheet.write_formula(total_row, j, f'=IF({b}=0,"",{a}/{b}{scale})', total_fmts[col.kind],
                                _cached(values, col.name))


def _cached(values: dict, name: str):
    """The value stored with a total's formula: the number, or "" where the formula gives "" (a zero divisor)."""
    value = values.get(name)
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _identity_sheet(book, identity: dict, title_fmt) -> None:
    sheet = book.add_worksheet("Run")
    sheet.write(0, 0, "The run's identity: inputs and their sha256, code version", title_fmt)
    sheet.set_column(0, 0, 32)
    sheet.set_column(1, 1, 90)
    for i, (key, value) in enumerate(identity.items()):
        sheet.write_string(2 + i, 0, str(key))
        sheet.write_string(2 + i, 1, identity_text(value))
