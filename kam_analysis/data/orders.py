"""What an order is: the order-id rules of validation, and the clean transactions.

The contract's ``order_id`` is optional (docs/data_rules.md, *Orders*):

* **with an order id** (an order, invoice or receipt number), an order is the lines that
  share it. The id must belong to one account, and an order happens on one day: an id
  whose lines spread over weeks is not an order id (a customer number, a contract or a
  project code), and counting it as one would turn months of purchases into one order.
  Such mappings are refused before anything runs, naming the column and the fix.
* **without an order id**, an order is an account's lines on one date; its id is made of
  the two (``"<account_id> <yyyy-mm-dd>"``).

Rows identical in every column are kept: on a till roll or an invoice, two of the same
item at the same price are two lines. Only an id says otherwise: with a ``line_id``
mapped, rows repeating an order's line id with identical values are one line exported
twice, and the copies are dropped.

:func:`build_transactions` applies these rules to the staged transactions and creates the
clean view every later step reads (``v_transactions``).
"""
from __future__ import annotations

from ..exceptions import Problem
from .readers import header_key

__all__ = ["build_transactions", "order_rule", "order_rule_client", "ORDER_RULE_NO_ID", "examples_sql", "id_rows_sql",
           "groups_sql", "no_transactions_left", "MAX_ORDER_SPAN_DAYS",
           "SPREAD_ORDER_LINE_SHARE", "N_EXAMPLES"]

N_EXAMPLES = 5
#: An order's lines may carry different dates (delivery or invoicing days) within this many days.
MAX_ORDER_SPAN_DAYS = 31
#: An order-id mapping is refused when ids spanning more than MAX_ORDER_SPAN_DAYS hold this share of lines.
SPREAD_ORDER_LINE_SHARE = 0.01


def examples_sql(con, sql: str) -> tuple:
    """The first column of every row of ``sql``: the examples of a message."""
    return tuple(r[0] for r in con.execute(sql).fetchall())


def id_rows_sql(col: str) -> str:
    """SQL of an id with the first rows holding it, grouped by ``col``: ``'O1 (rows 2, 5)'``."""
    return (f"{col} || ' (row' || CASE WHEN count(*) > 1 THEN 's ' ELSE ' ' END "
            f"|| array_to_string(list(_row ORDER BY _row)[1:3], ', ') "
            f"|| CASE WHEN count(*) > 3 THEN ', ...)' ELSE ')' END")


def groups_sql(con, stg: str, col: str, having: str, where: str = "TRUE") -> tuple[int, tuple]:
    """How many values of ``col`` in ``stg`` meet ``having`` (``'count(*) > 1'``: duplicates), and the
    first few, smallest first, with their rows (``'O1 (rows 2, 5)'``): a table-level rule in one call."""
    groups = f"FROM {stg} WHERE {col} IS NOT NULL AND {where} GROUP BY {col} HAVING {having}"
    n = con.execute(f"SELECT count(*) FROM (SELECT {col} {groups})").fetchone()[0]
    return int(n), (examples_sql(con, f"SELECT {id_rows_sql(col)} {groups} ORDER BY {col} LIMIT {N_EXAMPLES}")
                    if n else ())


#: How orders are counted when the data has no order id (shown in validation's summary and the notes).
ORDER_RULE_NO_ID = "no order id in the data: an order is an account's lines on one date"


def order_rule(stats: dict) -> str:
    """One line for validation's summary: how many orders, and what an order is."""
    n = int(stats.get("orders", 0))
    orders = f"{n:,} order{'' if n == 1 else 's'}"
    if "accounts" in stats:
        k = int(stats["accounts"])
        orders += f" of {k:,} account{'' if k == 1 else 's'}"
    if stats.get("order_id_given", 1):
        return f"{orders} (lines sharing an order id)"
    return f"{orders} ({ORDER_RULE_NO_ID})"


def order_rule_client(stats: dict) -> str | None:
    """The same, in client words for a deliverable's data-sources page (None before orders were counted)."""
    if "orders" not in stats:
        return None
    n = int(stats["orders"])
    if stats.get("order_id_given", 1):
        return f"Orders: {n:,}, one per order number"
    return f"Orders: {n:,}, each an account's purchases on one day (the data has no order number)"


_NO_ID_FIX = ("remove data.transactions.columns.order_id from the params (an order is then an account's lines "
              "on one date), or map the column that holds the order, invoice or receipt number")


