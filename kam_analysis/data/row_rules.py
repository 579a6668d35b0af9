"""The row-level validation rules' messages, in one place for every engine.

A row-level rule judges each row on its own (a required value missing, a date before the
contract's earliest or after today, a number out of range). Validation of a client file
counts the rows in DuckDB (:mod:`kam_analysis.data.validate`); a warehouse source counts
them in the client's engine (:mod:`kam_analysis.data.warehouse`). Both build the problem
with these functions, so a rule says the same thing whatever engine found it.

The rules that judge one value of a column against the contract (:data:`VALUE_RULES`) are
declared once, as a :class:`ValueRule`: which columns it applies to, its condition in SQL
(a file, staged in DuckDB) and in Ibis (a warehouse, in its engine), and its message.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from ..exceptions import Problem
from .contract import PLACEHOLDERS, Column

__all__ = ["MAX_NUMBER", "ValueRule", "VALUE_RULES", "missing_values", "unparseable", "implausible_date",
           "implausible_number", "out_of_range", "not_whole", "future_date", "after_as_of", "range_text"]

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


def unparseable(source: str, table: str, name: str, client: str, col: Column, count: int, examples: tuple) -> Problem:
    """Values of a file's column that cannot be read as the contract's type (a warehouse's own types
    cannot fail; a column it holds as text is read by the file rules)."""
    kind = {"date": "dates", "bool": "yes/no values"}.get(col.dtype, "numbers")
    fix = {"date": f"use ISO dates (YYYY-MM-DD) or set data.{table}.date_format, e.g. '%d/%m/%Y'",
           "bool": "use yes/no, true/false or 1/0"}.get(
        col.dtype, "remove text from the numbers (a currency symbol or code before or after is fine); "
                   f"if the file writes decimals with a comma (1.234,50), set data.{table}.decimal: ','")
    return Problem(rule="unparseable", file=source, column=client, count=int(count), examples=tuple(examples),
                   message=f"{count:,} value{_s(count)} in {name} cannot be read as {kind}", fix=fix)


def implausible_date(source: str, name: str, client: str, col: Column, count: int, examples: tuple) -> Problem:
    return Problem(rule="implausible_date", file=source, column=client, count=int(count), examples=tuple(examples),
                   message=f"{count:,} value{_s(count)} of {name} {'are' if count != 1 else 'is'} before "
                           f"{col.earliest:%Y-%m-%d}",
                   fix="1899-12-30, 1899-12-31 and 1900-01-00 are how a spreadsheet shows an empty date: "
                       "leave these cells empty in the export or give the real dates")


def implausible_number(source: str, name: str, client: str, col: Column, count: int, examples: tuple) -> Problem:
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


def not_whole(source: str, name: str, client: str, col: Column, count: int, examples: tuple) -> Problem:
    return Problem(rule="not_whole", file=source, column=client, count=int(count), examples=tuple(examples),
                   message=f"{count:,} values of {name} are not whole numbers",
                   fix=f"{name} is one respondent's whole-number answer per row: a value such as 9.5 is "
                       "an average or a typing error; give the individual responses")


# --------------------------------------------------------------------------- one value against the contract
@dataclass(frozen=True)
class ValueRule:
    """A rule judging one parsed value of a column on its own.

    ``sql(value, col, zero_date)`` is the condition of a bad value in DuckDB SQL (``value`` the
    parsed column; ``zero_date`` SQL true when the cell as written is a spreadsheet's day zero);
    ``engine(x, col)`` the same condition as an Ibis expression over the engine's column ``x``
    (already of the contract's type); ``problem(source, name, client, col, count, examples)``
    what is said about the values found.
    """

    key: str
    applies: Callable[[Column], bool]
    sql: Callable[[str, Column, str], str]
    engine: Callable[[object, Column], object]
    problem: Callable[..., Problem]


def _bounds(col: Column) -> bool:
    return col.min is not None or col.max is not None


def _engine_early(x, col: Column):
    import ibis

    return x.cast("date") < ibis.date(col.earliest)


def _engine_huge(x, col: Column):
    v = x.cast("float64")
    return v.notnull() & (v.isinf() | v.isnan() | (v.abs() >= MAX_NUMBER))


def _sql_range(v: str, col: Column, zero_date: str) -> str:
    conds = ([f"{v} < {col.min!r}"] if col.min is not None else []) + (
        [f"{v} > {col.max!r}"] if col.max is not None else [])
    return f"{v} IS NOT NULL AND ({' OR '.join(conds)})"


def _engine_range(x, col: Column):
    import ibis

    v = x.cast("float64")
    bounds = ([v < col.min] if col.min is not None else []) + ([v > col.max] if col.max is not None else [])
    return v.notnull() & ibis.or_(*bounds)


def _engine_fraction(x, col: Column):
    v = x.cast("float64")
    return v.notnull() & (v != v.round(0))


#: the value rules, in the order their problems are reported for each column
VALUE_RULES = (
    ValueRule("early", lambda col: col.dtype == "date" and col.earliest is not None,
              lambda v, col, zero_date: f"({v} < DATE '{col.earliest}' OR {zero_date})",
              _engine_early, implausible_date),
    ValueRule("huge", lambda col: col.dtype in ("number", "integer"),
              lambda v, col, zero_date: f"{v} IS NOT NULL AND (NOT isfinite({v}) OR abs({v}) >= {MAX_NUMBER!r})",
              _engine_huge, implausible_number),
    ValueRule("range", _bounds, _sql_range, _engine_range, out_of_range),
    ValueRule("frac", lambda col: col.dtype == "integer",
              lambda v, col, zero_date: f"{v} IS NOT NULL AND isfinite({v}) AND {v} <> round({v})",
              _engine_fraction, not_whole),
)


# --------------------------------------------------------------------------- the analysis window
def future_date(source: str, table: str, client: str, today: dt.date, count: int, examples: tuple) -> Problem:
    return Problem(rule="future_date", file=source, column=client, count=int(count), examples=tuple(examples),
                   message=f"{count:,} {table} rows are dated in the future (after today, {today})",
                   fix="check the date column mapping and the date format (day/month order)")


def after_as_of(source: str, table: str, client: str, as_of: dt.date, count: int) -> Problem:
    return Problem(rule="after_as_of", severity="warning", file=source, column=client, count=int(count),
                   message=f"{count:,} {table} rows are after the as-of date {as_of} and are excluded",
                   fix="move analysis.as_of_date later if they should count")
