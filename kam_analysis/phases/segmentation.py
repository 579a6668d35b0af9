"""Account segmentation: key-account selection, KAM portfolio matrix, overrides, stability, RFM, clusters.

The steps of phase 2, each a function on account-level frames:

1. :func:`compute_account_features` — one row per account with every feature the
   scores use (value, growth, strategic importance, relationship, behaviour, CLV);
2. :func:`compute_weighted_score` — a transparent weighted score: each criterion put
   on 0–1 (percentile rank or min–max), weighted, summed; every contribution kept;
3. :func:`compute_selection_scores` — key-account selection (= account attractiveness)
   and :func:`compute_relative_strength`;
4. :func:`assign_quadrants` — the McDonald & Rogers / Cranfield KAM portfolio matrix;
5. :func:`load_overrides` / :func:`apply_overrides` — consultant overrides, validated,
   applied and logged;
6. :func:`compute_stability` — Monte Carlo weight perturbation: how often each account
   keeps its quadrant;
7. :func:`compute_rfm` — RFM scores and named segments (mapping in
   ``templates/rfm_segments.yaml``);
8. :func:`compute_clusters` — k-means on standardised behaviour, k by silhouette;
9. :func:`compute_segment_profiles` — per-quadrant counts, revenue/profit share, KPIs, intent.

Weights, thresholds, names and mappings come from ``params.segmentation`` and
``templates/``, never from code.
"""
from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import ParameterError

