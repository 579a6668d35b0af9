"""Parse and check client data in DuckDB before any analysis runs.

:func:`validate_data` reads every client file named in the params, maps its columns
onto the contract, parses dates and numbers, and applies one rule per check. Each
problem is a :class:`~kam_analysis.exceptions.Problem` naming the file, the client's
column, how many rows, a few example values and the fix. Errors stop the run;
warnings are reported and the run goes on.

How values are read (numbers, dates, booleans, text, placeholders) is
:mod:`kam_analysis.data.parsing`; every example value in a message names its row.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import functools
import re
from dataclasses import dataclass, field

import duckdb

from ..config import FileSpec, Params
from ..exceptions import DataValidationError, Problem
from . import formats, row_rules
from .contract import CONTRACT, TOTAL_LABELS, Table
from .parsing import ZERO_DATE, given_sql, is_native, number_parts_sql, number_sql, number_text_sql, parse_sql
from .orders import (N_EXAMPLES as _N_EXAMPLES, build_transactions, examples_sql as _examples, groups_sql,
                     id_rows_sql as _id_rows, no_transactions_left)
from .readers import ROW_COLUMN, connect_duckdb, csv_record_lines, header_key, read_raw, sql_ident, sql_str

__all__ = ["ValidationReport", "validate_data"]


@dataclass
class ValidationReport:
    """Result of :func:`validate_data`.

    Attributes
    ----------
    problems : list of Problem
        Errors and warnings, in the order found.
    views : dict
        Contract table name -> DuckDB view of clean, typed, contract-named rows.
    stats : dict
        Row counts per table (read, kept) for the data-quality notes.
    """

    con: duckdb.DuckDBPyConnection
    problems: list[Problem] = field(default_factory=list)
    views: dict[str, str] = field(default_factory=dict)
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    present_columns: dict[str, list[str]] = field(default_factory=dict)
    #: warehouse tables: name -> (source, local extract, key columns' name), see data.warehouse
    extracts: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    _extract_dir: str | None = None

    def extract_dir(self):
        """A private temporary folder for warehouse extracts (removed by :meth:`close`)."""
        import tempfile
        from pathlib import Path

        if self._extract_dir is None:
            self._extract_dir = tempfile.mkdtemp(prefix="kam-extract-")
        return Path(self._extract_dir)

    def close(self) -> None:
        """Close the DuckDB connection and remove the warehouse extracts."""
        import shutil

        self.con.close()
        if self._extract_dir:
            shutil.rmtree(self._extract_dir, ignore_errors=True)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        if self.errors:
            raise DataValidationError(self.problems)

    def summary(self) -> str:
        lines = []
        for p in self.errors + self.warnings:
            lines.append(str(p))
        if not lines:
            lines.append("All checks passed.")
        return "\n".join(lines)


# --------------------------------------------------------------------------- messages
def _with_row(value: str) -> str:
    """SQL of the example 'row <n>: <value>' (the first file row holding the value)."""
    return f"'row ' || min(_row) || ': ' || CAST({value} AS VARCHAR)"


def _delimiter_hint(cols: list[str]) -> str:
    """A fix for a file read as one column whose name contains another delimiter."""
    if len(cols) != 1:
        return ""
    for delim, shown in ((";", "';'"), ("\t", "'\\t' (tab)"), ("|", "'|'"), (",", "','")):
        if delim in cols[0]:
            return (f"The file was read as a single column; it looks delimited by {shown}: "
                    f"set data.<table>.delimiter to {shown} (or remove the delimiter setting to detect it). ")
    return ""


def _guess_column(wanted: str, cols: list[str]) -> list[str]:
    """The client column most likely meant: an abbreviation of the expected name ('Cust' for
    'Customer ID') first, else the closest spelling."""
    w = wanted.strip().lower()
    prefix = [c for c in cols if len(c.strip()) >= 3 and w.startswith(c.strip().lower())]
    if prefix:
        return [max(prefix, key=len)]
    return difflib.get_close_matches(wanted, cols, n=1, cutoff=0.4)


# --------------------------------------------------------------------------- per table
class _Checker:
    def __init__(self, params: Params, report: ValidationReport):
        self.params = params
        self.r = report
        self.con = report.con
        self.mixed: set[tuple[str, str]] = set()  # (file, column) already reported as mixed date formats
        self.delimiter: str | None = None  # the CSV delimiter of the file being staged

    def add(self, **kw) -> None:
        self.r.problems.append(Problem(**kw))

    def stage(self, table: Table, spec: FileSpec) -> str | None:
        """Read, map and parse one table into ``stg_<table>``; return its name or None.

        Never raises for a data problem: anything the reader or DuckDB cannot make sense
        of becomes one :class:`Problem` naming the file.
        """
        try:
            return self._stage(table, spec)
        except DataValidationError as exc:
            self.r.problems.extend(exc.problems)
        except (duckdb.Error, ValueError, OSError, UnicodeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            self.add(rule="unreadable_file", file=spec.source,
                     message=f"The {table.name} file could not be processed: {first}",
                     fix=f"check the file opens in Excel and matches data.{table.name} in the params "
                         "(delimiter, encoding, header_row, sheet)")
        return None

    def _stage(self, table: Table, spec: FileSpec) -> str | None:
        con, fname = self.con, spec.source
        valid_names = [c.name for c in table.columns]
        for key in spec.columns:
            if key not in valid_names:
                guess = difflib.get_close_matches(key, valid_names, n=1, cutoff=0.5)
                self.add(rule="unknown_mapping", file=fname,
                         message=f"data.{table.name}.columns maps '{key}', which is not a {table.name} contract column",
                         fix=(f"did you mean '{guess[0]}'? " if guess else "")
                         + f"valid columns: {', '.join(valid_names)}")
        wanted_required = [spec.columns.get(c, c) for c in table.required_columns]
        raw_view = f"raw_{table.name}"
        info: dict = {}
        if spec.warehouse is not None:
            from .warehouse import stage_warehouse

            cols = stage_warehouse(self, table, spec, raw_view, wanted_required, info, self.r.extract_dir())
        else:
            cols = read_raw(con, spec, table=table.name, view=raw_view, required_client_columns=wanted_required,
                            info=info)
        header_line = int(info.get("header_row", 1))
        self.delimiter = info.get("delimiter")
        types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {sql_ident(raw_view)})").fetchall())
        has_sheet_rows = ROW_COLUMN in cols
        cols = [c for c in cols if c != ROW_COLUMN]
        by_lower = {header_key(c): c for c in cols}
        if self._duplicate_headers(table, spec, info.get("header_names") or cols):
            return None

        hint = _delimiter_hint(cols).replace("<table>", table.name)
        missing_required = [c for c in table.required_columns
                            if spec.columns.get(c, c) not in cols and header_key(spec.columns.get(c, c)) not in by_lower]
        if hint and len(missing_required) > 1:
            # one problem, not one per column: the delimiter is wrong
            self.add(rule="wrong_delimiter", file=fname, examples=(cols[0][:120],),
                     message=f"The {table.name} file was read as a single column, so none of its columns were found",
                     fix=hint.strip())
            return None
        mapped: dict[str, str] = {}
        for c in table.columns:
            client = spec.columns.get(c.name, c.name)
            actual = client if client in cols else by_lower.get(header_key(client))
            if actual is not None:
                mapped[c.name] = actual
            elif c.required or c.name in spec.columns:
                guess = _guess_column(client, cols)
                shown = ", ".join(repr(x) for x in cols[:12]) + (" ..." if len(cols) > 12 else "")
                fix = (hint + f"map it in the params: data.{table.name}.columns.{c.name}: "
                       f"\"{guess[0] if guess else '<client column name>'}\"")
                self.add(rule="missing_column", file=fname, column=client,
                         message=f"Required {table.name} column '{c.name}' not found (looked for '{client}')"
                         if c.required else f"Mapped {table.name} column '{c.name}' not found (looked for '{client}')",
                         fix=fix + f". The file's columns are: {shown}")
        if any(c not in mapped for c in table.required_columns):
            return None
        n_rows = con.execute(f"SELECT count(*) FROM {sql_ident(raw_view)}").fetchone()[0]
        if n_rows == 0:
            if spec.warehouse is not None and any(p.file == fname and p.severity == "error" for p in self.r.problems):
                return None  # the engine's checks already said why nothing was extracted
            if spec.warehouse is not None and table.name != "transactions":
                return None  # every row is after the as-of date (said in a warning): the table is left out
            if spec.warehouse is not None:  # every order is after the as-of date (or before history_start)
                self.r.problems.append(no_transactions_left(fname, self.params.analysis.as_of_date))
                return None
            self.add(rule="empty_table", file=fname, message=f"The {table.name} file has a header but no rows",
                     fix="re-export the data from the client system with its rows")
            return None

        n_before = len(self.r.problems)
        selects, self_cols, raw_kept, pre = [], [], {}, []
        for i, (name, client) in enumerate(mapped.items()):
            col = table.column(name)
            expr = sql_ident(client)
            native_type = types.get(client, "VARCHAR")
            slash = formats.slash_order(self, raw_view, client, spec, col) if (
                col.dtype == "date" and not is_native(col, native_type)) else "dmy"
            if col.dtype in ("number", "integer") and not is_native(col, native_type):
                # the number's parts, extracted once in an inner query
                pre.append(f"{number_text_sql(given_sql(expr))} AS __kam_nt{i}")
                pre.append(f"{number_parts_sql(f'__kam_nt{i}')} AS __kam_np{i}")
                parsed_sql = number_sql(expr, False, spec.decimal, text=f"__kam_nt{i}", parts=f"__kam_np{i}")
            else:
                parsed_sql = parse_sql(col, expr, native_type, spec, slash, (info.get("timezones") or {}).get(client))
            selects.append(f"{parsed_sql} AS {sql_ident(name)}")
            if col.dtype not in ("id", "text") and not is_native(col, native_type):
                # the text as given, kept only where parsing can fail (for the examples in messages)
                selects.append(f"NULLIF(trim({given_sql(expr)}), '') AS {sql_ident('raw__' + name)}")
                raw_kept[name] = True
            self_cols.append(name)
        stg = f"stg_{table.name}"
        # row numbers follow the file only while DuckDB preserves insertion order
        old = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
        con.execute("SET preserve_insertion_order = true")
        try:
            row_expr = (f"CAST({sql_ident(ROW_COLUMN)} AS BIGINT)" if has_sheet_rows
                        else f"row_number() OVER () + {header_line}")
            source = sql_ident(raw_view)
            if pre:
                source = f"(SELECT *, {', '.join(pre)} FROM {source})"
            con.execute(f"CREATE OR REPLACE TABLE {stg} AS SELECT {row_expr} AS _row, "
                        f"{', '.join(selects)} FROM {source}")
        finally:
            con.execute(f"SET preserve_insertion_order = {'true' if old else 'false'}")
        if not has_sheet_rows and spec.path is not None:
            self._file_lines(stg, spec, info, int(n_rows))
        self.r.present_columns[table.name] = self_cols
        self.r.stats[table.name] = {"rows_read": int(n_rows)}
        if spec.warehouse is not None:  # what the engine holds, and what left it
            self.r.stats[table.name].update(rows_read=int(info["rows_in_source"]), warehouse_rows=info["warehouse_rows"],
                                            warehouse_bytes=info["warehouse_bytes"])
            self.r.extracts[table.name] = (spec.source, info["extract"], info["key_name"])
        self._name_rows(stg, mapped, raw_kept, n_before)
        self._parse_failures(table, spec, stg, mapped, raw_kept)
        return stg

    def _file_lines(self, stg: str, spec: FileSpec, info: dict, n_rows: int) -> None:
        """Renumber ``_row`` as the file's lines when blank lines or quoted line breaks shift them."""
        lines = csv_record_lines(spec.path, info, n_rows)
        if lines is None:
            return
        import pyarrow as pa

        header_line = int(info.get("header_row", 1))
        self.con.register("__kam_lines", pa.table({"rec": pa.array(range(header_line + 1, header_line + 1 + n_rows)),
                                                    "line": pa.array(lines)}))
        try:
            self.con.execute(f"UPDATE {stg} SET _row = l.line FROM __kam_lines l WHERE {stg}._row = l.rec")
        finally:
            self.con.unregister("__kam_lines")

    def _name_rows(self, stg: str, mapped: dict[str, str], raw_kept: dict[str, bool], since: int) -> None:
        """Give the date-order examples found before staging ('25/03/2024') their rows ('row 2: 25/03/2024')."""
        by_client = {client: name for name, client in mapped.items() if name in raw_kept}
        for i in range(since, len(self.r.problems)):
            p = self.r.problems[i]
            if p.rule not in ("mixed_date_formats", "ambiguous_dates") or p.column not in by_client:
                continue
            raw = sql_ident("raw__" + by_client[p.column])
            shown = []
            for value in p.examples:
                row = self.con.execute(f"SELECT min(_row) FROM {stg} WHERE {raw} = ?", [value]).fetchone()[0]
                shown.append(f"row {row}: {value}" if row is not None else value)
            self.r.problems[i] = dataclasses.replace(p, examples=tuple(shown))

    def _duplicate_headers(self, table: Table, spec: FileSpec, names: list[str]) -> bool:
        """An error for each contract column the file names more than once (ignoring case and spaces)."""
        found = False
        for c in table.columns:
            client = spec.columns.get(c.name, c.name)
            same = [n for n in names if header_key(n) == header_key(client)]
            if len(same) > 1:
                found = True
                self.add(rule="duplicate_column", file=spec.source, column=client,
                         examples=tuple(same),
                         message=f"The {table.name} file has {len(same)} columns named "
                                 + " and ".join(repr(n) for n in same)
                                 + f" (the same name up to case and spaces), so which one is {c.name} is ambiguous",
                         fix="rename all but one of them in the file so every column name is unique (or delete the "
                             f"copies), then map the right one: data.{table.name}.columns.{c.name}: \"<its name>\"")
        return found

    def _totals_rows(self, table: Table, spec: FileSpec, stg: str, mapped: dict[str, str],
                     raw_kept: dict[str, bool]) -> None:
        """Refuse rows that are an export's totals, not data, and leave them out of later checks.

        A totals row is one whose id or text cell (or any cell) is a totals label (contract.
        TOTAL_LABELS: 'Total', 'Grand total', 'Sum', ...), or whose amount is the largest in
        the column and equals the sum of all the other rows (at least three of them).
        """
        con = self.con
        # a label is text: only a text or id column, or a column's text as given, can hold one (a column the
        # file stores as numbers or dates cannot; casting 50 million of them to text cost minutes)
        cells = {n: (sql_ident("raw__" + n) if n in raw_kept else sql_ident(n)) for n in mapped
                 if n in raw_kept or table.column(n).dtype in ("id", "text")}
        # one whole-value pattern, as trim(rtrim(lower(x), ':')) IN (labels) but without a lowered copy of
        # every cell (7x faster on 10 million ids)
        label_re = sql_str(" *(?i:" + "|".join(re.escape(v) for v in TOTAL_LABELS) + ") *:*")
        conds = [f"regexp_full_match(CAST({c} AS VARCHAR), {label_re})" for c in cells.values()]
        reasons: dict[int, str] = {}
        columns: set[str] = set()
        for row, *vals in con.execute(f"SELECT _row, {', '.join(cells.values())} FROM {stg} "
                                      f"WHERE {' OR '.join(conds)} ORDER BY _row LIMIT 1000").fetchall() if cells else []:
            n, v = next((n, v) for n, v in zip(cells, vals)
                        if v is not None and str(v).lower().rstrip(":").strip() in TOTAL_LABELS)
            reasons[row] = f"row {row}: {mapped[n]} is {str(v)!r}"
            columns.add(mapped[n])
        amount = {"transactions": "net_revenue", "accounts": "cost_to_serve"}.get(table.name)
        if amount in mapped:
            a = sql_ident(amount)
            for row, value in con.execute(
                    f"WITH t AS (SELECT sum({a}) AS s, count({a}) AS n, max(abs({a})) AS m FROM {stg}) "
                    f"SELECT _row, {a} FROM {stg}, t WHERE t.n >= 4 AND {a} <> 0 AND abs({a}) = t.m "
                    f"AND abs({a} - (t.s - {a})) <= 0.005 + 1e-9 * abs({a}) ORDER BY _row LIMIT 5").fetchall():
                if row not in reasons:
                    reasons[row] = f"row {row}: {mapped[amount]} {value:,.2f} is the sum of all other rows"
                    columns.add(mapped[amount])
        if not reasons:
            return
        rows = sorted(reasons)
        self.add(rule="totals_row", file=spec.source, count=len(rows),
                 column=", ".join(sorted(columns)),
                 examples=tuple(reasons[r] for r in rows[:_N_EXAMPLES]),
                 message=f"{'Row' if len(rows) == 1 else 'Rows'} {', '.join(map(str, rows[:_N_EXAMPLES]))}"
                         f"{' ...' if len(rows) > _N_EXAMPLES else ''} of the {table.name} file "
                         f"{'is a totals row' if len(rows) == 1 else 'are totals rows'}, not "
                         f"{'a ' + table.name[:-1] if table.name != 'capability' else 'capability scores'}",
                 fix="delete the totals and subtotal rows from the extract (the analysis makes its own totals)")
        con.execute(f"DELETE FROM {stg} WHERE _row IN ({', '.join(map(str, rows))})")

    def _parse_failures(self, table: Table, spec: FileSpec, stg: str, mapped: dict[str, str],
                        raw_kept: dict[str, bool]) -> None:
        con, fname = self.con, spec.source
        self._totals_rows(table, spec, stg, mapped, raw_kept)
        formats.ambiguous_numbers(self, table, spec, stg, mapped, raw_kept)
        # one problem for rows missing required values (a footer or blank row misses several)
        missing = {name: (f"{sql_ident('raw__' + name)} IS NULL" if name in raw_kept else f"{sql_ident(name)} IS NULL")
                   for name in mapped if table.column(name).required}
        if missing:
            counts = con.execute("SELECT " + ", ".join(f"count(*) FILTER (WHERE {c})" for c in missing.values())
                                 + f", count(*) FILTER (WHERE {' OR '.join(missing.values())}) FROM {stg}").fetchone()
            n_any = counts[-1]
            if n_any:
                names = [n for n, k in zip(missing, counts[:-1]) if k]
                any_missing = " OR ".join(missing.values())
                rows = _examples(con, f"SELECT _row FROM {stg} WHERE {any_missing} ORDER BY _row LIMIT {_N_EXAMPLES}")
                self.r.problems.append(row_rules.missing_values(fname, names, [mapped[n] for n in names], n_any,
                                                                tuple(f"row {r}" for r in rows)))
        for name, client in mapped.items():
            col = table.column(name)
            parsed = sql_ident(name)
            raw = sql_ident("raw__" + name) if name in raw_kept else None
            zero_date = f"regexp_full_match({raw}, {sql_str(ZERO_DATE)})" if raw and col.dtype == "date" else "FALSE"
            checks = [(rule.sql(parsed, col, zero_date), functools.partial(rule.problem, fname, name, client, col))
                      for rule in row_rules.VALUE_RULES if rule.applies(col)]
            if raw is not None and (fname, client) not in self.mixed:
                checks.insert(0, (f"{raw} IS NOT NULL AND {parsed} IS NULL AND NOT {zero_date}",
                                  functools.partial(row_rules.unparseable, fname, table.name, name, client, col)))
            self.check(stg, raw or parsed, checks)

    def check(self, stg: str, shown: str, checks: list, order: str = "min(_row)") -> None:
        """Count the rows of ``stg`` meeting each condition of ``checks`` (``(condition, problem)`` pairs) in
        one pass, and for each found add ``problem(count, examples)``: the first few values of ``shown`` by
        ``order`` with their rows ('row 7: 1e16'); none for a triple ``(condition, problem, False)``."""
        if not checks:
            return
        counts = self.con.execute("SELECT " + ", ".join(f"count(*) FILTER (WHERE {cond})" for cond, *_ in checks)
                                  + f" FROM {stg}").fetchone()
        for (cond, problem, *with_examples), n in zip(checks, counts):
            if n:
                ex = self.examples(stg, shown, cond, order) if with_examples in ([], [True]) else ()
                self.r.problems.append(problem(int(n), ex))

    def examples(self, stg: str, shown: str, cond: str, order: str = "min(_row)") -> tuple:
        """The first few values of ``shown`` in the rows of ``stg`` meeting ``cond``, with their row ('row 7: x')."""
        return _examples(self.con, f"SELECT {_with_row(shown)} FROM {stg} WHERE {cond} GROUP BY {shown} "
                                   f"ORDER BY {order} LIMIT {_N_EXAMPLES}")

    def future_dates(self, table: str, spec: FileSpec, stg: str, col: str) -> str:
        """Errors for dates after today, a warning for dates after the as-of date; returns the keep filter."""
        as_of = self.params.analysis.as_of_date
        today = dt.date.today()
        client = spec.columns.get(col, col)
        c = sql_ident(col)
        self.check(stg, c, [(f"{c} > DATE '{today}'",
                             functools.partial(row_rules.future_date, spec.source, table, client, today)),
                            (f"{c} > DATE '{as_of}' AND {c} <= DATE '{today}'",
                             lambda n, ex: row_rules.after_as_of(spec.source, table, client, as_of, n), False)],
                   order=c)
        keep = f"{c} <= DATE '{as_of}'"
        hs = self.params.analysis.history_start
        if hs:
            keep += f" AND {c} >= DATE '{hs}'"
        return keep

    def no_live_account(self, spec: FileSpec) -> None:
        """An error when no account placed a counted order in the activity window before the as-of date.

        The activity rule (``data.prepare.active_sql``, ``metrics.activity.is_active``): an order
        counts when its net revenue is positive; an account is live when its last counted order is
        in ``(as_of - churn_days, as_of]``. With none live there is nothing to score, select or plan
        for, and the usual cause is an as-of date past the end of the data.
        """
        a = self.params.analysis
        cutoff = f"DATE '{a.as_of_date}' - INTERVAL {int(a.churn_days)} DAY"
        # one live order is enough: only the orders with a line in the window are summed (all 50 million
        # orders were grouped, for a yes)
        if self.con.execute(
                "SELECT count(*) FROM (SELECT 1 FROM v_transactions WHERE order_id IN (SELECT order_id FROM "
                f"v_transactions WHERE order_date > {cutoff}) GROUP BY account_id, order_id "
                f"HAVING sum(net_revenue) > 0 AND min(order_date) > {cutoff} LIMIT 1)").fetchone()[0]:
            return
        live, last = self.con.execute(
            "SELECT count(DISTINCT account_id) FILTER (WHERE order_date > DATE '{as_of}' - INTERVAL {d} DAY), "
            "max(order_date) FROM (SELECT account_id, order_id, min(order_date) AS order_date FROM v_transactions "
            "GROUP BY account_id, order_id HAVING sum(net_revenue) > 0)".format(as_of=a.as_of_date, d=int(a.churn_days))
        ).fetchone()
        if live or last is None:
            return
        self.add(rule="no_live_account", file=spec.source, column=spec.columns.get("order_date", "order_date"),
                 message=(f"no account placed an order in the {a.churn_days} days up to the as-of date {a.as_of_date}: "
                          f"the last order is dated {last}, so every account has stopped buying and there is no live "
                          "account to score, select or plan for"),
                 examples=(str(last),),
                 fix=(f"set analysis.as_of_date to the end of the data (e.g. {last}), or raise analysis.churn_days "
                      f"above {(a.as_of_date - last).days} if the client's customers order that rarely"))


