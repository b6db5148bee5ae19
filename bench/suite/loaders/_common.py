"""What every loader shares: the one error type and strict CSV reading.

Loaders read what the user downloaded; when a file is not what the published
format says, the user gets a ``DatasetError`` naming the file (and the row),
never a bare ``KeyError`` from deep inside a loader.
"""

from __future__ import annotations

import csv
from pathlib import Path
from textwrap import shorten
from typing import Iterable, Iterator, Sequence

from bench.suite.item import Item


class DatasetError(ValueError):
    """A dataset path or file does not look like the published format it claims to be."""


def describe_columns(required: Sequence[str], optional: Sequence[str] = ()) -> str:
    """"a, b (optional: c)": how every error about a file's columns says what the loader reads, the same way."""
    return ", ".join(required) + (f" (optional: {', '.join(optional)})" if optional else "")


def read_csv_rows(
    path: Path, required: Sequence[str], *, optional: Sequence[str] = (), any_of: Sequence[Sequence[str]] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yields ``(line_number, row)`` of a CSV with a header.

    ``required``: columns every file must have; ``optional``: columns read when present,
    named beside the required ones in errors; ``any_of``: groups of which at least one
    column must be present (e.g. XSTest v1 ``id`` or v2 ``id_v2``). A row with fewer
    fields than the header, or an empty required field, is a ``DatasetError`` naming the
    file and its line. Blank lines are skipped.
    """
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DatasetError(f"{path}: not a readable CSV file ({exc})") from exc
        if not header:
            raise DatasetError(f"{path}: empty file, expected a CSV header with columns {describe_columns(required, optional)}")
        header = [h.strip() for h in header]
        reader.fieldnames = header
        missing = [c for c in required if c not in header]
        if missing:
            raise DatasetError(
                f"{path}: missing column(s) {', '.join(missing)}; expected {describe_columns(required, optional)}, found {', '.join(header)}"
            )
        for group in any_of:
            if not any(c in header for c in group):
                raise DatasetError(f"{path}: needs one of the columns {' or '.join(group)}; found {', '.join(header)}")
        try:
            for row in reader:
                line = reader.line_num
                if not any((v or "").strip() for k, v in row.items() if k is not None):
                    continue
                if None in row.values():
                    raise DatasetError(f"{path}, line {line}: row has fewer fields than the header ({len(header)} columns)")
                for column in required:
                    if not row[column].strip():
                        raise DatasetError(f"{path}, line {line}: empty {column!r}")
                yield line, {k: v for k, v in row.items() if k is not None}
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DatasetError(f"{path}, line {reader.line_num}: malformed CSV ({exc})") from exc


def read_plain_rows(path: Path, *, one_column: bool = False) -> list[tuple[int, str]]:
    """A header-less one-column CSV (SafeBench's prompt files): ``(1-based row position, text)``.

    Positions count every line, blank ones included, as the SafeBench evaluation code
    (``enumerate(csv.reader(...))``) pairs row ``i`` with image ``i + 1``. With
    ``one_column``, a row of more than one field is a ``DatasetError`` naming the file
    and line: a query holding a comma is quoted in the published files, so such a row
    means a header or a file of another format, whose first column would run as queries.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: malformed CSV ({exc})") from exc
    if one_column:
        for position, row in enumerate(rows, start=1):
            if len([field for field in row if field.strip()]) > 1:
                shown = shorten(", ".join(row), 80, placeholder=" ...")
                raise DatasetError(f"{path}, row {position}: {len(row)} columns ({shown}); expected one column, one query per row, no header")
    return [(i, row[0].strip()) for i, row in enumerate(rows, start=1) if row and row[0].strip()]


def first_existing(candidates: Iterable[Path]) -> Path | None:
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def find_file(path: Path, names: Iterable[str], not_found: str) -> Path:
    """``path`` itself when it is a file, else the first of ``names`` inside it; ``not_found`` says what was expected."""
    if path.is_file():
        return path
    found = first_existing(path / name for name in names)
    if found is None:
        raise DatasetError(f"{path} {not_found}")
    return found


def check_unique(items: list[Item], where: Path) -> list[Item]:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise DatasetError(f"{where}: duplicate item id {item.id!r}")
        seen.add(item.id)
    return items


def parse_int(value: str, path: Path, line: int, column: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise DatasetError(f"{path}, line {line}: {column!r} must be an integer, got {value!r}") from None
