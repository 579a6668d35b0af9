"""Review and optimisation: KPI tracking, SPC, programme impact, migration, recommendations.

Phase 5 answers two questions: *is the programme working* (KPIs against target and the
pre-programme baseline, control charts, a difference-in-differences estimate of the
programme's effect) and *what should change* (segment migration, rule-based
recommendations that each name their evidence).

Every KPI value here comes from the KPI engine (:mod:`kam_analysis.metrics.kpis`): today's from
the assessment's ``account_kpis`` / ``kpi_headline`` tables, the baseline's from the same
engine as of the baseline date (:func:`kam_analysis.metrics.kpis.compute_account_kpis_as_of`).
Nothing here reads the client's files except :func:`compute_summary_as_of`, which
re-aggregates the run's clean transactions in DuckDB to rebuild the account summary (the
segmentation's input) as it stood on an earlier date, for the baseline segmentation.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .assessment import rag_status as assessment_rag_status
from ..metrics.kpis import KPI_DEFINITIONS, compute_headline_kpis

__all__ = [
    "LOWER_IS_BETTER",
    "SCORECARD_KPIS",
    "rag_status",
    "higher_is_better",
    "trend_direction",
    "POINT_UNITS",
    "kpi_unit",
    "change_vs_baseline",
    "compute_kpi_vs_target",
    "compute_period_segment_kpis",
    "compute_kpi_tracking",
    "compute_spc",
    "compute_summary_as_of",
    "compute_segment_scorecard",
    "ProgrammeImpact",
    "compute_segment_migration",
    "compute_key_status_changes",
    "rule_segment_target_gaps",
    "rule_uncovered_risk",
    "rule_whitespace",
    "rule_stalled_playbooks",
    "compute_recommendations",
    "baseline_date",
    "period_offset",
    "read_optional",
    "compute_baseline_segments",
    "playbook_segment_column",
    "programme_impact_from_params",
    "compute_spc_set",
    "compute_playbook_cohorts",
    "compute_run_recommendations",
]

#: KPIs where lower is better, from the KPI dictionary (the one source of each KPI's direction)
LOWER_IS_BETTER = frozenset(k for k, d in KPI_DEFINITIONS.items() if d.higher_is_better is False)
ALL_ACCOUNTS = "All accounts"
_REC_COLUMNS = ["rank", "rule", "recommendation", "evidence", "value", "value_basis", "segment"]
#: KPIs of the segment scorecard (KPIs with a target are always added). Churn is left out by
#: default: it is 1 - retention, and a second colour for the same fact would confuse.
SCORECARD_KPIS = ("revenue_12m", "revenue_growth_yoy", "active_accounts", "retention_rate",
                  "average_order_value", "repeat_purchase_rate", "nps")


# --------------------------------------------------------------------------- status and trend
#: red/amber/green: the assessment's function (one definition for benchmark gaps, KPI vs target,
#: tracking and the scorecard): ``rag_status(current, reference, *, amber, red, higher_is_better)``
rag_status = assessment_rag_status


def higher_is_better(kpi: str) -> bool:
    """Direction of a KPI for its status, as the assessment's benchmark gaps read it.

    From :data:`kam_analysis.metrics.kpis.KPI_DEFINITIONS`; KPIs outside the dictionary (the
    review's period KPIs such as ``revenue``) and KPIs without a direction count as
    higher-is-better.
    """
    d = KPI_DEFINITIONS.get(kpi)
    return True if d is None or d.higher_is_better is None else bool(d.higher_is_better)


def trend_direction(values: Iterable[float], *, window: int, flat_band: float,
                    lower_is_better: bool = False) -> str:
    """Direction of a KPI: the mean of the last ``window`` values against the ``window`` before.

    change = mean(last window) / mean(previous window) - 1 (absolute difference when the
    previous mean is 0); "up" if change > flat_band, "down" if < -flat_band, else "flat";
    "n/a" with fewer than 2 x window finite values. With ``window`` = one year of periods
    the comparison is year on year and so free of seasonality. ``lower_is_better`` does not
    change the direction (a falling churn rate is "down"); it only matters for colour.
    """
    v = pd.Series(list(values), dtype="float64").dropna()
    if window < 1 or len(v) < 2 * window:
        return "n/a"
    last, prev = v.iloc[-window:].mean(), v.iloc[-2 * window:-window].mean()
    change = last / prev - 1 if prev != 0 else last - prev
    if change > flat_band:
        return "up"
    if change < -flat_band:
        return "down"
    return "flat"


def period_offset(period: str) -> pd.DateOffset:
    """Length of one analysis period (``analysis.period``) as a date offset."""
    months = {"month": 1, "quarter": 3, "year": 12}.get(period)
    if months is None:
        raise ValueError(f"period must be month, quarter or year, got {period!r}")
    return pd.DateOffset(months=months)


def _periods_per_year(period: str) -> int:
    return {"month": 12, "quarter": 4, "year": 1}[period]


def baseline_date(*, as_of: dt.date, programme_start: dt.date | None, configured: dt.date | None = None) -> dt.date:
    """The date the baseline (pre-programme) segmentation and KPIs are measured at.

    ``review.baseline_date`` when set; else the programme start; else one year before as-of.
    """
    if configured is not None:
        return configured
    if programme_start is not None:
        return programme_start
    return (pd.Timestamp(as_of) - pd.DateOffset(years=1)).date()


# --------------------------------------------------------------------------- change vs baseline
#: KPI units whose change against the baseline is a difference in points, not a relative change
POINT_UNITS = frozenset({"share", "score"})


def kpi_unit(kpi: str) -> str:
    """The unit of a KPI: from the KPI dictionary, else read from its name (period KPIs such as
    ``period_retention_rate`` or ``revenue`` are not in the dictionary)."""
    d = KPI_DEFINITIONS.get(kpi)
    if d is not None:
        return d.unit
    k = kpi.lower()
    if any(w in k for w in ("rate", "share", "growth")):
        return "share"
    if any(w in k for w in ("nps", "csat", "score")):
        return "score"
    if any(w in k for w in ("revenue", "value", "margin", "profit", "clv")):
        return "currency"
    return "count"


def change_vs_baseline(value, baseline, kpi: str):
    """Change of a KPI against its baseline, and its kind ("points" or "relative").

    * share and score KPIs (:data:`POINT_UNITS`: retention, growth, NPS, CSAT ...):
      ``value - baseline``, a difference in the KPI's own unit — points (NPS 6.2 -> 9.9 is
      +3.7; retention 0.736 -> 0.743 is +0.007, shown as +0.7 pts). A relative change of
      a share or a score (NPS +60%) means nothing to a reader.
    * currency, count and ratio KPIs: ``value / baseline - 1``, a relative change (NaN
      when the baseline is 0).

    ``value`` may be a scalar or an array/Series; NaN where either side is missing.
    """
    if kpi_unit(kpi) in POINT_UNITS:
        return value - baseline, "points"
    if isinstance(baseline, (int, float, np.floating)) and (not np.isfinite(baseline) or baseline == 0):
        return value * np.nan, "relative"
    return value / baseline - 1, "relative"


# --------------------------------------------------------------------------- KPIs vs target
def compute_kpi_vs_target(headline: pd.DataFrame, targets: dict[str, float], *, amber: float,
                          red: float, baseline: pd.DataFrame | None = None) -> pd.DataFrame:
    """KPI, current value, target, gap (current - target) and RAG status, for KPIs with a target.

    ``headline`` is the assessment's ``kpi_headline`` table. With ``baseline`` (the same
    engine at the baseline date: ``kpis.compute_headline_kpis`` of
    ``kpis.compute_account_kpis_as_of(run, baseline_date)``) the frame also has
    ``baseline``, ``vs_baseline`` (:func:`change_vs_baseline`: current - baseline in points
    for share/score KPIs, current / baseline - 1 for currency/count KPIs) and
    ``vs_baseline_kind`` ("points" / "relative"). ``status`` is
    :func:`rag_status` with the KPI's direction from the KPI dictionary — the same call the
    assessment's ``benchmark_gaps`` makes, so both tables give a KPI the same status.
    """
    cur = headline.set_index("kpi")["value"]
    base = baseline.set_index("kpi")["value"] if baseline is not None and len(baseline) else pd.Series(dtype=float)
    labels = headline.set_index("kpi")["label"] if "label" in headline else pd.Series(dtype=object)
    units = headline.set_index("kpi")["unit"] if "unit" in headline else pd.Series(dtype=object)
    rows = []
    for kpi, target in targets.items():
        value = float(cur.get(kpi, np.nan))
        b = float(base.get(kpi, np.nan))
        change, kind = change_vs_baseline(value, b, kpi)
        rows.append({"kpi": kpi, "label": labels.get(kpi, kpi.replace("_", " ").capitalize()),
                     "unit": units.get(kpi, None), "current": value, "target": float(target),
                     "gap": value - float(target),
                     "status": rag_status(value, float(target), amber=amber, red=red,
                                          higher_is_better=higher_is_better(kpi)),
                     "baseline": b, "vs_baseline": float(change), "vs_baseline_kind": kind})
    return pd.DataFrame(rows, columns=["kpi", "label", "unit", "current", "target", "gap", "status", "baseline",
                                       "vs_baseline", "vs_baseline_kind"])


# --------------------------------------------------------------------------- KPIs by period and segment
def compute_period_segment_kpis(account_period: pd.DataFrame, segments: pd.DataFrame | None = None, *,
                                segment_col: str = "quadrant", period: str = "quarter",
                                as_of: dt.date | None = None, account_col: str = "account_id",
                                period_col: str = "period_start", revenue_col: str = "revenue",
                                orders_col: str = "orders", all_label: str = ALL_ACCOUNTS) -> pd.DataFrame:
    """KPIs for every period and segment (and all accounts), in long form.

    Segments are today's (``segments[segment_col]``) applied to the whole history, so a
    segment's trend shows how its *current* members developed. Periods that end after
    ``as_of`` (incomplete) are dropped.

    Formulas (per period *t* and segment)
    -------------------------------------
    * ``revenue`` = sum of net revenue; ``orders`` = orders with positive revenue;
    * ``active_accounts`` = accounts with at least one order;
    * ``average_order_value`` = revenue / orders;
    * ``revenue_per_account`` = revenue / active_accounts;
    * ``period_retention_rate`` = accounts active in *t-1* and in *t* / accounts active in
      *t-1* (``n`` = accounts active in *t-1*);
    * ``revenue_growth_yoy`` = revenue / revenue one year of periods earlier - 1.

    Returns
    -------
    DataFrame
        ``period_start, segment, kpi, value, n`` (``n`` = active accounts, or the
        retention denominator).
    """
    ap = account_period[[account_col, period_col, revenue_col, orders_col]].copy()
    ap[period_col] = pd.to_datetime(ap[period_col])
    if as_of is not None:
        ends = ap[period_col] + period_offset(period)
        ap = ap[ends <= pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    periods = pd.DatetimeIndex(sorted(ap[period_col].unique()))
    groups: list[tuple[str, pd.DataFrame]] = [(all_label, ap)]
    if segments is not None and segment_col in segments:
        seg = segments[[account_col, segment_col]].dropna()
        merged = ap.merge(seg, on=account_col, how="inner")
        for name, g in merged.groupby(segment_col, observed=True, sort=True):
            groups.append((str(name), g))
    py = _periods_per_year(period)
    out = []
    for name, g in groups:
        by = g.groupby(period_col)
        revenue = by[revenue_col].sum().reindex(periods, fill_value=0.0)
        orders = by[orders_col].sum().reindex(periods, fill_value=0).astype(float)
        active_sets = g[g[orders_col] > 0].groupby(period_col)[account_col].apply(set)
        active = pd.Series([len(active_sets.get(p, ())) for p in periods], index=periods, dtype=float)
        kept, prev_n = [], []
        for i, p in enumerate(periods):
            if i == 0:
                kept.append(np.nan)
                prev_n.append(np.nan)
                continue
            prev = active_sets.get(periods[i - 1], set())
            cur = active_sets.get(p, set())
            prev_n.append(float(len(prev)))
            kept.append(len(prev & cur) / len(prev) if prev else np.nan)
        yoy = revenue / revenue.shift(py).replace(0, np.nan) - 1
        kpis = {
            "revenue": (revenue, active),
            "orders": (orders, active),
            "active_accounts": (active, active),
            "average_order_value": (revenue / orders.replace(0, np.nan), active),
            "revenue_per_account": (revenue / active.replace(0, np.nan), active),
            "period_retention_rate": (pd.Series(kept, index=periods), pd.Series(prev_n, index=periods)),
            "revenue_growth_yoy": (yoy, active),
        }
        for kpi, (vals, n) in kpis.items():
            out.append(pd.DataFrame({"period_start": periods, "segment": name, "kpi": kpi,
                                     "value": vals.to_numpy(dtype=float), "n": n.to_numpy(dtype=float)}))
    cols = ["period_start", "segment", "kpi", "value", "n"]
    return pd.concat(out, ignore_index=True)[cols] if out else pd.DataFrame(columns=cols)


#: period-level KPIs a headline target applies to directly (same definition per period)
PERIOD_TARGET_KPIS = {"average_order_value", "revenue_growth_yoy"}


def compute_kpi_tracking(period_kpis: pd.DataFrame, *, programme_start: dt.date | None,
                         targets: dict[str, float], amber: float, red: float, trend_window: int,
                         flat_band: float) -> pd.DataFrame:
    """Each period's KPI against its target and the pre-programme baseline, with status and trend.

    * ``baseline`` = mean of the KPI over the periods before ``programme_start`` (NaN,
      with a note, without a programme date or pre-programme periods);
    * ``target`` = the client's target for KPIs defined the same way per period
      (:data:`PERIOD_TARGET_KPIS`);
    * ``status`` = :func:`rag_status` against the target when there is one, else against
      the baseline (``status_basis`` says which);
    * ``vs_baseline`` = :func:`change_vs_baseline` (points for share/score KPIs, relative
      for currency/count KPIs; ``vs_baseline_kind`` says which);
    * ``trend`` = :func:`trend_direction` of the series up to and including the period.
    """
    cols = ["period_start", "segment", "kpi", "value", "n", "baseline", "vs_baseline", "vs_baseline_kind", "target",
            "status", "status_basis", "trend", "post_programme", "note"]
    if period_kpis.empty:
        return pd.DataFrame(columns=cols)
    df = period_kpis.sort_values(["segment", "kpi", "period_start"], kind="stable").copy()
    start = pd.Timestamp(programme_start) if programme_start else None
    df["post_programme"] = df["period_start"] >= start if start is not None else False
    parts = []
    for (_seg, kpi), g in df.groupby(["segment", "kpi"], sort=False):
        g = g.copy()
        pre = g.loc[~g["post_programme"], "value"].dropna() if start is not None else pd.Series(dtype=float)
        base = float(pre.mean()) if len(pre) else np.nan
        g["baseline"] = base
        g["vs_baseline"], g["vs_baseline_kind"] = change_vs_baseline(g["value"].astype(float), base, kpi)
        tgt = float(targets[kpi]) if kpi in targets and kpi in PERIOD_TARGET_KPIS else np.nan
        g["target"] = tgt
        hib = higher_is_better(kpi)
        if np.isfinite(tgt):
            g["status"] = [rag_status(v, tgt, amber=amber, red=red, higher_is_better=hib) for v in g["value"]]
            g["status_basis"] = "target"
        else:
            g["status"] = [rag_status(v, base, amber=amber, red=red, higher_is_better=hib) for v in g["value"]]
            g["status_basis"] = "baseline" if np.isfinite(base) else "n/a"
        vals = g["value"].to_numpy(dtype=float)
        g["trend"] = [trend_direction(vals[: i + 1], window=trend_window, flat_band=flat_band) for i in range(len(g))]
        if start is None:
            g["note"] = "no programme start in params: no pre-programme baseline"
        elif not len(pre):
            g["note"] = "no periods before the programme start: no baseline"
        else:
            g["note"] = ""
        parts.append(g)
    return pd.concat(parts, ignore_index=True)[cols]


# --------------------------------------------------------------------------- SPC
def compute_spc(series: pd.DataFrame, *, kind: str = "individuals", value_col: str = "value", n_col: str = "n",
                baseline_mask: pd.Series | np.ndarray | None = None, min_baseline: int = 6,
                run_length: int = 8, x_col: str = "period_start") -> pd.DataFrame:
    """Control limits and signals for one KPI series (Shewhart charts).

    Limits are estimated on the baseline periods (``baseline_mask``; e.g. pre-programme)
    when there are at least ``min_baseline`` of them, else on the whole series, and then
    applied to every period.

    * individuals (XmR) chart: centre = mean(x); MR-bar = mean |x_t - x_{t-1}|;
      limits = centre +/- 2.66 * MR-bar (2.66 = 3 / d2, d2 = 1.128 for n = 2);
    * p-chart (a share with denominator n_t): centre p-bar = sum(p_t n_t) / sum(n_t);
      limits = p-bar +/- 3 sqrt(p-bar (1 - p-bar) / n_t), clipped to [0, 1].

    A period signals when it lies outside the limits, or ends a run of ``run_length``
    consecutive points on the same side of the centre line (Western Electric rule 4).

    Returns
    -------
    DataFrame
        the input's ``x_col`` and ``value`` with ``center, ucl, lcl, signal, rule,
        limits_from`` (``"baseline"`` or ``"all periods"``).
    """
    if kind not in {"individuals", "p"}:
        raise ValueError(f"kind must be 'individuals' or 'p', got {kind!r}")
    df = series[[x_col, value_col] + ([n_col] if kind == "p" else [])].copy().reset_index(drop=True)
    df = df.rename(columns={value_col: "value"})
    ok = df["value"].notna() & np.isfinite(df["value"].astype(float))
    if kind == "p":
        ok &= df[n_col].fillna(0) > 0
    mask = (pd.Series(np.asarray(baseline_mask, dtype=bool)) if baseline_mask is not None
            else pd.Series(True, index=df.index)).reset_index(drop=True)
    use = ok & mask
    limits_from = "baseline"
    if use.sum() < min_baseline:
        use, limits_from = ok, "all periods"
    if kind == "individuals":
        x = df.loc[use, "value"].astype(float)
        center = float(x.mean()) if len(x) else np.nan
        mr = float(x.diff().abs().mean()) if len(x) > 1 else np.nan
        df["center"] = center
        df["ucl"] = center + 2.66 * mr
        df["lcl"] = center - 2.66 * mr
    else:
        n = df[n_col].astype(float)
        pbar = float((df.loc[use, "value"] * n[use]).sum() / n[use].sum()) if n[use].sum() else np.nan
        sd = np.sqrt(pbar * (1 - pbar) / n.where(n > 0))
        df["center"] = pbar
        df["ucl"] = (pbar + 3 * sd).clip(upper=1.0)
        df["lcl"] = (pbar - 3 * sd).clip(lower=0.0)
    side = np.sign(df["value"] - df["center"]).where(ok, 0)
    run, runs = 0, []
    prev = 0
    for s in side:
        run = run + 1 if s != 0 and s == prev else (1 if s != 0 else 0)
        prev = s
        runs.append(run)
    beyond = ok & ((df["value"] > df["ucl"]) | (df["value"] < df["lcl"]))
    long_run = pd.Series(runs) >= run_length
    df["signal"] = beyond | long_run
    df["rule"] = np.where(beyond, "outside limits", np.where(long_run, f"run of {run_length}", ""))
    df["limits_from"] = limits_from
    return df


# --------------------------------------------------------------------------- baseline summary
def compute_summary_as_of(run, as_of: dt.date) -> pd.DataFrame:
    """The account summary as it stood on ``as_of`` (an earlier date than the run's).

    The same aggregation as the run's ``account_summary``
    (:func:`kam_analysis.data.prepare.compute_account_summary`) with orders and survey
    responses after ``as_of`` left out; it feeds :func:`compute_baseline_segments` (KPIs at
    the baseline come from :func:`kam_analysis.metrics.kpis.compute_account_kpis_as_of`). Accounts
    without an order by ``as_of`` are left out.
    """
    import duckdb

    from ..data.prepare import compute_account_summary

    con = duckdb.connect()
    try:
        s = compute_account_summary(con, run.params, run.data_dir, as_of=as_of)
    finally:
        con.close()
    return s[s["first_order_date"].notna()].reset_index(drop=True)


# --------------------------------------------------------------------------- segment scorecard
def _kpi_values(account_kpis: pd.DataFrame, ids: set[str] | None, *, account_col: str,
                options: dict) -> tuple[pd.Series, int]:
    """The KPI engine's headline KPIs (value by kpi) of the accounts ``ids`` (all when None)."""
    a = account_kpis if ids is None else account_kpis[account_kpis[account_col].astype(str).isin(ids)]
    a.attrs = dict(account_kpis.attrs)  # as-of date, churn days, data start: what the history supports
    return compute_headline_kpis(a, **options).set_index("kpi")["value"], len(a)


def compute_segment_scorecard(account_kpis: pd.DataFrame, segments: pd.DataFrame, *,
                              targets: dict[str, float], amber: float, red: float,
                              baseline_kpis: pd.DataFrame | None = None,
                              baseline_segments: pd.DataFrame | None = None,
                              kpis: Iterable[str] | None = SCORECARD_KPIS, segment_col: str = "quadrant",
                              account_col: str = "account_id", all_label: str = ALL_ACCOUNTS,
                              min_accounts: int = 1, confidence: float = 0.95, min_denominator: int = 30,
                              survey_coverage_min: float = 0.3) -> pd.DataFrame:
    """Segment x KPI scorecard over the trailing twelve months, against target and baseline.

    Every value comes from the KPI engine: :func:`kam_analysis.metrics.kpis.compute_headline_kpis`
    on the rows of ``account_kpis`` (the assessment's ``account_kpis`` table, from
    :func:`kam_analysis.metrics.kpis.compute_account_kpis`) of the segment's accounts, so each KPI
    — NPS included (latest response per account in the window, promoters 9-10 minus
    detractors 0-6) — is defined once. ``All accounts`` is the whole frame, so its row
    equals ``kpi_headline``.

    The baseline is the same function on ``baseline_kpis`` (the account KPI frame as of the
    baseline date, :func:`kam_analysis.metrics.kpis.compute_account_kpis_as_of`) for the segment's
    members at the baseline (``baseline_segments``); when ``baseline_segments`` is None, for
    today's members — a cohort view: how did these same accounts develop.

    Parameters
    ----------
    kpis : iterable of str, optional
        KPIs kept (default :data:`SCORECARD_KPIS`; every KPI with a target is added);
        None keeps every KPI the engine computes.
    confidence, min_denominator, survey_coverage_min : float, int, float
        Passed to the engine (``thresholds``), as in the assessment.

    Returns
    -------
    DataFrame
        ``segment, kpi, value, n`` (accounts in the segment), ``baseline, vs_baseline,
        vs_baseline_kind`` (:func:`change_vs_baseline`: value - baseline in points for
        share/score KPIs, value / baseline - 1 for currency/count KPIs), ``target, gap`` (value - target), ``status, status_basis``;
        ``status`` is RAG (:func:`rag_status`, the KPI's direction from the KPI dictionary)
        against the target when there is one, else against the baseline.
    """
    options = {"confidence": confidence, "min_denominator": min_denominator,
               "survey_coverage_min": survey_coverage_min}
    keep = None if kpis is None else list(dict.fromkeys([*kpis, *targets]))
    if segment_col not in segments:
        segments = segments[[account_col]].assign(**{segment_col: all_label})
    seg = segments[[account_col, segment_col]].dropna()
    groups: list[tuple[str, set[str] | None]] = [(all_label, None)] + [
        (str(k), set(g[account_col].astype(str))) for k, g in seg.groupby(segment_col, observed=True, sort=True)
        if str(k) != all_label]
    if baseline_segments is not None and segment_col in baseline_segments:
        bseg = baseline_segments[[account_col, segment_col]].dropna()
        base_members = {str(k): set(g[account_col].astype(str))
                        for k, g in bseg.groupby(segment_col, observed=True)}
    else:
        base_members = None
    rows = []
    for name, ids in groups:
        cur_k, n = _kpi_values(account_kpis, ids, account_col=account_col, options=options)
        if n < min_accounts:
            continue
        base_k = pd.Series(dtype=float)
        if baseline_kpis is not None:
            base_ids = ids if base_members is None or ids is None else base_members.get(name, set())
            if base_ids is None or base_ids:
                base_k, _ = _kpi_values(baseline_kpis, base_ids, account_col=account_col, options=options)
        for kpi, value in cur_k.items():
            if keep is not None and kpi not in keep:
                continue
            value = float(value) if value is not None else np.nan
            b = float(base_k.get(kpi, np.nan))
            t = float(targets.get(kpi, np.nan))
            hib = higher_is_better(kpi)
            if np.isfinite(t):
                status, basis = rag_status(value, t, amber=amber, red=red, higher_is_better=hib), "target"
            else:
                status, basis = rag_status(value, b, amber=amber, red=red, higher_is_better=hib), "baseline"
            change, kind = change_vs_baseline(value, b, kpi)
            rows.append({"segment": name, "kpi": kpi, "value": value, "n": n, "baseline": b,
                         "vs_baseline": float(change), "vs_baseline_kind": kind,
                         "target": t, "gap": value - t if np.isfinite(t) else np.nan, "status": status,
                         "status_basis": basis if status != "n/a" else "n/a"})
    out = pd.DataFrame(rows, columns=["segment", "kpi", "value", "n", "baseline", "vs_baseline", "vs_baseline_kind",
                                      "target", "gap", "status", "status_basis"])
    if keep is not None:  # the scorecard's KPI order, not the engine's
        order = {k: i for i, k in enumerate(keep)}
        seg_order = {g: i for i, (g, _) in enumerate(groups)}
        out = out.sort_values(["segment", "kpi"], key=lambda c: c.map(seg_order if c.name == "segment" else order),
                              kind="stable").reset_index(drop=True)
    return out


# --------------------------------------------------------------------------- programme impact
class ProgrammeImpact:
    """Difference-in-differences estimate of the KAM programme's effect on revenue.

    Treated = the client's programme accounts (``key_account``); control = non-key
    accounts matched to them before the programme: ``control_ratio`` nearest neighbours
    per treated account, without replacement, on standardised mean log revenue and mean
    log orders per active period in a *matching window* (the first ``match_window_share``
    of the pre-programme periods). The matching window is then left out of the estimation:
    controls picked for a high pre-period level partly owe it to luck and regress to the
    mean afterwards, which would otherwise masquerade as a programme effect. The outcome is
    log revenue of each active account-period (revenue > 0).

    Model (two-way fixed effects, account effects absorbed by the within transformation)::

        log(revenue_it) = a_i + g_t + beta * treated_i * post_t + e_it

    estimated by OLS with standard errors clustered by account. ``exp(beta) - 1`` is the
    relative uplift. The period containing the programme start (when it does not start on
    the period boundary) is dropped as partly treated.

    Parallel trends are checked with an event study: the same model with
    ``treated_i x 1[t - t0 = k]`` for every relative period k except -1; the leads
    (k <= -2) are tested jointly (cluster-robust Wald test) — a small p-value means the
    groups were already diverging before the programme and the estimate is not credible.

    Parameters
    ----------
    programme_start : date or None
        Start of the programme (``analysis.programme_start``).
    period : {"month", "quarter", "year"}
        Length of ``period_start`` periods.
    confidence : float
        Level of the confidence intervals.
    control_ratio : int
        Matched control accounts per treated account.
    min_accounts : int
        Fewest treated and control accounts for an estimate.
    min_pre_periods, min_post_periods : int
        Fewest complete periods before / after the start for an estimate.
    pretrend_alpha : float
        Significance level of the parallel-trends check.

    Attributes
    ----------
    supported_ : bool
    reason_ : str
        Why there is no estimate (empty when supported).
    estimate_, ci_low_, ci_high_, p_value_ : float
        beta on the log scale with its CI and p-value.
    uplift_, uplift_ci_low_, uplift_ci_high_ : float
        ``exp(.) - 1`` of the above.
    n_treated_, n_control_, n_obs_, n_pre_periods_, n_post_periods_ : int
    pretrend_p_value_ : float
    placebo_estimate_, placebo_p_value_ : float
        Placebo in time: the estimate with a fake start halfway through the pre-period,
        on pre-programme data only (should be near 0).
    event_study_ : DataFrame
        ``rel_period, period_start, coef, ci_low, ci_high`` (the reference period -1 has 0).
    trends_ : DataFrame
        ``period_start, group, mean_log_revenue, accounts`` for the parallel-trends plot.
    sentence_ : str
        The result in one plain-language sentence.
    """

    def __init__(self, *, programme_start: dt.date | None, period: str = "quarter", confidence: float = 0.95,
                 control_ratio: int = 10, min_accounts: int = 30, min_pre_periods: int = 3,
                 min_post_periods: int = 2, pretrend_alpha: float = 0.05, drop_edge_periods: bool = True,
                 matching: str = "nearest", support_quantile: float = 0.0, match_window_share: float = 0.5,
                 min_match_periods: int = 1):
        self.programme_start = programme_start
        self.period = period
        self.confidence = confidence
        self.control_ratio = control_ratio
        self.min_accounts = min_accounts
        self.min_pre_periods = min_pre_periods
        self.min_post_periods = min_post_periods
        self.pretrend_alpha = pretrend_alpha
        self.drop_edge_periods = drop_edge_periods
        if matching not in {"support", "nearest"}:
            raise ValueError(f"matching must be 'support' or 'nearest', got {matching!r}")
        self.matching = matching
        self.support_quantile = support_quantile
        self.match_window_share = match_window_share
        self.min_match_periods = min_match_periods

    # -- helpers
    def _unsupported(self, reason: str) -> "ProgrammeImpact":
        self.supported_ = False
        self.reason_ = reason
        for a in ("estimate_", "ci_low_", "ci_high_", "p_value_", "uplift_", "uplift_ci_low_", "uplift_ci_high_",
                  "pretrend_p_value_", "placebo_estimate_", "placebo_p_value_"):
            setattr(self, a, np.nan)
        self.event_study_ = pd.DataFrame(columns=["rel_period", "period_start", "coef", "ci_low", "ci_high"])
        self.trends_ = getattr(self, "trends_", pd.DataFrame(columns=["period_start", "group", "mean_log_revenue",
                                                                       "accounts"]))
        self.sentence_ = f"The programme's impact cannot be estimated from this data: {reason}."
        return self

    @staticmethod
    def _drop_edges(ap: pd.DataFrame, account_col: str, period_col: str) -> pd.DataFrame:
        """Drop each account's first active period, and its last when it is not the data's last period.

        An account's first period of buying and the period it stopped in are usually only
        partly covered (it started or stopped partway through), which would depress log
        revenue in a way that differs between groups selected on tenure.
        """
        last_period = ap[period_col].max()
        g = ap.groupby(account_col)[period_col]
        first, last = g.transform("min"), g.transform("max")
        return ap[(ap[period_col] != first) & ((ap[period_col] != last) | (last == last_period))]

    @staticmethod
    def _within(df: pd.DataFrame, cols: list[str], group: str) -> pd.DataFrame:
        return df[cols] - df.groupby(group)[cols].transform("mean")

    def fit(self, account_period: pd.DataFrame, accounts: pd.DataFrame, *, account_col: str = "account_id",
            period_col: str = "period_start", revenue_col: str = "revenue",
            treated_col: str = "key_account", orders_col: str | None = "orders") -> "ProgrammeImpact":
        """Estimate the effect; sets the attributes listed in the class docstring."""
        import statsmodels.api as sm

        for a in ("n_treated_", "n_control_", "n_obs_", "n_pre_periods_", "n_post_periods_"):
            setattr(self, a, 0)
        self.trends_ = pd.DataFrame(columns=["period_start", "group", "mean_log_revenue", "accounts"])
        if self.programme_start is None:
            return self._unsupported("no programme start date is set (analysis.programme_start in the params)")
        if treated_col not in accounts.columns or accounts[treated_col].isna().all():
            return self._unsupported(f"the accounts data has no '{treated_col}' column marking programme accounts, "
                                     "so there is no treated group")
        flag = accounts[[account_col, treated_col]].dropna().copy()
        flag[treated_col] = flag[treated_col].astype(bool)
        start = pd.Timestamp(self.programme_start)
        use_orders = orders_col is not None and orders_col in account_period.columns
        ap = account_period[[account_col, period_col, revenue_col] + ([orders_col] if use_orders else [])].copy()
        ap[period_col] = pd.to_datetime(ap[period_col])
        ap = ap[ap[revenue_col] > 0]
        ends = ap[period_col] + period_offset(self.period)
        ap = ap[~((ap[period_col] < start) & (ends > start))]  # the partly treated period
        if self.drop_edge_periods:
            ap = self._drop_edges(ap, account_col, period_col)
        ap = ap.merge(flag, on=account_col, how="inner")
        ap["post"] = ap[period_col] >= start
        ap["y"] = np.log(ap[revenue_col].astype(float))
        ap["f"] = np.log(ap[orders_col].clip(lower=1).astype(float)) if use_orders else 0.0
        periods = sorted(ap[period_col].unique())
        n_pre = sum(p < start for p in periods)
        n_post = len(periods) - n_pre
        self.n_pre_periods_, self.n_post_periods_ = n_pre, n_post
        if n_pre < self.min_pre_periods:
            return self._unsupported(f"only {n_pre} complete period(s) before the programme start "
                                     f"({self.programme_start}); at least {self.min_pre_periods} are needed")
        if n_post < self.min_post_periods:
            return self._unsupported(f"only {n_post} period(s) since the programme start "
                                     f"({self.programme_start}); at least {self.min_post_periods} are needed")
        # matching window: the first part of the pre-period, held out of the estimation so the
        # controls' regression to the mean happens before the estimation window, not across it
        pre_periods = [p for p in periods if p < start]
        n_match = int(len(pre_periods) * self.match_window_share)
        if n_match and len(pre_periods) - n_match >= self.min_pre_periods:
            match_end = pre_periods[n_match]
            window = ap[ap[period_col] < match_end]
        else:
            match_end = None
            window = ap[~ap["post"]]
        pre = window.groupby(account_col).agg(level=("y", "mean"), freq=("f", "mean"), n=("y", "size"))
        pre = pre[pre["n"] >= self.min_match_periods].join(flag.set_index(account_col))
        treated = pre[pre[treated_col]]
        pool = pre[~pre[treated_col]]
        if len(treated) < self.min_accounts:
            return self._unsupported(f"only {len(treated)} programme account(s) bought in at least "
                                     f"{self.min_match_periods} period(s) of the matching window before the start; "
                                     f"at least {self.min_accounts} are needed")
        if len(pool) < self.min_accounts:
            return self._unsupported(f"only {len(pool)} non-programme account(s) with pre-programme history to "
                                     f"serve as a control group; at least {self.min_accounts} are needed")
        chosen: set = set()
        if self.matching == "nearest":
            # greedy nearest-neighbour matching without replacement on standardised pre-period
            # revenue level and order frequency, hardest-to-match (highest revenue) first
            both = pd.concat([treated, pool])
            sd = both[["level", "freq"]].std(ddof=0).replace(0, 1.0).fillna(1.0)
            pool_sorted = pool.sort_values("level", kind="stable")
            pz = (pool_sorted[["level", "freq"]] / sd).to_numpy()
            tz = (treated.sort_values("level", ascending=False, kind="stable")[["level", "freq"]] / sd).to_numpy()
            free = np.ones(len(pz), dtype=bool)
            for point in tz:
                if not free.any():
                    break
                dist = np.where(free, np.sqrt(((pz - point) ** 2).sum(axis=1)), np.inf)
                nearest = np.argsort(dist, kind="stable")[: min(self.control_ratio, int(free.sum()))]
                free[nearest] = False
                chosen.update(pool_sorted.index[nearest])
        else:  # common support: every non-programme account within the programme accounts' range
            lo = float(treated["level"].quantile(self.support_quantile))
            hi = float(treated["level"].quantile(1 - self.support_quantile))
            chosen.update(pool.index[(pool["level"] >= lo) & (pool["level"] <= hi)])
        if len(chosen) < self.min_accounts:
            return self._unsupported(f"only {len(chosen)} non-programme account(s) have pre-programme revenue "
                                     f"comparable to the programme accounts; at least {self.min_accounts} are needed")
        keep = set(treated.index) | chosen
        d = ap[ap[account_col].isin(keep)].copy()
        if match_end is not None:
            d = d[d[period_col] >= match_end]
            periods = [p for p in periods if p >= match_end]
            self.n_pre_periods_ = sum(p < start for p in periods)
        self.match_window_end_ = match_end
        d["treated"] = d[treated_col].astype(float)
        d["did"] = d["treated"] * d["post"].astype(float)
        self.n_treated_, self.n_control_, self.n_obs_ = len(treated), len(chosen), len(d)
        tr = d.groupby([period_col, "treated"]).agg(mean_log_revenue=("y", "mean"), accounts=("y", "size"))
        tr = tr.reset_index().rename(columns={period_col: "period_start"})
        tr["group"] = np.where(tr["treated"] == 1, "Programme accounts", "Matched control accounts")
        self.trends_ = tr[["period_start", "group", "mean_log_revenue", "accounts"]]
        # two-way FE: period dummies + regressors, all demeaned within account
        pidx = {p: i for i, p in enumerate(periods)}
        d["pi"] = d[period_col].map(pidx)
        pd_dum = pd.get_dummies(d["pi"], prefix="p", dtype=float).iloc[:, 1:]
        d = pd.concat([d.reset_index(drop=True), pd_dum.reset_index(drop=True)], axis=1)
        pcols = list(pd_dum.columns)
        groups = d[account_col].astype("category").cat.codes.to_numpy()
        alpha = 1 - self.confidence
        X = self._within(d, ["did"] + pcols, account_col)
        yd = self._within(d, ["y"], account_col)["y"]
        res = sm.OLS(yd, X).fit(cov_type="cluster", cov_kwds={"groups": groups})
        ci = res.conf_int(alpha).loc["did"]
        self.estimate_ = float(res.params["did"])
        self.ci_low_, self.ci_high_ = float(ci.iloc[0]), float(ci.iloc[1])
        self.p_value_ = float(res.pvalues["did"])
        self.uplift_ = math.expm1(self.estimate_)
        self.uplift_ci_low_, self.uplift_ci_high_ = math.expm1(self.ci_low_), math.expm1(self.ci_high_)
        # event study
        t0 = next(i for i, p in enumerate(periods) if p >= start)
        rel = d["pi"] - t0
        ecols = []
        for r in sorted(rel.unique()):
            if r == -1:
                continue
            c = f"e_{'m' if r < 0 else 'p'}{abs(int(r))}"
            d[c] = ((rel == r) & (d["treated"] == 1)).astype(float)
            ecols.append((int(r), c))
        names = [c for _, c in ecols]
        Xe = self._within(d, names + pcols, account_col)
        # drop interaction columns with no variation after demeaning (e.g. all-treated periods)
        names = [c for c in names if Xe[c].abs().sum() > 1e-12]
        ese = sm.OLS(yd, Xe[names + pcols]).fit(cov_type="cluster", cov_kwds={"groups": groups})
        eci = ese.conf_int(alpha)
        period_of = {i - t0: p for p, i in pidx.items()}
        rows = [{"rel_period": -1, "period_start": period_of.get(-1), "coef": 0.0, "ci_low": 0.0, "ci_high": 0.0}]
        for r, c in ecols:
            if c in names:
                rows.append({"rel_period": r, "period_start": period_of.get(r), "coef": float(ese.params[c]),
                             "ci_low": float(eci.loc[c].iloc[0]), "ci_high": float(eci.loc[c].iloc[1])})
        self.event_study_ = pd.DataFrame(rows).sort_values("rel_period").reset_index(drop=True)
        leads = [c for r, c in ecols if r <= -2 and c in names]
        if leads:
            R = np.zeros((len(leads), len(names) + len(pcols)))
            for i, c in enumerate(leads):
                R[i, names.index(c)] = 1.0
            w = ese.wald_test(R, scalar=True)
            self.pretrend_p_value_ = float(w.pvalue)
        else:
            self.pretrend_p_value_ = np.nan
        self._placebo(d, account_col, period_col, start, alpha)
        self.supported_ = True
        self.reason_ = ""
        self.sentence_ = self._sentence()
        return self

    def _placebo(self, d: pd.DataFrame, account_col: str, period_col: str, start: pd.Timestamp,
                 alpha: float) -> None:
        """Placebo in time: the same estimate on pre-programme data only, with a fake start
        halfway through the pre-period. A real programme effect cannot show up there, so a
        significant placebo estimate means the groups were drifting apart anyway."""
        import statsmodels.api as sm

        self.placebo_estimate_ = self.placebo_p_value_ = np.nan
        pre = d[d[period_col] < start].copy()
        periods = sorted(pre[period_col].unique())
        if len(periods) < 4:
            return
        fake = periods[len(periods) // 2]
        pre["fake"] = pre["treated"] * (pre[period_col] >= fake).astype(float)
        dums = pd.get_dummies(pre[period_col].rank(method="dense").astype(int), prefix="q", dtype=float).iloc[:, 1:]
        pcols = list(dums.columns)
        pre = pd.concat([pre.reset_index(drop=True), dums.reset_index(drop=True)], axis=1)
        X = self._within(pre, ["fake"] + pcols, account_col)
        y = self._within(pre, ["y"], account_col)["y"]
        groups = pre[account_col].astype("category").cat.codes.to_numpy()
        if X["fake"].abs().sum() < 1e-12:
            return
        res = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": groups})
        self.placebo_estimate_ = float(res.params["fake"])
        self.placebo_p_value_ = float(res.pvalues["fake"])

    def _sentence(self) -> str:
        lvl = f"{self.confidence:.0%}"
        start = pd.Timestamp(self.programme_start).strftime("%-d %B %Y")
        est = f"{self.uplift_:+.1%}"
        ci = f"{self.uplift_ci_low_:+.1%} to {self.uplift_ci_high_:+.1%}"
        tr = f"the {self.n_treated_} programme accounts"
        co = f"{self.n_control_} comparable accounts outside the programme"
        if self.ci_low_ > 0:
            head = (f"Since the programme started on {start}, {tr} have grown their revenue per active period by "
                    f"an estimated {self.uplift_:.1%} more than {co} (range {ci}, {lvl} confidence)")
        elif self.ci_high_ < 0:
            head = (f"Since the programme started on {start}, {tr} have done worse than {co}: revenue per active "
                    f"period is an estimated {est} lower (range {ci}, {lvl} confidence)")
        else:
            head = (f"Since the programme started on {start}, there is no measurable difference in revenue per "
                    f"active period between {tr} and {co}: the estimate is {est} but the {lvl} range ({ci}) "
                    "includes zero")
        diverging = any(np.isfinite(v) and v < self.pretrend_alpha
                        for v in (self.pretrend_p_value_, self.placebo_p_value_))
        if diverging:
            tail = ("; caution: the two groups were already diverging before the programme, so part of this "
                    "difference may not be the programme's doing.")
        else:
            tail = "; before the programme both groups moved in parallel, which supports the comparison."
        return head + tail

    def summary(self) -> pd.DataFrame:
        """One-row ``programme_impact`` table (estimates on the log scale and as uplift)."""
        return pd.DataFrame([{
            "supported": bool(self.supported_), "estimate": self.estimate_, "ci_low": self.ci_low_,
            "ci_high": self.ci_high_, "p_value": self.p_value_, "uplift": self.uplift_,
            "uplift_ci_low": self.uplift_ci_low_, "uplift_ci_high": self.uplift_ci_high_,
            "confidence": self.confidence, "pretrend_p_value": self.pretrend_p_value_,
            "placebo_estimate": self.placebo_estimate_, "placebo_p_value": self.placebo_p_value_,
            "parallel_trends": (bool(self.pretrend_p_value_ >= self.pretrend_alpha)
                                if np.isfinite(self.pretrend_p_value_) else None),
            "n_treated": self.n_treated_, "n_control": self.n_control_, "n_obs": self.n_obs_,
            "n_pre_periods": self.n_pre_periods_, "n_post_periods": self.n_post_periods_,
            "programme_start": pd.Timestamp(self.programme_start) if self.programme_start else pd.NaT,
            "sentence": self.sentence_, "reason": self.reason_}])


# --------------------------------------------------------------------------- migration
def compute_segment_migration(baseline: pd.DataFrame, current: pd.DataFrame, *, segment_col: str = "quadrant",
                              account_col: str = "account_id", revenue_col: str = "revenue_12m",
                              baseline_revenue: pd.DataFrame | None = None,
                              current_revenue: pd.DataFrame | None = None,
                              new_label: str = "New since baseline", gone_label: str = "No longer segmented",
                              order: list[str] | None = None) -> pd.DataFrame:
    """Transition matrix of accounts between the baseline and the current segmentation.

    Accounts present only now are ``new_label`` at baseline; accounts present only at
    baseline are ``gone_label`` now. Revenue is each account's ``revenue_col`` from
    ``baseline_revenue`` / ``current_revenue`` (frames with ``account_col, revenue_col``);
    missing revenue counts as 0.

    Returns
    -------
    DataFrame
        ``from_segment, to_segment, accounts, revenue`` (current revenue of the moved
        accounts), ``revenue_baseline``, ``revenue_change`` (= revenue - revenue_baseline),
        ``share_of_from`` (accounts / accounts in ``from_segment``), ``moved`` (from != to);
        every from x to pair of the segments seen, zeros included, in ``order``.
    """
    b = baseline[[account_col, segment_col]].rename(columns={segment_col: "from_segment"})
    c = current[[account_col, segment_col]].rename(columns={segment_col: "to_segment"})
    m = b.merge(c, on=account_col, how="outer")
    m["from_segment"] = m["from_segment"].astype(object).where(m["from_segment"].notna(), new_label)
    m["to_segment"] = m["to_segment"].astype(object).where(m["to_segment"].notna(), gone_label)
    m["from_segment"] = m["from_segment"].astype(str)
    m["to_segment"] = m["to_segment"].astype(str)
    for frame, name in ((current_revenue, "revenue"), (baseline_revenue, "revenue_baseline")):
        if frame is not None:
            m = m.merge(frame[[account_col, revenue_col]].rename(columns={revenue_col: name}), on=account_col,
                        how="left")
        else:
            m[name] = 0.0
        m[name] = m[name].fillna(0.0).astype(float)
    seen = list(dict.fromkeys([*(order or []), *sorted(set(m["from_segment"]) | set(m["to_segment"]))]))
    froms = [s for s in seen if s in set(m["from_segment"]) or (s in (order or []) and s != gone_label)]
    tos = [s for s in seen if s in set(m["to_segment"]) or (s in (order or []) and s != new_label)]
    g = m.groupby(["from_segment", "to_segment"]).agg(accounts=(account_col, "size"), revenue=("revenue", "sum"),
                                                      revenue_baseline=("revenue_baseline", "sum"))
    full = pd.MultiIndex.from_product([froms, tos], names=["from_segment", "to_segment"])
    g = g.reindex(full, fill_value=0).reset_index()
    g["accounts"] = g["accounts"].astype("int64")
    g["revenue_change"] = g["revenue"] - g["revenue_baseline"]
    tot = g.groupby("from_segment")["accounts"].transform("sum")
    g["share_of_from"] = g["accounts"] / tot.where(tot > 0)
    g["moved"] = g["from_segment"] != g["to_segment"]
    return g


def compute_key_status_changes(baseline: pd.DataFrame, current: pd.DataFrame, *, key_col: str = "is_key",
                               segment_col: str = "quadrant", account_col: str = "account_id",
                               baseline_revenue: pd.DataFrame | None = None,
                               current_revenue: pd.DataFrame | None = None,
                               revenue_col: str = "revenue_12m") -> pd.DataFrame:
    """Accounts whose key status changed between the baseline and now.

    Returns
    -------
    DataFrame
        ``account_id, change`` ("fell out of key status" / "became key"),
        ``baseline_segment, current_segment, revenue_baseline, revenue_current``,
        sorted by baseline revenue (largest losses first).
    """
    cols = [account_col, key_col] + ([segment_col] if segment_col in baseline else [])
    b = baseline[cols].rename(columns={key_col: "baseline_key", segment_col: "baseline_segment"})
    cols = [account_col, key_col] + ([segment_col] if segment_col in current else [])
    c = current[cols].rename(columns={key_col: "current_key", segment_col: "current_segment"})
    m = b.merge(c, on=account_col, how="outer")
    m["baseline_key"] = m["baseline_key"].astype("boolean").fillna(False).astype(bool)
    m["current_key"] = m["current_key"].astype("boolean").fillna(False).astype(bool)
    m = m[m["baseline_key"] != m["current_key"]].copy()
    m["change"] = np.where(m["baseline_key"], "fell out of key status", "became key")
    for frame, name in ((baseline_revenue, "revenue_baseline"), (current_revenue, "revenue_current")):
        if frame is not None:
            m = m.merge(frame[[account_col, revenue_col]].rename(columns={revenue_col: name}), on=account_col,
                        how="left")
        else:
            m[name] = np.nan
    for c_ in ("baseline_segment", "current_segment"):
        if c_ not in m:
            m[c_] = None
    m = m.sort_values(["change", "revenue_baseline", account_col], ascending=[False, False, True], kind="stable")
    return m[[account_col, "change", "baseline_segment", "current_segment", "revenue_baseline",
              "revenue_current"]].reset_index(drop=True)


# --------------------------------------------------------------------------- recommendation rules
#: how KPI names read in recommendation text
KPI_NAMES = {"nps": "NPS", "revenue_growth_yoy": "year-on-year revenue growth", "retention_rate": "retention",
             "average_order_value": "average order value", "repeat_purchase_rate": "repeat purchase",
             "revenue_12m": "revenue", "churn_rate": "churn"}


def _money(v: float, currency: str) -> str:
    sym = {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency, currency + " ")
    return f"{sym}{v:,.0f}"


def _fmt_kpi(v: float, kpi: str) -> str:
    if not np.isfinite(v):
        return "n/a"
    if "rate" in kpi or "growth" in kpi or "share" in kpi:
        return f"{v:.1%}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.1f}"


#: what a recommendation's ``value`` measures (the ``value_basis`` column); values of different
#: bases are never added up
VALUE_BASIS = {
    "risk": "revenue at risk of churn",
    "uplift": "revenue uplift if the KPI reached target",
    "expected": "expected cross-sell value",
    "shortfall": "revenue short of the expected improvement",
}
#: relationship KPIs: missing their target puts the segment's revenue at risk of churn
LOYALTY_KPIS = frozenset({"nps", "nps_revenue_weighted", "csat_top2", "csat_mean", "retention_rate", "churn_rate",
                          "repeat_purchase_rate"})


def _segment_risk(churn_risk: pd.DataFrame | None, segments: pd.DataFrame | None, segment: str, *,
                  segment_col: str, account_col: str) -> float | None:
    """Summed ``revenue_at_risk`` of the segment's accounts, or None when the tables are missing."""
    if (churn_risk is None or segments is None or segment_col not in segments
            or not {account_col, "revenue_at_risk"} <= set(churn_risk.columns)):
        return None
    ids = set(segments.loc[segments[segment_col].astype(str) == segment, account_col].astype(str))
    r = churn_risk[churn_risk[account_col].astype(str).isin(ids)]["revenue_at_risk"].astype(float)
    return float(r[np.isfinite(r)].sum())


def rule_segment_target_gaps(scorecard: pd.DataFrame, segment_revenue: pd.Series, *,
                             churn_risk: pd.DataFrame | None = None, segments: pd.DataFrame | None = None,
                             statuses: Iterable[str] = ("red",), currency: str = "EUR",
                             all_label: str = ALL_ACCOUNTS, segment_col: str = "quadrant",
                             account_col: str = "account_id") -> pd.DataFrame:
    """Segments missing a KPI target, each valued at the money at stake for closing that gap.

    Fires for every segment x KPI of the scorecard with ``status_basis == "target"`` and a
    status in ``statuses``. ``value`` and ``value_basis`` (``R`` = the segment's
    trailing-12-month revenue, ``segment_revenue``):

    * relationship KPIs (:data:`LOYALTY_KPIS`: NPS, CSAT, retention, churn, repeat purchase)
      — "revenue at risk of churn": with ``churn_risk`` and ``segments``, the summed
      ``revenue_at_risk`` (churn probability x revenue) of the segment's accounts; else
      ``R x max(r* - r, 0)``, the segment's retention ``r`` short of the retention target
      ``r*`` (of the all-accounts retention without a target) in points — what the segment
      loses in a year beyond the retention it should have;
    * growth KPIs (already relative) — "revenue uplift": ``R x (target - current)``;
    * other KPIs (average order value, revenue, counts) — "revenue uplift":
      ``R x |target - current| / |current|``, the revenue gained if the KPI reached target
      at today's volume (e.g. the same orders at the target order value).

    A value is never the whole segment revenue by construction, and values of different
    bases are not comparable sums: the deliverables show each with its basis.
    """
    statuses = set(statuses)
    rows = []
    sc = scorecard[(scorecard["status_basis"] == "target") & scorecard["status"].isin(statuses)
                   & (scorecard["segment"] != all_label)]
    ret = scorecard[scorecard["kpi"] == "retention_rate"]
    ret_all = ret.loc[ret["segment"] == all_label, "value"]
    for r in sc.itertuples(index=False):
        rev = float(segment_revenue.get(r.segment, np.nan))
        if not np.isfinite(rev):
            continue
        label = KPI_NAMES.get(r.kpi, r.kpi.replace("_", " "))
        extra = ""
        if r.kpi in LOYALTY_KPIS:
            basis = VALUE_BASIS["risk"]
            risk = _segment_risk(churn_risk, segments, r.segment, segment_col=segment_col, account_col=account_col)
            if risk is not None:
                value = risk
                extra = f"; churn_risk: revenue at risk in the segment {_money(value, currency)}"
            else:
                seg_ret = ret[ret["segment"] == r.segment]
                if seg_ret.empty or not np.isfinite(seg_ret["value"].iloc[0]):
                    continue
                cur_ret = float(seg_ret["value"].iloc[0])
                tgt = float(seg_ret["target"].iloc[0]) if np.isfinite(seg_ret["target"].iloc[0]) else (
                    float(ret_all.iloc[0]) if len(ret_all) else np.nan)
                if not np.isfinite(tgt):
                    continue
                value = rev * max(tgt - cur_ret, 0.0)
                extra = (f"; retention {cur_ret:.1%} vs {tgt:.1%}: revenue at risk {_money(value, currency)}")
        elif "growth" in r.kpi:
            basis, value = VALUE_BASIS["uplift"], rev * abs(r.target - r.value)
            extra = f"; revenue at target growth {_money(value, currency)} higher"
        else:
            if not r.value:
                continue
            basis, value = VALUE_BASIS["uplift"], rev * abs(r.target - r.value) / abs(r.value)
            extra = f"; at today's volume, {_money(value, currency)} more revenue at target"
        if not np.isfinite(value):
            continue
        rows.append({"rule": "segment_target_gap", "segment": r.segment,
                     "recommendation": f"Lift {label} in the {r.segment} segment to target: put the playbook's "
                                       f"{label} levers on the next business-review agenda",
                     "evidence": f"kpi_scorecard: {r.segment} {label} = {_fmt_kpi(r.value, r.kpi)} vs target "
                                 f"{_fmt_kpi(r.target, r.kpi)} (status {r.status}); segment revenue (12m) "
                                 f"{_money(rev, currency)}{extra}",
                     "value": float(value), "value_basis": basis})
    return pd.DataFrame(rows, columns=[c for c in _REC_COLUMNS if c != "rank"])


def _blank_or_label(values: pd.Series, labels: set[str]) -> pd.Series:
    """True where a manager field is empty or one of ``labels`` (case-insensitive)."""
    v = values.astype(object).where(values.notna(), "").astype(str).str.strip().str.lower()
    return (v == "") | v.isin(labels)


def rule_uncovered_risk(churn_risk: pd.DataFrame, accounts: pd.DataFrame | None, *,
                        high_bands: Iterable[str] = ("high",), no_coverage: Iterable[str] = (),
                        coverage_plan: pd.DataFrame | None = None, names: pd.Series | None = None,
                        currency: str = "EUR", manager_col: str = "account_manager",
                        plan_manager_col: str = "assigned_manager", covered_col: str = "covered",
                        account_col: str = "account_id", max_named: int = 3) -> pd.DataFrame:
    """High-risk accounts without a dedicated account manager.

    Coverage comes from the strategy phase's ``coverage_plan`` when given: an account in
    the plan is uncovered when the plan leaves it uncovered (``covered_col`` False; without
    that column, when its ``plan_manager_col`` is empty or one of ``no_coverage``) —
    accounts the plan serves digitally count as covered, as in the plan. Accounts not in
    the plan (or without a plan) fall back to today's ``manager_col`` of ``accounts``:
    uncovered when empty or one of ``no_coverage`` (case-insensitive, e.g. "Digital desk").
    Fires once when at least one account in a ``high_bands`` risk band is uncovered;
    value = their summed ``revenue_at_risk`` (churn probability x trailing revenue);
    ``value_basis`` "revenue at risk of churn".
    """
    cols = [c for c in _REC_COLUMNS if c != "rank"]
    has_plan = coverage_plan is not None and ({covered_col, plan_manager_col} & set(coverage_plan.columns))
    has_mgr = accounts is not None and manager_col in accounts
    if not has_plan and not has_mgr:
        return pd.DataFrame(columns=cols)
    bands = {b.lower() for b in high_bands}
    labels = {s.strip().lower() for s in no_coverage}
    m = churn_risk[churn_risk["risk_band"].astype(str).str.lower().isin(bands)].copy()
    m["_id"] = m[account_col].astype(str)
    uncovered = pd.Series(pd.NA, index=m.index, dtype="boolean")
    if has_plan:
        plan = coverage_plan.assign(_id=coverage_plan[account_col].astype(str)).drop_duplicates("_id")
        plan = plan.set_index("_id")
        if covered_col in plan:
            by_plan = ~plan[covered_col].astype("boolean").fillna(False)
        else:
            by_plan = _blank_or_label(plan[plan_manager_col], labels)
        uncovered = m["_id"].map(by_plan).astype("boolean")
    if has_mgr:
        acc = accounts.assign(_id=accounts[account_col].astype(str)).drop_duplicates("_id").set_index("_id")
        by_mgr = m["_id"].map(_blank_or_label(acc[manager_col], labels)).astype("boolean").fillna(True)
        uncovered = uncovered.fillna(by_mgr)
    m = m[uncovered.fillna(False).astype(bool)]
    m = m[m["revenue_at_risk"].fillna(0) > 0]
    if m.empty:
        return pd.DataFrame(columns=cols)
    m = m.sort_values(["revenue_at_risk", account_col], ascending=[False, True])
    total = float(m["revenue_at_risk"].sum())
    top = m.head(max_named)[account_col].astype(str)
    shown = [str(names.get(a, a)) if names is not None else a for a in top]
    more = f" and {len(m) - len(shown)} more" if len(m) > len(shown) else ""
    source = "churn_risk, coverage_plan" if has_plan else "churn_risk"
    why = "the coverage plan leaves without a manager" if has_plan else "with no dedicated manager"
    return pd.DataFrame([{
        "rule": "uncovered_high_risk", "segment": "",
        "recommendation": f"Assign an account manager to the {len(m)} high-churn-risk account(s) without one, "
                          f"starting with {', '.join(shown)}{more}",
        "evidence": f"{source}: {len(m)} account(s) in risk band {'/'.join(sorted(bands))} {why}; "
                    f"revenue at risk {_money(total, currency)}",
        "value": total, "value_basis": VALUE_BASIS["risk"]}], columns=cols)


def rule_whitespace(whitespace: pd.DataFrame, *, top_n: int = 20, currency: str = "EUR",
                    account_col: str = "account_id") -> pd.DataFrame:
    """The largest cross-sell whitespace.

    Fires when ``whitespace`` has opportunities with positive ``expected_value``; value =
    the summed expected value (probability x potential) of the ``top_n`` largest,
    ``value_basis`` "expected cross-sell value"; the text names the category with the most
    of that value.
    """
    cols = [c for c in _REC_COLUMNS if c != "rank"]
    w = whitespace[whitespace["expected_value"].fillna(0) > 0]
    if w.empty:
        return pd.DataFrame(columns=cols)
    top = w.sort_values(["expected_value", account_col], ascending=[False, True]).head(top_n)
    total = float(top["expected_value"].sum())
    by_cat = top.groupby("category")["expected_value"].sum().sort_values(ascending=False)
    cat = str(by_cat.index[0])
    return pd.DataFrame([{
        "rule": "whitespace", "segment": "",
        "recommendation": f"Run a cross-sell push on the {len(top)} largest whitespace opportunities, led by "
                          f"{cat} ({_money(float(by_cat.iloc[0]), currency)} of the total)",
        "evidence": f"whitespace: top {len(top)} of {len(w)} opportunities, expected value "
                    f"{_money(total, currency)}",
        "value": total, "value_basis": VALUE_BASIS["expected"]}], columns=cols)


def rule_stalled_playbooks(scorecard: pd.DataFrame, playbook_segments: Iterable[str], *,
                           kpi: str = "revenue_12m", min_improvement: float = 0.0, currency: str = "EUR",
                           source: str = "playbook_cohorts") -> pd.DataFrame:
    """Playbooks whose segment did not improve since the baseline.

    Fires for each playbook segment whose ``kpi`` (default trailing-12-month revenue) changed
    by no more than ``min_improvement`` (relative) between baseline and now; value = the
    revenue lost (baseline - current, at least 0) plus the improvement that was expected
    (``min_improvement`` x baseline); ``value_basis`` "revenue short of the expected
    improvement".
    """
    cols = [c for c in _REC_COLUMNS if c != "rank"]
    sc = scorecard[(scorecard["kpi"] == kpi) & scorecard["segment"].isin(set(map(str, playbook_segments)))]
    rows = []
    for r in sc.itertuples(index=False):
        if not (np.isfinite(r.baseline) and np.isfinite(r.value)) or r.baseline <= 0:
            continue
        change = r.value / r.baseline - 1
        if change > min_improvement:
            continue
        value = max(r.baseline - r.value, 0.0) + min_improvement * r.baseline
        rows.append({"rule": "stalled_playbook", "segment": r.segment,
                     "recommendation": f"Revisit the {r.segment} playbook: the segment has not grown since the "
                                       "baseline; check cadence, offer and coverage against the plan",
                     "evidence": f"{source}: {r.segment} {kpi.replace('_', ' ')} {_money(r.value, currency)} "
                                 f"vs {_money(r.baseline, currency)} at baseline ({change:+.1%})",
                     "value": float(value), "value_basis": VALUE_BASIS["shortfall"]})
    return pd.DataFrame(rows, columns=cols)


def compute_recommendations(*rule_outputs: pd.DataFrame, top_n: int | None = None) -> pd.DataFrame:
    """All rules' recommendations ranked by value (largest first): ``rank, rule, recommendation,
    evidence, value, value_basis, segment``.

    Ranking by value orders the actions by money at stake; the values are of different
    bases (``value_basis``) and are never summed."""
    frames = [f for f in rule_outputs if f is not None and len(f)]
    if not frames:
        return pd.DataFrame(columns=_REC_COLUMNS)
    df = pd.concat(frames, ignore_index=True)
    if "value_basis" not in df:
        df["value_basis"] = ""
    df["value_basis"] = df["value_basis"].fillna("")
    df = df[np.isfinite(df["value"].astype(float))]
    df = df.sort_values(["value", "rule", "segment"], ascending=[False, True, True], kind="stable")
    if top_n:
        df = df.head(top_n)
    df.insert(0, "rank", range(1, len(df) + 1))
    return df[_REC_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------- run helpers
def read_optional(run, name: str) -> pd.DataFrame | None:
    """A run table, or None when the phase that writes it has not (yet) produced it."""
    return run.read_table(name) if run.has_table(name) else None


def compute_baseline_segments(baseline_summary: pd.DataFrame, *, params) -> pd.DataFrame:
    """The segmentation as it stood at the baseline date.

    Applies the segmentation module's portfolio matrix and value tiers (the same functions
    and parameters as the current segmentation) to the account summary at the baseline
    date, so a move between segments reflects the account, not a change of method.
    Returns ``account_id, quadrant, is_key, tier, revenue_12m`` (+ matrix axes). When no
    account had bought by the baseline date (a history shorter than the review window)
    there is nothing to segment: the frame is empty with those columns, so every current
    account reads as new since the baseline.
    """
    from . import segmentation

    seg = params.segmentation
    if baseline_summary.empty:
        return pd.DataFrame({"account_id": pd.Series(dtype="object"), "quadrant": pd.Series(dtype="object"),
                             "is_key": pd.Series(dtype="bool"), "tier": pd.Series(dtype="object"),
                             "revenue_12m": pd.Series(dtype="float64")})
    quad = segmentation.compute_portfolio_quadrants(baseline_summary, names=seg.quadrant_names,
                                                    key_account_share=seg.key_account_share, seg=seg)
    tiers = segmentation.compute_value_tiers(baseline_summary, tiers=seg.tiers)
    out = quad.merge(tiers, on="account_id", how="left")
    out["tier"] = out["tier"].astype(str)
    return out


def playbook_segment_column(segments: pd.DataFrame, playbook_segments: Iterable[str]) -> str | None:
    """The column of ``segments`` whose values name the playbooks' segments (most matches wins)."""
    wanted = {str(s) for s in playbook_segments}
    best, hits = None, 0
    for c in segments.columns:
        if c == "account_id" or not (segments[c].dtype == object or str(segments[c].dtype) in {"category", "string",
                                                                                              "str"}):
            continue
        n = len(wanted & set(segments[c].dropna().astype(str)))
        if n > hits:
            best, hits = c, n
    return best


def programme_impact_from_params(account_period: pd.DataFrame, accounts: pd.DataFrame, *, params
                                 ) -> ProgrammeImpact:
    """:class:`ProgrammeImpact` configured from the run's params (``review.did_*``) and fitted."""
    r = params.review
    return ProgrammeImpact(programme_start=params.analysis.programme_start, period=params.analysis.period,
                           confidence=params.thresholds.confidence, control_ratio=r.did_control_ratio,
                           min_accounts=r.did_min_accounts, min_pre_periods=r.did_min_pre_periods,
                           min_post_periods=r.did_min_post_periods, drop_edge_periods=r.did_drop_edge_periods,
                           match_window_share=r.did_match_window_share).fit(account_period, accounts)


#: the KPIs put on control charts: (kpi, chart kind)
SPC_KPIS = (("revenue", "individuals"), ("average_order_value", "individuals"), ("period_retention_rate", "p"))


def compute_spc_set(tracking: pd.DataFrame, *, segment: str = ALL_ACCOUNTS, min_baseline: int = 6,
                    run_length: int = 8, kpis: Iterable[tuple[str, str]] = SPC_KPIS) -> pd.DataFrame:
    """Control charts (:func:`compute_spc`) for the main KPIs of one segment of ``kpi_tracking``.

    Limits come from the pre-programme periods (``post_programme`` False). Returns the
    :func:`compute_spc` columns plus ``kpi`` and ``chart`` (individuals / p).
    """
    out = []
    for kpi, kind in kpis:
        s = tracking[(tracking["segment"] == segment) & (tracking["kpi"] == kpi)].sort_values("period_start")
        if s.empty:
            continue
        r = compute_spc(s, kind=kind, baseline_mask=~s["post_programme"].astype(bool).to_numpy(),
                        min_baseline=min_baseline, run_length=run_length)
        r.insert(0, "kpi", kpi)
        r.insert(1, "chart", kind)
        out.append(r)
    cols = ["kpi", "chart", "period_start", "value", "n", "center", "ucl", "lcl", "signal", "rule", "limits_from"]
    if not out:
        return pd.DataFrame(columns=cols)
    return pd.concat(out, ignore_index=True).reindex(columns=cols)


def compute_playbook_cohorts(run, *, base_segments: pd.DataFrame, account_kpis: pd.DataFrame,
                             baseline_kpis: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """How each playbook segment's accounts (its members at the baseline) developed since.

    The playbook segments come from ``segment_playbook``; the baseline segmentation column
    holding those names is found with :func:`playbook_segment_column`. Cohorts follow the
    same accounts, so a segment's result is not flattered or hurt by accounts moving in or
    out of it: each segment's KPIs now (``account_kpis``) and at the baseline
    (``baseline_kpis``, :func:`kam_analysis.metrics.kpis.compute_account_kpis_as_of`) are the KPI
    engine's on the same baseline members. Returns (scorecard in
    :func:`compute_segment_scorecard` form, note) — the frame is None, with the reason in
    the note, when the run lacks what it needs.
    """
    playbook = read_optional(run, "segment_playbook")
    if playbook is None or "segment" not in playbook:
        return None, "stalled-playbook rule skipped: the run has no segment_playbook table"
    col = playbook_segment_column(base_segments, playbook["segment"].astype(str))
    if col is None:
        return None, ("stalled-playbook rule skipped: no baseline segmentation column matches the playbook "
                      f"segments ({', '.join(map(str, playbook['segment']))})")
    t = run.params.thresholds
    sc = compute_segment_scorecard(account_kpis, base_segments, targets={}, amber=t.rag.amber, red=t.rag.red,
                                   baseline_kpis=baseline_kpis, segment_col=col, confidence=t.confidence,
                                   min_denominator=t.min_denominator, survey_coverage_min=t.survey_coverage_min)
    sc = sc[sc["segment"].isin(set(playbook["segment"].astype(str)))].reset_index(drop=True)
    return sc, f"playbook cohorts by baseline {col}"


def compute_run_recommendations(run, *, scorecard: pd.DataFrame, cohorts: pd.DataFrame | None,
                                accounts: pd.DataFrame | None) -> tuple[pd.DataFrame, list[str]]:
    """Apply every recommendation rule to the run's tables; return (ranked table, notes on skipped rules).

    Rules run only when their input table exists (``churn_risk``, ``whitespace`` and
    ``coverage_plan`` come from the strategy phase); a skipped rule is named in the notes,
    never guessed. ``accounts`` carries today's ``account_manager`` (the ``account_kpis``
    table does), the fallback where the run has no coverage plan.
    """
    p = run.params
    rv, cur = p.review, p.client.currency
    notes: list[str] = []
    seg_rev = scorecard[scorecard["kpi"] == "revenue_12m"].set_index("segment")["value"]
    risk = read_optional(run, "churn_risk")
    segs = read_optional(run, "segments")
    seg_col = rv.segment_column if segs is not None and rv.segment_column in segs else "quadrant"
    if risk is not None and not {"account_id", "revenue_at_risk"} <= set(risk.columns):
        risk = None
    no_scores = risk is not None and risk.empty
    if no_scores:  # the churn model was not supported by the data: no revenue at risk to cite, not zero
        risk = None
        notes.append("churn-risk evidence and the uncovered-risk rule skipped: the churn_risk table has no scored "
                     "account (the data did not support the churn model; see churn_model_status)")
    outputs = [rule_segment_target_gaps(scorecard, seg_rev, churn_risk=risk, segments=segs, segment_col=seg_col,
                                        statuses=rv.recommend_on_status, currency=cur)]
    plan = read_optional(run, "coverage_plan")
    if plan is not None and not {"covered", "assigned_manager"} & set(plan.columns):
        plan = None
    if no_scores:
        pass
    elif risk is None or not {"risk_band", "revenue_at_risk"} <= set(risk.columns):
        notes.append("uncovered-risk rule skipped: the run has no churn_risk table with risk_band and "
                     "revenue_at_risk")
    elif plan is None and (accounts is None or "account_manager" not in accounts):
        notes.append("uncovered-risk rule skipped: no coverage_plan table and the accounts data has no "
                     "account_manager column")
    else:
        if plan is None:
            notes.append("uncovered-risk rule: no coverage_plan table, coverage read from today's account_manager")
        outputs.append(rule_uncovered_risk(risk, accounts, high_bands=rv.high_risk_bands, coverage_plan=plan,
                                           no_coverage=rv.no_coverage_labels, names=run.account_display_names(),
                                           currency=cur))
    ws = read_optional(run, "whitespace")
    if ws is None or not {"category", "expected_value"} <= set(ws.columns):
        notes.append("whitespace rule skipped: the run has no whitespace table with category and expected_value")
    else:
        outputs.append(rule_whitespace(ws, top_n=rv.whitespace_top_n, currency=cur))
    if cohorts is None:
        notes.append("stalled-playbook rule skipped: no playbook cohorts (see above)")
    else:
        outputs.append(rule_stalled_playbooks(cohorts, cohorts["segment"].unique(),
                                              min_improvement=rv.playbook_min_improvement, currency=cur))
    return compute_recommendations(*outputs, top_n=rv.max_recommendations), notes