def build_transactions(ck, report, params, stg_t: str, keep: str) -> bool:
    """Apply the order rules to the staged transactions ``stg_t`` and create ``v_transactions``.

    ``ck`` is the validation checker (``ck.add(**problem)``, ``ck.con``); ``keep`` the SQL
    filter of rows in the analysis window. Adds to ``report.stats['transactions']``:
    ``rows_kept``, ``orders``, ``accounts`` (with an order), ``order_id_given`` (1/0), ``repeat_lines`` (identical rows kept)
    and ``copies_dropped``. Returns False (and builds nothing) when the order-id mapping is refused.
    """
    con, spec = ck.con, params.data.transactions
    cols = report.present_columns["transactions"]
    stats = report.stats["transactions"]
    fname = spec.source
    has_id, has_line = "order_id" in cols, "line_id" in cols
    id_col = spec.columns.get("order_id", "order_id")
    base = f"account_id IS NOT NULL AND order_date IS NOT NULL AND net_revenue IS NOT NULL AND {keep}"
    # a warehouse table had these rules counted in its engine, before anything was extracted (data.warehouse)
    if has_id and "transactions" not in report.extracts and not _order_id_ok(ck, con, spec, stg_t, base, id_col):
        return False
    order_expr = ("order_id" if has_id else
                  "account_id || ' ' || strftime(order_date, '%Y-%m-%d') AS order_id")
    opt = [c for c in ("gross_margin", "cost", "category", "channel") if c in cols]
    select = ", ".join(["account_id", order_expr, "order_date", "net_revenue"] + opt
                       + (["line_id"] if has_line else []))
    n_in_scope = con.execute(f"SELECT count(*) FROM {stg_t} WHERE {base}").fetchone()[0]
    if has_line:
        _line_ids(ck, con, stg_t, base, select, fname, spec)
        # DISTINCT does not keep the file's order: sorted on every column, so the clean file is the same
        # on every run (data.prepare writes it in this table's order)
        con.execute(f"CREATE OR REPLACE TABLE clean_transactions AS SELECT DISTINCT {select} FROM {stg_t} "
                    f"WHERE {base} ORDER BY ALL")
    else:  # the file's order kept (a filter): the clean file is the same on every run, unsorted
        con.execute("SET preserve_insertion_order = true")
        try:
            con.execute(f"CREATE OR REPLACE TABLE clean_transactions AS SELECT {select} FROM {stg_t} WHERE {base}")
        finally:
            con.execute("SET preserve_insertion_order = false")
    kept = con.execute("SELECT count(*) FROM clean_transactions").fetchone()[0]
    stats["copies_dropped"] = int(n_in_scope) - int(kept)
    plain = ", ".join(["account_id", "order_id", "order_date", "net_revenue"] + opt)
    # exact copies share their order: only the lines of orders with more than one line are compared (a
    # DISTINCT over every line of 50 million orders cost minutes)
    n_repeat = 0 if has_line else con.execute(
        "WITH lines AS (SELECT * FROM clean_transactions WHERE order_id IN "
        "(SELECT order_id FROM clean_transactions GROUP BY order_id HAVING count(*) > 1)) "
        f"SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT {plain} FROM lines)) FROM lines").fetchone()[0]
    stats["repeat_lines"] = int(n_repeat)
    if n_repeat:
        twice = n_repeat * 2 >= kept
        ck.add(rule="repeat_lines", severity="warning", file=fname, count=int(n_repeat),
               message=f"{n_repeat:,} transaction rows repeat another row exactly (same account, "
                       f"{'order' if has_id else 'date'}, amount and every other column); they are kept "
                       "as further lines of the same order (two of one item are two lines)"
                       + (". Half the rows or more are copies: was the extract exported twice?" if twice else ""),
               fix="nothing to do if the lines are real purchases; if the extract double-counted, "
                   "map the line number (data.transactions.columns.line_id) so copies of one line are dropped, "
                   "or de-duplicate the extract")
    margin = ("gross_margin" if "gross_margin" in cols else
              "net_revenue - cost" if "cost" in cols else "NULL::DOUBLE")
    con.execute(
        "CREATE OR REPLACE VIEW v_transactions AS SELECT account_id, order_id, order_date, net_revenue, "
        f"{margin} AS gross_margin, "
        + ("category" if "category" in cols else "NULL::VARCHAR AS category") + ", "
        + ("channel" if "channel" in cols else "NULL::VARCHAR AS channel")
        + " FROM clean_transactions")
    stats["rows_kept"] = int(kept)
    stats["order_id_given"] = int(has_id)
    n_orders, n_accounts = con.execute("SELECT count(*), count(DISTINCT account_id) FROM (SELECT DISTINCT "
                                       "account_id, order_id FROM clean_transactions)").fetchone()
    stats["orders"], stats["accounts"] = int(n_orders), int(n_accounts)
    if kept == 0 and not report.errors:
        ck.r.problems.append(no_transactions_left(fname, params.analysis.as_of_date))
    report.views["transactions"] = "v_transactions"
    return True


