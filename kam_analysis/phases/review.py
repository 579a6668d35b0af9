"""Review: KPI tracking against target and baseline, the segment scorecard, SPC and programme impact.

Phase 5 answers *is the programme working*: KPIs against target and the pre-programme
baseline, by period and by segment, control charts (:mod:`kam_analysis.models.spc`) and
the difference-in-differences estimate of the programme's effect
(:mod:`kam_analysis.models.impact`). *What should change* lives beside it:
:mod:`kam_analysis.phases.migration` (the baseline segmentation and how accounts moved)
and :mod:`kam_analysis.phases.recommendations` (the ranked actions).

Every KPI value here comes from the KPI engine (:mod:`kam_analysis.metrics`): today's from
the assessment's ``account_kpis`` / ``kpi_headline`` tables, the baseline's from the same
engine as of the baseline date (:func:`kam_analysis.metrics.compute_account_kpis_as_of`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .assessment import rag_status
from ..metrics import (ALL_ACCOUNTS_ONLY_KPIS, too_small_to_rate, OrderSource, change_vs_baseline, compute_headline_kpis,
                       compute_period_retention, higher_is_better, target_applies_to_segment)
from ..models.impact import ProgrammeImpact, period_offset
from ..models.spc import compute_spc

__all__ = [
    "SCORECARD_KPIS",
    "ALL_ACCOUNTS",
    "trend_direction",
    "compute_kpi_vs_target",
    "compute_period_segment_kpis",
    "compute_kpi_tracking",
    "compute_segment_scorecard",
    "baseline_date",
    "playbook_segment_column",
    "programme_impact_from_params",
    "compute_spc_set",
    "compute_playbook_cohorts",
    "tracked_segments",
]

ALL_ACCOUNTS = "All accounts"
#: KPIs of the segment scorecard (KPIs with a target are always added). Churn is left out by
#: default: it is 1 - retention, and a second colour for the same fact would confuse.
SCORECARD_KPIS = ("revenue_12m", "revenue_growth_yoy", "active_accounts", "retention_rate",
                  "average_order_value", "repeat_purchase_rate", "nps")


def tracked_segments(segments: pd.DataFrame, segment_col: str, capability) -> pd.DataFrame:
    """The segments the review tracks KPIs by: ``segments`` as they are, or without
    ``segment_col`` when it is the portfolio quadrant and the base is too small for the matrix
    (quadrants of one or two accounts mean nothing), so the scorecard and the KPI tracking
    hold the "All accounts" rows only and every deliverable follows them."""
    if segment_col == "quadrant" and segment_col in segments and not capability.supported("portfolio_matrix"):
        return segments.drop(columns=[segment_col])
    return segments


# --------------------------------------------------------------------------- status and trend
def trend_direction(values: Iterable[float], *, window: int, flat_band: float,
                    lower_is_better: bool = False) -> str:
    """Direction of a KPI: the mean of the last ``window`` values against the ``window`` before.

    change = mean(last window) / mean(previous window) - 1 when the previous mean is
    positive, else the absolute difference (a growth rate going from -20% to -80% is
    "down": the ratio of two negative means would read it as a rise); "up" if change > flat_band, "down" if < -flat_band, else "flat";
    "n/a" with fewer than 2 x window finite values. With ``window`` = one year of periods
    the comparison is year on year and so free of seasonality. ``lower_is_better`` does not
    change the direction (a falling churn rate is "down"); it only matters for colour.
    """
    v = pd.Series(list(values), dtype="float64").dropna()
    if window < 1 or len(v) < 2 * window:
        return "n/a"
    last, prev = v.iloc[-window:].mean(), v.iloc[-2 * window:-window].mean()
    change = last / prev - 1 if prev > 0 else last - prev
    if change > flat_band:
        return "up"
    if change < -flat_band:
        return "down"
    return "flat"


def baseline_date(*, as_of: dt.date, programme_start: dt.date | None, configured: dt.date | None = None) -> dt.date:
    """The date the baseline (pre-programme) segmentation and KPIs are measured at.

    ``review.baseline_date`` when set; else the programme start; else one year before as-of.
    """
    if configured is not None:
        return configured
    if programme_start is not None:
        return programme_start
    return (pd.Timestamp(as_of) - pd.DateOffset(years=1)).date()


# --------------------------------------------------------------------------- KPIs vs target
def compute_kpi_vs_target(headline: pd.DataFrame, targets: dict[str, float], *, amber: float,
                          red: float, baseline: pd.DataFrame | None = None) -> pd.DataFrame:
    """KPI, current value, target, gap (current - target) and RAG status, for KPIs with a target.

    ``headline`` is the assessment's ``kpi_headline`` table. With ``baseline`` (the same
    engine at the baseline date: ``metrics.compute_headline_kpis`` of
    ``metrics.compute_account_kpis_as_of(run, baseline_date)``) the frame also has
    ``baseline``, ``vs_baseline`` (:func:`change_vs_baseline`: current - baseline in points
    for share/score KPIs, current / baseline - 1 for currency/count KPIs) and
    ``vs_baseline_kind`` ("points" / "relative"). ``status`` is
    :func:`rag_status` with the KPI's direction from the KPI dictionary — the same call the
    assessment's ``benchmark_gaps`` makes, so both tables give a KPI the same status — or
    ``not rated`` when the headline marks its base too small (:func:`kam_analysis.metrics.too_small_to_rate`).
    """
    cur = headline.set_index("kpi")["value"]
    notes = headline.set_index("kpi")["note"] if "note" in headline else pd.Series(dtype=object)
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
                     "status": ("not rated" if too_small_to_rate(notes.get(kpi)) and np.isfinite(value) else
                                rag_status(value, float(target), amber=amber, red=red,
                                           higher_is_better=higher_is_better(kpi))),
                     "baseline": b, "vs_baseline": float(change), "vs_baseline_kind": kind})
    return pd.DataFrame(rows, columns=["kpi", "label", "unit", "current", "target", "gap", "status", "baseline",
                                       "vs_baseline", "vs_baseline_kind"])


# --------------------------------------------------------------------------- KPIs by period and segment
def compute_period_segment_kpis(account_period: pd.DataFrame, segments: pd.DataFrame | None = None, *,
                                segment_col: str = "quadrant", period: str = "quarter",
                                as_of: dt.date | None = None, account_col: str = "account_id",
                                period_col: str = "period_start", revenue_col: str = "revenue",
                                orders_col: str = "orders", all_label: str = ALL_ACCOUNTS,
                                orders: OrderSource | pd.DataFrame | None = None, churn_days: int = 180
                                ) -> pd.DataFrame:
    """KPIs for every period and segment (and all accounts), in long form.

    Segments are today's (``segments[segment_col]``) applied to the whole history, so a
    segment's trend shows how its *current* members developed. Periods that end after
    ``as_of`` (incomplete) are dropped.

    Formulas (per period *t* and segment)
    -------------------------------------
    * ``revenue`` = sum of net revenue; ``orders`` = orders with positive revenue;
    * ``ordering_accounts`` = accounts with at least one order;
    * ``average_order_value`` = revenue / orders;
    * ``revenue_per_account`` = revenue / ordering_accounts;
    * ``period_retention_rate`` = account retention period on period, the metrics layer's
      rule (:func:`kam_analysis.metrics.compute_period_retention`: accounts active under
      ``churn_days`` the day before *t* still active at its end; ``n`` = that base). Needs
      ``orders`` (the run's orders in the engine, :meth:`OrderSource.from_run
      <kam_analysis.metrics.engine.OrderSource.from_run>`: one row per period
      leaves DuckDB; or a small order frame); without them the KPI is left out. For all
      accounts only (:data:`~kam_analysis.metrics.definitions.ALL_ACCOUNTS_ONLY_KPIS`): the
      segments are today's, drawn from today's active accounts, so a segment's retention
      would read 100% (inactive: 0%) in the latest period by construction and be inflated
      by survivorship before it — an artefact, not a finding;
    * ``revenue_growth_yoy`` = revenue / revenue one year of periods earlier - 1.

    Returns
    -------
    DataFrame
        ``period_start, segment, kpi, value, n`` (``n`` = ordering accounts, or the
        retention denominator).
    """
    order_level = orders
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
    py = 12 // period_offset(period).months  # periods per year
    out = []
    for name, g in groups:
        by = g.groupby(period_col)
        revenue = by[revenue_col].sum().reindex(periods, fill_value=0.0)
        orders = by[orders_col].sum().reindex(periods, fill_value=0).astype(float)
        active = g[g[orders_col] > 0].groupby(period_col)[account_col].nunique().reindex(periods, fill_value=0)
        active = active.astype(float)
        yoy = revenue / revenue.shift(py).replace(0, np.nan) - 1
        kpis = {
            "revenue": (revenue, active),
            "orders": (orders, active),
            "ordering_accounts": (active, active),
            "average_order_value": (revenue / orders.replace(0, np.nan), active),
            "revenue_per_account": (revenue / active.replace(0, np.nan), active),
            "revenue_growth_yoy": (yoy, active),
        }
        for kpi, (vals, n) in kpis.items():
            out.append(pd.DataFrame({"period_start": periods, "segment": name, "kpi": kpi,
                                     "value": vals.to_numpy(dtype=float), "n": n.to_numpy(dtype=float)}))
    if order_level is not None and len(periods):  # all accounts only (see the docstring)
        last_day = periods.max() + period_offset(period) - pd.Timedelta(days=1)
        r = compute_period_retention(order_level, period=period, as_of=as_of or last_day, churn_days=churn_days,
                                     all_label=all_label, account_col=account_col)
        r = r[r["period_start"].isin(periods) & (r["group"].astype(str) == all_label)]
        out.append(pd.DataFrame({"period_start": r["period_start"], "segment": r["group"].astype(str),
                                 "kpi": "period_retention_rate", "value": r["period_retention_rate"].astype(float),
                                 "n": r["base"].astype(float)}))
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
      (:data:`PERIOD_TARGET_KPIS`); for a segment only where the portfolio's target is a
      segment's too (:func:`~kam_analysis.metrics.target_applies_to_segment`: rates and
      scores, not order value);
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
        tgt = (float(targets[kpi]) if kpi in targets and kpi in PERIOD_TARGET_KPIS
               and (_seg == ALL_ACCOUNTS or target_applies_to_segment(kpi)) else np.nan)
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

    Every value comes from the KPI engine: :func:`kam_analysis.metrics.compute_headline_kpis`
    on the rows of ``account_kpis`` (the assessment's ``account_kpis`` table, from
    :func:`kam_analysis.metrics.compute_account_kpis`) of the segment's accounts, so each KPI
    — NPS included (latest response per account in the window, promoters 9-10 minus
    detractors 0-6) — is defined once. ``All accounts`` is the whole frame, so its row
    equals ``kpi_headline``.

    The baseline is the same function on ``baseline_kpis`` (the account KPI frame as of the
    baseline date, :func:`kam_analysis.metrics.compute_account_kpis_as_of`) for the segment's
    members at the baseline (``baseline_segments``); when ``baseline_segments`` is None, for
    today's members — a cohort view: how did these same accounts develop.

    Retention and churn (:data:`~kam_analysis.metrics.definitions.ALL_ACCOUNTS_ONLY_KPIS`)
    have an ``All accounts`` row only: today's segments are drawn from today's active
    accounts, so a segment's retention would read 100% (inactive: 0%) by construction.

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
        against the target when there is one, else against the baseline. A segment row has
        the client's target only where it is a segment's target too
        (:func:`~kam_analysis.metrics.target_applies_to_segment`); ``All accounts`` has every target.
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
            if ids is not None and kpi in ALL_ACCOUNTS_ONLY_KPIS:  # 100% by construction for today's segments
                continue
            value = float(value) if value is not None else np.nan
            b = float(base_k.get(kpi, np.nan))
            t = float(targets.get(kpi, np.nan)) if ids is None or target_applies_to_segment(kpi) else np.nan
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


# --------------------------------------------------------------------------- run helpers
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
    from ..data.readers import return_freed_memory

    r = params.review
    out = ProgrammeImpact(programme_start=params.analysis.programme_start, period=params.analysis.period,
                          confidence=params.thresholds.confidence, control_ratio=r.did_control_ratio,
                          min_accounts=r.did_min_accounts, min_pre_periods=r.did_min_pre_periods,
                          min_post_periods=r.did_min_post_periods, drop_edge_periods=r.did_drop_edge_periods,
                          match_window_share=r.did_match_window_share).fit(account_period, accounts)
    return_freed_memory()  # the fit's working frames (gigabytes at 1 million accounts) go back to the system
    return out


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
    (``baseline_kpis``, :func:`kam_analysis.metrics.compute_account_kpis_as_of`) are the KPI
    engine's on the same baseline members. Returns (scorecard in
    :func:`compute_segment_scorecard` form, note) — the frame is None, with the reason in
    the note, when the run lacks what it needs.
    """
    playbook = run.read_table("segment_playbook", columns=("segment",))
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


