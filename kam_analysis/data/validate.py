"""Parse and check client data in DuckDB before any analysis runs.

:func:`validate_data` reads every client file named in the params, maps its columns
onto the contract, parses dates and numbers, and applies one rule per check. Each
problem is a :class:`~kam_analysis.exceptions.Problem` naming the file, the client's
column, how many rows, a few example values and the fix. Errors stop the run;
warnings are reported and the run goes on.

Parsing rules (the README documents them for consultants):

* numbers: surrounding currency symbols/codes and spaces are ignored, thousands
  separators removed (``1,234.50``; with ``decimal: ","`` also ``1.234,50``), and
  ``(12.00)`` is read as ``-12.00``;
* dates: ISO ``2024-03-31`` (with or without a time) always; ``dd/mm/yyyy`` or
  ``mm/dd/yyyy`` is chosen from the data (a value like ``31/01/2024`` proves day-first)
  and must be consistent within a column; ``date_format`` in the params overrides;
* booleans: 1/0, true/false, yes/no, y/n;
* text: trimmed, control characters removed.
"""
from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field

import duckdb

from ..config import FileSpec, Params
from ..exceptions import DataValidationError, Problem
from .contract import CONTRACT, Column, Table
from .readers import read_raw, sql_ident, sql_str

__all__ = ["ValidationReport", "validate_data"]

_N_EXAMPLES = 5
_CONTROL_RE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


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


# --------------------------------------------------------------------------- SQL pieces
def _text(expr: str) -> str:
    return f"NULLIF(trim(regexp_replace(CAST({expr} AS VARCHAR), '{_CONTROL_RE}', '', 'g')), '')"


def _number_sql(expr: str, native_numeric: bool, decimal: str) -> str:
    if native_numeric:
        return f"TRY_CAST({expr} AS DOUBLE)"
    t = f"trim(CAST({expr} AS VARCHAR))"
    # strip currency codes/symbols and spaces around the number, then inner spaces/quotes
    core = (f"regexp_replace(regexp_replace({t}, '^[\\(\\s]*[A-Za-z$€£¥₹\\s]*|[A-Za-z$€£¥₹%\\s\\)]*$', '', 'g'), "
            f"'[\\s''’\u00a0]', '', 'g')")
    if decimal == ",":
        core = f"replace(replace({core}, '.', ''), ',', '.')"
    else:
        core = f"replace({core}, ',', '')"
    val = f"TRY_CAST(NULLIF({core}, '') AS DOUBLE)"
    return f"(CASE WHEN {t} LIKE '(%)' THEN -1 ELSE 1 END) * {val}"


def _date_sql(expr: str, fmt: str | None, slash_order: str) -> str:
    t = f"trim(CAST({expr} AS VARCHAR))"
    if fmt:
        return f"CAST(TRY_STRPTIME({t}, {sql_str(fmt)}) AS DATE)"
    sep_fmts = ["%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"] if slash_order == "dmy" else ["%m/%d/%Y", "%m.%d.%Y", "%m-%d-%Y"]
    parts = [f"TRY_CAST({t} AS DATE)", f"CAST(TRY_CAST({t} AS TIMESTAMP) AS DATE)",
             f"CAST(TRY_STRPTIME({t}, '%Y/%m/%d') AS DATE)"]
    parts += [f"CAST(TRY_STRPTIME(split_part({t}, ' ', 1), {sql_str(f)}) AS DATE)" for f in sep_fmts]
    return f"COALESCE({', '.join(parts)})"


def _bool_sql(expr: str) -> str:
    t = f"lower(trim(CAST({expr} AS VARCHAR)))"
    return (f"CASE WHEN {t} IN ('1','1.0','true','yes','y','t','x') THEN TRUE "
            f"WHEN {t} IN ('0','0.0','false','no','n','f') THEN FALSE ELSE NULL END")