__all__ = [
    "compute_value_tiers",
    "compute_account_features",
    "normalise",
    "compute_weighted_score",
    "compute_selection_scores",
    "compute_relative_strength",
    "assign_quadrants",
    "compute_portfolio_quadrants",
    "load_overrides",
    "validate_overrides",
    "apply_overrides",
    "compute_stability",
    "load_rfm_segments",
    "compute_rfm",
    "compute_rfm_profiles",
    "compute_clusters",
    "compute_segment_profiles",
    "quadrant_positions",
    "resolve_params_path",
    "rfm_segments_path",
    "compute_clv_for_run",
    "compute_segmentation",
    "write_segmentation_tables",
    "TABLE_DESCRIPTIONS",
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
    """Rank accounts by value and cut them into tiers by share of accounts.

    ``tiers`` maps tier name to share of accounts, top tier first (shares sum to 1).
    Ties are broken by account id so the result is deterministic. Returns
    ``account_id, value, value_rank, tier``.
    """
    df = account_summary[[account_col, value_col]].rename(columns={value_col: "value"})
    df = df.sort_values(["value", account_col], ascending=[False, True], kind="stable").reset_index(drop=True)
    df["value_rank"] = range(1, len(df) + 1)
    n = len(df)
    bounds, cum = [], 0.0
    for name, share in tiers.items():
        cum += share
        bounds.append((name, round(cum * n)))
    labels, start = [], 0
    for name, end in bounds:
        labels += [name] * (end - start)
        start = end
    labels += [bounds[-1][0]] * (n - len(labels))
    df["tier"] = pd.Categorical(labels[:n], categories=list(tiers), ordered=True)
    return df.rename(columns={"value": value_col})


# --------------------------------------------------------------------------- features
def compute_account_features(account_summary: pd.DataFrame, *, account_period: pd.DataFrame | None = None,
                             clv_scores: pd.DataFrame | None = None, clv_value_basis: str = "revenue",
                             account_col: str = "account_id") -> pd.DataFrame:
    """One row per account with every feature scoring, RFM and clustering use.

    Formulas
    --------
    * ``margin_rate`` = gross_margin / revenue (lifetime; NaN without margin data), clipped to [-1, 1];
    * ``gross_margin_12m`` = revenue_12m × margin_rate;
    * ``profit_12m`` = gross_margin_12m − cost_to_serve (when the data has cost to serve);
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
    out["gross_margin_12m"] = out["revenue_12m"] * out["margin_rate"]
    if "cost_to_serve" in out:
        out["profit_12m"] = out["gross_margin_12m"] - out["cost_to_serve"].astype(float)
    else:
        out["profit_12m"] = out["gross_margin_12m"]
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
                             key_account_share: float = 0.1, account_col: str = "account_id"):
    """Key-account selection score (value, growth potential, strategic importance).

    ``selection_score`` = the weighted score of :func:`compute_weighted_score`;
    ``selection_rank`` = 1 for the best (ties broken by account id); ``is_key`` = the
    top ``round(key_account_share × n)`` accounts (at least one).

    Returns ``(scores, weights, normalised)`` as :func:`compute_weighted_score`, the
    scores with ``selection_rank`` and ``is_key`` added.
    """
    scores, weights, normalised = compute_weighted_score(features, criteria=criteria, normalisation=normalisation,
                                                         prefix="selection_score", account_col=account_col)
    order = scores.sort_values(["selection_score", account_col], ascending=[False, True], kind="stable").index
    rank = pd.Series(np.arange(1, len(scores) + 1), index=order)
    scores["selection_rank"] = rank.reindex(scores.index).to_numpy()
    n_key = max(1, int(round(key_account_share * len(scores))))
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


def compute_portfolio_quadrants(account_summary: pd.DataFrame, *, names, key_account_share: float,
                                account_col: str = "account_id", seg=None) -> pd.DataFrame:
    """Portfolio matrix from the account summary with the default (or ``seg``'s) criteria.

    A convenience over :func:`compute_account_features`, :func:`compute_selection_scores`,
    :func:`compute_relative_strength` and :func:`assign_quadrants`. Returns
    ``account_id, attractiveness, relative_strength, quadrant, is_key``.
    """
    from ..config import SegmentationSection

    seg = seg or SegmentationSection()
    feats = compute_account_features(account_summary, account_col=account_col)
    sel, _, _ = compute_selection_scores(feats, criteria=seg.selection_criteria, normalisation=seg.normalisation,
                                         key_account_share=key_account_share, account_col=account_col)
    strength, _, _ = compute_relative_strength(feats, criteria=seg.strength_criteria, normalisation=seg.normalisation,
                                               account_col=account_col)
    q = assign_quadrants(sel["selection_score"], strength["relative_strength"], names=names,
                         attractiveness_threshold=seg.attractiveness_threshold,
                         strength_threshold=seg.strength_threshold)
    return pd.DataFrame({account_col: feats[account_col], "attractiveness": sel["selection_score"],
                         "relative_strength": strength["relative_strength"], "quadrant": q, "is_key": sel["is_key"]})


# --------------------------------------------------------------------------- overrides
def load_overrides(path: str | Path) -> pd.DataFrame:
    """Read consultant overrides: a CSV with columns ``account_id, quadrant, reason``, or a
    segmentation workbook returned by the client with its 'Your override' / 'Your reason'
    columns filled in on the Accounts sheet.

    Returns ``account_id, quadrant, reason, source`` (source = file and row, for messages
    and the override log).

    Raises
    ------
    ParameterError
        The file is missing or unreadable, or a required column is absent.
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"overrides file {path} not found (segmentation.overrides_file); fix: check the path "
                             "(relative paths are read from the params file's folder) or remove the setting")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _load_workbook_overrides(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception as exc:  # noqa: BLE001 - any parse failure is a user file problem
        raise ParameterError(f"overrides file {path} could not be read as CSV ({exc}); "
                             "fix: save it as a UTF-8 CSV with columns account_id, quadrant, reason") from None
    df.columns = [c.strip().lower() for c in df.columns]
    missing = [c for c in ("account_id", "quadrant", "reason") if c not in df.columns]
    if missing:
        raise ParameterError(f"overrides file {path} has no column(s) {missing} (columns: {list(df.columns)}); "
                             "fix: use the header account_id,quadrant,reason")
    out = df[["account_id", "quadrant", "reason"]].apply(lambda s: s.str.strip())
    out["source"] = f"file {path.name}, row " + (pd.Series(range(len(out))) + 2).astype(str)
    return out


def _load_workbook_overrides(path: Path) -> pd.DataFrame:
    """Overrides the client proposed in a returned segmentation workbook (Accounts sheet)."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001
        raise ParameterError(f"overrides workbook {path} could not be opened ({exc}); "
                             "fix: give the segmentation workbook as returned, saved as .xlsx") from None
    if "Accounts" not in wb.sheetnames:
        raise ParameterError(f"overrides workbook {path} has no 'Accounts' sheet; fix: give the segmentation "
                             "workbook (with 'Your override' filled in) or a CSV account_id,quadrant,reason")
    rows = list(wb["Accounts"].iter_rows(values_only=True))
    wb.close()
    header_at = next((i for i, r in enumerate(rows) if r and "Account ID" in r and "Your override" in r), None)
    if header_at is None:
        raise ParameterError(f"overrides workbook {path}: the Accounts sheet has no 'Account ID' and "
                             "'Your override' columns; fix: use the segmentation workbook as built")
    head = list(rows[header_at])
    i_id, i_q = head.index("Account ID"), head.index("Your override")
    i_r = head.index("Your reason") if "Your reason" in head else None
    out = []
    for n, r in enumerate(rows[header_at + 1:], start=header_at + 2):
        q = r[i_q] if i_q < len(r) else None
        if q is None or str(q).strip() == "":
            continue
        reason = r[i_r] if i_r is not None and i_r < len(r) else None
        out.append({"account_id": str(r[i_id]).strip(), "quadrant": str(q).strip(),
                    "reason": "" if reason is None else str(reason).strip(),
                    "source": f"workbook {path.name}, Accounts row {n}"})
    return pd.DataFrame(out, columns=["account_id", "quadrant", "reason", "source"])


def validate_overrides(overrides: pd.DataFrame, *, account_ids, quadrant_names: list[str]) -> None:
    """Every override names a known account and quadrant, has a reason, and appears once.

    Raises
    ------
    ParameterError
        Naming each offending row (by its ``source``), the bad values and the fix.
    """
    if overrides.empty:
        return
    known = set(map(str, account_ids))
    problems = []
    src = overrides.get("source", pd.Series([f"row {i + 1}" for i in range(len(overrides))], index=overrides.index))
    unknown = ~overrides["account_id"].astype(str).isin(known)
    if unknown.any():
        ex = [f"{s}: {a!r}" for s, a in zip(src[unknown][:5], overrides.loc[unknown, "account_id"][:5])]
        problems.append(f"{int(unknown.sum())} override(s) name an account that is not in the data ({'; '.join(ex)})"
                        " — fix: use the account_id as in the client's accounts file")
    badq = ~overrides["quadrant"].isin(quadrant_names)
    for s, q in list(zip(src[badq], overrides.loc[badq, "quadrant"]))[:5]:
        guess = difflib.get_close_matches(str(q), quadrant_names, n=1, cutoff=0.5)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        problems.append(f"{s}: quadrant {q!r} is not one of {quadrant_names}{hint}")
    if badq.sum() > 5:
        problems.append(f"... and {int(badq.sum()) - 5} more unknown quadrant(s)")
    noreason = overrides["reason"].fillna("").astype(str).str.strip() == ""
    if noreason.any():
        problems.append(f"{int(noreason.sum())} override(s) have no reason ({', '.join(src[noreason][:5])})"
                        " — fix: every override must say why the consultant overrules the data")
    dup = overrides["account_id"].astype(str).duplicated(keep=False)
    if dup.any():
        ids = sorted(set(overrides.loc[dup, "account_id"].astype(str)))[:5]
        problems.append(f"account(s) {ids} are overridden more than once — fix: keep one row per account")
    if problems:
        raise ParameterError("Quadrant overrides are invalid:\n  - " + "\n  - ".join(problems))


def apply_overrides(segments: pd.DataFrame, overrides: pd.DataFrame | None, *, quadrant_names: list[str],
                    account_col: str = "account_id") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply consultant overrides to ``quadrant``; return the segments and the override log.

    ``segments`` must have ``quadrant_model`` (the data's quadrant). The result has
    ``quadrant`` (after overrides), ``override_reason`` (None where not overridden) and
    ``overridden`` (bool). The log has one row per override:
    ``account_id, quadrant_model, quadrant, changed, reason, source``.
    """
    out = segments.copy()
    out["quadrant"] = out["quadrant_model"]
    out["override_reason"] = None
    out["overridden"] = False
    cols = [account_col, "quadrant_model", "quadrant", "changed", "reason", "source"]
    if overrides is None or overrides.empty:
        return out, pd.DataFrame(columns=cols)
    ov = overrides.copy()
    if "source" not in ov:
        ov["source"] = [f"params row {i + 1}" for i in range(len(ov))]
    ov["account_id"] = ov["account_id"].astype(str)
    validate_overrides(ov, account_ids=out[account_col], quadrant_names=quadrant_names)
    idx = pd.Series(out.index, index=out[account_col].astype(str))
    rows = idx.reindex(ov["account_id"]).to_numpy()
    out.loc[rows, "quadrant"] = ov["quadrant"].to_numpy()
    out.loc[rows, "override_reason"] = ov["reason"].to_numpy()
    out.loc[rows, "overridden"] = True
    log = pd.DataFrame({account_col: ov["account_id"].to_numpy(),
                        "quadrant_model": out.loc[rows, "quadrant_model"].to_numpy(),
                        "quadrant": ov["quadrant"].to_numpy(), "reason": ov["reason"].to_numpy(),
                        "source": ov["source"].to_numpy()})
    log["changed"] = log["quadrant_model"] != log["quadrant"]
    return out, log[cols]


# --------------------------------------------------------------------------- stability
def compute_stability(norm_attractiveness: pd.DataFrame, attractiveness_weights: pd.Series,
                      norm_strength: pd.DataFrame, strength_weights: pd.Series, quadrant_model, *, names,
                      attractiveness_threshold: float | None = None, strength_threshold: float | None = None,
                      draws: int = 500, concentration: float = 20.0, seed: int = 0,
                      chunk: int = 50) -> pd.Series:
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
        A = na @ Wa
        S = ns @ Ws
        hi_a = A >= (np.median(A, axis=0) if attractiveness_threshold is None else attractiveness_threshold)
        hi_s = S >= (np.median(S, axis=0) if strength_threshold is None else strength_threshold)
        code = np.where(hi_a, np.where(hi_s, 0, 1), np.where(hi_s, 2, 3))
        same += (code == model_code[:, None]).sum(axis=1)
        done += m
    return pd.Series(same / draws, index=norm_attractiveness.index, name="stability")


# --------------------------------------------------------------------------- RFM
def load_rfm_segments(path: str | Path) -> dict:
    """Read and check the RFM segment mapping (``templates/rfm_segments.yaml``).

    Raises
    ------
    ParameterError
        The file is missing or malformed, or some R × F combination matches no rule.
    """
    from ..config import read_yaml_mapping

    path = Path(path)
    data = read_yaml_mapping(path, what="RFM segments file", setting="segmentation.rfm.segments_file")
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list) or not data["segments"]:
        raise ParameterError(f"RFM segments file {path} must have 'scale:' and a 'segments:' list of rules")
    scale = int(data.get("scale", 5))
    for i, rule in enumerate(data["segments"], 1):
        if not isinstance(rule, dict) or "name" not in rule:
            raise ParameterError(f"RFM segments file {path}: rule {i} has no 'name'")
        for k in ("recency", "frequency", "monetary"):
            r = rule.get(k, [1, scale])
            if not (isinstance(r, list) and len(r) == 2 and 1 <= r[0] <= r[1] <= scale):
                raise ParameterError(f"RFM segments file {path}: rule {rule['name']!r} has {k} {r!r}; "
                                     f"fix: give a range [min, max] within 1..{scale}")
    gaps = [(r, f) for r in range(1, scale + 1) for f in range(1, scale + 1)
            if not any(_rule_matches(rule, r, f, None, scale) for rule in data["segments"])]
    if gaps:
        raise ParameterError(f"RFM segments file {path} leaves {len(gaps)} (R, F) score pair(s) unnamed, e.g. "
                             f"{gaps[:5]}; fix: add rules that cover them")
    return {"scale": scale, "segments": data["segments"]}


def _rule_matches(rule, r, f, m, scale) -> bool:
    rr = rule.get("recency", [1, scale])
    fr = rule.get("frequency", [1, scale])
    ok = rr[0] <= r <= rr[1] and fr[0] <= f <= fr[1]
    if m is not None and "monetary" in rule:
        ok = ok and rule["monetary"][0] <= m <= rule["monetary"][1]
    return ok


def _quantile_score(values: pd.Series, bins: int, higher_is_better: bool) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce")
    r = v.rank(method="average", ascending=higher_is_better, pct=True)  # best -> 1.0
    score = np.ceil(r * bins).clip(1, bins)
    return score.fillna(1).astype("int64")


def compute_rfm(features: pd.DataFrame, *, segments: dict, bins: int = 5, recency_column: str = "recency_days",
                frequency_column: str = "n_orders", monetary_column: str = "revenue",
                account_col: str = "account_id") -> pd.DataFrame:
    """RFM scores by quantile and the named segment of each account.

    Each score is ``ceil(percentile rank × bins)`` on 1..bins, with 5 (= ``bins``) the
    best: most recent (fewest days since last order), most orders, most revenue. Ties
    share their mean rank; accounts that never ordered score 1. The R and F scores are
    rescaled to the mapping's scale (``ceil(score × scale / bins)``) and the first rule
    of ``segments`` (:func:`load_rfm_segments`) that contains them names the segment.

    Returns ``account_id, r_score, f_score, m_score, rfm_score`` (e.g. "545"), ``rfm_segment``.
    """
    for c in (recency_column, frequency_column, monetary_column):
        if c not in features:
            raise ParameterError(f"segmentation.rfm: column {c!r} is not an account feature; "
                                 f"fix: choose one of {', '.join(sorted(features.columns))}")
    out = pd.DataFrame({account_col: features[account_col]})
    out["r_score"] = _quantile_score(features[recency_column], bins, higher_is_better=False)
    out["f_score"] = _quantile_score(features[frequency_column], bins, higher_is_better=True)
    out["m_score"] = _quantile_score(features[monetary_column], bins, higher_is_better=True)
    never = pd.to_numeric(features[recency_column], errors="coerce").isna()
    out.loc[never, ["r_score", "f_score", "m_score"]] = 1
    out["rfm_score"] = out["r_score"].astype(str) + out["f_score"].astype(str) + out["m_score"].astype(str)
    scale = segments["scale"]

    def rescale(s):
        return np.ceil(s * scale / bins).clip(1, scale).astype(int)

    r, f, m = rescale(out["r_score"]), rescale(out["f_score"]), rescale(out["m_score"])
    names = np.full(len(out), None, dtype=object)
    for rule in reversed(segments["segments"]):  # first matching rule wins
        hit = np.array([_rule_matches(rule, a, b, c, scale) for a, b, c in zip(r, f, m)], dtype=bool)
        names[hit] = rule["name"]
    out["rfm_segment"] = names
    return out


def compute_rfm_profiles(rfm: pd.DataFrame, features: pd.DataFrame, *, segments: dict,
                         account_col: str = "account_id") -> pd.DataFrame:
    """Per RFM segment: accounts, revenue (12m) and its share, mean R/F/M scores, description.

    Segments are listed in the order of the mapping file; empty segments are kept with
    0 accounts so the workbook always shows the full scheme.
    """
    df = rfm.merge(features[[account_col, "revenue_12m", "n_orders", "recency_days"]], on=account_col)
    g = df.groupby("rfm_segment").agg(accounts=(account_col, "size"), revenue_12m=("revenue_12m", "sum"),
                                      r_score=("r_score", "mean"), f_score=("f_score", "mean"),
                                      m_score=("m_score", "mean"), median_orders=("n_orders", "median"),
                                      median_recency_days=("recency_days", "median"))
    order = [s["name"] for s in segments["segments"]]
    g = g.reindex(order)
    g["accounts"] = g["accounts"].fillna(0).astype("int64")
    g["revenue_12m"] = g["revenue_12m"].fillna(0.0)
    total = g["revenue_12m"].sum()
    g["revenue_share"] = g["revenue_12m"] / total if total else np.nan
    g["account_share"] = g["accounts"] / max(g["accounts"].sum(), 1)
    g["description"] = [s.get("description", "") for s in segments["segments"]]
    g.index.name = "rfm_segment"
    return g.reset_index()[["rfm_segment", "accounts", "account_share", "revenue_12m", "revenue_share", "r_score",
                            "f_score", "m_score", "median_orders", "median_recency_days", "description"]]


# --------------------------------------------------------------------------- clusters
class ClusteringNotSupported(ParameterError):
    """The data cannot support clustering (too few accounts, or no feature varies)."""


def compute_clusters(features: pd.DataFrame, *, columns: list[str], k_min: int = 2, k_max: int = 8, seed: int = 0,
                     silhouette_sample: int = 5000, account_col: str = "account_id"):
    """Behavioural clusters: k-means on standardised features, k by the best silhouette.

    Each feature is filled with its median where missing and standardised
    (z = (v − mean) / sd). For each k in [k_min, k_max] k-means (10 seeded starts) is fitted
    and the mean silhouette computed (on a seeded sample of ``silhouette_sample``
    accounts); the k with the highest silhouette is kept (the smaller k on a tie).
    Clusters are numbered 1..k by descending mean ``revenue_12m`` (if present) so the
    numbering is stable. Each cluster is labelled by its two most distinctive features
    (largest |mean z| ≥ 0.3), e.g. "high spend, broad range".

    Returns
    -------
    assignments : DataFrame
        ``account_id, cluster, cluster_label``.
    profiles : DataFrame
        ``cluster, cluster_label, accounts, account_share, revenue_12m, revenue_share``,
        the mean of each feature (``mean_<feature>``) and its mean z-score (``z_<feature>``).
    silhouette : DataFrame
        ``k, silhouette, chosen``.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    missing = [c for c in columns if c not in features]
    if missing:
        raise ParameterError(f"segmentation.clusters.features {missing} are not account features; "
                             f"fix: choose from {', '.join(sorted(features.columns))}")
    X = features[columns].apply(pd.to_numeric, errors="coerce").astype(float)
    usable = [c for c in columns if X[c].notna().any() and X[c].std(skipna=True) > 0]
    if not usable:
        raise ClusteringNotSupported("none of segmentation.clusters.features varies across accounts; "
                                     "fix: choose others")
    X = X[usable].fillna(X[usable].median())
    Z = (X - X.mean()) / X.std(ddof=0)
    n = len(Z)
    k_hi = min(k_max, n - 1)
    if k_hi < k_min:
        raise ClusteringNotSupported(f"{n} accounts are too few for {k_min}+ clusters; "
                                     "fix: lower segmentation.clusters.k_min")
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=min(n, silhouette_sample), replace=False))
    rows, fits = [], {}
    for k in range(k_min, k_hi + 1):
        # one thread: k-means on small frames is far slower with OpenMP threads on a busy machine
        with threadpool_limits(1):
            km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(Z.to_numpy())
        labels = km.labels_
        sil = silhouette_score(Z.to_numpy()[sample], labels[sample]) if len(set(labels[sample])) > 1 else -1.0
        rows.append({"k": k, "silhouette": float(sil)})
        fits[k] = labels
    sil = pd.DataFrame(rows)
    best = int(sil.loc[sil["silhouette"].idxmax(), "k"])
    sil["chosen"] = sil["k"] == best
    labels = fits[best]
    value = features["revenue_12m"].to_numpy(dtype=float) if "revenue_12m" in features else np.zeros(n)
    means = pd.Series(value).groupby(labels).mean().sort_values(ascending=False, kind="stable")
    remap = {old: new for new, old in enumerate(means.index, start=1)}
    cluster = np.array([remap[x] for x in labels])
    zmean = Z.groupby(cluster).mean()
    names = {}
    for c, row in zmean.iterrows():
        top = row.abs().sort_values(ascending=False, kind="stable")
        parts = []
        for feat in top.index[:2]:
            if abs(row[feat]) >= 0.3:
                lab = FEATURE_LABELS.get(feat, (feat, f"high {feat}", f"low {feat}"))
                parts.append(lab[1] if row[feat] > 0 else lab[2])
        names[c] = ", ".join(parts).capitalize() if parts else "Average profile"
    assignments = pd.DataFrame({account_col: features[account_col].to_numpy(), "cluster": cluster,
                                "cluster_label": [names[c] for c in cluster]})
    prof = X.groupby(cluster).mean().add_prefix("mean_")
    zc = zmean.add_prefix("z_")
    counts = pd.Series(cluster).value_counts().sort_index()
    revenue = pd.Series(value).groupby(cluster).sum()
    out = pd.DataFrame({"cluster": counts.index, "cluster_label": [names[c] for c in counts.index],
                        "accounts": counts.to_numpy(), "account_share": counts.to_numpy() / n,
                        "revenue_12m": revenue.reindex(counts.index).to_numpy(),
                        "revenue_share": revenue.reindex(counts.index).to_numpy() / (value.sum() or np.nan)})
    out = pd.concat([out.reset_index(drop=True), prof.reset_index(drop=True), zc.reset_index(drop=True)], axis=1)
    return assignments, out, sil


# --------------------------------------------------------------------------- profiles
def compute_segment_profiles(segments: pd.DataFrame, features: pd.DataFrame, *, names, intents,
                             segment_col: str = "quadrant", account_col: str = "account_id") -> pd.DataFrame:
    """Per quadrant: size, revenue and profit share, KPIs, behaviour and engagement intent.

    Formulas
    --------
    * ``revenue_share`` = quadrant revenue_12m / total revenue_12m;
    * ``profit_share`` = quadrant profit_12m / total profit_12m (profit = gross margin
      12m − cost to serve; gross margin when cost to serve is unknown);
    * ``avg_*`` are means over the quadrant's accounts, ``median_*`` medians;
    * ``top_rfm_segment`` / ``top_cluster`` = the most common RFM segment / cluster label;
    * ``intent`` from ``params.segmentation.quadrant_intents``.

    All four quadrants are listed (in matrix order), with 0 accounts when empty.
    """
    cols = [c for c in ("revenue_12m", "gross_margin_12m", "profit_12m", "orders_12m", "recency_days",
                        "tenure_days", "n_categories", "order_regularity", "nps_mean", "margin_rate")
            if c in features]
    df = segments.merge(features[[account_col, *cols]], on=account_col, how="left",
                        suffixes=("", "_f"))
    order = names.ordered()
    g = df.groupby(segment_col)
    out = pd.DataFrame(index=pd.Index(order, name="segment"))
    out["accounts"] = g.size().reindex(order).fillna(0).astype("int64")
    out["account_share"] = out["accounts"] / max(len(df), 1)
    out["key_accounts"] = g["is_key"].sum().reindex(order).fillna(0).astype("int64") if "is_key" in df else 0
    out["overridden"] = (g["overridden"].sum().reindex(order).fillna(0).astype("int64")
                         if "overridden" in df else 0)
    out["revenue_12m"] = g["revenue_12m"].sum().reindex(order).fillna(0.0)
    tot = df["revenue_12m"].sum()
    out["revenue_share"] = out["revenue_12m"] / tot if tot else np.nan
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
    out["intent"] = [getattr(intents, pos[q]) for q in order]
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
        purchases = clvmod.load_purchase_days(run)
        summary = clvmod.compute_clv_summary(purchases, observation_end=as_of, time_unit_days=cfg.time_unit_days)
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
            hs = clvmod.compute_clv_summary(purchases, observation_end=as_of, calibration_end=cal_end,
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
    feats = compute_account_features(summary, account_period=period, clv_scores=clv_res["scores"],
                                     clv_value_basis=seg.clv.value_basis, account_col=account_col)
    sel, sel_w, sel_n = compute_selection_scores(feats, criteria=seg.selection_criteria,
                                                 normalisation=seg.normalisation,
                                                 key_account_share=seg.key_account_share, account_col=account_col)
    stre, str_w, str_n = compute_relative_strength(feats, criteria=seg.strength_criteria,
                                                   normalisation=seg.normalisation, account_col=account_col)
    quad = assign_quadrants(sel["selection_score"], stre["relative_strength"], names=names,
                            attractiveness_threshold=seg.attractiveness_threshold,
                            strength_threshold=seg.strength_threshold)
    base = pd.DataFrame({account_col: feats[account_col], "selection_score": sel["selection_score"],
                         "selection_rank": sel["selection_rank"], "is_key": sel["is_key"].astype(bool)})
    if "key_account" in feats:
        base["currently_key"] = feats["key_account"].astype(str).str.strip().str.upper().isin(
            ["Y", "YES", "TRUE", "1"]).to_numpy()
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
    base["stability"] = compute_stability(
        sel_n, wa, str_n, ws, base["quadrant_model"], names=names,
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
                                                account_col=account_col)
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
                                        account_col=account_col)
    tier_summary = (segments.groupby("tier", sort=False).agg(accounts=(account_col, "size"),
                                                             revenue_12m=("revenue_12m", "sum"))
                    .reindex(list(seg.tiers)).fillna(0).reset_index())
    tier_summary["revenue_share"] = tier_summary["revenue_12m"] / (tier_summary["revenue_12m"].sum() or np.nan)
    weights = pd.concat([sel_w.assign(axis="attractiveness (selection score)"),
                         str_w.assign(axis="relative strength")], ignore_index=True)
    weights = weights[["axis", "criterion", "column", "group", "weight", "weight_used", "higher_is_better", "status"]]
    comps = sel.drop(columns=["selection_rank", "is_key"]).merge(stre, on=account_col)
    a_thr = seg.attractiveness_threshold
    s_thr = seg.strength_threshold
    settings = [
        ("normalisation", seg.normalisation),
        ("key_account_share", f"{seg.key_account_share:.0%}"),
        ("key_accounts_selected", str(int(base["is_key"].sum()))),
        ("attractiveness_threshold", f"{a_thr:.3f}" if a_thr is not None
         else f"median = {np.median(base['attractiveness']):.3f}"),
        ("strength_threshold", f"{s_thr:.3f}" if s_thr is not None
         else f"median = {np.median(base['relative_strength']):.3f}"),
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
        ("clv_value_basis", seg.clv.value_basis),
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
    }


TABLE_DESCRIPTIONS = {
    "segments": "account -> selection score, key flag, portfolio quadrant (model and after overrides), "
                "stability, RFM segment, cluster, CLV, P(alive)",
    "segment_profiles": "quadrant -> accounts, revenue and profit share, KPIs, behaviour, engagement intent",
    "clv_params": "BG/NBD and Gamma-Gamma parameter estimates and CLV settings",
    "clv_holdout": "calibration/holdout check: actual vs predicted holdout purchases by calibration frequency",
    "clv_accounts": "account -> frequency, recency, T, monetary value, P(alive), expected purchases, CLV",
    "selection_weights": "criteria of both matrix axes: column, group, weight, weight used, status",
    "score_components": "account -> weighted contribution of every criterion to both scores",
    "segment_overrides": "consultant quadrant overrides applied, with reason and source",
    "rfm_profiles": "RFM segment -> accounts, revenue share, mean scores, description",
    "cluster_profiles": "behavioural cluster -> size, revenue share, feature means and z-scores",
    "cluster_silhouette": "k -> mean silhouette; the chosen k",
    "tier_summary": "value tier -> accounts and revenue",
    "segmentation_settings": "the segmentation settings and thresholds used in this run",
}


def write_segmentation_tables(run, tables: dict[str, pd.DataFrame]) -> list[str]:
    """Write the tables of :func:`compute_segmentation` to the run folder; return their names."""
    for name, df in tables.items():
        run.write_table(name, df, phase="segmentation", description=TABLE_DESCRIPTIONS.get(name, ""))
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
