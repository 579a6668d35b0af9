"""Prepare a run's data: validate the client files once, write clean Parquet, aggregate.

The runner calls :func:`prepare_run_data` once per run, before any notebook. It

1. generates the demo client's files if the params ask for the demo and they are missing;
2. validates every client file (:func:`~kam_analysis.data.validate.validate_data`) and
   stops on errors;
3. writes the clean, contract-named data to ``<run>/data/*.parquet`` (transaction-level
   data stays in DuckDB and is streamed to Parquet, never loaded into pandas);
4. aggregates transactions in DuckDB to the account-level tables every phase reads:
   ``account_summary``, ``account_period`` and ``account_category``.

Notebooks read these from the run folder, so no phase re-reads the client's files.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pandas as pd

from ..config import Params, load_params
from .demo_clients import generate_client
from .readers import connect_duckdb, sql_str
from .runfolder import Run, _atomic_write_bytes
from .validate import ValidationReport, validate_data

__all__ = ["open_run", "ensure_demo_data", "prepare_run_data", "compute_account_summary", "exact_sum", "order_totals_sql",
           "counted_order_sql", "active_sql", "input_files", "warehouse_inputs", "sha256_file",
           "aggregate_tables"]


def input_files(params: Params) -> dict[str, Path]:
    """Contract table -> client file path, for the tables the params name as files (a warehouse
    source has no file: :func:`warehouse_inputs`)."""
    out = {}
    for name in ("transactions", "accounts", "surveys", "capability"):
        spec = getattr(params.data, name)
        if spec is not None and spec.path is not None:
            out[name] = Path(spec.path)
    return out


def warehouse_inputs(params: Params) -> dict[str, str]:
    """Contract table -> how messages name its warehouse source ('postgres table sales.orders')."""
    return {name: spec.source for name in ("transactions", "accounts", "surveys", "capability")
            if (spec := getattr(params.data, name)) is not None and spec.warehouse is not None}


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def ensure_demo_data(params: Params) -> None:
    """Generate the synthetic client (``data.demo``) when the params ask for one and a file is missing.

    With ``data.demo.follow_up_months`` the data is the demo's later snapshot, made from the
    plan run ``review.plan_run`` names (:func:`~.demo_followup.ensure_followup_data`).
    """
    demo = params.data.demo
    if demo is None:
        return
    if demo.follow_up_months:
        from .demo_followup import ensure_followup_data

        ensure_followup_data(params)
        return
    files = input_files(params)
    if "transactions" not in files or all(p.exists() for p in files.values()):
        return
    out_dir = files["transactions"].parent
    generate_client(demo.profile, out_dir, seed=demo.seed, n_accounts=demo.n_accounts, start=demo.start,
                    end=demo.end, programme_start=params.analysis.programme_start or demo.start,
                    n_orders=demo.n_orders, file_format=demo.file_format)


def _connect(tmp_dir: Path) -> duckdb.DuckDBPyConnection:
    """DuckDB for this run: 4 GB memory cap, spilling into the run's own temporary folder."""
    return connect_duckdb(tmp_dir)


