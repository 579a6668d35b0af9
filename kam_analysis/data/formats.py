"""Which format a client column is written in, decided from the whole column.

Some values cannot be read on their own: ``05/03/2024`` is the 5th of March or the 3rd of
May, ``25.000`` twenty-five thousand or twenty-five. Validation
(:mod:`kam_analysis.data.validate`) asks these functions before it parses (the date order)
and after it has staged the column (the thousands separator); each decides from evidence
elsewhere in the column (a date like ``31/01/2024``, a number like ``1.234.567``) and says
so, or refuses the column with the setting that decides. ``ck`` is validation's checker
(``ck.con``, ``ck.params``, ``ck.add(**problem)``, ``ck.examples``).
"""
from __future__ import annotations

from ..config import FileSpec
from .contract import Column, Table
from .parsing import COMMA_GROUPS, DOT_GROUPS, number_parts_sql, number_sql, number_text_sql
from .readers import sql_ident, sql_str

__all__ = ["slash_order", "ambiguous_numbers"]


def slash_order(ck, view: str, client: str, spec: FileSpec, col: Column) -> str:
    """``"dmy"`` or ``"mdy"`` for numeric dates like 05/03/2024, decided from the whole column."""
    if spec.date_format:
        return "dmy"
    t = f"trim(CAST({sql_ident(client)} AS VARCHAR))"
    pat = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})"
    d1 = f"TRY_CAST(regexp_extract({t}, '{pat}', 1) AS INT)"
    d2 = f"TRY_CAST(regexp_extract({t}, '{pat}', 2) AS INT)"
    # evidence for an order = a date valid under that reading only (day 13-31, month 1-12);
    # a value valid under neither (31-31-2024) is evidence of nothing: it is reported as
    # unparseable by the parsing rule, not as a second date format
    day_ev = f"({d1} BETWEEN 13 AND 31 AND {d2} BETWEEN 1 AND 12)"
    month_ev = f"({d2} BETWEEN 13 AND 31 AND {d1} BETWEEN 1 AND 12)"
    either = f"({d1} BETWEEN 1 AND 12 AND {d2} BETWEEN 1 AND 12 AND {d1} <> {d2})"
    q = (f"SELECT count(*) FILTER (WHERE {day_ev}), count(*) FILTER (WHERE {month_ev}), "
         f"min({t}) FILTER (WHERE {day_ev}), min({t}) FILTER (WHERE {month_ev}), "
         f"count(*) FILTER (WHERE {either}), min({t}) FILTER (WHERE {either}) "
         f"FROM {sql_ident(view)}")
    day_first, month_first, ex_d, ex_m, n_ambiguous, ex_a = ck.con.execute(q).fetchone()
    table = next((k for k in ("transactions", "accounts", "surveys", "capability")
                  if getattr(ck.params.data, k) is spec), "<table>")
    if day_first and month_first:
        ck.mixed.add((spec.source, client))
        ck.add(rule="mixed_date_formats", file=spec.source, column=client,
               message="Dates mix day-first and month-first formats", count=int(day_first + month_first),
               examples=(ex_d, ex_m),
               fix="export dates as ISO (YYYY-MM-DD), or split the file by format; "
                   f"set data.{table}.date_format if every date has one format")
    elif n_ambiguous and not day_first and not month_first:
        ck.add(rule="ambiguous_dates", severity="warning", file=spec.source, column=client,
               count=int(n_ambiguous), examples=(ex_a,),
               message="No date in the column shows whether it is day-first or month-first; "
                       "read as day-first (dd/mm/yyyy)",
               fix=f"if the dates are month-first, set data.{table}.date_format: '%m/%d/%Y'")
    return "mdy" if month_first and not day_first else "dmy"


