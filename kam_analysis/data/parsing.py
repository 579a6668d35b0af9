"""How client values are read: the SQL that parses a file's text into the contract's types.

Validation (:mod:`kam_analysis.data.validate`) stages every client file with these
expressions, and a warehouse source's columns held as text are read by them too.

Parsing rules (the README documents them for consultants):

* numbers: surrounding currency symbols/codes and spaces are ignored, thousands
  separators removed (``1,234.50``; with ``decimal: ","`` also ``1.234,50``), and
  ``(12.00)`` is read as ``-12.00``;
* dates: ISO ``2024-03-31`` (with or without a time) and compact ``20240331`` always; ``dd/mm/yyyy`` or
  ``mm/dd/yyyy`` is chosen from the data (a value like ``31/01/2024`` proves day-first)
  and must be consistent within a column; ``date_format`` in the params overrides;
* booleans: 1/0, true/false, yes/no, y/n;
* text: trimmed, control characters removed;
* everywhere: placeholders such as ``N/A``, ``-``, ``null`` are missing values
  (:data:`~kam_analysis.data.contract.PLACEHOLDERS`).
"""
from __future__ import annotations

import re
import zoneinfo

from ..config import FileSpec
from .contract import PLACEHOLDERS, Column
from .readers import sql_str

__all__ = ["CONTROL_RE", "ZERO_DATE", "DOT_GROUPS", "COMMA_GROUPS", "given_sql", "text_sql", "number_text_sql",
           "number_parts_sql", "number_sql", "date_sql", "bool_sql", "is_native", "zoned_date_sql", "parse_sql"]

#: control characters removed from every text value
CONTROL_RE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


#: a placeholder cell (contract.PLACEHOLDERS) as one pattern matched against the whole value,
#: case-insensitively, with spaces around: the same test as ``lower(trim(x)) IN (...)`` without
#: building a lowered, trimmed copy of every value (on 10 million ids the lowered copies cost most
#: of the staging time)
_PLACEHOLDER_RE = " *(?i:" + "|".join(re.escape(p) for p in PLACEHOLDERS if p) + ")? *"


def given_sql(expr: str) -> str:
    """The cell as text, NULL when it is empty or a placeholder such as 'N/A' or '-' (contract.PLACEHOLDERS)."""
    text = f"CAST({expr} AS VARCHAR)"
    return f"CASE WHEN regexp_full_match({text}, {sql_str(_PLACEHOLDER_RE)}) THEN NULL ELSE {text} END"


def text_sql(expr: str) -> str:
    """The cell as text, trimmed, control characters removed, NULL when empty or a placeholder.

    Control characters are rare: they are searched for first (no copy), and removed only
    from the values that have them."""
    text = f"CAST({expr} AS VARCHAR)"
    cleaned = (f"CASE WHEN regexp_matches({text}, '{CONTROL_RE}') "
               f"THEN trim(regexp_replace({text}, '{CONTROL_RE}', '', 'g')) ELSE trim({text}) END")
    return f"NULLIF({given_sql(cleaned)}, '')"


# A number as clients write it: optional brackets, sign, currency (code or symbol) before
# or after, a trailing minus (SAP-style "12.50-"); spaces and apostrophes are removed
# first, so "EUR 1 234,50" and "1'234.50" reach this pattern as "EUR1234,50" / "1234.50".
_NUM_PATTERN = (r"^(\(?)([+-]?)([A-Za-z]{0,3}[$€£¥₹]?)([+-]?)([0-9.,]*[0-9][0-9.,]*)"
                r"([A-Za-z]{0,3}[$€£¥₹]?)(-?)(\)?)$")
_NUM_PARTS = ["open", "s1", "cur1", "s2", "num", "cur2", "s3", "close"]
# The digits must be grouped consistently: with decimal "." commas only as thousands
# separators between groups of three ("1,234.5"), never "1,5" (ambiguous: European decimal).
_GROUPED = {".": r"^([0-9]{1,3}(,[0-9]{3})+|[0-9]*)(\.[0-9]*)?$",
            ",": r"^([0-9]{1,3}(\.[0-9]{3})+|[0-9]*)(,[0-9]*)?$"}
_SCIENTIFIC = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+$"
# Digits grouped by dots in threes only ("25.000", "1.234.567"): thousands or decimals?
DOT_GROUPS = r"^[0-9]{1,3}(\.[0-9]{3})+$"
COMMA_GROUPS = r"^[0-9]{1,3}(,[0-9]{3})+$"
# A spreadsheet's day zero written as a date (1900-01-00, 00/01/1900, 0.1.1900)
ZERO_DATE = r"^(1900-0?1-0?0|0?0[/.\-]0?1[/.\-]1900|0?1[/.\-]0?0[/.\-]1900)([ T].*)?$"


def number_text_sql(expr: str) -> str:
    """The number's text with spaces and apostrophes (thousands separators) removed."""
    return f"regexp_replace(CAST({expr} AS VARCHAR), '[\\s\u00a0\u202f''’]', '', 'g')"


def number_parts_sql(text: str) -> str:
    """A struct of the number's parts (see _NUM_PATTERN); computed once per value."""
    return f"regexp_extract({text}, {sql_str(_NUM_PATTERN)}, {_NUM_PARTS!r})"


