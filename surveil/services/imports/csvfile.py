"""Reading an import file: UTF-8 with or without a byte-order mark, ``,`` or ``;`` between
fields, the columns documented per kind (docs/import/), dates ISO or in the clinic's local
format. Problems of the file itself (encoding, header) are named here; the values are checked
by the registry, row by row, in ``services.imports.batch``."""

import contextlib
import csv
import datetime as dt
import io
from dataclasses import dataclass

from surveil.errors import InvalidInput, Problem

MAX_BYTES = 50 * 1024 * 1024
MAX_CELL = 500


@dataclass(frozen=True)
class Columns:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()

    @property
    def known(self) -> tuple[str, ...]:
        return self.required + self.optional


PATIENT_OPTIONAL = ("sex", "timezone", "email", "phone", "preferred_channel", "hereditary",
                    "navigator", "differentiation", "ki67", "mitoses", "stage", "size_mm",
                    "functional", "diagnosed_on", "resection",
                    # Pack 2027.1's tumour facts (the values of ``registry.tumour_details``).
                    "node_status", "adverse_histology", "carcinoid_type", "gastric_type",
                    "carcinoid_heart_disease")  # fmt: skip
COLUMNS: dict[str, Columns] = {
    "patients": Columns(
        required=("mrn", "given_name", "family_name", "birth_date", "site", "state", "since"),
        optional=PATIENT_OPTIONAL,
        dates=("birth_date", "since", "diagnosed_on"),
    ),
    "pathology": Columns(
        required=("mrn", "date"), optional=("ki67", "mitoses", "differentiation"), dates=("date",)
    ),
    "measurements": Columns(
        required=("mrn", "lesion", "date", "diameter_mm", "modality"), dates=("date",)
    ),
    "markers": Columns(
        required=("mrn", "marker", "date", "value"),
        optional=("unit", "uln", "on_ppi"),
        dates=("date",),
    ),
    "therapies": Columns(
        required=("mrn", "kind", "started_on"),
        optional=("agent", "ended_on", "cycles_given", "last_given_on"),
        dates=("started_on", "ended_on", "last_given_on"),
    ),
}
KINDS = tuple(COLUMNS)


@dataclass(frozen=True)
class Row:
    number: int  # the line's row number as a spreadsheet shows it (the header is row 1)
    cells: dict[str, str]


def read_table(content: bytes, *, kind: str, date_format: str | None) -> list[Row]:
    """The file's data rows, each a dict of the known columns (stripped; empty cells are "").
    Raises InvalidInput naming every problem of the file itself at once."""
    columns = COLUMNS.get(kind)
    if columns is None:
        raise InvalidInput(Problem("kind", f"must be one of: {', '.join(KINDS)}"), what="import")
    if len(content) > MAX_BYTES:
        raise InvalidInput(
            Problem("file", f"is larger than {MAX_BYTES // 2**20} MB"), what="import"
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        where = f"byte {error.start}"
        raise InvalidInput(
            Problem("file", f"is not UTF-8 (at {where}); save it as CSV UTF-8"), what="import"
        ) from error
    if "\x00" in text:
        raise InvalidInput(Problem("file", "contains NUL bytes: not a CSV file"), what="import")
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InvalidInput(
            Problem("file", "is empty: the first line must name the columns"), what="import"
        )
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip().lower() for name in next(reader)]
    _check_header(header, columns)
    rows = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        values = {name: cell.strip() for name, cell in zip(header, cells, strict=False)}
        number = reader.line_num
        rows.append(Row(number, _normalise_dates(values, columns, date_format)))
    return rows


def _check_header(header: list[str], columns: Columns) -> None:
    problems = [
        Problem(name, "column is missing") for name in columns.required if name not in header
    ]
    problems += [
        Problem(
            name or "(empty)", f"is not a column of this kind; known: {', '.join(columns.known)}"
        )
        for name in header
        if name not in columns.known
    ]
    problems += [
        Problem(name, "column appears twice") for name in set(header) if header.count(name) > 1
    ]
    if problems:
        raise InvalidInput(problems, what="import header")


def _normalise_dates(
    values: dict[str, str], columns: Columns, date_format: str | None
) -> dict[str, str]:
    """A date in the configured local format (e.g. 31/12/2025) becomes ISO; anything else is
    left for the registry to refuse with its own words."""
    if not date_format:
        return values
    for name in columns.dates:
        value = values.get(name, "")
        if value:
            with contextlib.suppress(ValueError):  # left as typed: the registry names it
                day = dt.datetime.strptime(value, date_format).replace(tzinfo=dt.UTC).date()
                values[name] = day.isoformat()
    return values
