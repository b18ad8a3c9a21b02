"""A list as a spreadsheet: ``.xlsx`` (openpyxl) or CSV, Chinese headers, identifiers masked,
and no cell a spreadsheet would run as a formula.

A title typed as ``=HYPERLINK("http://x")`` (or starting ``+ - @``, a tab or a carriage
return) would be a formula when the file is opened: in ``.xlsx`` such a cell is written as text
(its type is a string, the value as typed); in CSV, which has no types, it gets a leading
apostrophe, as spreadsheets themselves mark text.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import TYPE_STRING
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from schemas.masking import mask_identifiers

FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Table:
    """A list as rows of cells, with its name (the sheet's and the file's)."""

    name: str
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    widths: tuple[int, ...] = ()
    """Column widths in characters (xlsx); missing ones are 14."""


def cell_text(value: Any) -> Any:
    """A cell's value as written: text masked; dates as ISO; numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    # XML 1.0 cannot hold most control characters: xlsx would refuse the whole file
    return _NOT_IN_XML.sub("\ufffd", mask_identifiers(str(value)))


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(_FORMULA_START)


def xlsx(table: Table) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = table.name[:31]
    ws.append(list(table.headers))
    for c in ws[1]:
        c.font = Font(bold=True)
    for row in table.rows:
        ws.append([cell_text(v) for v in row])
        for c in ws[ws.max_row]:
            if is_formula_like(c.value):
                c.data_type = TYPE_STRING  # text as typed, never evaluated
    for i in range(len(table.headers)):
        width = table.widths[i] if i < len(table.widths) else 14
        ws.column_dimensions[get_column_letter(i + 1)].width = width
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_bytes(table: Table) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheets read the Chinese as Chinese."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(table.headers)
    for row in table.rows:
        cells = [cell_text(v) for v in row]
        w.writerow(["'" + c if is_formula_like(c) else c for c in cells])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def render(table: Table, fmt: str) -> bytes:
    if fmt == "xlsx":
        return xlsx(table)
    if fmt == "csv":
        return csv_bytes(table)
    raise ValueError(f"unknown format {fmt!r}")
