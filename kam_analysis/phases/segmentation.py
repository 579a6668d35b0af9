"""Account segmentation: key-account selection, KAM portfolio matrix, overrides, stability, RFM, clusters.

The steps of phase 2, each a function on account-level frames:

1. :func:`compute_account_features` — one row per account with every feature the
   scores use (value, growth, strategic importance, relationship, behaviour, CLV);
2. :func:`compute_weighted_score` — a transparent weighted score: each criterion put
   on 0–1 (percentile rank or min–max), weighted, summed; every contribution kept;
3. :func:`compute_selection_scores` — key-account selection (= account attractiveness)
   and :func:`compute_relative_strength`;
4. :func:`assign_quadrants` — the McDonald & Rogers / Cranfield KAM portfolio matrix;
5. :mod:`~kam_analysis.phases.overrides` — consultant overrides, validated, applied
   and logged;
6. :func:`compute_stability` — Monte Carlo weight perturbation: how often each account
   keeps its quadrant;
7. :mod:`~kam_analysis.phases.rfm` — RFM scores and named segments (mapping in
   ``templates/rfm_segments.yaml``);
8. :mod:`kam_analysis.models.clustering` — k-means on standardised behaviour, k by
   silhouette;
9. :func:`compute_segment_profiles` — per-quadrant counts, revenue/profit share, KPIs, intent.

Weights, thresholds, names and mappings come from ``params.segmentation`` and
``templates/``, never from code.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import ParameterError, RunError
from ..metrics import NO_ORDERS_TIER, compute_revenue_shares, compute_value_tier, in_programme
from ..metrics.capability import lifecycle_status
from .key_accounts import compute_coverage_tiers, resolve_sizing_inputs, size_key_accounts, sizing_table, tier_label
from ..models.clustering import ClusteringNotSupported, compute_clusters
from .overrides import apply_overrides, load_overrides
from .rfm import compute_rfm, compute_rfm_profiles, load_rfm_segments

__all__ = [
    "compute_value_tiers",
    "compute_account_features",
    "normalise",
    "compute_weighted_score",
    "compute_selection_scores",
    "compute_relative_strength",
    "assign_quadrants",
    "compute_portfolio_quadrants",
    "compute_stability",
    "compute_segment_profiles",
    "quadrant_positions",
    "resolve_params_path",
    "rfm_segments_path",
    "compute_clv_for_run",
    "clv_value_basis",
    "CLV_REVENUE_FALLBACK",
    "compute_segmentation",
    "write_segmentation_tables",
    "GROUPS",
    "FEATURE_LABELS",
]

GROUPS = ["value", "growth", "strategic", "relationship"]

# feature -> (readable name, wording when high, wording when low); display text only
FEATURE_LABELS: dict[str, tuple[str, str, str]] = {
    "log_revenue_12m": ("revenue (12m, log)", "high spend", "low spend"),
    "revenue_12m": ("revenue (12m)", "high spend", "low spend"),
    "log_orders_12m": ("orders (12m, log)", "frequent orders", "few orders"),
    "orders_12m": ("orders (12m)", "frequent orders", "few orders"),
    "recency_days": ("days since last order", "lapsed", "recently active"),
    "tenure_days": ("tenure (days)", "long-standing", "new"),
    "n_categories": ("categories bought", "broad range", "narrow range"),
    "n_channels": ("channels used", "multichannel", "single channel"),
    "margin_rate": ("gross margin rate", "high margin", "low margin"),
    "order_regularity": ("order regularity", "regular buyers", "irregular buyers"),
    "nps_mean": ("NPS score (0-10)", "promoters", "detractors"),
    "csat_mean": ("CSAT (1-5)", "satisfied", "dissatisfied"),
    "clv": ("predicted CLV", "high future value", "low future value"),
    "p_alive": ("P(alive)", "likely active", "likely lost"),
}


# --------------------------------------------------------------------------- tiers
def compute_value_tiers(account_summary: pd.DataFrame, *, tiers: dict[str, float],
                        value_col: str = "revenue_12m", account_col: str = "account_id") -> pd.DataFrame:
    """Every account with its value rank and tier (:func:`kam_analysis.metrics.compute_value_tier`,
    the one definition: buying accounts ranked and cut by ``tiers``, the others
    :data:`~kam_analysis.metrics.NO_ORDERS_TIER`). Returns ``account_id, <value_col>,
    value_rank, tier`` sorted by value (largest first, ties by account id); ``tier`` is an
    ordered categorical, the tiers of ``tiers`` then the no-orders tier.
    """
    df = account_summary[[account_col, value_col]].sort_values([value_col, account_col], ascending=[False, True],
                                                               kind="stable").reset_index(drop=True)
    df["value_rank"] = range(1, len(df) + 1)
    tier = compute_value_tier(df, tiers=tiers, value_col=value_col, account_col=account_col)
    df["tier"] = pd.Categorical(tier, categories=[*tiers, NO_ORDERS_TIER], ordered=True)
    return df


# --------------------------------------------------------------------------- features
def compute_account_features(account_summary: pd.DataFrame, *, account_period: pd.DataFrame | None = None,
                             clv_scores: pd.DataFrame | None = None, clv_value_basis: str = "revenue",
                             account_kpis: pd.DataFrame | None = None,
                             account_col: str = "account_id") -> pd.DataFrame:
    """One row per account with every feature scoring, RFM and clustering use.

    Formulas
    --------
    * ``margin_rate`` = gross_margin / revenue (lifetime; NaN without margin data), clipped to [-1, 1];
    * ``gross_margin_12m`` and ``profit_12m``: the metrics layer's per-account figures
      (``account_kpis`` from :func:`kam_analysis.metrics.kpis.compute_account_kpis`: the
      margin of the last 12 months, and profit after cost to serve for accounts that ordered
      in them), so the segment profiles add up to the headline profit; NaN without
      ``account_kpis``;
    * ``revenue_change`` = revenue_12m − revenue_prev_12m (absolute growth);
    * ``revenue_growth`` = revenue_12m / revenue_prev_12m − 1 (NaN without prior revenue);
    * ``order_regularity`` = periods with an order / periods from the account's first
      ordering period to the last period of the data (``account_period``);
    * ``log_revenue_12m`` = ln(1 + max(revenue_12m, 0)), ``log_orders_12m`` = ln(1 + orders_12m);
    * ``clv``, ``p_alive``, ``expected_purchases`` from ``clv_scores`` (NaN for accounts
      without purchases); with ``clv_value_basis="gross_margin"`` the CLV is multiplied by
      the account's margin rate (clipped to [0, 1]).
    """
    s = account_summary.copy()
    s[account_col] = s[account_col].astype(str)
    out = pd.DataFrame({account_col: s[account_col]})
    for c in ("account_name", "region", "segment", "account_manager", "key_account", "strategic_importance",
              "cost_to_serve", "revenue", "revenue_12m", "revenue_prev_12m", "gross_margin", "n_orders",
              "orders_12m", "orders_prev_12m", "n_categories", "n_channels", "recency_days", "tenure_days",
              "nps_mean", "csat_mean", "n_responses", "active"):
        if c in s:
            out[c] = s[c].to_numpy()
    rev = out["revenue"].astype(float)
    if "gross_margin" in out and out["gross_margin"].notna().any():
        out["margin_rate"] = (out["gross_margin"] / rev.where(rev > 0)).clip(-1, 1)
    else:
        out["margin_rate"] = np.nan
    for c in ("gross_margin_12m", "profit_12m"):
        out[c] = np.nan
        if account_kpis is not None and c in account_kpis:
            ak = account_kpis.set_index(account_kpis[account_col].astype(str))[c]
            out[c] = out[account_col].map(ak).astype(float).to_numpy()
    out["revenue_change"] = out["revenue_12m"] - out["revenue_prev_12m"]
    prev = out["revenue_prev_12m"].astype(float)
    out["revenue_growth"] = out["revenue_12m"] / prev.where(prev > 0) - 1
    out["log_revenue_12m"] = np.log1p(out["revenue_12m"].clip(lower=0))
    out["log_orders_12m"] = np.log1p(out["orders_12m"].clip(lower=0))
    if account_period is not None and len(account_period):
        ap = account_period[[account_col, "period_start", "orders"]].copy()
        ap[account_col] = ap[account_col].astype(str)
        periods = np.sort(ap["period_start"].unique())
        pos = pd.Series(np.arange(len(periods)), index=periods)
        ap["i"] = pos.reindex(ap["period_start"]).to_numpy()
        active = ap[ap["orders"] > 0].groupby(account_col).agg(first=("i", "min"), n=("i", "nunique"))
        reg = active["n"] / (len(periods) - active["first"])
        out["order_regularity"] = reg.reindex(out[account_col]).fillna(0.0).to_numpy()
    else:
        out["order_regularity"] = np.nan
    if clv_scores is not None:
        c = clv_scores.copy()
        c[account_col] = c[account_col].astype(str)
        c = c.set_index(account_col)
        for col in ("clv", "p_alive", "expected_purchases"):
            out[col] = c[col].reindex(out[account_col]).to_numpy() if col in c else np.nan
        if clv_value_basis == "gross_margin":
            out["clv"] = out["clv"] * out["margin_rate"].clip(0, 1)
    else:
        out["clv"] = out["p_alive"] = out["expected_purchases"] = np.nan
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- scoring
def normalise(values: pd.Series, *, method: str = "percentile", higher_is_better: bool = True) -> pd.Series:
    """Put one criterion on 0–1.

    * ``percentile``: average rank / n (ties share their mean rank), so the best account
      scores 1 and the scores are evenly spread whatever the distribution;
    * ``minmax``: (v − min) / (max − min) (0.5 for all when max = min).

    Lower-is-better criteria are turned round (1 − score). Missing values get the
    neutral 0.5, so an account is neither rewarded nor punished for a gap in the data.
    """
    v = pd.to_numeric(values, errors="coerce").astype(float)
    if method == "percentile":
        n = v.notna().sum()
        out = v.rank(method="average") / n if n else v
    elif method == "minmax":
        lo, hi = v.min(), v.max()
        out = (v - lo) / (hi - lo) if hi > lo else v * 0 + 0.5
    else:
        raise ParameterError(f"segmentation.normalisation {method!r} is not one of 'percentile', 'minmax'")
    if not higher_is_better:
        out = 1 - out if method == "minmax" else (v.rank(method="average", ascending=False) / v.notna().sum())
    return out.fillna(0.5)


def _criteria_dict(criteria) -> dict[str, dict]:
    out = {}
    for name, c in criteria.items():
        out[name] = c.model_dump() if hasattr(c, "model_dump") else dict(c)
        out[name].setdefault("higher_is_better", True)
        out[name].setdefault("group", "value")
    return out


def compute_weighted_score(features: pd.DataFrame, *, criteria, normalisation: str = "percentile",
                           prefix: str = "score", account_col: str = "account_id"):
    """A weighted score on 0–1 whose composition is visible per account.

    ``score = Σ_c w_c · norm_c(account)`` with ``w_c = weight_c / Σ weight`` over the
    criteria the data supports. A criterion whose column is absent or entirely missing
    is dropped (status ``"not in data"``) and the remaining weights rescaled.

    Parameters
    ----------
    features : DataFrame
        From :func:`compute_account_features`.
    criteria : mapping
        name -> ``Criterion`` (or dict with column, group, weight, higher_is_better).

    Returns
    -------
    contributions : DataFrame
        ``account_id``, ``<prefix>_<criterion>`` (w_c · norm_c) per criterion, one
        ``<prefix>_<group>`` subtotal per group used, and ``<prefix>`` (the total).
    weights : DataFrame
        ``criterion, column, group, weight, weight_used, higher_is_better, status``.
    normalised : DataFrame
        The 0–1 value of each used criterion (for the stability check).
    """
    crit = _criteria_dict(criteria)
    rows, norm = [], {}
    for name, c in crit.items():
        col = c["column"]
        present = col in features and pd.to_numeric(features[col], errors="coerce").notna().any()
        status = "used" if present and c["weight"] > 0 else ("zero weight" if present else "not in data")
        rows.append({"criterion": name, "column": col, "group": c["group"], "weight": float(c["weight"]),
                     "higher_is_better": bool(c["higher_is_better"]), "status": status})
        if status == "used":
            norm[name] = normalise(features[col], method=normalisation,
                                   higher_is_better=c["higher_is_better"]).to_numpy()
    weights = pd.DataFrame(rows)
    used = weights["status"] == "used"
    if not used.any():
        cols = ", ".join(weights["column"])
        raise ParameterError(f"none of the {prefix} criteria ({cols}) has data; fix: point the criteria at "
                             f"account features that exist: {', '.join(sorted(features.columns))}")
    total = weights.loc[used, "weight"].sum()
    weights["weight_used"] = np.where(used, weights["weight"] / total, 0.0)
    normalised = pd.DataFrame(norm, index=features.index)
    out = pd.DataFrame({account_col: features[account_col].to_numpy()}, index=features.index)
    w = weights.set_index("criterion")
    for name in normalised.columns:
        out[f"{prefix}_{name}"] = w.loc[name, "weight_used"] * normalised[name]
    for g in GROUPS:
        names = [n for n in normalised.columns if w.loc[n, "group"] == g]
        if names:
            out[f"{prefix}_{g}"] = out[[f"{prefix}_{n}" for n in names]].sum(axis=1)
    out[prefix] = sum(out[f"{prefix}_{n}"] for n in normalised.columns)
    return out.reset_index(drop=True), weights, normalised.reset_index(drop=True)


def compute_selection_scores(features: pd.DataFrame, *, criteria, normalisation: str = "percentile",
                             key_account_share: float | None = 0.1, account_col: str = "account_id"):
    """Key-account selection score (value, growth potential, strategic importance).

    ``selection_score`` = the weighted score of :func:`compute_weighted_score`;
    ``selection_rank`` = 1 for the best (ties broken by account id); ``is_key`` = the
    top ``round(key_account_share × n)`` accounts (at least one; none when the share is
    None). The engagement's key accounts are chosen by
    :func:`~kam_analysis.metrics.key_accounts.compute_key_account_sizing`, which ranks the
    accounts whose value can carry a manager by this score.

    Returns ``(scores, weights, normalised)`` as :func:`compute_weighted_score`, the
    scores with ``selection_rank`` and ``is_key`` added.
    """
    scores, weights, normalised = compute_weighted_score(features, criteria=criteria, normalisation=normalisation,
                                                         prefix="selection_score", account_col=account_col)
    order = scores.sort_values(["selection_score", account_col], ascending=[False, True], kind="stable").index
    rank = pd.Series(np.arange(1, len(scores) + 1), index=order)
    scores["selection_rank"] = rank.reindex(scores.index).to_numpy()
    n_key = max(1, int(round(key_account_share * len(scores)))) if key_account_share else 0
    scores["is_key"] = scores["selection_rank"] <= n_key
    return scores, weights, normalised


def compute_relative_strength(features: pd.DataFrame, *, criteria, normalisation: str = "percentile",
                              account_col: str = "account_id"):
    """Relative strength of the relationship (NPS/CSAT, tenure, breadth, regularity).

    The same weighted score as :func:`compute_weighted_score` with prefix
    ``relative_strength``.
    """
    return compute_weighted_score(features, criteria=criteria, normalisation=normalisation,
                                  prefix="relative_strength", account_col=account_col)


def quadrant_positions(names) -> dict[str, str]:
    """Quadrant name -> position key (``high_attractiveness_high_strength`` ...)."""
    keys = ["high_attractiveness_high_strength", "high_attractiveness_low_strength",
            "low_attractiveness_high_strength", "low_attractiveness_low_strength"]
    return dict(zip(names.ordered(), keys))


def _split(values, threshold):
    return np.nanmedian(values, axis=0) if threshold is None else threshold


def assign_quadrants(attractiveness, strength, *, names, attractiveness_threshold: float | None = None,
                     strength_threshold: float | None = None) -> pd.Series:
    """KAM portfolio matrix quadrant per account (McDonald & Rogers; Cranfield).

    An account is *high* on an axis when its score is at or above the axis threshold
    (``None`` = the median score). Then::

        high attractiveness, high strength -> names.high_attractiveness_high_strength (Strategic)
        high attractiveness, low strength  -> names.high_attractiveness_low_strength  (Star)
        low attractiveness, high strength  -> names.low_attractiveness_high_strength  (Status)
        low attractiveness, low strength   -> names.low_attractiveness_low_strength   (Streamline)
    """
    a = np.asarray(attractiveness, dtype=float)
    s = np.asarray(strength, dtype=float)
    hi_a = a >= _split(a, attractiveness_threshold)
    hi_s = s >= _split(s, strength_threshold)
    q = np.select([hi_a & hi_s, hi_a & ~hi_s, ~hi_a & hi_s],
                  [names.high_attractiveness_high_strength, names.high_attractiveness_low_strength,
                   names.low_attractiveness_high_strength], names.low_attractiveness_low_strength)
    index = attractiveness.index if isinstance(attractiveness, pd.Series) else None
    return pd.Series(q, index=index, name="quadrant", dtype=object)


def compute_portfolio_quadrants(account_summary: pd.DataFrame, *, names, key_account_share: float | None = None,
                                account_col: str = "account_id", seg=None, sizing_inputs: dict | None = None,
                                live_only: bool = True) -> pd.DataFrame:
    """Portfolio matrix from the account summary with the default (or ``seg``'s) criteria.

    A convenience over :func:`compute_account_features`, :func:`compute_selection_scores`,
    :func:`compute_relative_strength` and :func:`assign_quadrants`, with the current
    segmentation's rules: only live accounts
    (:func:`~kam_analysis.metrics.capability.lifecycle_status` of the summary, which is as
    of its own date) are scored and placed in a quadrant, the others go to the inactive
    group (``live_only=False``: every account is scored); with ``sizing_inputs``
    (:func:`~kam_analysis.phases.key_accounts.resolve_sizing_inputs`) ``is_key`` follows
    the sizing rule, otherwise the top ``key_account_share`` of scored accounts (10% when
    None). Returns ``account_id, attractiveness, relative_strength, quadrant, is_key``.
    """
    from ..config import SegmentationSection

    seg = seg or SegmentationSection()
    feats = compute_account_features(account_summary, account_col=account_col)
    if live_only and {"active", "orders_12m", "n_orders"} <= set(account_summary.columns):
        live = (lifecycle_status(account_summary).reset_index(drop=True) == "live").to_numpy()
    else:
        live = np.ones(len(feats), dtype=bool)
    lf = feats[live].reset_index(drop=True)
    out = pd.DataFrame({account_col: feats[account_col], "attractiveness": np.nan, "relative_strength": np.nan,
                        "quadrant": seg.key_accounts.tier_names.inactive, "is_key": False})
    if not live.any():
        return out
    share = key_account_share or seg.key_account_share or 0.1
    sel, _, _ = compute_selection_scores(lf, criteria=seg.selection_criteria, normalisation=seg.normalisation,
                                         key_account_share=share, account_col=account_col)
    strength, _, _ = compute_relative_strength(lf, criteria=seg.strength_criteria, normalisation=seg.normalisation,
                                               account_col=account_col)
    q = assign_quadrants(sel["selection_score"], strength["relative_strength"], names=names,
                         attractiveness_threshold=seg.attractiveness_threshold,
                         strength_threshold=seg.strength_threshold)
    out.loc[live, "attractiveness"] = sel["selection_score"].to_numpy()
    out.loc[live, "relative_strength"] = strength["relative_strength"].to_numpy()
    out.loc[live, "quadrant"] = q.to_numpy()
    if sizing_inputs is not None:
        per, _ = size_key_accounts(pd.DataFrame({account_col: feats[account_col].to_numpy(),
                                                 "revenue_12m": feats["revenue_12m"].to_numpy(), "live": live,
                                                 "selection_score": out["attractiveness"].to_numpy()}),
                                   sizing_inputs, account_col=account_col)
        out["is_key"] = per["is_key"].to_numpy(dtype=bool)
    else:
        out.loc[live, "is_key"] = sel["is_key"].to_numpy()
    out["is_key"] = out["is_key"].astype(bool)
    return out


# --------------------------------------------------------------------------- stability
def compute_stability(norm_attractiveness: pd.DataFrame, attractiveness_weights: pd.Series,
                      norm_strength: pd.DataFrame, strength_weights: pd.Series, quadrant_model, *, names,
                      attractiveness_threshold: float | None = None, strength_threshold: float | None = None,
                      draws: int = 500, concentration: float = 20.0, seed: int = 0,
                      chunk: int = 50, block_cells: int = 4_000_000) -> pd.Series:
    """Share of perturbed-weight draws in which each account keeps its model quadrant.

    Each draw takes new weights ``w* ~ Dirichlet(concentration · k · w)`` for each axis
    (mean ``w``; coefficient of variation shrinking as ``concentration`` grows), scores
    ``Σ w*_c · norm_c`` and assigns quadrants with the same thresholds (a median
    threshold is recomputed per draw). ``stability`` = draws with the same quadrant /
    draws. Seeded: the same inputs and seed give the same shares.

    Parameters
    ----------
    norm_attractiveness, norm_strength : DataFrame
        The 0–1 criteria values (``normalised`` from :func:`compute_weighted_score`).
    attractiveness_weights, strength_weights : Series
        criterion -> weight used (summing to 1).
    """
    rng = np.random.default_rng(seed)
    na = norm_attractiveness.to_numpy(dtype=float)
    ns = norm_strength.to_numpy(dtype=float)
    wa = np.asarray(attractiveness_weights.reindex(norm_attractiveness.columns), dtype=float)
    ws = np.asarray(strength_weights.reindex(norm_strength.columns), dtype=float)
    model = np.asarray(quadrant_model, dtype=object)
    q_names = np.array(names.ordered(), dtype=object)
    model_code = np.full(len(model), -1)
    for i, nm in enumerate(q_names):
        model_code[model == nm] = i
    same = np.zeros(len(model))
    done = 0
    while done < draws:
        m = min(chunk, draws - done)
        Wa = rng.dirichlet(concentration * len(wa) * wa, size=m).T if len(wa) > 1 else np.ones((1, m))
        Ws = rng.dirichlet(concentration * len(ws) * ws, size=m).T if len(ws) > 1 else np.ones((1, m))
        # the chunk's draws scored a few at a time: accounts x draws matrices stay near block_cells
        # (1 million accounts x 50 draws was 400 MB a matrix); the same draws, so the same shares
        step = max(1, min(m, block_cells // max(len(model), 1)))
        for j in range(0, m, step):
            A = na @ Wa[:, j:j + step]
            S = ns @ Ws[:, j:j + step]
            hi_a = A >= (np.median(A, axis=0) if attractiveness_threshold is None else attractiveness_threshold)
            hi_s = S >= (np.median(S, axis=0) if strength_threshold is None else strength_threshold)
            code = np.where(hi_a, np.where(hi_s, 0, 1), np.where(hi_s, 2, 3)).astype(np.int8)
            same += (code == model_code[:, None]).sum(axis=1)
        done += m
    return pd.Series(same / draws, index=norm_attractiveness.index, name="stability")


# --------------------------------------------------------------------------- profiles
def compute_segment_profiles(segments: pd.DataFrame, features: pd.DataFrame, *, names, intents,
                             segment_col: str = "quadrant", account_col: str = "account_id",
                             inactive: tuple[str, str] | None = None) -> pd.DataFrame:
    """Per quadrant: size, revenue and profit share, KPIs, behaviour and engagement intent.

    Formulas
    --------
    * ``accounts``, ``account_share``, ``revenue_12m``, ``revenue_share``: the one definition,
      :func:`~kam_analysis.metrics.compute_revenue_shares` (shares of all accounts and of all
      accounts' revenue, the inactive group included, so the rows add up to 100%);
    * ``profit_share`` = quadrant profit_12m / total profit_12m (profit = gross margin
      12m − cost to serve; gross margin when cost to serve is unknown);
    * ``avg_*`` are means over the quadrant's accounts, ``median_*`` medians;
    * ``top_rfm_segment`` / ``top_cluster`` = the most common RFM segment / cluster label;
    * ``intent`` from ``params.segmentation.quadrant_intents``.

    All four quadrants are listed (in matrix order), with 0 accounts when empty; then the
    ``inactive`` group (name, intent) - the accounts that are not live, off the matrix - when
    it has accounts.
    """
    cols = [c for c in ("revenue_12m", "gross_margin_12m", "profit_12m", "orders_12m", "recency_days",
                        "tenure_days", "n_categories", "order_regularity", "nps_mean", "margin_rate")
            if c in features]
    df = segments.merge(features[[account_col, *cols]], on=account_col, how="left",
                        suffixes=("", "_f"))
    order = names.ordered()
    if inactive is not None and (df[segment_col] == inactive[0]).any():
        order = order + [inactive[0]]
    g = df.groupby(segment_col)
    shares = compute_revenue_shares(df, segment_col, order=order, account_col=account_col)
    out = pd.DataFrame(index=pd.Index(order, name="segment"))
    out["accounts"] = shares["accounts"].to_numpy()
    out["account_share"] = shares["account_share"].to_numpy()
    out["key_accounts"] = g["is_key"].sum().reindex(order).fillna(0).astype("int64") if "is_key" in df else 0
    out["overridden"] = (g["overridden"].sum().reindex(order).fillna(0).astype("int64")
                         if "overridden" in df else 0)
    out["revenue_12m"] = shares["revenue_12m"].to_numpy()
    out["revenue_share"] = shares["revenue_share"].to_numpy()
    out["gross_margin_12m"] = g["gross_margin_12m"].sum(min_count=1).reindex(order)
    out["profit_12m"] = g["profit_12m"].sum(min_count=1).reindex(order)
    ptot = df["profit_12m"].sum(min_count=1)
    out["profit_share"] = out["profit_12m"] / ptot if pd.notna(ptot) and ptot != 0 else np.nan
    out["avg_revenue_12m"] = g["revenue_12m"].mean().reindex(order)
    out["avg_orders_12m"] = g["orders_12m"].mean().reindex(order)
    out["median_recency_days"] = g["recency_days"].median().reindex(order)
    out["avg_tenure_years"] = (g["tenure_days"].mean() / 365.25).reindex(order)
    out["avg_categories"] = g["n_categories"].mean().reindex(order)
    out["avg_order_regularity"] = g["order_regularity"].mean().reindex(order) if "order_regularity" in df else np.nan
    out["nps_mean"] = g["nps_mean"].mean().reindex(order) if "nps_mean" in df else np.nan
    out["avg_margin_rate"] = g["margin_rate"].mean().reindex(order)
    for c, agg in (("clv", "sum"), ("p_alive", "mean"), ("stability", "mean"), ("selection_score", "mean"),
                   ("relative_strength", "mean")):
        if c in df:
            v = g[c].sum(min_count=1) if agg == "sum" else g[c].mean()
            out[{"clv": "clv_total", "p_alive": "avg_p_alive", "stability": "avg_stability",
                 "selection_score": "avg_selection_score", "relative_strength": "avg_relative_strength"}[c]] = \
                v.reindex(order)
    for c, name in (("rfm_segment", "top_rfm_segment"), ("cluster_label", "top_cluster")):
        if c in df:
            out[name] = g[c].agg(lambda s: s.value_counts().index[0] if s.notna().any() else None).reindex(order)
    pos = quadrant_positions(names)
    out["intent"] = [getattr(intents, pos[q]) if q in pos else inactive[1] for q in order]
    return out.reset_index()


# --------------------------------------------------------------------------- pipeline
def resolve_params_path(params, path: str | Path | None) -> Path | None:
    """A path from the segmentation params, relative ones read from the params file's folder."""
    if path is None:
        return None
    p = Path(path).expanduser()
    if p.is_absolute() or params.source_path is None:
        return p
    return (Path(params.source_path).parent / p).resolve()


def rfm_segments_path(params) -> Path:
    """The RFM mapping file: ``segmentation.rfm.segments_file`` or ``templates/rfm_segments.yaml``."""
    from ..config import TEMPLATES_DIR

    return resolve_params_path(params, params.segmentation.rfm.segments_file) or TEMPLATES_DIR / "rfm_segments.yaml"


#: what the CLV note says when the run asks for margin CLV and the data has no margin
CLV_REVENUE_FALLBACK = ("CLV in revenue, not gross margin: the orders carry no margin, so lifetime value overstates "
                        "what low-margin accounts are worth")


def clv_value_basis(requested: str, *, has_margin: bool) -> str:
    """The value basis the CLV is given in: ``requested`` (``segmentation.clv.value_basis``),
    except that gross-margin CLV falls back to revenue when the data has no margin (a
    margin CLV would be blank for every account); the segmentation settings and the CLV
    note then say so (:data:`CLV_REVENUE_FALLBACK`)."""
    return "revenue" if requested == "gross_margin" and not has_margin else requested


def compute_clv_for_run(run, *, account_col: str = "account_id") -> dict:
    """CLV for every account of a run: fit on all history, plus the calibration/holdout check.

    Returns a dict with ``scores`` (per account, or None), ``params`` (``clv_params``),
    ``holdout`` (or None) and ``note`` (why something is missing; "" when all fitted).
    A model that cannot be fitted gives NaN CLV with the reason in ``note``, never a
    made-up number.
    """
    from ..models import clv as clvmod

    cfg = run.params.segmentation.clv
    as_of = pd.Timestamp(run.params.analysis.as_of_date)
    out: dict = {"scores": None, "params": pd.DataFrame(columns=["model", "parameter", "value"]),
                 "holdout": None, "note": ""}
    try:
        # the purchase days stay in DuckDB: one row per account leaves it (9.4 M purchase days at
        # 10 M orders were a pandas frame summarised twice, ~14 s CPU)
        summary = clvmod.compute_clv_summary_from_run(run, observation_end=as_of, time_unit_days=cfg.time_unit_days)
        scores, params, _ = clvmod.compute_clv(summary, horizon_months=cfg.horizon_months,
                                               annual_discount_rate=cfg.annual_discount_rate,
                                               time_unit_days=cfg.time_unit_days)
        out["scores"], out["params"] = scores, params
    except clvmod.CLVFitError as exc:
        out["note"] = f"CLV not estimated: {exc}"
        return out
    if cfg.holdout_weeks:
        cal_end = as_of - pd.Timedelta(weeks=cfg.holdout_weeks)
        try:
            hs = clvmod.compute_clv_summary_from_run(run, observation_end=as_of, calibration_end=cal_end,
                                                     time_unit_days=cfg.time_unit_days)
            out["holdout"] = clvmod.compute_holdout_check(hs)
        except clvmod.CLVFitError as exc:
            out["note"] = f"holdout check not possible: {exc}"
    return out


def compute_segmentation(run, *, account_col: str = "account_id") -> dict[str, pd.DataFrame]:
    """Every phase-2 table for a run, computed from the run folder (nothing written).

    Steps: CLV (BG/NBD + Gamma-Gamma) → account features → selection score (=
    attractiveness) and relative strength → portfolio quadrants → overrides → weight
    stability → RFM → clusters → value tiers → profiles. Returns table name -> frame:
    ``segments``, ``segment_profiles``, ``clv_params``, ``clv_holdout``, ``clv_accounts``,
    ``selection_weights``, ``score_components``, ``segment_overrides``, ``rfm_profiles``,
    ``cluster_profiles``, ``cluster_silhouette``, ``tier_summary``, ``segmentation_settings``.
    """
    p = run.params
    seg = p.segmentation
    names = seg.quadrant_names
    summary = run.read_table("account_summary")
    period = run.read_table("account_period") if run.has_table("account_period") else None
    clv_res = compute_clv_for_run(run, account_col=account_col)
    clv_basis = clv_value_basis(seg.clv.value_basis, has_margin=bool(summary["gross_margin"].notna().any()))
    if clv_basis != seg.clv.value_basis and clv_res["scores"] is not None:
        clv_res["note"] = "; ".join(x for x in (clv_res["note"], CLV_REVENUE_FALLBACK) if x)
    feats = compute_account_features(summary, account_period=period, clv_scores=clv_res["scores"],
                                     clv_value_basis=clv_basis, account_col=account_col,
                                     account_kpis=run.read_table("account_kpis") if run.has_table("account_kpis")
                                     else None)
    # only live accounts are scored and placed on the matrix (metrics.capability.lifecycle_status);
    # the others form their own group, apart from the quadrants
    status = lifecycle_status(summary).reset_index(drop=True)
    live = (status == "live").to_numpy()
    if not live.any():
        raise RunError(f"no live account: none of the {len(feats):,} accounts placed an order in the "
                       f"{p.analysis.churn_days} days to {p.analysis.as_of_date}, so none can be scored or selected; "
                       "fix: check analysis.as_of_date against the dates in the transactions file")
    lf = feats[live].reset_index(drop=True)
    sel_l, sel_w, sel_n = compute_selection_scores(lf, criteria=seg.selection_criteria,
                                                   normalisation=seg.normalisation,
                                                   key_account_share=seg.key_account_share, account_col=account_col)
    stre_l, str_w, str_n = compute_relative_strength(lf, criteria=seg.strength_criteria,
                                                     normalisation=seg.normalisation, account_col=account_col)
    quad_l = assign_quadrants(sel_l["selection_score"], stre_l["relative_strength"], names=names,
                              attractiveness_threshold=seg.attractiveness_threshold,
                              strength_threshold=seg.strength_threshold)
    ids = feats[[account_col]]
    sel = ids.merge(sel_l, on=account_col, how="left")
    stre = ids.merge(stre_l, on=account_col, how="left")
    inactive = seg.key_accounts.tier_names.inactive
    quad = pd.Series(inactive, index=feats.index, dtype=object)
    quad[live] = quad_l.to_numpy()
    inputs = resolve_sizing_inputs(run)
    per, sizing = size_key_accounts(pd.DataFrame({
        account_col: feats[account_col].to_numpy(), "revenue_12m": feats["revenue_12m"].to_numpy(),
        "live": live, "selection_score": sel["selection_score"].to_numpy()}), inputs, account_col=account_col)
    base = pd.DataFrame({account_col: feats[account_col], "selection_score": sel["selection_score"],
                         "selection_rank": sel["selection_rank"], "is_key": per["is_key"].to_numpy(dtype=bool),
                         "account_status": status.to_numpy(), "warrants_key": per["warrants_key"].to_numpy(dtype=bool),
                         "coverage_tier_key": per["coverage_tier"].to_numpy()})
    base["coverage_tier"] = base["coverage_tier_key"].map(lambda t: tier_label(p, t))
    if "key_account" in feats:
        base["currently_key"] = in_programme(feats, account_col=account_col).to_numpy()
    for g in GROUPS[:3]:
        if f"selection_score_{g}" in sel:
            base[f"score_{g}"] = sel[f"selection_score_{g}"]
    base["attractiveness"] = sel["selection_score"]
    base["relative_strength"] = stre["relative_strength"]
    base["quadrant_model"] = quad.to_numpy()
    # overrides: file and inline params, validated together
    frames = []
    path = resolve_params_path(p, seg.overrides_file)
    if path is not None:
        frames.append(load_overrides(path))
    if seg.overrides:
        frames.append(pd.DataFrame([{**o.model_dump(), "source": f"params segmentation.overrides[{i}]"}
                                    for i, o in enumerate(seg.overrides)]))
    overrides = pd.concat(frames, ignore_index=True) if frames else None
    base, log = apply_overrides(base, overrides, quadrant_names=names.ordered(), account_col=account_col)
    wa = sel_w.set_index("criterion")["weight_used"]
    ws = str_w.set_index("criterion")["weight_used"]
    base["stability"] = np.nan
    base.loc[live, "stability"] = compute_stability(
        sel_n, wa, str_n, ws, base.loc[live, "quadrant_model"].to_numpy(), names=names,
        attractiveness_threshold=seg.attractiveness_threshold, strength_threshold=seg.strength_threshold,
        draws=seg.stability_draws, concentration=seg.stability_concentration, seed=seg.seed).to_numpy()
    rfm_map = load_rfm_segments(rfm_segments_path(p))
    rfm = compute_rfm(feats, segments=rfm_map, bins=seg.rfm.bins, recency_column=seg.rfm.recency_column,
                      frequency_column=seg.rfm.frequency_column, monetary_column=seg.rfm.monetary_column,
                      account_col=account_col)
    try:
        clus, clus_prof, sil = compute_clusters(feats, columns=seg.clusters.features, k_min=seg.clusters.k_min,
                                                k_max=seg.clusters.k_max, seed=seg.seed,
                                                silhouette_sample=seg.clusters.silhouette_sample,
                                                account_col=account_col, feature_labels=FEATURE_LABELS)
        cluster_note = ""
    except ClusteringNotSupported as exc:
        # a data limitation (one account, identical behaviour), not a reason to stop the engagement
        cluster_note = "not clustered: " + str(exc).split("; fix:")[0]
        clus = pd.DataFrame({account_col: feats[account_col].to_numpy(),
                             "cluster": pd.array([pd.NA] * len(feats), dtype="Int64"),
                             "cluster_label": "Not clustered"})
        clus_prof = pd.DataFrame(columns=["cluster", "cluster_label", "accounts", "account_share", "revenue_12m",
                                          "revenue_share"])
        sil = pd.DataFrame({"k": pd.array([], dtype="Int64"), "silhouette": pd.array([], dtype="float64"),
                            "chosen": pd.array([], dtype="bool")})
    tiers = compute_value_tiers(feats, tiers=seg.tiers, account_col=account_col)
    segments = (base.merge(rfm, on=account_col).merge(clus, on=account_col)
                .merge(tiers[[account_col, "tier"]], on=account_col))
    segments["tier"] = segments["tier"].astype(str)
    for c in ("clv", "p_alive", "expected_purchases", "revenue_12m", "gross_margin_12m", "profit_12m"):
        segments[c] = feats[c].to_numpy()
    lead = [account_col, "selection_score", "is_key", "attractiveness", "relative_strength", "quadrant",
            "quadrant_model", "override_reason", "rfm_segment", "cluster", "clv", "p_alive", "stability"]
    segments = segments[lead + [c for c in segments.columns if c not in lead]]
    profiles = compute_segment_profiles(segments, feats, names=names, intents=seg.quadrant_intents,
                                        account_col=account_col, inactive=(inactive, seg.key_accounts.inactive_intent))
    tier_order = [*seg.tiers] + ([NO_ORDERS_TIER] if (segments["tier"] == NO_ORDERS_TIER).any() else [])
    tier_summary = (compute_revenue_shares(segments, "tier", order=tier_order, account_col=account_col)
                    [["accounts", "revenue_12m", "revenue_share"]].reset_index())
    weights = pd.concat([sel_w.assign(axis="attractiveness (selection score)"),
                         str_w.assign(axis="relative strength")], ignore_index=True)
    weights = weights[["axis", "criterion", "column", "group", "weight", "weight_used", "higher_is_better", "status"]]
    comps = sel_l.drop(columns=["selection_rank", "is_key"]).merge(stre_l, on=account_col)
    a_thr = seg.attractiveness_threshold
    s_thr = seg.strength_threshold
    settings = [
        ("normalisation", seg.normalisation),
        ("live_accounts", f"{int(live.sum())} of {len(base)} (an order in the last {p.analysis.churn_days} days); "
                          "only live accounts are scored and can be key accounts"),
        ("key_account_value_floor", f"{sizing['key_floor']:,.2f} revenue (12m): {sizing['floor_basis']}"),
        ("key_account_capacity", "unknown: the data names no account managers, so capacity does not limit the list"
         if sizing["capacity_accounts"] is None
         else f"{sizing['capacity_accounts']} key accounts ({sizing['managers']} managers' hours)"),
        ("key_account_share", f"at most {seg.key_account_share:.0%} of live accounts" if seg.key_account_share
         else "no cap (value and capacity decide)"),
        ("key_accounts_selected", str(int(base["is_key"].sum()))),
        ("attractiveness_threshold", f"{a_thr:.3f}" if a_thr is not None
         else f"median of live accounts = {np.nanmedian(base['attractiveness']):.3f}"),
        ("strength_threshold", f"{s_thr:.3f}" if s_thr is not None
         else f"median of live accounts = {np.nanmedian(base['relative_strength']):.3f}"),
        ("stability_draws", str(seg.stability_draws)),
        ("stability_concentration", f"{seg.stability_concentration:g}"),
        ("seed", str(seg.seed)),
        ("overrides_applied", str(len(log))),
        ("rfm_bins", str(seg.rfm.bins)),
        ("rfm_columns", f"{seg.rfm.recency_column}, {seg.rfm.frequency_column}, {seg.rfm.monetary_column}"),
        ("cluster_features", ", ".join(seg.clusters.features)),
        ("cluster_k_range", f"{seg.clusters.k_min}-{seg.clusters.k_max}"),
        ("clusters_chosen", str(int(sil.loc[sil["chosen"], "k"].iloc[0])) if sil["chosen"].any() else cluster_note),
        ("clv_horizon_months", str(seg.clv.horizon_months)),
        ("clv_annual_discount_rate", f"{seg.clv.annual_discount_rate:.1%}"),
        ("clv_value_basis", clv_basis),
        ("clv_holdout_weeks", str(seg.clv.holdout_weeks)),
        ("clv_note", clv_res["note"] or "BG/NBD and Gamma-Gamma fitted"),
    ] + [(f"quadrant: {q}", getattr(seg.quadrant_intents, k)) for q, k in quadrant_positions(names).items()]
    clv_accounts = clv_res["scores"] if clv_res["scores"] is not None else pd.DataFrame(
        columns=[account_col, "frequency", "recency", "T", "monetary_value", "p_alive", "expected_purchases",
                 "expected_spend", "clv"])
    holdout = clv_res["holdout"] if clv_res["holdout"] is not None else pd.DataFrame(
        columns=["frequency_group", "accounts", "actual", "predicted", "error"])
    return {
        "segments": segments, "segment_profiles": profiles, "clv_params": clv_res["params"],
        "clv_holdout": holdout, "clv_accounts": clv_accounts, "selection_weights": weights,
        "score_components": comps, "segment_overrides": log,
        "rfm_profiles": compute_rfm_profiles(rfm, feats, segments=rfm_map, account_col=account_col),
        "cluster_profiles": clus_prof, "cluster_silhouette": sil, "tier_summary": tier_summary,
        "segmentation_settings": pd.DataFrame(settings, columns=["setting", "value"]),
        "key_account_sizing": sizing_table(sizing),
        "coverage_tiers": compute_coverage_tiers(segments, params=p, hours=inputs["hours"]),
    }


def write_segmentation_tables(run, tables: dict[str, pd.DataFrame]) -> list[str]:
    """Write the tables of :func:`compute_segmentation` to the run folder; return their names."""
    for name, df in tables.items():
        run.write_table(name, df)
    return list(tables)


def compute_top_accounts(segments: pd.DataFrame, *, display_names: pd.Series, n: int = 15,
                         account_col: str = "account_id") -> pd.DataFrame:
    """The ``n`` highest-scoring accounts with their score composition, for display.

    Shows the columns the run has (the strategic score and the client's current key flag
    exist only when the client gave an accounts file); ``account`` is the display name
    (pseudonymised when the params ask for it).
    """
    top = segments.sort_values(["selection_score", account_col], ascending=[False, True], kind="stable").head(n).copy()
    top["account"] = top[account_col].astype(str).map(display_names).fillna(top[account_col].astype(str))
    wanted = ["selection_rank", "account", "selection_score", "score_value", "score_growth", "score_strategic",
              "currently_key", "quadrant", "revenue_12m", "clv"]
    return top[[c for c in wanted if c in top.columns]].reset_index(drop=True)
