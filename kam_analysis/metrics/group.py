"""KPIs of a group of accounts: headline, by segment, this year against last, survey coverage."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .concentration import compute_concentration_summary
from .definitions import get_kpi, kpi_label
from .key_accounts import in_programme
from .stats import compute_nps, ratio_estimate, t_interval, wilson_interval

__all__ = ["revenue_share", "compute_revenue_shares", "compute_retention_by_group", "compute_group_kpis", "compute_headline_kpis", "compute_segment_kpis", "compute_kpi_comparisons",
           "compute_survey_coverage", "SMALL_BASE", "too_small_to_rate"]

#: how a headline KPI's note marks a base below ``thresholds.min_denominator`` accounts or responses
SMALL_BASE = "small base"


def too_small_to_rate(note) -> bool:
    """Whether a headline KPI rests on too few accounts or responses to carry a red/amber/green
    status (its note marks a :data:`SMALL_BASE`): the scorecards then say "not rated", never a
    colour a handful of accounts decided."""
    return isinstance(note, str) and SMALL_BASE in note


# --------------------------------------------------------------------------- revenue share
def revenue_share(part, total):
    """A group's share of revenue (KPI ``revenue_share``): ``part / total``, where ``total`` is the
    last-12-month revenue of *all* the client's accounts (live and inactive, the headline
    revenue), so the shares of a complete grouping add up to 100%. NaN when the total is not
    positive (a share of no revenue means nothing). Scalars or arrays."""
    p, t = np.asarray(part, dtype="float64"), np.asarray(total, dtype="float64")
    out = np.where(t > 0, p / np.where(t > 0, t, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def compute_revenue_shares(accounts: pd.DataFrame, by: str, *, order: list | None = None,
                           revenue_col: str = "revenue_12m", account_col: str = "account_id") -> pd.DataFrame:
    """Accounts and revenue of each group of ``by``, and their shares: the one definition of a
    segment's (quadrant's, tier's, RFM segment's, cluster's) share of revenue and of accounts.

    ``accounts`` holds one row per account, *every* account of the client (the inactive
    ones too): the denominators are all accounts and all accounts' revenue (the headline
    revenue, :func:`revenue_share`). ``order`` lists the groups to show (kept with 0
    accounts when empty); without it, the groups in the data, sorted.

    Returns
    -------
    DataFrame indexed by group (named ``by``): ``accounts``, ``account_share``,
    ``revenue_12m`` (the group's revenue, under that name whatever ``revenue_col``) and
    ``revenue_share``.
    """
    g = accounts.groupby(by, observed=True).agg(accounts=(account_col, "size"), revenue_12m=(revenue_col, "sum"))
    if order is not None:
        g = g.reindex(order)
    g = g.fillna({"accounts": 0, "revenue_12m": 0.0})
    g["accounts"] = g["accounts"].astype("int64")
    n = len(accounts)
    g["account_share"] = g["accounts"] / n if n else np.nan
    g["revenue_share"] = revenue_share(g["revenue_12m"].to_numpy(), accounts[revenue_col].sum())
    g.index.name = by
    return g[["accounts", "account_share", "revenue_12m", "revenue_share"]]


# rate KPIs: name -> (base mask, success mask) over account_kpis rows
def _retention_masks(a: pd.DataFrame, prev: bool = False) -> tuple[pd.Series, pd.Series]:
    """(base, retained) of the 12-month retention: active 12 months before T, and still active at T
    (``prev``: the same a year earlier, active at T-24m and at T-12m)."""
    start, end = ("active_at_prev_start", "active_at_start") if prev else ("active_at_start", "active")
    base = a[start].fillna(False).astype(bool)
    return base, base & a[end].fillna(False).astype(bool)


#: the rate KPIs with (base, success) masks, and their previous-window twins
_RATE_MASKS = ("retention_rate", "churn_rate", "repeat_purchase_rate", "csat_top2", "survey_coverage",
               "retention_rate_prev", "churn_rate_prev", "repeat_purchase_rate_prev", "csat_top2_prev")


def _rate_mask(a: pd.DataFrame, name: str) -> tuple[pd.Series, pd.Series]:
    """(base, success) of one rate KPI of :data:`_RATE_MASKS` over account_kpis rows.

    One at a time: the group tests ask for one KPI's masks of a group and of the rest of
    the accounts, hundreds of times on a client with many groups."""
    prev = name.endswith("_prev")
    kpi = name[: -len("_prev")] if prev else name
    if kpi in ("retention_rate", "churn_rate"):
        base, kept = _retention_masks(a, prev=prev)
        return (base, kept) if kpi == "retention_rate" else (base, base & ~kept)
    if kpi == "repeat_purchase_rate":
        c = "orders_prev_12m" if prev else "orders_12m"
        return a[c] > 0, a[c] >= 2
    if kpi == "csat_top2":
        c = "csat_prev_12m" if prev else "csat_12m"
        return a[c].notna(), a[c] >= 4
    if name == "survey_coverage":
        ordering = a["orders_12m"] > 0
        return ordering, ordering & a["responded_12m"]
    raise KeyError(name)


def compute_retention_by_group(account_kpis: pd.DataFrame, *, by: str,
                               order: list[str] | None = None) -> pd.DataFrame:
    """The 12-month ``retention_rate`` per group: the headline KPI's own rule and masks.

    For the accounts of each group (``account_kpis[by]``, e.g. a segment merged in):
    ``base`` = accounts active 12 months before the as-of date (``active_at_start``),
    ``retained`` = base accounts active at the as-of date, ``retention_rate`` = retained /
    base (NaN with no base), ``churn_rate`` = 1 - retention_rate, ``retained_revenue_12m``
    = last-12-month revenue of the retained accounts. The all-accounts figure is
    :func:`compute_headline_kpis`' ``retention_rate``; a group's is the same as
    :func:`compute_segment_kpis` gives for it.

    Returns
    -------
    DataFrame
        ``group, accounts, base, retained, churned, retention_rate, churn_rate,
        retained_revenue_12m``, groups in ``order`` first, then sorted.
    """
    a = account_kpis
    base, succ = _retention_masks(a)
    df = pd.DataFrame({"group": a[by].astype(str), "base": base.astype(bool), "retained": succ.astype(bool),
                       "rev": np.where(succ, a["revenue_12m"].fillna(0.0), 0.0)})
    g = df.groupby("group", sort=True)
    out = pd.DataFrame({"accounts": g.size(), "base": g["base"].sum(), "retained": g["retained"].sum(),
                        "retained_revenue_12m": g["rev"].sum()})
    names = [s for s in (order or []) if s in out.index] + [s for s in out.index if s not in (order or [])]
    out = out.reindex(names)
    for c in ("accounts", "base", "retained"):
        out[c] = out[c].astype("int64")
    out["churned"] = out["base"] - out["retained"]
    out["retention_rate"] = out["retained"] / out["base"].where(out["base"] > 0)
    out["churn_rate"] = 1 - out["retention_rate"]
    return out.reset_index(names="group")[["group", "accounts", "base", "retained", "churned", "retention_rate",
                                           "churn_rate", "retained_revenue_12m"]]


def _row(kpi, value, lo=np.nan, hi=np.nan, n=np.nan, note="") -> dict:
    d = get_kpi(kpi)
    return {"kpi": kpi, "label": d.label, "value": float(value) if value is not None else np.nan,
            "unit": d.unit, "ci_low": float(lo), "ci_high": float(hi),
            "n": float(n) if n is not None else np.nan, "note": note}


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def compute_group_kpis(account_kpis: pd.DataFrame, *, confidence: float = 0.95, min_denominator: int = 30,
                       survey_coverage_min: float = 0.3, history_ok: dict | None = None) -> pd.DataFrame:
    """Every account-level KPI for one group of accounts (all accounts, or one segment).

    Parameters
    ----------
    account_kpis : DataFrame
        Rows of :func:`compute_account_kpis` (a subset for a segment).
    confidence : float
        Level of the intervals.
    min_denominator : int
        Rates and means on fewer accounts/responses carry a ``small base`` note.
    survey_coverage_min : float
        NPS/CSAT on a coverage below this carry an ``unreliable`` note.
    history_ok : dict, optional
        ``{"retention": bool, "yoy": bool}``: whether the history supports the
        retention base and the previous window (False -> NaN with the reason).

    Returns
    -------
    DataFrame
        ``kpi, label, value, unit, ci_low, ci_high, n, note`` (formulas: see
        :data:`KPI_DEFINITIONS`).
    """
    a = account_kpis
    history_ok = history_ok or {"retention": True, "yoy": True}
    rows: list[dict] = []
    small = lambda n: f"{SMALL_BASE} (n={int(n)} < {min_denominator})" if n < min_denominator else ""  # noqa: E731
    ordering = a["orders_12m"] > 0
    rev = float(a["revenue_12m"].sum())
    rev_prev = float(a["revenue_prev_12m"].sum())
    orders = int(a["orders_12m"].sum())
    rows.append(_row("revenue_12m", rev, n=int(ordering.sum())))
    if history_ok.get("yoy", True):
        rows.append(_row("revenue_prev_12m", rev_prev, n=int((a["orders_prev_12m"] > 0).sum())))
        g = rev / rev_prev - 1 if rev_prev > 0 else np.nan
        rows.append(_row("revenue_growth_yoy", g, n=int((a["orders_prev_12m"] > 0).sum()),
                         note="" if rev_prev > 0 else "no revenue in the previous 12 months"))
    else:
        note = "history shorter than 24 months before the as-of date"
        rows.append(_row("revenue_prev_12m", np.nan, note=note))
        rows.append(_row("revenue_growth_yoy", np.nan, note=note))
    rows.append(_row("orders_12m", orders, n=int(ordering.sum())))
    rows.append(_row("ordering_accounts_12m", int(ordering.sum()), n=len(a)))
    rows.append(_row("active_accounts", int(a["active"].sum()), n=len(a),
                     note=f"a counted order in the last {a.attrs.get('churn_days', '')} days".replace("  ", " ")))
    rows.append(_row("new_accounts_12m", int(a["is_new_12m"].sum()), n=len(a)))
    for kpi in ("retention_rate", "churn_rate"):
        base, succ = _rate_mask(a, kpi)
        n = int(base.sum())
        if not history_ok.get("retention", True):
            rows.append(_row(kpi, np.nan, n=n, note=f"history too short: needs orders from "
                             f"{a.attrs.get('churn_days', '')} days before T-12m"))
            continue
        k = int(succ.sum())
        lo, hi = wilson_interval(k, n, confidence)
        conv = ("new and reactivated accounts excluded from the base" if kpi == "retention_rate"
                else "share of accounts active 12 months ago that have since churned")
        rows.append(_row(kpi, k / n if n else np.nan, lo, hi, n,
                         _join(conv, small(n), "" if n else "no account active 12 months ago")))
    # value KPIs
    aov, lo, hi, _ = ratio_estimate(a.loc[a["in_book_12m"], "revenue_12m"], a.loc[a["in_book_12m"], "orders_12m"],
                                     confidence)
    rows.append(_row("average_order_value", aov, lo, hi, orders,
                     _join("CI clustered by account", "" if orders else "no orders in the last 12 months")))
    m, lo, hi = t_interval(a.loc[ordering, "orders_12m"], confidence)
    rows.append(_row("orders_per_account", m, lo, hi, int(ordering.sum()), small(int(ordering.sum()))))
    base, succ = _rate_mask(a, "repeat_purchase_rate")
    n, k = int(base.sum()), int(succ.sum())
    lo, hi = wilson_interval(k, n, confidence)
    rows.append(_row("repeat_purchase_rate", k / n if n else np.nan, lo, hi, n, small(n)))
    # margin / profit
    has_margin = a.attrs.get("has_margin", a["gross_margin_12m"].notna().any())
    if has_margin:
        gm = float(a["gross_margin_12m"].sum())
        rows.append(_row("gross_margin_12m", gm, n=int(a["in_book_12m"].sum())))
        rows.append(_row("gross_margin_rate", gm / rev if rev > 0 else np.nan, n=int(a["in_book_12m"].sum())))
        if a.attrs.get("has_cost_to_serve", False):
            book = a["in_book_12m"]
            prof = a.loc[book, "profit_12m"]
            rows.append(_row("profit_12m", float(prof.sum()), n=int(book.sum()),
                             note="gross margin minus annual cost to serve of accounts with an order in W"))
            nb = int(book.sum())
            k = int((prof < 0).sum())
            lo, hi = wilson_interval(k, nb, confidence)
            rows.append(_row("unprofitable_account_share", k / nb if nb else np.nan, lo, hi, nb, small(nb)))
        else:
            note = "not computed: the data has no cost_to_serve (gross margin shown instead)"
            rows.append(_row("profit_12m", np.nan, note=note))
            rows.append(_row("unprofitable_account_share", np.nan, note=note))
    else:
        note = "not computed: the transactions have no gross margin or cost"
        for kpi in ("gross_margin_12m", "gross_margin_rate", "profit_12m", "unprofitable_account_share"):
            rows.append(_row(kpi, np.nan, note=note))
    basis = a.attrs.get("clv_basis", "margin" if has_margin else "revenue")
    m, lo, hi = t_interval(a["clv_historical"], confidence)
    rows.append(_row("clv_historical", m, lo, hi, int(a["clv_historical"].notna().sum()),
                     f"{basis}-based: cumulative {'gross margin' if basis == 'margin' else 'net revenue'} "
                     "per account to the as-of date, undiscounted"))
    # surveys
    has_surveys = a.attrs.get("has_surveys", a["responded_12m"].any())
    base, succ = _rate_mask(a, "survey_coverage")
    n_cov = int(base.sum())
    coverage = succ.sum() / n_cov if n_cov else np.nan
    if not has_surveys:
        note = "not computed: no survey data"
        for kpi in ("nps", "nps_revenue_weighted", "csat_top2", "csat_mean", "survey_coverage"):
            rows.append(_row(kpi, np.nan, note=note))
    else:
        unreliable = (f"unreliable: survey coverage {coverage:.0%} < {survey_coverage_min:.0%}"
                      if np.isfinite(coverage) and coverage < survey_coverage_min else "")
        lo, hi = wilson_interval(int(succ.sum()), n_cov, confidence)
        rows.append(_row("survey_coverage", coverage, lo, hi, n_cov,
                         _join("response rate needs invitation data; coverage shown", unreliable)))
        if a["nps_12m"].notna().any() or a.attrs.get("has_nps", False):
            r = compute_nps(a["nps_12m"], confidence=confidence)
            rows.append(_row("nps", r["value"], r["ci_low"], r["ci_high"], r["n"],
                             _join(small(r["n"]), unreliable, "" if r["n"] else "no NPS responses in W")))
            rw = compute_nps(a["nps_12m"], weights=a["revenue_12m"], confidence=confidence)
            rows.append(_row("nps_revenue_weighted", rw["value"], n=rw["n"],
                             note=_join("weights = revenue_12m", small(rw["n"]), unreliable)))
        else:
            for kpi in ("nps", "nps_revenue_weighted"):
                rows.append(_row(kpi, np.nan, note="not computed: the surveys have no NPS score"))
        if a["csat_12m"].notna().any() or a.attrs.get("has_csat", False):
            base, succ = _rate_mask(a, "csat_top2")
            n, k = int(base.sum()), int(succ.sum())
            lo, hi = wilson_interval(k, n, confidence)
            rows.append(_row("csat_top2", k / n if n else np.nan, lo, hi, n, _join(small(n), unreliable)))
            m, lo, hi = t_interval(a["csat_12m"], confidence)
            rows.append(_row("csat_mean", m, lo, hi, n, _join(small(n), unreliable)))
        else:
            for kpi in ("csat_top2", "csat_mean"):
                rows.append(_row(kpi, np.nan, note="not computed: the surveys have no CSAT score"))
    if "key_account" in a and a["key_account"].notna().any():
        key = pd.Series(in_programme(a).to_numpy(), index=a.index)
        rows.append(_row("key_accounts", int(key.sum()), n=len(a)))
        rows.append(_row("key_account_revenue_share",
                         a.loc[key, "revenue_12m"].sum() / rev if rev > 0 else np.nan, n=int(key.sum())))
    else:
        note = "not computed: the accounts data has no key_account flag"
        rows.append(_row("key_accounts", np.nan, note=note))
        rows.append(_row("key_account_revenue_share", np.nan, note=note))
    return pd.DataFrame(rows)


def compute_headline_kpis(account_kpis: pd.DataFrame, *, confidence: float = 0.95, min_denominator: int = 30,
                          survey_coverage_min: float = 0.3, capability: pd.DataFrame | None = None) -> pd.DataFrame:
    """Headline KPIs at the as-of date: account KPIs, concentration and maturity.

    The group KPIs of all accounts (:func:`compute_group_kpis`), the revenue
    concentration (:func:`compute_concentration_summary`: top10_share, top20_share,
    gini, hhi) and, with a capability self-assessment, ``kam_maturity_score``.
    Whether the history supports the previous window and the retention base is
    decided here from the first order date (``attrs['data_start']``).

    Returns
    -------
    DataFrame
        ``kpi, label, value, unit, ci_low, ci_high, n, note``.
    """
    a = account_kpis
    hist = _history_ok(a)
    out = compute_group_kpis(a, confidence=confidence, min_denominator=min_denominator,
                             survey_coverage_min=survey_coverage_min, history_ok=hist)
    conc = compute_concentration_summary(a["revenue_12m"])
    rows = [_row(r.metric, r.value, n=r.n, note=r.note) for r in conc.itertuples()
            if r.metric in ("top10_share", "top20_share", "gini", "hhi")]
    if capability is not None and len(capability):
        s = pd.to_numeric(capability["score"], errors="coerce").dropna()
        rows.append(_row("kam_maturity_score", s.mean(), n=len(s), note="mean of self-assessed dimension scores"))
    else:
        rows.append(_row("kam_maturity_score", np.nan, note="not computed: no capability self-assessment"))
    return pd.concat([out, pd.DataFrame(rows)], ignore_index=True)


def _dates(a: pd.DataFrame) -> tuple[pd.Timestamp | None, pd.Timestamp | None, int]:
    start, T = a.attrs.get("data_start"), a.attrs.get("as_of")
    return (pd.Timestamp(start) if start else None, pd.Timestamp(T) if T else None,
            int(a.attrs.get("churn_days", 0)))


def _history_ok(a: pd.DataFrame) -> dict:
    """Whether the history supports the retention base at T-12m and the previous window.

    Retention needs the base window ``(T - 12m - churn_days, T - 12m]`` inside the data;
    the previous window needs data from ``T - 24m`` (a month of slack allowed, so an
    extract starting a few days late still counts).
    """
    start, T, cd = _dates(a)
    if start is None or T is None:
        return {"retention": True, "yoy": True}
    return {"retention": start <= T - pd.DateOffset(months=12) - pd.Timedelta(days=cd - 1),
            "yoy": start <= T - pd.DateOffset(months=24) + pd.Timedelta(days=31)}


# --------------------------------------------------------------------------- segments and comparisons
_COMPARED = ("retention_rate", "churn_rate", "repeat_purchase_rate", "csat_top2", "survey_coverage",
             "average_order_value", "orders_per_account", "csat_mean", "nps", "clv_historical")


def _stat(a: pd.DataFrame, kpi: str, confidence: float, prev: bool = False) -> tuple[float, float, int]:
    """(estimate, standard error, n) of a comparable KPI over the accounts in ``a``."""
    sfx = "_prev" if prev else ""
    if f"{kpi}{sfx}" in _RATE_MASKS:
        base, succ = _rate_mask(a, f"{kpi}{sfx}")
        n = int(base.sum())
        if n == 0:
            return np.nan, np.nan, 0
        p = succ.sum() / n
        return float(p), float(np.sqrt(p * (1 - p) / n)), n
    if kpi == "average_order_value":
        r, c = ("revenue_prev_12m", "orders_prev_12m") if prev else ("revenue_12m", "orders_12m")
        m = a[c] > 0 if prev else a["in_book_12m"]
        v, _, _, se = ratio_estimate(a.loc[m, r], a.loc[m, c], confidence)
        return v, se, int(a.loc[m, c].sum())
    if kpi == "orders_per_account":
        c = "orders_prev_12m" if prev else "orders_12m"
        x = a.loc[a[c] > 0, c].astype(float)
    elif kpi == "csat_mean":
        x = a["csat_prev_12m" if prev else "csat_12m"].dropna()
    elif kpi == "clv_historical":
        x = a["clv_historical"].dropna()
    elif kpi == "nps":
        r = compute_nps(a["nps_prev_12m" if prev else "nps_12m"], confidence=confidence)
        return r["value"], r.get("se", np.nan), r["n"]
    else:
        raise KeyError(kpi)
    n = len(x)
    return (float(x.mean()) if n else np.nan, float(x.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan, n)


def _two_sample(kpi: str, a1: pd.DataFrame, a2: pd.DataFrame, confidence: float, prev2: bool = False):
    """p-value of the difference between group 1 and group 2 (proportion z-test for rates,
    Welch t-test for means, z-test on standard errors for AOV and NPS)."""
    if kpi in _RATE_MASKS:
        b1, s1 = _rate_mask(a1, kpi)
        b2, s2 = _rate_mask(a2, f"{kpi}_prev" if prev2 else kpi)
        n1, n2 = int(b1.sum()), int(b2.sum())
        k1, k2 = int(s1.sum()), int(s2.sum())
        if min(n1, n2) == 0 or (k1 + k2 in (0, n1 + n2)):
            return np.nan
        from statsmodels.stats.proportion import proportions_ztest  # imported on first use (about 1 s)
        _, p = proportions_ztest([k1, k2], [n1, n2])
        return float(p)
    v1, se1, n1 = _stat(a1, kpi, confidence)
    v2, se2, n2 = _stat(a2, kpi, confidence, prev=prev2)
    if min(n1, n2) < 2 or not np.isfinite(se1) or not np.isfinite(se2) or se1 + se2 == 0:
        return np.nan
    z = (v1 - v2) / np.sqrt(se1 ** 2 + se2 ** 2)
    from scipy import stats  # imported on first use (about 1 s)
    return float(2 * stats.norm.sf(abs(z)))


def _group_labels(col: pd.Series) -> pd.Series:
    """Group labels of an attribute: booleans (key_account) as Key account / Other, blanks as (missing)."""
    vals = set(col.dropna().unique())
    if vals and vals <= {True, False}:
        col = col.map({True: "Key account", False: "Other"})
    return col.astype("object").where(col.notna(), "(missing)").astype(str)


def compute_segment_kpis(account_kpis: pd.DataFrame, *, dimensions: list[str], confidence: float = 0.95,
                         min_denominator: int = 30, survey_coverage_min: float = 0.3) -> pd.DataFrame:
    """KPIs by group of every account attribute in ``dimensions``, each group tested against the rest.

    For each dimension present in ``account_kpis`` (absent ones are skipped) and each
    group, the KPIs of :func:`compute_group_kpis` plus ``accounts`` and
    ``revenue_share`` (group revenue_12m / total). For the comparable KPIs (rates,
    means, AOV, NPS) ``p_value`` tests the group against all other accounts (two-sample
    proportion z-test for rates, Welch-type z/t test for means and ratios) and
    ``distinguishable`` is ``p_value < 1 - confidence``. ``small_n`` flags groups whose
    denominator is below ``min_denominator``.

    Returns
    -------
    DataFrame
        ``dimension, group, kpi, label, value, unit, ci_low, ci_high, n, p_value,
        distinguishable, small_n, note``.
    """
    a = account_kpis
    alpha = 1 - confidence
    total_rev = a["revenue_12m"].sum()
    frames = []
    for dim in dimensions:
        if dim not in a or a[dim].isna().all():
            continue
        col = _group_labels(a[dim])
        for grp in sorted(col.unique()):
            m = (col == grp).to_numpy()
            sub, rest = a[m], a[~m]
            sub.attrs, rest.attrs = dict(a.attrs), dict(a.attrs)
            k = compute_group_kpis(sub, confidence=confidence, min_denominator=min_denominator,
                                   survey_coverage_min=survey_coverage_min, history_ok=_history_ok(a))
            extra = pd.DataFrame([_row("accounts", len(sub), n=len(sub)),
                                  _row("revenue_share", revenue_share(sub["revenue_12m"].sum(), total_rev),
                                       n=int((sub["orders_12m"] > 0).sum()))])
            k = pd.concat([extra, k], ignore_index=True)
            k["p_value"] = [(_two_sample(kpi, sub, rest, confidence) if kpi in _COMPARED and len(rest) else np.nan)
                            for kpi in k["kpi"]]
            k.insert(0, "group", grp)
            k.insert(0, "dimension", dim)
            frames.append(k)
    cols = ["dimension", "group", "kpi", "label", "value", "unit", "ci_low", "ci_high", "n", "p_value",
            "distinguishable", "small_n", "note"]
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)
    out["distinguishable"] = out["p_value"].lt(alpha)
    out["small_n"] = out["kpi"].isin(_COMPARED) & out["n"].lt(min_denominator)
    return out[cols]


def compute_kpi_comparisons(account_kpis: pd.DataFrame, *, confidence: float = 0.95,
                            min_denominator: int = 30) -> pd.DataFrame:
    """Last 12 months against the previous 12 months, with a test of the difference.

    For each comparable KPI: ``current`` (window W), ``previous`` (window P),
    ``difference`` (current - previous), its interval and ``p_value`` (two-sample
    proportion z-test for rates; z-test on the estimates' standard errors for means,
    AOV and NPS), ``distinguishable`` = p < 1 - confidence. The two windows largely
    share accounts, so the tests treat them as independent samples: they are
    conservative for rates of the same accounts. ``clv_historical`` is cumulative and
    is not compared.
    """
    a = account_kpis
    hist = _history_ok(a)
    from scipy import stats  # imported on first use (about 1 s)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    rows = []
    for kpi in ("retention_rate", "churn_rate", "repeat_purchase_rate", "average_order_value",
                "orders_per_account", "nps", "csat_top2", "csat_mean"):
        cur, se1, n1 = _stat(a, kpi, confidence)
        prv, se2, n2 = _stat(a, kpi, confidence, prev=True)
        note = ""
        if kpi in ("retention_rate", "churn_rate") and not hist["retention"]:
            cur = np.nan
        if (kpi in ("retention_rate", "churn_rate") and not _history_prev_retention(a)) or not hist["yoy"]:
            prv, note = np.nan, "history too short for the previous window"
        p = _two_sample(kpi, a, a, confidence, prev2=True) if np.isfinite(prv) and np.isfinite(cur) else np.nan
        diff = cur - prv
        se = np.sqrt(se1 ** 2 + se2 ** 2) if np.isfinite(se1) and np.isfinite(se2) else np.nan
        if min(n1, n2) < min_denominator:
            note = _join(note, f"small base (n={min(n1, n2)} < {min_denominator})")
        rows.append({"kpi": kpi, "label": kpi_label(kpi), "unit": get_kpi(kpi).unit, "current": cur,
                     "previous": prv, "difference": diff, "ci_low": diff - z * se, "ci_high": diff + z * se,
                     "n_current": n1, "n_previous": n2, "p_value": p,
                     "distinguishable": bool(np.isfinite(p) and p < 1 - confidence), "note": note})
    return pd.DataFrame(rows)


def _history_prev_retention(a: pd.DataFrame) -> bool:
    start, T, cd = _dates(a)
    if start is None or T is None:
        return True
    return start <= T - pd.DateOffset(months=24) - pd.Timedelta(days=cd - 1)


# --------------------------------------------------------------------------- surveys by segment
def compute_survey_coverage(account_kpis: pd.DataFrame, *, by: str, confidence: float = 0.95,
                            survey_coverage_min: float = 0.3) -> pd.DataFrame:
    """Survey coverage by group: ordering accounts in W that responded in W.

    Returns ``group, ordering_accounts, respondents, coverage, ci_low, ci_high,
    below_threshold``. (A response *rate* needs the number invited, which the survey
    data does not carry; coverage is the share of the customer base heard from.)
    """
    a = account_kpis
    col = _group_labels(a[by])
    rows = []
    for grp in sorted(col.unique()):
        s = a[(col == grp).to_numpy()]
        n = int((s["orders_12m"] > 0).sum())
        k = int(((s["orders_12m"] > 0) & s["responded_12m"]).sum())
        lo, hi = wilson_interval(k, n, confidence)
        cov = k / n if n else np.nan
        rows.append({"group": grp, "ordering_accounts": n, "respondents": k, "coverage": cov, "ci_low": lo,
                     "ci_high": hi, "below_threshold": bool(np.isfinite(cov) and cov < survey_coverage_min)})
    return pd.DataFrame(rows)