def _parse_sql(col: Column, expr: str, native_type: str, spec: FileSpec, slash_order: str) -> str:
    numeric_native = any(k in native_type.upper() for k in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL"))
    if col.dtype in ("id", "text"):
        return _text(expr)
    if col.dtype in ("number", "integer"):
        return _number_sql(expr, numeric_native, spec.decimal)
    if col.dtype == "date":
        if "DATE" in native_type.upper() or "TIMESTAMP" in native_type.upper():
            return f"CAST({expr} AS DATE)"
        return _date_sql(expr, spec.date_format, slash_order)
    if col.dtype == "bool":
        if native_type.upper() == "BOOLEAN":
            return expr
        return _bool_sql(expr)
    raise AssertionError(col.dtype)


def _examples(con, sql: str) -> tuple:
    rows = con.execute(sql).fetchall()
    return tuple(r[0] for r in rows)


# --------------------------------------------------------------------------- per table
class _Checker:
    def __init__(self, params: Params, report: ValidationReport):
        self.params = params
        self.r = report
        self.con = report.con

    def add(self, **kw) -> None:
        self.r.problems.append(Problem(**kw))

    def stage(self, table: Table, spec: FileSpec) -> str | None:
        """Read, map and parse one table into ``stg_<table>``; return its name or None."""
        con, fname = self.con, str(spec.path)
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
        try:
            cols = read_raw(con, spec, table=table.name, view=raw_view, required_client_columns=wanted_required)
        except DataValidationError as exc:
            self.r.problems.extend(exc.problems)
            return None
        types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {sql_ident(raw_view)})").fetchall())
        by_lower = {c.strip().lower(): c for c in cols}

        mapped: dict[str, str] = {}
        for c in table.columns:
            client = spec.columns.get(c.name, c.name)
            actual = client if client in cols else by_lower.get(client.strip().lower())
            if actual is not None:
                mapped[c.name] = actual
            elif c.required or c.name in spec.columns:
                guess = difflib.get_close_matches(client, cols, n=1, cutoff=0.4)
                shown = ", ".join(repr(x) for x in cols[:12]) + (" ..." if len(cols) > 12 else "")
                fix = (f"map it in the params: data.{table.name}.columns.{c.name}: "
                       f"\"{guess[0] if guess else '<client column name>'}\"")
                self.add(rule="missing_column", file=fname, column=client,
                         message=f"Required {table.name} column '{c.name}' not found (looked for '{client}')"
                         if c.required else f"Mapped {table.name} column '{c.name}' not found (looked for '{client}')",
                         examples=tuple(cols[:8]), fix=fix + f". The file's columns are: {shown}")
        if any(c not in mapped for c in table.required_columns):
            return None
        n_rows = con.execute(f"SELECT count(*) FROM {sql_ident(raw_view)}").fetchone()[0]
        if n_rows == 0:
            self.add(rule="empty_table", file=fname, message=f"The {table.name} file has a header but no rows",
                     fix="re-export the data from the client system with its rows")
            return None

        selects, self_cols = [], []
        for name, client in mapped.items():
            col = table.column(name)
            expr = sql_ident(client)
            slash = self._slash_order(raw_view, client, spec, col) if col.dtype == "date" else "dmy"
            selects.append(f"{_parse_sql(col, expr, types.get(client, 'VARCHAR'), spec, slash)} AS {sql_ident(name)}")
            selects.append(f"CAST({expr} AS VARCHAR) AS {sql_ident('raw__' + name)}")
            self_cols.append(name)
        stg = f"stg_{table.name}"
        con.execute(f"CREATE OR REPLACE TABLE {stg} AS SELECT row_number() OVER () + 1 AS _row, "
                    f"{', '.join(selects)} FROM {sql_ident(raw_view)}")
        self.r.present_columns[table.name] = self_cols
        self.r.stats[table.name] = {"rows_read": int(n_rows)}
        self._parse_failures(table, spec, stg, mapped)
        return stg

    def _slash_order(self, view: str, client: str, spec: FileSpec, col: Column) -> str:
        if spec.date_format:
            return "dmy"
        t = f"trim(CAST({sql_ident(client)} AS VARCHAR))"
        pat = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})"
        q = (f"SELECT count(*) FILTER (WHERE TRY_CAST(regexp_extract({t}, '{pat}', 1) AS INT) > 12), "
             f"count(*) FILTER (WHERE TRY_CAST(regexp_extract({t}, '{pat}', 2) AS INT) > 12), "
             f"any_value({t}) FILTER (WHERE TRY_CAST(regexp_extract({t}, '{pat}', 1) AS INT) > 12), "
             f"any_value({t}) FILTER (WHERE TRY_CAST(regexp_extract({t}, '{pat}', 2) AS INT) > 12) "
             f"FROM {sql_ident(view)}")
        day_first, month_first, ex_d, ex_m = self.con.execute(q).fetchone()
        if day_first and month_first:
            self.add(rule="mixed_date_formats", file=str(spec.path), column=client,
                     message="Dates mix day-first and month-first formats", count=int(day_first + month_first),
                     examples=(ex_d, ex_m),
                     fix="export dates as ISO (YYYY-MM-DD), or split the file by format; "
                         "set data.<table>.date_format if every date has one format")
        return "mdy" if month_first and not day_first else "dmy"

    def _parse_failures(self, table: Table, spec: FileSpec, stg: str, mapped: dict[str, str]) -> None:
        con, fname = self.con, str(spec.path)
        for name, client in mapped.items():
            col = table.column(name)
            raw = sql_ident("raw__" + name)
            if col.required:
                n_missing = con.execute(
                    f"SELECT count(*) FROM {stg} WHERE {raw} IS NULL OR trim({raw}) = ''").fetchone()[0]
                if n_missing:
                    rows = _examples(con, f"SELECT _row FROM {stg} WHERE {raw} IS NULL OR trim({raw}) = '' "
                                          f"ORDER BY _row LIMIT {_N_EXAMPLES}")
                    self.add(rule="missing_value", file=fname, column=client, count=int(n_missing),
                             message=f"{n_missing:,} rows have no {name}",
                             examples=tuple(f"row {r}" for r in rows),
                             fix=f"fill in {name} for these rows or remove them from the extract")
            if col.dtype in ("date", "number", "integer", "bool"):
                cond = f"{raw} IS NOT NULL AND trim({raw}) <> '' AND {sql_ident(name)} IS NULL"
                n_bad = con.execute(f"SELECT count(*) FROM {stg} WHERE {cond}").fetchone()[0]
                if n_bad:
                    ex = _examples(con, f"SELECT DISTINCT {raw} FROM {stg} WHERE {cond} LIMIT {_N_EXAMPLES}")
                    kind = {"date": "dates", "bool": "yes/no values"}.get(col.dtype, "numbers")
                    fix = {"date": f"use ISO dates (YYYY-MM-DD) or set data.{table.name}.date_format, e.g. '%d/%m/%Y'",
                           "bool": "use yes/no, true/false or 1/0"}.get(
                        col.dtype, f"remove text from the numbers; set data.{table.name}.decimal: ',' for 1.234,50")
                    self.add(rule="unparseable", file=fname, column=client, count=int(n_bad),
                             message=f"{n_bad:,} values in {name} cannot be read as {kind}", examples=ex, fix=fix)
            if col.min is not None or col.max is not None:
                lo = col.min if col.min is not None else float("-inf")
                hi = col.max if col.max is not None else float("inf")
                cond = f"{sql_ident(name)} IS NOT NULL AND ({sql_ident(name)} < {lo} OR {sql_ident(name)} > {hi})"
                cond = cond.replace("-inf", "'-inf'::DOUBLE").replace(" inf)", " 'inf'::DOUBLE)")
                n_out = con.execute(f"SELECT count(*) FROM {stg} WHERE {cond}").fetchone()[0]
                if n_out:
                    ex = _examples(con, f"SELECT DISTINCT {raw} FROM {stg} WHERE {cond} LIMIT {_N_EXAMPLES}")
                    rng = f"{col.min:g} to {col.max:g}" if col.max is not None else f"at least {col.min:g}"
                    self.add(rule="out_of_range", file=fname, column=client, count=int(n_out),
                             message=f"{n_out:,} values of {name} are outside {rng}", examples=ex,
                             fix=f"{name} must be {rng}; correct the values or map the right column")

    def future_dates(self, table: str, spec: FileSpec, stg: str, col: str) -> str:
        """Errors for dates after today, a warning for dates after the as-of date; returns the keep filter."""
        as_of = self.params.analysis.as_of_date
        today = dt.date.today()
        client = spec.columns.get(col, col)
        c = sql_ident(col)
        n_future, ex = self.con.execute(
            f"SELECT count(*), list(DISTINCT CAST({c} AS VARCHAR))[1:{_N_EXAMPLES}] FROM {stg} WHERE {c} > DATE '{today}'"
        ).fetchone()
        if n_future:
            self.add(rule="future_date", file=str(spec.path), column=client, count=int(n_future),
                     message=f"{n_future:,} {table} rows are dated in the future (after today, {today})",
                     examples=tuple(ex), fix="check the date column mapping and the date format (day/month order)")
        n_after = self.con.execute(
            f"SELECT count(*) FROM {stg} WHERE {c} > DATE '{as_of}' AND {c} <= DATE '{today}'").fetchone()[0]
        if n_after:
            self.add(rule="after_as_of", severity="warning", file=str(spec.path), column=client, count=int(n_after),
                     message=f"{n_after:,} {table} rows are after the as-of date {as_of} and are excluded",
                     fix="move analysis.as_of_date later if they should count")
        keep = f"{c} <= DATE '{as_of}'"
        hs = self.params.analysis.history_start
        if hs:
            keep += f" AND {c} >= DATE '{hs}'"
        return keep


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
        con = duckdb.connect()
    report = ValidationReport(con=con)
    ck = _Checker(params, report)
    data = params.data

    # ---------------- transactions
    stg_t = ck.stage(CONTRACT["transactions"], data.transactions)
    if stg_t:
        spec = data.transactions
        keep = ck.future_dates("transactions", spec, stg_t, "order_date")
        cols = report.present_columns["transactions"]
        # an order id may hold several lines, but only for one account
        n_conf, ex = con.execute(
            f"SELECT count(*), list(order_id)[1:{_N_EXAMPLES}] FROM (SELECT order_id FROM {stg_t} "
            f"WHERE order_id IS NOT NULL GROUP BY order_id HAVING count(DISTINCT account_id) > 1)").fetchone()
        if n_conf:
            ck.add(rule="duplicate_id", file=str(spec.path), column=spec.columns.get("order_id", "order_id"),
                   count=int(n_conf), examples=tuple(ex),
                   message=f"{n_conf:,} order ids belong to more than one account",
                   fix="order ids must be unique per order; check the order id mapping or de-duplicate the extract")
        parsed = ", ".join(sql_ident(c) for c in cols)
        n_dup = con.execute(
            f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {stg_t} GROUP BY ALL_COLS) "
            .replace("ALL_COLS", parsed)).fetchone()[0]
        if n_dup:
            ck.add(rule="duplicate_rows", severity="warning", file=str(spec.path), count=int(n_dup),
                   message=f"{n_dup:,} transaction rows are exact duplicates of another row and were dropped",
                   fix="nothing to do if the extract double-counted; if the lines are real, give each a distinct "
                       "order id or line detail")
        select = [c for c in ("account_id", "order_id", "order_date", "net_revenue") ]
        opt = [c for c in ("gross_margin", "cost", "category", "channel") if c in cols]
        margin = ("gross_margin" if "gross_margin" in cols else
                  "net_revenue - cost" if "cost" in cols else "NULL::DOUBLE")
        con.execute(
            f"CREATE OR REPLACE VIEW clean_transactions AS SELECT DISTINCT {', '.join(select + opt)} FROM {stg_t} "
            f"WHERE account_id IS NOT NULL AND order_id IS NOT NULL AND order_date IS NOT NULL "
            f"AND net_revenue IS NOT NULL AND {keep}")
        con.execute(
            "CREATE OR REPLACE VIEW v_transactions AS SELECT account_id, order_id, order_date, net_revenue, "
            f"{margin} AS gross_margin, "
            + ("category" if "category" in cols else "NULL::VARCHAR AS category") + ", "
            + ("channel" if "channel" in cols else "NULL::VARCHAR AS channel")
            + " FROM clean_transactions")
        kept = con.execute("SELECT count(*) FROM v_transactions").fetchone()[0]
        report.stats["transactions"]["rows_kept"] = int(kept)
        if kept == 0 and not report.errors:
            ck.add(rule="empty_table", file=str(spec.path),
                   message=f"No transactions remain on or before the as-of date {params.analysis.as_of_date}",
                   fix="check analysis.as_of_date / history_start and the order date column")
        report.views["transactions"] = "v_transactions"

    # ---------------- accounts
    if data.accounts is not None:
        stg_a = ck.stage(CONTRACT["accounts"], data.accounts)
        if stg_a:
            spec = data.accounts
            n_dup, ex = con.execute(
                f"SELECT count(*), list(account_id)[1:{_N_EXAMPLES}] FROM (SELECT account_id FROM {stg_a} "
                f"WHERE account_id IS NOT NULL GROUP BY account_id HAVING count(*) > 1)").fetchone()
            if n_dup:
                ck.add(rule="duplicate_id", file=str(spec.path), column=spec.columns.get("account_id", "account_id"),
                       count=int(n_dup), examples=tuple(ex), message=f"{n_dup:,} account ids appear more than once",
                       fix="the accounts file needs one row per account; remove or merge the duplicates")
            cols = [c for c in report.present_columns["accounts"]]
            con.execute(f"CREATE OR REPLACE VIEW v_accounts_given AS SELECT {', '.join(cols)} FROM {stg_a} "
                        "WHERE account_id IS NOT NULL QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY _row) = 1")
            if stg_t:
                tspec = data.transactions
                n_orph, ex = con.execute(
                    f"SELECT count(DISTINCT t.account_id), list(DISTINCT t.account_id)[1:{_N_EXAMPLES}] "
                    "FROM v_transactions t ANTI JOIN v_accounts_given a USING (account_id)").fetchone()
                if n_orph:
                    ck.add(rule="orphan_account", file=str(tspec.path),
                           column=tspec.columns.get("account_id", "account_id"), count=int(n_orph),
                           examples=tuple(ex),
                           message=f"{n_orph:,} account ids in transactions are not in the accounts file "
                                   f"({spec.path.name})",
                           fix="add these accounts to the accounts file, or check both files use the same id format")
    # derived / completed accounts view
    if stg_t:
        if "v_accounts_given" in _views(con):
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
                ck.add(rule="missing_column", file=str(spec.path),
                       message="The surveys file has neither an NPS nor a CSAT column",
                       fix="map data.surveys.columns.nps and/or data.surveys.columns.csat")
            keep = ck.future_dates("surveys", spec, stg_s, "survey_date")
            sel = ", ".join(["account_id", "survey_date",
                             "nps" if "nps" in cols else "NULL::DOUBLE AS nps",
                             "csat" if "csat" in cols else "NULL::DOUBLE AS csat"])
            if stg_t:
                n_unk, ex = con.execute(
                    f"SELECT count(*), list(DISTINCT s.account_id)[1:{_N_EXAMPLES}] FROM {stg_s} s "
                    "ANTI JOIN v_accounts a USING (account_id) WHERE s.account_id IS NOT NULL").fetchone()
                if n_unk:
                    ck.add(rule="unknown_account", severity="warning", file=str(spec.path),
                           column=spec.columns.get("account_id", "account_id"), count=int(n_unk), examples=tuple(ex),
                           message=f"{n_unk:,} survey responses are for accounts not in the data; they are ignored",
                           fix="check the survey file uses the same account ids as the transactions")
                con.execute(f"CREATE OR REPLACE VIEW v_surveys AS SELECT {sel} FROM {stg_s} "
                            f"SEMI JOIN v_accounts a USING (account_id) WHERE survey_date IS NOT NULL AND {keep}")
                cov = con.execute(
                    "SELECT count(DISTINCT s.account_id)::DOUBLE / nullif((SELECT count(DISTINCT account_id) "
                    "FROM v_transactions), 0) FROM v_surveys s").fetchone()[0] or 0.0
                report.stats["surveys"]["coverage"] = cov  # type: ignore[assignment]
                if cov < params.thresholds.survey_coverage_min:
                    ck.add(rule="low_coverage", severity="warning", file=str(spec.path),
                           message=f"Only {cov:.0%} of accounts have a survey response (threshold "
                                   f"{params.thresholds.survey_coverage_min:.0%}); NPS/CSAT will be flagged unreliable",
                           fix="ask the client for more survey data, or lower thresholds.survey_coverage_min")
                report.views["surveys"] = "v_surveys"

    # ---------------- capability self-assessment
    if data.capability is not None:
        stg_c = ck.stage(CONTRACT["capability"], data.capability)
        if stg_c:
            cols = report.present_columns["capability"]
            n_dup, ex = con.execute(
                f"SELECT count(*), list(dimension)[1:{_N_EXAMPLES}] FROM (SELECT dimension FROM {stg_c} "
                "WHERE dimension IS NOT NULL GROUP BY dimension HAVING count(*) > 1)").fetchone()
            if n_dup:
                ck.add(rule="duplicate_id", file=str(data.capability.path),
                       column=data.capability.columns.get("dimension", "dimension"), count=int(n_dup),
                       examples=tuple(ex), message=f"{n_dup} capability dimensions appear more than once",
                       fix="give one score per dimension (average the assessors' scores first)")
            sel = "dimension, score, " + ("target" if "target" in cols else "NULL::DOUBLE AS target")
            con.execute(f"CREATE OR REPLACE VIEW v_capability AS SELECT {sel} FROM {stg_c} "
                        "WHERE dimension IS NOT NULL AND score IS NOT NULL")
            report.views["capability"] = "v_capability"
    return report


def _views(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