# ---- the order-id rules' verdicts and messages: one spelling for a file (below, in DuckDB) and for a
# warehouse (data.warehouse, counted in the engine)
def is_account_id(id_col: str, acc_col: str, same: int, n_rows: int) -> bool:
    """The order-id mapping is the account column, or equals it on 95% of the rows."""
    return header_key(id_col) == header_key(acc_col) or bool(n_rows and same >= 0.95 * n_rows)


def spread_is_error(n_long: int, lines_long: int, n_rows: int) -> bool:
    """Ids spanning more than MAX_ORDER_SPAN_DAYS hold enough lines to refuse the mapping."""
    return bool(n_long and lines_long >= SPREAD_ORDER_LINE_SHARE * max(n_rows, 1))


def no_transactions_left(fname, as_of) -> Problem:
    """Every transaction is after the as-of date (or before history_start): of a file, or of a warehouse table."""
    return Problem(rule="empty_table", file=fname, message=f"No transactions remain on or before the as-of date {as_of}",
                   fix="check analysis.as_of_date / history_start and the order date column")


def order_id_is_account(fname, id_col, acc_col, same, n_rows) -> Problem:
    return Problem(rule="order_id_is_account", file=fname, column=id_col, count=int(same),
                   message=f"The order id ('{id_col}') is the account id ('{acc_col}')"
                           + ("" if header_key(id_col) == header_key(acc_col) else f" on {same:,} of {n_rows:,} rows")
                           + ": every account's purchases would count as one single order",
                   fix=_NO_ID_FIX)


def missing_order_id(fname, id_col, n_empty, examples) -> Problem:
    return Problem(rule="missing_value", file=fname, column=id_col, count=int(n_empty), examples=tuple(examples),
                   message=f"{n_empty:,} rows have no order_id", fix="fill in the order id for these rows, or " + _NO_ID_FIX)


def order_id_of_several_accounts(fname, id_col, n_conf, examples) -> Problem:
    return Problem(rule="duplicate_id", file=fname, column=id_col, count=int(n_conf), examples=tuple(examples),
                   message=f"{n_conf:,} order ids belong to more than one account",
                   fix="order ids must be unique per order; check the order id mapping or de-duplicate the extract; "
                       "if the column is not an order number, " + _NO_ID_FIX)


def order_id_spans_months(fname, id_col, n_long, lines_long, n_rows, examples) -> Problem:
    return Problem(rule="order_id_spans_dates", file=fname, column=id_col, count=int(n_long), examples=tuple(examples),
                   message=f"{n_long:,} order ids ('{id_col}') have lines more than {MAX_ORDER_SPAN_DAYS} days apart "
                           f"({lines_long:,} of {n_rows:,} rows): this is not an order number (a customer, contract "
                           "or project code?), and counting it as one order would merge months of purchases",
                   fix=_NO_ID_FIX)


def order_id_spans_days(fname, id_col, n_multi, examples) -> Problem:
    return Problem(rule="order_id_spans_dates", severity="warning", file=fname, column=id_col, count=int(n_multi),
                   examples=tuple(examples),
                   message=f"{n_multi:,} order ids have lines on more than one date; each such order is dated by "
                           "its first line",
                   fix="nothing to do if lines are dated by delivery or invoice; check the order id mapping otherwise")


