"""Order-level KPI inputs aggregated in DuckDB: only account-level and period rows leave it.

The assessment's account KPIs, period-on-period retention and cohort retention all start
from orders (the lines of one order id summed). At 10 million orders a pandas frame of
them is about 1.5 GiB (briefly 3.4 GiB through DuckDB's ``.df()``), so here the orders
stay in the engine: an :class:`OrderSource` names the order lines (the run's clean
transactions, any DuckDB relation, or a small pandas order frame through
:meth:`OrderSource.from_frame`) and each function returns one row per account, per period
or per cohort cell. This SQL is the one definition of those KPIs:
:func:`kam_analysis.metrics.compute_account_kpis`,
:func:`~kam_analysis.metrics.compute_cohort_retention`,
:func:`~kam_analysis.metrics.compute_period_retention` (overall and by segment) and
:func:`~kam_analysis.metrics.compute_lost_accounts` (its SQL in :mod:`.lost`) run it on an
:class:`OrderSource` and turn an order frame into one (:func:`as_order_source`); there is
no pandas copy to keep equal. ``tests/test_engine_orders.py`` checks it on order lines computed by hand.

Money is summed exactly (DECIMAL, :func:`kam_analysis.data.prepare.exact_sum`) and cast to
a double once, at the end.

Memory: every DuckDB connection a phase kernel opens (:func:`duckdb_connect`: here, in
the CLV and churn models and the migration phase) is capped by ``SET
memory_limit`` (:func:`kam_analysis.data.readers.set_memory_limit`, the same cap as the
runner's validation: default ``2GB``; beyond it DuckDB spills to ``<tmp>/kam_duckdb``); set the
environment variable ``KAM_DUCKDB_MEMORY_LIMIT`` (e.g. ``4GB``) to change it. Without a cap
DuckDB takes up to 80% of the machine's memory in each kernel.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import pandas as pd

from ..data.prepare import counted_order_sql, order_totals_sql
from ..data.readers import DEFAULT_MEMORY_LIMIT, set_memory_limit

__all__ = ["OrderSource", "as_order_source", "duckdb_connect", "DEFAULT_MEMORY_LIMIT"]


def duckdb_connect():
    """A DuckDB connection with the kernel's memory cap (``KAM_DUCKDB_MEMORY_LIMIT``, default 2GB)."""
    import duckdb

    con = duckdb.connect()
    set_memory_limit(con)
    # spill beyond the cap to the system's temporary directory (not a .tmp folder where the kernel runs)
    import tempfile

    con.execute(f"SET temp_directory = '{os.path.join(tempfile.gettempdir(), 'kam_duckdb').replace(chr(39), '')}'")
    return con


#: the name a :meth:`OrderSource.from_frame` frame is registered under in a connection
_FRAME = "_kam_order_frame"


def _q(col: str) -> str:
    """A column name quoted for DuckDB."""
    return '"' + str(col).replace('"', '""') + '"'


def _ts(d) -> str:
    return f"TIMESTAMP '{pd.Timestamp(d).strftime('%Y-%m-%d %H:%M:%S')}'"