def ambiguous_numbers(ck, table: Table, spec: FileSpec, stg: str, mapped: dict[str, str],
                      raw_kept: dict[str, bool]) -> None:
    """Numbers whose dots could be thousands separators or decimal points ('25.000').

    Only when ``decimal`` is not set: a value with two dots (1.234.567) proves the dots
    separate thousands and the column is read so (with a warning); otherwise the file is
    refused with the setting that decides. In a semicolon-separated file, where the comma
    is the usual decimal mark, '25,000' is refused the same way unless a value with two
    commas (1,234,567) shows they separate thousands.
    """
    if "decimal" in spec.model_fields_set:
        return
    if ck.delimiter == ";":
        _grouped_in_threes(ck, table, spec, stg, mapped, raw_kept, ",")
    _grouped_in_threes(ck, table, spec, stg, mapped, raw_kept, ".")


# What each separator's undecided column says: (message, fix), formatted with n, name, table.
_UNDECIDED = {
    ".": ("{n:,} values of {name} have a dot before exactly three digits (e.g. 25.000), which may be a "
          "thousands separator (25,000) or a decimal point (25.0); nothing in the column decides",
          "set data.{table}.decimal: ',' if the dot separates thousands (European style, 25.000 = "
          "twenty-five thousand), or data.{table}.decimal: '.' if it is a decimal point"),
    ",": ("{n:,} values of {name} have a comma before exactly three digits (e.g. 25,000) in a "
          "semicolon-separated file, where the comma is usually the decimal mark: 25,000 may be "
          "twenty-five thousand or 25.0; nothing in the column decides",
          "set data.{table}.decimal: '.' if the comma separates thousands, or data.{table}.decimal: ',' "
          "if it is the decimal mark"),
}


def _grouped_in_threes(ck, table: Table, spec: FileSpec, stg: str, mapped: dict[str, str],
                       raw_kept: dict[str, bool], sep: str) -> None:
    """The number columns whose only use of ``sep`` is before groups of three digits.

    A value using the other mark, or ``sep`` otherwise (``1.5``), decides the column: it is
    left to the parser. A value with ``sep`` twice (``1.234.567``) proves ``sep`` separates
    thousands: a comma already reads so (``decimal`` defaults to '.'); dots are re-read as
    thousands with a warning. Otherwise nothing decides and the file is refused.
    """
    other = "," if sep == "." else "."
    groups = sql_str(DOT_GROUPS if sep == "." else COMMA_GROUPS)
    for name, client in mapped.items():
        if table.column(name).dtype not in ("number", "integer") or name not in raw_kept:
            continue
        raw = sql_ident("raw__" + name)
        num = f"({number_parts_sql(number_text_sql(raw))}).num"
        grouped = f"regexp_full_match(n, {groups})"
        n_grouped, n_multi, n_other = ck.con.execute(
            f"SELECT count(*) FILTER (WHERE {grouped}), count(*) FILTER (WHERE {grouped} AND n LIKE '%{sep}%{sep}%'), "
            f"count(*) FILTER (WHERE n LIKE '%{other}%' OR (n LIKE '%{sep}%' AND NOT {grouped})) "
            f"FROM (SELECT {num} AS n FROM {stg} WHERE {raw} IS NOT NULL)").fetchone()
        if not n_grouped or n_other or (n_multi and sep == ","):
            continue
        ex = ck.examples(stg, raw, f"regexp_full_match({num}, {groups})")
        if n_multi:
            ck.con.execute(f"UPDATE {stg} SET {sql_ident(name)} = {number_sql(raw, False, ',')}")
            ck.add(rule="thousands_separator", severity="warning", file=spec.source, column=client,
                   count=int(n_grouped), examples=ex,
                   message=f"The dots in {name} separate thousands (a value has two of them, "
                           "and none has decimals), so 25.000 is read as twenty-five thousand",
                   fix=f"nothing to do if that is right; otherwise set data.{table.name}.decimal: '.'")
        else:
            message, fix = (t.format(n=n_grouped, name=name, table=table.name) for t in _UNDECIDED[sep])
            ck.add(rule="ambiguous_number", file=spec.source, column=client, count=int(n_grouped),
                   examples=ex, message=message, fix=fix)