def _order_id_ok(ck, con, spec, stg_t: str, base: str, id_col: str) -> bool:
    """The order-id checks; False when the mapping cannot be an order id (nothing more is built)."""
    fname = spec.source
    acc_col = spec.columns.get("account_id", "account_id")
    n_rows, same, n_empty = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE order_id = account_id), count(*) FILTER (WHERE order_id IS NULL) "
        f"FROM {stg_t} WHERE {base}").fetchone()
    n_rows, same = n_rows or 0, same or 0
    if is_account_id(id_col, acc_col, same, n_rows):
        ck.r.problems.append(order_id_is_account(fname, id_col, acc_col, same, n_rows))
        return False
    ok = True
    if n_empty:
        rows = examples_sql(con, f"SELECT 'row ' || _row FROM {stg_t} WHERE order_id IS NULL AND {base} "
                                 f"ORDER BY _row LIMIT {N_EXAMPLES}")
        ck.r.problems.append(missing_order_id(fname, id_col, n_empty, rows))
        ok = False
    # One pass over the orders for both rules (min/max, not count(DISTINCT ...): at 50 million orders the
    # distinct counts cost minutes): an order id may hold several lines but only for one account (over every
    # row), and an order happens on one day (over the rows in scope): lines a few days apart are tolerated,
    # months apart are not an order.
    n_conf, n_multi, n_long, lines_long = con.execute(
        "SELECT count(*) FILTER (WHERE a0 <> a1), count(*) FILTER (WHERE d0 <> d1), "
        f"count(*) FILTER (WHERE d1 - d0 > {MAX_ORDER_SPAN_DAYS}), "
        f"coalesce(sum(n) FILTER (WHERE d1 - d0 > {MAX_ORDER_SPAN_DAYS}), 0) FROM ("
        f"SELECT min(account_id) AS a0, max(account_id) AS a1, min(order_date) FILTER (WHERE {base}) AS d0, "
        f"max(order_date) FILTER (WHERE {base}) AS d1, count(*) FILTER (WHERE {base}) AS n "
        f"FROM {stg_t} WHERE order_id IS NOT NULL GROUP BY order_id)").fetchone()
    if n_conf:
        n_conf, ex = groups_sql(con, stg_t, "order_id", "count(DISTINCT account_id) > 1")
        ck.r.problems.append(order_id_of_several_accounts(fname, id_col, n_conf, ex))
        ok = False
    spread = (f"SELECT order_id, count(*) AS n, count(DISTINCT order_date) AS n_dates, min(order_date) AS d0, "
              f"max(order_date) AS d1, min(_row) AS r FROM {stg_t} WHERE order_id IS NOT NULL AND {base} "
              "GROUP BY order_id HAVING min(order_date) <> max(order_date)")
    if spread_is_error(n_long, lines_long, n_rows):
        ex = examples_sql(con, f"SELECT order_id || ': ' || n_dates || ' dates from ' || d0 || ' to ' || d1 || "
                               f"' (row ' || r || ')' FROM ({spread}) WHERE d1 - d0 > {MAX_ORDER_SPAN_DAYS} "
                               f"ORDER BY n_dates DESC, order_id LIMIT {N_EXAMPLES}")
        ck.r.problems.append(order_id_spans_months(fname, id_col, n_long, lines_long, n_rows, ex))
        ok = False
    elif n_multi:
        ex = examples_sql(con, f"SELECT order_id || ': ' || d0 || ' to ' || d1 FROM ({spread}) "
                               f"ORDER BY d1 - d0 DESC, order_id LIMIT {N_EXAMPLES}")
        ck.r.problems.append(order_id_spans_days(fname, id_col, n_multi, ex))
    return ok


def _line_ids(ck, con, stg_t: str, base: str, select: str, fname: str, spec) -> None:
    """With a line id: identical rows sharing an order's line id are copies (dropped, warned); a line id
    repeated with different values in one order is an error."""
    line_col = spec.columns.get("line_id", "line_id")
    n_rows, n_keys, n_distinct = con.execute(
        f"SELECT count(*), count(DISTINCT (account_id, order_id, line_id)), "
        f"(SELECT count(*) FROM (SELECT DISTINCT {select} FROM {stg_t} WHERE {base})) "
        f"FROM (SELECT {select} FROM {stg_t} WHERE {base})").fetchone()
    if n_distinct > n_keys:
        ck.add(rule="duplicate_id", file=fname, column=line_col, count=int(n_distinct - n_keys),
               message=f"{n_distinct - n_keys:,} line ids repeat within an order with different values",
               fix="a line id must name one line of its order; check the line id mapping")
    if n_rows > n_distinct:
        ck.add(rule="duplicate_rows", severity="warning", file=fname, count=int(n_rows - n_distinct),
               message=f"{n_rows - n_distinct:,} transaction rows repeat a line id of their order with identical "
                       "values: copies of one line, dropped",
               fix="nothing to do if the extract double-counted lines")