def _first_ids(con, stg: str, where: str, col: str = "account_id") -> tuple:
    """A few example ids of staging table ``stg`` with their rows, smallest id first
    (so messages are the same on every run): ``'A9 (rows 5, 8)'``."""
    return _examples(con, f"SELECT {_id_rows(col)} FROM {stg} WHERE {where} GROUP BY {col} "
                          f"ORDER BY {col} LIMIT {_N_EXAMPLES}")


def validate_data(params: Params, con: duckdb.DuckDBPyConnection | None = None) -> ValidationReport:
    """Read and check every client file named in ``params``.

    Parameters
    ----------
    params : Params
        Validated parameters (paths absolute).
    con : duckdb connection, optional
        Where the staging tables and the clean views are created (a new in-memory
        connection by default).

    Returns
    -------
    ValidationReport
        ``report.views`` maps each contract table to a clean DuckDB view when no error
        was found. Call ``report.raise_for_errors()`` to stop on errors.
    """
    if con is None:
        con = connect_duckdb()
    report = ValidationReport(con=con)
    ck = _Checker(params, report)
    data = params.data

    # ---------------- transactions
    stg_t = ck.stage(CONTRACT["transactions"], data.transactions)
    if stg_t:
        spec = data.transactions
        keep = ck.future_dates("transactions", spec, stg_t, "order_date")
        if not build_transactions(ck, report, params, stg_t, keep):
            stg_t = None  # the order-id mapping is refused: nothing below can use the transactions

    # ---------------- accounts
    stg_a = None
    if data.accounts is not None:
        stg_a = ck.stage(CONTRACT["accounts"], data.accounts)
        if stg_a:
            spec = data.accounts
            n_dup, ex = groups_sql(con, stg_a, "account_id", "count(*) > 1")
            if n_dup:
                ck.add(rule="duplicate_id", file=spec.source, column=spec.columns.get("account_id", "account_id"),
                       count=int(n_dup), examples=ex, message=f"{n_dup:,} account ids appear more than once",
                       fix="the accounts file needs one row per account; remove or merge the duplicates")
            cols = [c for c in report.present_columns["accounts"]]
            con.execute(f"CREATE OR REPLACE VIEW v_accounts_given AS SELECT {', '.join(cols)} FROM {stg_a} "
                        "WHERE account_id IS NOT NULL QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY _row) = 1")
            if stg_t:
                tspec = data.transactions
                n_orph, n_orph_rows = con.execute(
                    "SELECT count(DISTINCT t.account_id), count(*) "
                    "FROM v_transactions t ANTI JOIN v_accounts_given a USING (account_id)").fetchone()
                if n_orph:
                    ex = _first_ids(con, stg_t, "account_id IN (SELECT account_id FROM v_transactions "
                                                "ANTI JOIN v_accounts_given USING (account_id))")
                    ck.add(rule="orphan_account", file=tspec.source,
                           column=tspec.columns.get("account_id", "account_id"), count=int(n_orph_rows),
                           examples=ex,
                           message=f"{n_orph:,} account ids in transactions are not in the accounts file "
                                   f"({spec.source_name})",
                           fix="add these accounts to the accounts file, or check both files use the same id format")
    # derived / completed accounts view
    if stg_t:
        if stg_a:
            cols = report.present_columns["accounts"]
            con.execute("CREATE OR REPLACE VIEW v_accounts AS SELECT * FROM v_accounts_given")
        else:
            cols = ["account_id"]
            con.execute("CREATE OR REPLACE VIEW v_accounts AS SELECT DISTINCT account_id FROM v_transactions")
        report.present_columns["accounts"] = cols
        report.views["accounts"] = "v_accounts"

    # ---------------- surveys
    if data.surveys is not None:
        stg_s = ck.stage(CONTRACT["surveys"], data.surveys)
        if stg_s:
            spec = data.surveys
            cols = report.present_columns["surveys"]
            if "nps" not in cols and "csat" not in cols:
                ck.add(rule="missing_column", file=spec.source,
                       message="The surveys file has neither an NPS nor a CSAT column",
                       fix="map data.surveys.columns.nps and/or data.surveys.columns.csat")
            keep = ck.future_dates("surveys", spec, stg_s, "survey_date")
            sel = ", ".join(["account_id", "survey_date",
                             "nps" if "nps" in cols else "NULL::DOUBLE AS nps",
                             "csat" if "csat" in cols else "NULL::DOUBLE AS csat"])
            if stg_t:
                n_unk = con.execute(
                    f"SELECT count(*) FROM {stg_s} s "
                    "ANTI JOIN v_accounts a USING (account_id) WHERE s.account_id IS NOT NULL").fetchone()[0]
                if n_unk:
                    ex = _first_ids(con, stg_s, "account_id NOT IN (SELECT account_id FROM v_accounts)")
                    ck.add(rule="unknown_account", severity="warning", file=spec.source,
                           column=spec.columns.get("account_id", "account_id"), count=int(n_unk), examples=ex,
                           message=f"{n_unk:,} survey responses are for accounts not in the data; they are ignored",
                           fix="check the survey file uses the same account ids as the transactions")
                con.execute(f"CREATE OR REPLACE VIEW v_surveys AS SELECT {sel} FROM {stg_s} "
                            f"SEMI JOIN v_accounts a USING (account_id) WHERE survey_date IS NOT NULL AND {keep}")
                cov = con.execute(
                    "SELECT count(DISTINCT s.account_id)::DOUBLE / nullif((SELECT count(DISTINCT account_id) "
                    "FROM v_transactions), 0) FROM v_surveys s").fetchone()[0] or 0.0
                report.stats["surveys"]["coverage"] = cov  # type: ignore[assignment]
                if cov < params.thresholds.survey_coverage_min:
                    ck.add(rule="low_coverage", severity="warning", file=spec.source,
                           message=f"Only {cov:.0%} of accounts have a survey response (threshold "
                                   f"{params.thresholds.survey_coverage_min:.0%}); NPS/CSAT will be flagged unreliable",
                           fix="ask the client for more survey data, or lower thresholds.survey_coverage_min")
                report.views["surveys"] = "v_surveys"

    # ---------------- capability self-assessment
    if data.capability is not None:
        stg_c = ck.stage(CONTRACT["capability"], data.capability)
        if stg_c:
            cols = report.present_columns["capability"]
            n_dup, ex = groups_sql(con, stg_c, "dimension", "count(*) > 1")
            if n_dup:
                ck.add(rule="duplicate_id", file=data.capability.source,
                       column=data.capability.columns.get("dimension", "dimension"), count=int(n_dup),
                       examples=ex, message=f"{n_dup} capability dimensions appear more than once",
                       fix="give one score per dimension (average the assessors' scores first)")
            sel = "dimension, score, " + ("target" if "target" in cols else "NULL::DOUBLE AS target")
            con.execute(f"CREATE OR REPLACE VIEW v_capability AS SELECT {sel} FROM {stg_c} "
                        "WHERE dimension IS NOT NULL AND score IS NOT NULL")
            report.views["capability"] = "v_capability"
    if stg_t and not report.errors:  # a consequence of the dates: reported when nothing else is wrong
        ck.no_live_account(data.transactions)
    if report.extracts:
        from .warehouse import name_rows

        for source, extract, key_name in report.extracts.values():
            report.problems = name_rows(con, report.problems, source, extract, key_name)
    return report