def prepare_run_data(params: Params, run_dir: str | Path) -> ValidationReport:
    """Validate the client data and write the run's clean data and account-level tables.

    Raises
    ------
    DataValidationError
        Any validation error; nothing is written in that case.
    """
    run_dir = Path(run_dir)
    ensure_demo_data(params)
    con = _connect(run_dir / ".duckdb_tmp")
    report = None
    try:
        report = validate_data(params, con)
        report.raise_for_errors()
        data_dir = run_dir / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        con.execute("SET preserve_insertion_order = true")  # the transactions are written in their table's order
        for name, view in report.views.items():
            target = data_dir / f"{name}.parquet"
            tmp = target.with_suffix(".parquet.tmp")
            if name == "transactions":
                # the lines in the order the client's file has them (validation keeps that order; see
                # orders.build_transactions), so the file is the same on every run whatever the number
                # of DuckDB threads; a total sort of 50 million lines cost minutes and nothing reads
                # the file in its order
                query = f"SELECT * FROM {view}"
            else:  # small tables: a total order (every column is a sort key)
                first = {"accounts": ["account_id"], "surveys": ["survey_date", "account_id"],
                         "capability": ["dimension"]}[name]
                cols = [d[0] for d in con.execute(f"SELECT * FROM {view} LIMIT 0").description]
                query = f"SELECT * FROM {view} ORDER BY {', '.join(first + [c for c in cols if c not in first])}"
            con.execute(f"COPY ({query}) TO {sql_str(str(tmp))} (FORMAT PARQUET)")
            tmp.replace(target)
        con.execute("SET preserve_insertion_order = false")
        if "transactions" in report.views:
            # the lines summed per order, once: every order-level query of the phases reads this file
            # instead of grouping 50 million lines again (a total order, so the file is the same on every run)
            target = data_dir / "orders.parquet"
            tmp = target.with_suffix(".parquet.tmp")
            lines = f"read_parquet({sql_str(str(data_dir / 'transactions.parquet'))})"
            con.execute(f"COPY ({order_totals_sql(lines)} ORDER BY ALL) TO {sql_str(str(tmp))} (FORMAT PARQUET)")
            tmp.replace(target)
        (data_dir / "validation.json").write_text(json.dumps({
            "problems": [{**p.__dict__, "examples": [str(e) for e in p.examples]} for p in report.problems],
            "stats": report.stats,
            "present_columns": report.present_columns,
        }, indent=2, default=str), encoding="utf-8")
        run = Run(run_dir, params)
        engine = None
        if params.data.transactions.warehouse is not None:
            from .warehouse import engine_aggregates

            # account-level results computed where the orders live; None: aggregated here from the extract
            engine = engine_aggregates(params)
            report.stats["transactions"]["aggregated_in_engine"] = engine is not None
            if engine is not None:
                report.stats["transactions"]["aggregates_bytes"] = int(engine["bytes"])
        for name, df in aggregate_tables(con, params, data_dir, engine).items():
            run.write_table(name, df)
        return report
    finally:
        if report is not None:
            report.close()  # and the warehouse extracts
        else:
            con.close()
        _rmtree(run_dir / ".duckdb_tmp")


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def exact_sum(expr: str) -> str:
    """SQL for an exact (DECIMAL) sum of a money column.

    DuckDB adds DOUBLEs in whatever order its threads meet the rows, so a double sum can
    differ in the last bits between two runs on the same data; a DECIMAL sum cannot. Every
    money sum over transactions uses this (wrap in ``CAST(... AS DOUBLE)`` for pandas).
    """
    return f"sum(CAST({expr} AS DECIMAL(38, 4)))"


def order_totals_sql(lines: str) -> str:
    """SQL for the orders of order ``lines``: one row per order id, ``account_id``, ``d`` (the
    order's date: its earliest line's, as TIMESTAMP), ``rev`` and ``gm`` (its lines' net revenue
    and gross margin, exact DECIMAL sums).

    The one definition of an order: the run writes it once (``data/orders.parquet``) and every
    order-level query reads that (:class:`kam_analysis.metrics.engine.OrderSource`), or groups
    the lines with this same SQL when a run has no such file.
    """
    return (f"SELECT account_id, CAST(min(order_date) AS TIMESTAMP) AS d, {exact_sum('net_revenue')} AS rev, "
            f"{exact_sum('gross_margin')} AS gm FROM {lines} GROUP BY account_id, order_id")




# --------------------------------------------------------------------------- the activity rule, in SQL
# The rule is defined in :mod:`kam_analysis.metrics.activity` (``is_counted_order``,
# ``is_active``), which is the reference for every Python caller. The account summary is
# aggregated here, in DuckDB, before any phase runs, and the data layer may not import the
# metrics layer; so the SQL spelling of the same rule lives here, in these two builders and
# nowhere else, and ``tests/test_metrics_activity.py`` checks on a tiny client (a refund-only
# last order, an account exactly ``churn_days`` back) that both spellings give the same
# last order, recency and activity.
def counted_order_sql(revenue: str = "revenue") -> str:
    """SQL condition: the order *counts* (orders, activity, first/last order): net revenue > 0.

    A refund-only credit note (net revenue <= 0) moves revenue but is not an order, does
    not make an account active and is never its last order.
    """
    return f"({revenue} > 0)"


