"""The row-level validation rules' messages, in one place for every engine.

A row-level rule judges each row on its own (a required value missing, a date before the
contract's earliest or after today, a number out of range). Validation of a client file
counts the rows in DuckDB (:mod:`kam_analysis.data.validate`); a warehouse source counts
them in the client's engine (:mod:`kam_analysis.data.warehouse`). Both build the problem
with these functions, so a rule says the same thing whatever engine found it.
"""
from __future__ import annotations

import datetime as dt

from ..exceptions import Problem
from .contract import PLACEHOLDERS, Column

__all__ = ["MAX_NUMBER", "missing_values", "implausible_date", "implausible_number", "out_of_range", "not_whole",
           "future_date", "after_as_of", "range_text"]

#: no client amount or score is this large; it is an export error
MAX_NUMBER = 1e15


def _s(n: int) -> str:
    return "s" if n != 1 else ""


def missing_values(source: str, names: list[str], clients: list[str], count: int, examples: tuple) -> Problem:
    """Rows missing a required value (one problem for all required columns)."""
    return Problem(rule="missing_value", file=source, column=", ".join(clients), count=int(count),
                   message=f"{count:,} rows have no {' or no '.join(names)}", examples=tuple(examples),
                   fix=f"fill in {' and '.join(names)} for these rows or remove them from the extract "
                       f"(empty, {', '.join(repr(p) for p in PLACEHOLDERS[1:5])} ... count as no value)")


def implausible_date(source: str, name: str, client: str, col: Column, count: int, examples: tuple) -> Problem:
    return Problem(rule="implausible_date", file=source, column=client, count=int(count), examples=tuple(examples),
                   message=f"{count:,} value{_s(count)} of {name} {'are' if count != 1 else 'is'} before "
                           f"{col.earliest:%Y-%m-%d}",
                   fix="1899-12-30, 1899-12-31 and 1900-01-00 are how a spreadsheet shows an empty date: "
                       "leave these cells empty in the export or give the real dates")


def implausible_number(source: str, name: str, client: str, count: int, examples: tuple) -> Problem:
    return Problem(rule="implausible_number", file=source, column=client, count=int(count), examples=tuple(examples),
                   message=f"{count:,} values of {name} are infinite, not a number, or larger than "
                           f"{MAX_NUMBER:,.0f} in size",
                   fix=f"check the {name} column mapping and the export (an id or a date read as a number?)")


def range_text(col: Column) -> str:
    return f"{col.min:g} to {col.max:g}" if col.max is not None else f"at least {col.min:g}"


def out_of_range(source: str, name: str, client: str, col: Column, count: int, examples: tuple) -> Problem:
    rng = range_text(col)
    return Problem(rule="out_of_range", file=source, column=client, count=int(count), examples=tuple(examples),
                   message=f"{count:,} values of {name} are outside {rng}",
                   fix=f"{name} must be {rng}; correct the values or map the right column")


def not_whole(source: str, name: str, client: str, count: int, examples: tuple) -> Problem:
    return Problem(rule="not_whole", file=source, column=client, count=int(count), examples=tuple(examples),
                   message=f"{count:,} values of {name} are not whole numbers",
                   fix=f"{name} is one respondent's whole-number answer per row: a value such as 9.5 is "
                       "an average or a typing error; give the individual responses")


def future_date(source: str, table: str, client: str, today: dt.date, count: int, examples: tuple) -> Problem:
    return Problem(rule="future_date", file=source, column=client, count=int(count), examples=tuple(examples),
                   message=f"{count:,} {table} rows are dated in the future (after today, {today})",
                   fix="check the date column mapping and the date format (day/month order)")


def after_as_of(source: str, table: str, client: str, as_of: dt.date, count: int) -> Problem:
    return Problem(rule="after_as_of", severity="warning", file=source, column=client, count=int(count),
                   message=f"{count:,} {table} rows are after the as-of date {as_of} and are excluded",
                   fix="move analysis.as_of_date later if they should count")