@dataclass(frozen=True)
class OrderSource:
    """Order lines in the engine: ``account_id, order_id, order_date, net_revenue, gross_margin``.

    ``relation`` is a DuckDB relation (``read_parquet('...')``); ``until`` leaves out the
    orders dated after it (an order's date is its earliest line's), as
    :func:`kam_analysis.metrics.compute_account_kpis_as_of` does. ``frame`` is a pandas
    frame of orders (:meth:`from_frame`), registered in each connection :meth:`query` opens.
    """

    relation: str
    until: pd.Timestamp | None = None
    #: the same lines already summed per order (``account_id, d, rev, gm``: the run's ``data/orders.parquet``);
    #: None: :meth:`orders_cte` groups ``relation``
    orders: str | None = None
    #: the pandas frame behind ``relation`` (:meth:`from_frame`), registered as ``_FRAME`` in each connection
    frame: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    #: facts learnt by one pass and reused by the next (the earliest orders); not copied by up_to
    _facts: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_run(cls, run) -> "OrderSource":
        """The run's clean transactions."""
        return cls(run.transactions_sql(), orders=run.orders_sql())

    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, account_col: str = "account_id", date_col: str = "order_date",
                   revenue_col: str = "revenue", margin_col: str | None = "gross_margin",
                   order_col: str | None = None) -> "OrderSource":
        """An order-level pandas frame as an order source (small data: tests, an analyst's frame).

        Each row is an order line of ``account_col`` dated ``date_col`` with net revenue
        ``revenue_col`` and gross margin ``margin_col`` (NULL when the frame has no such
        column); the lines of one ``order_col`` value are one order, and without
        ``order_col`` every row is its own order. The frame is not copied: it is
        registered in each DuckDB connection :meth:`query` opens, so the KPIs of a frame
        are computed by the same SQL as those of the run's transactions.
        """
        need = [c for c in (account_col, date_col, revenue_col, order_col) if c is not None]
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise ValueError(f"the order frame has no column {', '.join(map(repr, missing))} "
                             f"(its columns: {', '.join(map(str, df.columns))}); fix: name the column "
                             "with account_col / date_col / revenue_col / order_col")
        order = _q(order_col) if order_col is not None else "row_number() OVER ()"
        margin = _q(margin_col) if margin_col is not None and margin_col in df.columns else "NULL"
        rel = (f"(SELECT {_q(account_col)} AS account_id, {order} AS order_id, "
               f"CAST({_q(date_col)} AS TIMESTAMP) AS order_date, {_q(revenue_col)} AS net_revenue, "
               f"CAST({margin} AS DOUBLE) AS gross_margin FROM {_FRAME})")
        return cls(rel, frame=df)

    def up_to(self, when) -> "OrderSource":
        """The same orders without those dated after ``when``."""
        return replace(self, until=pd.Timestamp(when).normalize())

    def orders_cte(self) -> str:
        """``orders(account_id, d, rev, gm)``: one row per order id, money as exact DECIMAL sums."""
        where = f" WHERE d <= {_ts(self.until)}" if self.until is not None else ""
        source = self.orders if self.orders is not None else f"({order_totals_sql(self.relation)})"
        return f"orders AS (SELECT account_id, d, rev, gm FROM {source}{where})"

    def query(self, sql: str, *, frames: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
        """Run ``WITH orders AS (...) <sql>`` and return the (small) result.

        ``frames``: small pandas frames (an account-to-group map, ...) the query reads by name.
        """
        con = duckdb_connect()
        try:
            if self.frame is not None:
                con.register(_FRAME, self.frame)
            for name, frame in (frames or {}).items():
                con.register(name, frame)
            return con.execute(f"WITH {self.orders_cte()} {sql}").df()
        finally:
            con.close()

    # ------------------------------------------------------------------ account level
    def account_aggregates(self, *, T: pd.Timestamp, w0, w1, p0, p1, account_col: str = "account_id"):
        """Per account the order inputs of :func:`compute_account_kpis`, plus the facts it needs.

        Returns ``(per, info)``: ``per`` indexed by account with first/last counted order,
        counts and sums overall, in the window ``W = (w0, w1]`` and the previous one
        ``P = (p0, p1]``, and ``last_T`` / ``last_w0`` / ``last_p0`` (the last counted order
        on or before each date, for the activity rule); ``info`` has ``has_margin``,
        ``data_start`` (the earliest order) and ``n`` (orders).
        """
        pos = counted_order_sql("rev")
        in_w = f"d > {_ts(w0)} AND d <= {_ts(w1)}"
        in_p = f"d > {_ts(p0)} AND d <= {_ts(p1)}"
        per = self.query(f"""
            SELECT account_id,
                   min(d) FILTER (WHERE {pos}) AS first_order_date,
                   max(d) FILTER (WHERE {pos}) AS last_order_date,
                   count(*) FILTER (WHERE {pos}) AS n_orders,
                   CAST(sum(rev) AS DOUBLE) AS revenue_total,
                   CAST(sum(gm) AS DOUBLE) AS gross_margin_total,
                   CAST(sum(rev) FILTER (WHERE {in_w}) AS DOUBLE) AS revenue_12m,
                   CAST(sum(rev) FILTER (WHERE {in_p}) AS DOUBLE) AS revenue_prev_12m,
                   count(*) FILTER (WHERE {in_w} AND {pos}) AS orders_12m,
                   count(*) FILTER (WHERE {in_p} AND {pos}) AS orders_prev_12m,
                   CAST(sum(gm) FILTER (WHERE {in_w}) AS DOUBLE) AS gross_margin_12m,
                   count(*) FILTER (WHERE {in_w}) > 0 AS in_book_12m,
                   max(d) FILTER (WHERE {pos} AND d <= {_ts(T)}) AS last_T,
                   max(d) FILTER (WHERE {pos} AND d <= {_ts(w0)}) AS last_w0,
                   max(d) FILTER (WHERE {pos} AND d <= {_ts(p0)}) AS last_p0,
                   count(gm) AS n_margin, min(d) AS first_any, count(*) AS n
            FROM orders GROUP BY account_id ORDER BY account_id""")
        info = {"has_margin": bool(per["n_margin"].sum() > 0) if len(per) else False,
                "data_start": per["first_any"].min() if len(per) else None, "n": int(per["n"].sum()) if len(per) else 0}
        first = per["first_order_date"].min() if len(per) else None
        self.remember_date_range(info["data_start"], first)
        per = per.drop(columns=["n_margin", "first_any", "n"]).set_index("account_id")
        per.index.name = account_col
        return per, info

    # ------------------------------------------------------------------ period on period
    def period_activity(self, bounds: list[tuple[pd.Timestamp, pd.Timestamp]], *, churn_days: int,
                        groups: pd.Series | None = None) -> pd.DataFrame:
        """For each ``(base_date, end)``: accounts active at ``base_date`` and of those, active at ``end``.

        Active at d = a counted order in ``(d - churn_days, d]`` (the rule of
        :func:`kam_analysis.metrics.is_active` on the last counted order up to d).
        Returns ``i, g, base, retained``: one row per pair ``i`` (in order) and group ``g``.
        ``g`` is -1 for all accounts; with ``groups`` (a group number >= 0 by account id,
        compared as text; an account may be in several groups) also one row per pair and
        group number, zeros included. Accounts without a group count in the -1 rows only.
        """
        codes = [] if groups is None else sorted({int(c) for c in groups})
        grid = pd.MultiIndex.from_product([range(len(bounds)), [-1, *codes]], names=["i", "g"])
        if not bounds:
            return pd.DataFrame({"i": [], "g": [], "base": [], "retained": []}, dtype="int64")
        vals = ", ".join(f"({i}, {_ts(b)}, {_ts(e)})" for i, (b, e) in enumerate(bounds))
        pos = counted_order_sql("rev")
        xs = sorted({b for b, _ in bounds} | {e for _, e in bounds})
        bucket = "CASE " + " ".join(f"WHEN d <= {_ts(x)} THEN {_ts(x)}" for x in xs) + " END"
        grp = pd.DataFrame({"account_id": pd.Series([], dtype=str), "g": pd.Series([], dtype="int64")}) \
            if groups is None else pd.DataFrame({"account_id": pd.Index(groups.index).astype(str),
                                                 "g": pd.Series(groups).astype("int64").to_numpy()})
        counts = self.query(f""",
            p(i, b, e) AS (VALUES {vals}),
            xs AS (SELECT DISTINCT b AS x FROM p UNION SELECT DISTINCT e FROM p),
            -- each account's counted orders in buckets (previous x, x], the latest of each kept (k = the
            -- bucket's x, the first x on or after the order): the last counted order up to a date x is that
            -- of the latest bucket k <= x. The bucket is a CASE over the few dates x, so this is a plain
            -- aggregation DuckDB can spill, not an ASOF join that sorts every order
            bk AS (SELECT account_id, k, max(d) AS d
                   FROM (SELECT account_id, d, {bucket} AS k FROM orders WHERE {pos})
                   WHERE k IS NOT NULL GROUP BY account_id, k),
            -- so the account is active at every x in [k, until): before its next bucket and while the
            -- order is in (x - churn_days, x]; the intervals of one account do not overlap
            nx AS (SELECT account_id, k, least(coalesce(lead(k) OVER (PARTITION BY account_id ORDER BY k),
                                                        TIMESTAMP 'infinity'), d + INTERVAL {int(churn_days)} DAY)
                          AS until FROM bk),
            act AS (SELECT xs.x, nx.account_id FROM xs JOIN nx ON xs.x >= nx.k AND xs.x < nx.until),
            pairs AS (SELECT p.i, ab.account_id, ae.account_id IS NOT NULL AS kept
                      FROM p JOIN act ab ON ab.x = p.b
                      LEFT JOIN act ae ON ae.x = p.e AND ae.account_id = ab.account_id),
            grp AS (SELECT DISTINCT CAST(account_id AS VARCHAR) AS account_id, CAST(g AS BIGINT) AS g FROM grp_frame)
            SELECT i, CASE WHEN grouping(grp.g) = 1 THEN -1 ELSE grp.g END AS g,
                   count(*) AS base, count(*) FILTER (WHERE kept) AS retained
            FROM pairs LEFT JOIN grp ON grp.account_id = CAST(pairs.account_id AS VARCHAR)
            GROUP BY GROUPING SETS ((i), (i, grp.g))
            HAVING grouping(grp.g) = 1 OR grp.g IS NOT NULL""", frames={"grp_frame": grp})
        counts = counts.set_index(["i", "g"])[["base", "retained"]].reindex(grid, fill_value=0)
        # every column int64: when DuckDB's rows already match the grid, reindex keeps DuckDB's own index
        # (INTEGER for the VALUES' i), and its row order is not fixed, so the levels' dtype was not either
        return counts.reset_index().astype("int64")

    def date_range(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The earliest order and the earliest counted order (None without orders)."""
        if "date_range" in self._facts:  # learnt by an earlier pass over all the orders: no second pass
            return self._facts["date_range"]
        r = self.query(f"SELECT min(d) AS a, min(d) FILTER (WHERE {counted_order_sql('rev')}) AS c FROM orders")
        self.remember_date_range(r.iloc[0]["a"], r.iloc[0]["c"])
        return self._facts["date_range"]

    def remember_date_range(self, first_any, first_counted) -> None:
        """Keep :meth:`date_range` as found by a query that read all these orders (``min(d)``, ``min(d)`` counted)."""
        self._facts["date_range"] = tuple(pd.Timestamp(x) if x is not None and pd.notna(x) else None
                                          for x in (first_any, first_counted))

    # ------------------------------------------------------------------ cohorts
    def cohort_cells(self, *, step: int, last_period: int | None) -> dict:
        """The cells of :func:`compute_cohort_retention`, periods as integers (months since 1970 // step).

        Returns a dict: ``act`` and ``rev`` (Series on ``(c, k)``: cohort accounts with a
        counted order, the cohort's net revenue), ``size`` (accounts per cohort),
        ``last_p`` (the period of the latest order kept, when ``last_period`` is None) and
        ``data_first`` (the earliest period kept).
        """
        pos = counted_order_sql("rev")
        per = f"CAST(floor(((year(d) - 1970) * 12 + month(d) - 1) / {int(step)}) AS BIGINT)"
        cells = self.query(f""",
            op AS (SELECT account_id, d, rev, {per} AS p FROM orders),
            first AS (SELECT account_id, min(p) AS c FROM op WHERE {pos} GROUP BY account_id),
            kept AS (SELECT first.c, op.p - first.c AS k, op.account_id, op.rev, op.d, op.p
                     FROM op JOIN first USING (account_id) WHERE op.p >= first.c)
            SELECT c, k, count(DISTINCT account_id) FILTER (WHERE {pos}) AS act,
                   CAST(sum(rev) AS DOUBLE) AS rev, max(d) AS last_d, arg_max(p, d) AS last_p, min(p) AS first_p
            FROM kept GROUP BY c, k ORDER BY c, k""")
        # a cohort's accounts are those with a counted order in its first period: the cell k = 0
        size = cells[cells["k"] == 0][["c", "act"]].rename(columns={"act": "n"})
        key = pd.MultiIndex.from_arrays([cells["c"].astype("int64"), cells["k"].astype("int64")])
        last_p = last_period
        if last_p is None and len(cells):
            last_p = int(cells.loc[cells["last_d"].idxmax(), "last_p"])
        return {"act": pd.Series(cells["act"].to_numpy(), index=key),
                "rev": pd.Series(cells["rev"].to_numpy(dtype=float), index=key),
                "size": pd.Series(size["n"].to_numpy(dtype="int64"), index=size["c"].astype("int64").to_numpy()),
                "last_p": last_p, "data_first": int(cells["first_p"].min()) if len(cells) else None}


def as_order_source(orders, *, account_col: str = "account_id", date_col: str = "order_date",
                    revenue_col: str = "revenue", margin_col: str | None = "gross_margin") -> OrderSource:
    """``orders`` as an :class:`OrderSource`: a source as it is, a pandas order frame through
    :meth:`OrderSource.from_frame` (its ``order_id`` column, when it has one, groups its
    lines into orders; without it every row is an order).

    The KPI functions that take orders call this, so a frame an analyst or a test passes
    is computed by the same SQL as the run's transactions: one definition of each KPI.
    """
    if isinstance(orders, OrderSource):
        return orders
    if not isinstance(orders, pd.DataFrame):
        raise TypeError(f"orders must be an OrderSource or a pandas DataFrame of orders, got {type(orders).__name__}")
    return OrderSource.from_frame(orders, account_col=account_col, date_col=date_col, revenue_col=revenue_col,
                                  margin_col=margin_col, order_col="order_id" if "order_id" in orders.columns else None)