def number_sql(expr: str, native_numeric: bool, decimal: str, *, text: str | None = None,
                parts: str | None = None) -> str:
    """SQL reading a client number (see the module docstring for the rules); NULL if unreadable.

    ``text`` and ``parts`` may name columns already holding :func:`number_text_sql` and
    :func:`number_parts_sql` of ``expr`` (so the regular expression runs once per value).
    """
    if native_numeric:
        return f"TRY_CAST({expr} AS DOUBLE)"
    s = text or number_text_sql(expr)
    parts = parts or number_parts_sql(s)
    core = f"{parts}.num"
    digits = (f"replace({core}, ',', '')" if decimal == "." else f"replace(replace({core}, '.', ''), ',', '.')")
    neg = (f"(({parts}.open = '(' AND {parts}.close = ')') OR {parts}.s1 = '-' OR {parts}.s2 = '-' "
           f"OR {parts}.s3 = '-')")
    balanced = f"(({parts}.open = '(') = ({parts}.close = ')'))"
    signs = f"(length({parts}.s1) + length({parts}.s2) + length({parts}.s3) <= 1)"
    value = (f"CASE WHEN {balanced} AND {signs} AND regexp_full_match({core}, {sql_str(_GROUPED[decimal])}) "
             f"THEN (CASE WHEN {neg} THEN -1 ELSE 1 END) * TRY_CAST(NULLIF({digits}, '') AS DOUBLE) END")
    if decimal == ".":
        value = f"CASE WHEN regexp_full_match({s}, {sql_str(_SCIENTIFIC)}) THEN TRY_CAST({s} AS DOUBLE) ELSE {value} END"
    return value


# Dates with a month name are unambiguous; tried after ISO and the numeric forms.
_NAMED_MONTH_FORMATS = ["%d-%b-%Y", "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%d-%b-%y"]


def date_sql(expr: str, fmt: str | None, slash_order: str) -> str:
    t = f"trim(CAST({expr} AS VARCHAR))"
    if fmt:
        return f"CAST(TRY_STRPTIME({t}, {sql_str(fmt)}) AS DATE)"
    sep_fmts = ["%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"] if slash_order == "dmy" else ["%m/%d/%Y", "%m.%d.%Y", "%m-%d-%Y"]
    parts = [f"TRY_CAST({t} AS DATE)", f"CAST(TRY_CAST({t} AS TIMESTAMP) AS DATE)",
             f"CAST(TRY_STRPTIME({t}, '%Y/%m/%d') AS DATE)"]
    parts += [f"CAST(TRY_STRPTIME(split_part({t}, ' ', 1), {sql_str(f)}) AS DATE)" for f in sep_fmts]
    parts += [f"CAST(TRY_STRPTIME({t}, {sql_str(f)}) AS DATE)" for f in _NAMED_MONTH_FORMATS]
    # compact dates as POS and ERP systems write them: 20250314 (year 1900-2099 first, so never ddmmyyyy)
    parts.append(f"CASE WHEN regexp_full_match({t}, '(19|20)[0-9]{{6}}') "
                 f"THEN CAST(TRY_STRPTIME({t}, '%Y%m%d') AS DATE) END")
    return f"COALESCE({', '.join(parts)})"


def bool_sql(expr: str) -> str:
    t = f"lower(trim(CAST({expr} AS VARCHAR)))"
    return (f"CASE WHEN {t} IN ('1','1.0','true','yes','y','t','x') THEN TRUE "
            f"WHEN {t} IN ('0','0.0','false','no','n','f') THEN FALSE ELSE NULL END")


def is_native(col: Column, native_type: str) -> bool:
    """True when the file's own type already is the contract type (Parquet), so parsing cannot fail."""
    t = native_type.upper()
    if col.dtype in ("number", "integer"):
        return any(k in t for k in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL"))
    if col.dtype == "date":
        return "DATE" in t or "TIMESTAMP" in t
    if col.dtype == "bool":
        return t == "BOOLEAN"
    return True  # text and ids: trimming cannot fail


def zoned_date_sql(expr: str, zone: str | None) -> str:
    """The calendar date of a time-zone-aware timestamp on the clock of the zone the file
    records for it (a fixed offset such as '+02:00' or a zone name); UTC when it records none."""
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", zone or "")
    if m:
        minutes = (1 if m.group(1) == "+" else -1) * (int(m.group(2)) * 60 + int(m.group(3)))
        return f"CAST(timezone('UTC', {expr}) + INTERVAL ({minutes}) MINUTE AS DATE)"
    try:
        name = str(zoneinfo.ZoneInfo(zone)) if zone else "UTC"
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        name = "UTC"
    return f"CAST(timezone({sql_str(name)}, {expr}) AS DATE)"


def parse_sql(col: Column, expr: str, native_type: str, spec: FileSpec, slash_order: str,
               zone: str | None = None) -> str:
    native = is_native(col, native_type)
    if col.dtype in ("id", "text"):
        return text_sql(expr)
    if col.dtype in ("number", "integer"):
        return number_sql(expr if native else given_sql(expr), native, spec.decimal)
    if col.dtype == "date":
        if native and "TIME ZONE" in native_type.upper():
            return zoned_date_sql(expr, zone)
        if native:
            return f"CAST({expr} AS DATE)"
        return date_sql(given_sql(expr), spec.date_format, slash_order)
    if col.dtype == "bool":
        if native:
            return expr
        return bool_sql(given_sql(expr))
    raise AssertionError(col.dtype)