def active_sql(last_order: str, *, as_of: str, churn_days: int) -> str:
    """SQL condition: active at ``as_of`` = last counted order in ``(as_of - churn_days, as_of]``.

    ``last_order`` is the SQL of the account's last *counted* order date (NULL: never
    ordered, so not active); ``as_of`` a SQL date. Half-open on the left: an account whose
    last order is exactly ``churn_days`` before ``as_of`` has churned (recency_days <
    churn_days is active).
    """
    return (f"coalesce({last_order} > {as_of} - INTERVAL {int(churn_days)} DAY "
            f"AND {last_order} <= {as_of}, false)")


def compute_account_summary(con: duckdb.DuckDBPyConnection, params: Params, data_dir: Path, *,
                            as_of=None, engine: dict | None = None) -> pd.DataFrame:
    """One row per account as it stood on ``as_of`` (default: the run's as-of date), in DuckDB.

    Orders and survey responses after ``as_of`` are left out; windows (last 12 months,
    previous 12), recency, tenure and activity are measured from ``as_of``. First and
    last order are *counted* orders (:func:`counted_order_sql`: a refund-only credit note
    is not an account's last order); ``recency_days`` = days from the last counted order to
    ``as_of``; ``active`` = :func:`active_sql` (the rule of
    :func:`kam_analysis.metrics.activity.is_active`). Leaves the temporary views ``t``
    (transactions) and ``orders`` (lines summed per order) on ``con`` for callers that
    aggregate further.

    ``engine``: the order-derived columns already computed where the transactions live
    (:func:`kam_analysis.data.warehouse.engine_aggregates`, the same definitions in Ibis); then
    no order line is read here and ``orders`` is not made.
    """
    a = params.analysis
    as_of_date = pd.Timestamp(as_of or a.as_of_date).date()
    t = f"read_parquet({sql_str(str(data_dir / 'transactions.parquet'))})"
    acc = f"read_parquet({sql_str(str(data_dir / 'accounts.parquet'))})"
    has_surveys = (data_dir / "surveys.parquet").exists()
    as_of = f"DATE '{as_of_date}'"
    counted = counted_order_sql("revenue")
    con.execute(f"CREATE OR REPLACE TEMP VIEW t AS SELECT * FROM {t} WHERE order_date <= {as_of}")
    if engine is None:
        # Money is summed as DECIMAL: exact, so the totals do not depend on the order in which
        # DuckDB's threads add rows up (double sums would differ in the last bits between runs).
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE orders AS
            SELECT account_id, order_id, min(order_date) AS order_date, {exact_sum('net_revenue')} AS revenue,
                   {exact_sum('gross_margin')} AS gross_margin
            FROM t GROUP BY account_id, order_id""")
        per_sql = f"""
        SELECT account_id,
               min(order_date) FILTER (WHERE {counted}) AS first_order_date,
               max(order_date) FILTER (WHERE {counted}) AS last_order_date,
               count(*) FILTER (WHERE {counted}) AS n_orders,
               sum(revenue)::DOUBLE AS revenue,
               sum(gross_margin)::DOUBLE AS gross_margin,
               (sum(revenue) FILTER (WHERE order_date > {as_of} - INTERVAL 12 MONTH))::DOUBLE AS revenue_12m,
               (sum(revenue) FILTER (WHERE order_date <= {as_of} - INTERVAL 12 MONTH
                                     AND order_date > {as_of} - INTERVAL 24 MONTH))::DOUBLE AS revenue_prev_12m,
               count(*) FILTER (WHERE {counted} AND order_date > {as_of} - INTERVAL 12 MONTH) AS orders_12m,
               count(*) FILTER (WHERE {counted} AND order_date <= {as_of} - INTERVAL 12 MONTH
                                AND order_date > {as_of} - INTERVAL 24 MONTH) AS orders_prev_12m
        FROM orders GROUP BY account_id"""
        breadth_sql = """
        SELECT account_id, count(DISTINCT category) AS n_categories, count(DISTINCT channel) AS n_channels
        FROM t GROUP BY account_id"""
    else:
        con.register("engine_per_account", engine["per_account"])
        con.register("engine_breadth", engine["breadth"])
        per_sql = """
        SELECT account_id, CAST(first_order_date AS DATE) AS first_order_date,
               CAST(last_order_date AS DATE) AS last_order_date, CAST(n_orders AS BIGINT) AS n_orders,
               revenue::DOUBLE AS revenue, gross_margin::DOUBLE AS gross_margin, revenue_12m::DOUBLE AS revenue_12m,
               revenue_prev_12m::DOUBLE AS revenue_prev_12m, CAST(orders_12m AS BIGINT) AS orders_12m,
               CAST(orders_prev_12m AS BIGINT) AS orders_prev_12m
        FROM engine_per_account"""
        breadth_sql = ("SELECT account_id, CAST(n_categories AS BIGINT) AS n_categories, "
                       "CAST(n_channels AS BIGINT) AS n_channels FROM engine_breadth")
    per_acc = con.execute(f"""
        WITH per AS ({per_sql})
        SELECT *, date_diff('day', last_order_date, {as_of}) AS recency_days,
               date_diff('day', first_order_date, {as_of}) AS tenure_days,
               {active_sql('last_order_date', as_of=as_of, churn_days=a.churn_days)} AS active
        FROM per""").df()
    breadth = con.execute(breadth_sql).df()
    accounts = con.execute(f"SELECT * FROM {acc}").df()
    summary = accounts.merge(per_acc, on="account_id", how="left").merge(breadth, on="account_id", how="left")
    if has_surveys:
        s = f"read_parquet({sql_str(str(data_dir / 'surveys.parquet'))})"
        surv = con.execute(f"""
            SELECT account_id, count(*) AS n_responses, avg(nps) AS nps_mean, avg(csat) AS csat_mean,
                   arg_max(nps, [epoch(survey_date), nps]) FILTER (WHERE nps IS NOT NULL) AS nps_latest,
                   max(survey_date) AS last_survey_date
            FROM {s} WHERE survey_date <= {as_of} GROUP BY account_id""").df()
        summary = summary.merge(surv, on="account_id", how="left")
        summary["n_responses"] = summary["n_responses"].fillna(0).astype("int64")
    for c in ("n_orders", "orders_12m", "orders_prev_12m", "n_categories", "n_channels"):
        summary[c] = summary[c].fillna(0).astype("int64")
    for c in ("revenue", "revenue_12m", "revenue_prev_12m"):
        summary[c] = summary[c].fillna(0.0)
    if summary["gross_margin"].isna().all():
        summary["gross_margin"] = float("nan")
    for c in ("first_order_date", "last_order_date"):
        summary[c] = pd.to_datetime(summary[c])
    for c in ("recency_days", "tenure_days"):
        summary[c] = summary[c].astype("float64")
    summary["active"] = summary["active"].astype("boolean").fillna(False).astype(bool)
    return summary.sort_values("account_id", kind="stable").reset_index(drop=True)


def aggregate_tables(con: duckdb.DuckDBPyConnection, params: Params, data_dir: Path,
                     engine: dict | None = None) -> dict[str, pd.DataFrame]:
    """Aggregate the clean transactions (Parquet) to account-level frames, in DuckDB, or finish
    those the warehouse computed (``engine``, :func:`kam_analysis.data.warehouse.engine_aggregates`).

    Returns
    -------
    dict
        ``account_summary`` (one row per account: attributes, first/last order, orders,
        revenue, margin, recency, tenure, activity, trailing-12-month figures, survey
        scores), ``account_period`` (account x period: revenue, orders, margin) and
        ``account_category`` (account x product category: revenue, orders).
    """
    summary = compute_account_summary(con, params, data_dir, engine=engine)
    a = params.analysis
    if engine is None:
        period = con.execute(f"""
            SELECT account_id, CAST(date_trunc('{a.period}', order_date) AS DATE) AS period_start,
                   sum(revenue)::DOUBLE AS revenue, count(*) FILTER (WHERE {counted_order_sql('revenue')}) AS orders,
                   sum(gross_margin)::DOUBLE AS gross_margin
            FROM orders GROUP BY ALL ORDER BY account_id, period_start""").df()
        # per order first, then per account x category: the same as count(DISTINCT order_id), 25% faster
        category = con.execute(f"""
            SELECT account_id, category, sum(revenue)::DOUBLE AS revenue, count(*) AS orders
            FROM (SELECT account_id, coalesce(category, '(none)') AS category, order_id,
                         {exact_sum('net_revenue')} AS revenue
                  FROM t GROUP BY ALL)
            GROUP BY ALL ORDER BY account_id, category""").df()
    else:
        con.register("engine_period", engine["period"])
        con.register("engine_category", engine["category"])
        period = con.execute("""
            SELECT account_id, CAST(period_start AS DATE) AS period_start, revenue::DOUBLE AS revenue,
                   CAST(orders AS BIGINT) AS orders, gross_margin::DOUBLE AS gross_margin
            FROM engine_period ORDER BY account_id, period_start""").df()
        category = con.execute("""
            SELECT account_id, category, revenue::DOUBLE AS revenue, CAST(orders AS BIGINT) AS orders
            FROM engine_category ORDER BY account_id, category""").df()
    period["period_start"] = pd.to_datetime(period["period_start"])
    return {"account_summary": summary, "account_period": period, "account_category": category}


def open_run(params_path: str | Path, run_dir: str | Path | None = None,
             overrides: list[str] | None = None) -> Run:
    """Open the run folder a notebook works in.

    Inside ``kam run`` the runner passes ``run_dir``; the run's ``params.json`` (resolved
    by the runner) is used so every notebook sees the same parameters. Opened by hand
    (JupyterLab, ``run_dir`` empty), a scratch run ``outputs/<client>/interactive`` is
    used and its data prepared on first use.
    """
    if run_dir:
        rd = Path(run_dir)
        pj = rd / "params.json"
        if pj.exists():
            params = Params.model_validate(json.loads(pj.read_text()))
            params.source_path = Path(params_path).resolve() if params_path else None
        else:
            params = load_params(params_path, overrides)
    else:
        params = load_params(params_path, overrides)
        rd = Path(params.output.root) / params.slug / "interactive"
        _refresh_scratch_run(rd, params)
    run = Run(rd, params)
    if not run.has_data("transactions"):
        prepare_run_data(params, rd)
        _atomic_write_bytes(rd / "params.json", json.dumps(params.resolved_dump(), indent=2).encode())
        _atomic_write_bytes(rd / SCRATCH_INPUTS, json.dumps(_scratch_inputs(params), indent=2).encode())
    return run


#: the scratch run's record of the input files it was prepared from (name -> SHA-256)
SCRATCH_INPUTS = "inputs.json"


def _scratch_inputs(params: Params) -> dict[str, str | None]:
    return {name: sha256_file(p) if p.is_file() else None for name, p in sorted(input_files(params).items())}


def _refresh_scratch_run(rd: Path, params: Params) -> None:
    """Empty the scratch run when it was prepared with other parameters or input files.

    A notebook opened by hand works in ``outputs/<client>/interactive``; when the
    parameter file, an override or a client file has changed since that folder was
    prepared, every table in it is stale, so it is removed and prepared again (and the
    earlier phases re-run when a later notebook needs them).
    """
    import shutil

    if not rd.exists():
        return
    try:
        old_params = json.loads((rd / "params.json").read_text(encoding="utf-8"))
        old_inputs = json.loads((rd / SCRATCH_INPUTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old_params, old_inputs = None, None
    new_params = json.loads(json.dumps(params.resolved_dump(), default=str))
    if old_params == new_params and old_inputs == _scratch_inputs(params):
        return
    changed = "an input file" if old_params == new_params else "the parameters"
    print(f"The scratch run {rd} was prepared with other inputs ({changed} changed): preparing it again.")
    shutil.rmtree(rd)
