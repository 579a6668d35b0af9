"""Churn-risk model: who is likely to stop buying in the next period, and why.

The model is a logistic regression (statsmodels) of *churn in the next window* on
account features measured *at a cut-off date*:

    logit P(churn_i) = b0 + sum_k b_k x_ik,     odds ratio_k = exp(b_k)

* churn = an account active at the cut-off (an order in the ``activity_days`` before
  it) places no order in the ``horizon_days`` after it;
* features are computed only from data up to the cut-off (DuckDB over the clean
  transactions, so a large extract never goes through pandas), so nothing from the
  outcome window leaks in.

An honest back-test uses a time split: fit on the window that ends one horizon before
the as-of date's window, test on the last fully observed window (cut-off = as-of date -
horizon). The final model is refit on that last window and scores every active account
at the as-of date.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import ParameterError, RunError
from ..metrics.stats import is_detractor

__all__ = [
    "FEATURES",
    "ChurnModelNotSupported",
    "build_churn_frame",
    "build_churn_frames",
    "ChurnRiskModel",
    "compute_backtest",
    "backtest_sentence",
    "horizon_words",
    "risk_band_label",
    "compute_churn_risk",
    "compute_revenue_at_risk",
    "compute_churn_model_status",
    "describe_churn_analysis",
    "run_churn_analysis",
]


@dataclass(frozen=True)
class _Feature:
    label: str
    unit: str  # how one unit reads in a sentence
    needs: str = ""  # "surveys", "accounts", "category" when it needs optional data


#: each feature's label is whole on a chart axis (deliverables._pptx.CHART_LABEL_MAX characters) and in
#: every table; the unit sentence carries the detail (which windows, which scores)
FEATURES: dict[str, _Feature] = {
    "recency_months": _Feature("Months since last order", "each extra month since the last order"),
    "orders_12m_log2": _Feature("Orders, last 12 months (per doubling)", "each doubling of the number of orders"),
    "frequency_trend": _Feature("Order rate falling (per halving)",
                                "each halving of the recent order rate against the six months before", ),
    "detractor": _Feature("Detractor (latest NPS 0-6)", "a detractor NPS score (0-6) on the latest survey", "surveys"),
    "no_survey": _Feature("No survey response", "having no survey response", "surveys"),
    "csat_low": _Feature("Low CSAT (latest 1-2)", "a low CSAT score (1-2) on the latest survey", "surveys"),
    "nps_score": _Feature("Latest NPS score (per point lower)", "each point lower on the latest NPS score", "surveys"),
    "tenure_years": _Feature("Tenure (years)", "each extra year as a customer"),
    "category_breadth": _Feature("Categories bought, last 12 months", "each extra product category bought", "category"),
    "key_account": _Feature("In the key-account programme", "being in the client's key-account programme", "accounts"),
}
#: Features that describe the slowdown churn is the end of (how long since the last order, the
#: order rate falling) rather than a cause a manager can act on: on client pages they are
#: early-warning signs, and the driver named as the one to act on is the strongest other one.
EARLY_WARNING_FEATURES = frozenset({"recency_months", "frequency_trend"})
DRIVER_COLUMNS = ["feature", "label", "coef", "odds_ratio", "ci_low", "ci_high", "p_value", "significant",
                  "material", "direction", "interpretation"]
#: A driver is worth acting on only when one unit of it (each unit above is a step a manager can
#: see: a month, a doubling, a detractor) moves the odds of churning by at least this factor,
#: either way. On a large base every effect is statistically clear; an odds ratio of 1.02 is not
#: a reason to act, so it is reported as measurable but too small (``material`` False).
MATERIAL_ODDS_RATIO = 1.1
BACKTEST_COLUMNS = ["metric", "label", "value", "unit", "note"]
CALIBRATION_COLUMNS = ["decile", "accounts", "predicted", "observed"]
CHURN_RISK_COLUMNS = ["account_id", "segment", "active", "risk_score", "risk_band", "risk_rank", "revenue_12m",
                      "revenue_at_risk", "main_driver", "note"]


class ChurnModelNotSupported(RunError):
    """The client's data cannot support the churn model (history too short for the horizon,
    too few accounts or too few churners). A data limitation: the engagement goes on
    without churn scores, and says why.

    ``client`` is the reason in client words (no parameter key) and ``need`` the input that would
    unlock the model (a key of the capability profile's data request: ``history`` or ``base``): the
    strategy phase records them as the churn model's refusal in ``analysis_support``
    (:func:`kam_analysis.metrics.capability.with_refusal`), the one reason every deliverable shows."""

    def __init__(self, message: str, *, client: str = "", need: str = "history"):
        super().__init__(message)
        self.client = client or message.split("; fix:")[0]
        self.need = need


# features whose sign is flipped so the odds ratio reads naturally ("each halving ...", "each point lower ...")
_FLIP = {"frequency_trend", "nps_score"}


def _day(d) -> pd.Timestamp:
    """A cut-off as the key and ``cutoff`` value of its frame (the day, as a timestamp built from a date)."""
    return pd.Timestamp(pd.Timestamp(d).date())


def _sql_date(d) -> str:
    return f"DATE '{pd.Timestamp(d).date()}'"


def build_churn_frame(transactions: pd.DataFrame | str, *, cutoff: dt.date, horizon_days: int, activity_days: int,
                      surveys: pd.DataFrame | None = None, accounts: pd.DataFrame | None = None,
                      data_end: dt.date | None = None) -> pd.DataFrame:
    """Features at ``cutoff`` and the churn outcome in the following window, per active account.

    Parameters
    ----------
    transactions : DataFrame or str
        Clean transactions (account_id, order_id, order_date, net_revenue, category?) or
        a DuckDB relation expression over them (``run.transactions_sql()``).
    cutoff : date
        Features use orders and surveys on or before this date only.
    horizon_days : int
        Outcome window: ``churned`` = no order with positive revenue in
        (cutoff, cutoff + horizon_days].
    activity_days : int
        The population: accounts with an order in the ``activity_days`` up to the cut-off.
    surveys, accounts : DataFrame, optional
        Survey responses (account_id, survey_date, nps?, csat?) and the accounts table
        (account_id, key_account?).
    data_end : date, optional
        Last date of data; when the outcome window runs past it ``churned`` is NaN.

    Returns
    -------
    DataFrame
        account_id, cutoff, revenue_12m (at the cut-off), every feature in
        :data:`FEATURES` the data supports, and churned (float 0/1, NaN when unobserved).
    """
    return build_churn_frames(transactions, cutoffs=[cutoff], horizon_days=horizon_days, activity_days=activity_days,
                              surveys=surveys, accounts=accounts, data_end=data_end)[_day(cutoff)]


def build_churn_frames(transactions: pd.DataFrame | str, *, cutoffs, horizon_days: int, activity_days: int,
                       surveys: pd.DataFrame | None = None, accounts: pd.DataFrame | None = None,
                       data_end: dt.date | None = None) -> dict[pd.Timestamp, pd.DataFrame]:
    """:func:`build_churn_frame` at several cut-offs, from one pass over the transactions.

    The order lines are summed once to orders (exact revenue, first and last day) and,
    with a category, to each account's last day of buying each category before every
    cut-off; every cut-off's features are then filtered aggregates of one GROUP BY over
    the orders, so the order lines are read twice in all instead of once per cut-off.
    The rule is the single cut-off's: an order counts from its first day and its revenue
    is the sum of its lines up to the end of the cut-off's outcome window (an order whose
    lines fall on several days is summed per cut-off). "Last 12 months" and "last 6
    months" are calendar months back from the cut-off (``INTERVAL 12 MONTH``), the KPIs'
    windows, so ``revenue_12m`` at a cut-off is the account KPI's. Returns cut-off day
    (Timestamp) -> frame.
    """
    from ..metrics.engine import duckdb_connect

    from ..data.prepare import active_sql, counted_order_sql, exact_sum

    cuts = sorted({_day(c) for c in cutoffs})
    cs = [_sql_date(c) for c in cuts]
    ends = [_sql_date(c + pd.Timedelta(days=horizon_days)) for c in cuts]
    con = duckdb_connect()  # memory-capped (KAM_DUCKDB_MEMORY_LIMIT)
    try:
        if isinstance(transactions, pd.DataFrame):
            con.register("src_tx", transactions)
            src = "src_tx"
            has_cat = "category" in transactions.columns
        else:
            src = transactions
            has_cat = "category" in [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
        con.execute(f"""CREATE TEMP TABLE o1 AS
            SELECT account_id, order_id, min(order_date) AS d, max(order_date) AS d_last,
                   {exact_sum('net_revenue')} AS rev
            FROM {src} WHERE order_date <= {max(ends)} GROUP BY account_id, order_id""")
        orders = "SELECT NULL::INTEGER AS cut, account_id, d, rev FROM o1"
        multi = bool(con.execute("SELECT count(*) FROM o1 WHERE d_last > d").fetchone()[0])
        if multi:
            # orders over several days: their revenue up to each cut-off's outcome end
            con.execute(f"""CREATE TEMP TABLE om AS
                SELECT t.account_id, t.order_id, t.order_date, {exact_sum('t.net_revenue')} AS rev
                FROM {src} t SEMI JOIN (SELECT account_id, order_id FROM o1 WHERE d_last > d) m
                  ON t.account_id = m.account_id AND t.order_id IS NOT DISTINCT FROM m.order_id
                WHERE t.order_date <= {max(ends)} GROUP BY ALL""")
            orders = ("SELECT NULL::INTEGER AS cut, account_id, d, rev FROM o1 WHERE d_last = d" + "".join(
                f" UNION ALL SELECT {i} AS cut, account_id, min(order_date) AS d, sum(rev) AS rev FROM om "
                f"WHERE order_date <= {e} GROUP BY account_id, order_id" for i, e in enumerate(ends)))
        counted = counted_order_sql("rev")
        aggs = []
        for i, (c, e) in enumerate(zip(cs, ends)):
            mine = f"(cut IS NULL OR cut = {i})" if multi else "true"  # the cut-off's own rows
            past = f"{mine} AND d <= {c}"
            aggs += [f"max(d) FILTER (WHERE {past} AND {counted}) AS last_d_{i}",
                     f"min(d) FILTER (WHERE {past} AND {counted}) AS first_d_{i}",
                     f"count(*) FILTER (WHERE {past} AND {counted} AND d > {c} - INTERVAL 6 MONTH) AS o_recent_{i}",
                     f"count(*) FILTER (WHERE {past} AND {counted} AND d <= {c} - INTERVAL 6 MONTH "
                     f"AND d > {c} - INTERVAL 12 MONTH) AS o_prior_{i}",
                     f"count(*) FILTER (WHERE {past} AND {counted} AND d > {c} - INTERVAL 12 MONTH) AS orders_12m_{i}",
                     f"CAST(coalesce(sum(rev) FILTER (WHERE {past} AND d > {c} - INTERVAL 12 MONTH), 0) AS DOUBLE) "
                     f"AS revenue_12m_{i}",
                     f"count(*) FILTER (WHERE {mine} AND {counted} AND d > {c} AND d <= {e}) AS o_future_{i}"]
        con.execute(f"CREATE TEMP TABLE agg AS SELECT account_id, {', '.join(aggs)} FROM ({orders}) GROUP BY account_id")
        if has_cat:
            # categories bought (a line with positive revenue) in the year to each cut-off: the
            # last day each account bought each category on or before the cut-off, then counted
            last = ", ".join(f"max(order_date) FILTER (WHERE order_date <= {c}) AS m_{i}" for i, c in enumerate(cs))
            breadth = ", ".join(f"count(*) FILTER (WHERE m_{i} > {c} - INTERVAL 12 MONTH) AS category_breadth_{i}"
                                for i, c in enumerate(cs))
            con.execute(f"""CREATE TEMP TABLE cat AS SELECT account_id, {breadth} FROM (
                SELECT account_id, category, {last} FROM {src}
                WHERE net_revenue > 0 AND category IS NOT NULL AND order_date <= {max(cs)}
                GROUP BY account_id, category) GROUP BY account_id""")
        frames: dict[pd.Timestamp, pd.DataFrame] = {}
        for i, (cut, c) in enumerate(zip(cuts, cs)):
            cols = ", ".join(f"{k}_{i} AS {k}" for k in ("last_d", "first_d", "o_recent", "o_prior", "orders_12m",
                                                        "revenue_12m", "o_future"))
            df = con.execute(f"""
                SELECT account_id, {cols}, {f'cat.category_breadth_{i}' if has_cat else 'NULL'} AS category_breadth
                FROM agg {'LEFT JOIN cat USING (account_id)' if has_cat else ''}
                WHERE {active_sql(f'last_d_{i}', as_of=c, churn_days=activity_days)}
                ORDER BY account_id""").df()
            frames[cut] = _churn_frame(df, cut, has_cat=has_cat, horizon_days=horizon_days, surveys=surveys,
                                       accounts=accounts, data_end=data_end)
    finally:
        con.close()
    return frames


def _churn_frame(df: pd.DataFrame, cut: pd.Timestamp, *, has_cat: bool, horizon_days: int, surveys, accounts,
                 data_end) -> pd.DataFrame:
    """One cut-off's features from its account-level counts (:func:`build_churn_frames`)."""
    out = pd.DataFrame({"account_id": df["account_id"].astype(str), "cutoff": cut,
                        "revenue_12m": df["revenue_12m"].astype(float)})
    out["recency_months"] = (cut - pd.to_datetime(df["last_d"])).dt.days / 30.44
    out["orders_12m_log2"] = np.log2(df["orders_12m"].clip(lower=1).astype(float))
    out["frequency_trend"] = np.log2((df["o_recent"] + 1.0) / (df["o_prior"] + 1.0))
    out["tenure_years"] = (cut - pd.to_datetime(df["first_d"])).dt.days / 365.25
    if has_cat:
        out["category_breadth"] = df["category_breadth"].fillna(0).astype(float)
    if surveys is not None and len(surveys):
        s = surveys[pd.to_datetime(surveys["survey_date"]) <= cut].copy()
        s["survey_date"] = pd.to_datetime(s["survey_date"])
        s = s.sort_values(["account_id", "survey_date"], kind="stable")
        latest = s.groupby("account_id").tail(1).set_index("account_id")
        ids = out["account_id"]
        has = ids.isin(latest.index).to_numpy()
        out["no_survey"] = (~has).astype(float)
        if "nps" in latest:
            nps = ids.map(latest["nps"]).astype(float)
            out["detractor"] = is_detractor(nps).astype(float).where(nps.notna(), 0.0)
            out["nps_score"] = nps.fillna(nps.mean() if nps.notna().any() else 0.0)
        if "csat" in latest:
            csat = ids.map(latest["csat"]).astype(float)
            out["csat_low"] = (csat <= 2).astype(float).where(csat.notna(), 0.0)
    if accounts is not None and "key_account" in accounts:
        ka = accounts.set_index(accounts["account_id"].astype(str))["key_account"]
        out["key_account"] = out["account_id"].map(ka).fillna(False).astype(bool).astype(float)
    observed = data_end is None or cut + pd.Timedelta(days=horizon_days) <= pd.Timestamp(data_end)
    out["churned"] = (df["o_future"].to_numpy() == 0).astype(float) if observed else np.nan
    return out


class ChurnRiskModel:
    """Logistic regression of churn on account features, reported as odds ratios.

    Parameters
    ----------
    features : list of str
        Columns of the training frame (names from :data:`FEATURES` get plain-language
        labels; others are used as they are).
    confidence : float
        Confidence level of the odds-ratio intervals.
    horizon_days : int, optional
        Only used to word the interpretation ("... in the next 180 days").

    Attributes
    ----------
    features_ : list of str
        Features actually used (constant columns are dropped, see ``dropped_``).
    result_ : statsmodels results
    drivers_ : DataFrame
        feature, label, coef, odds_ratio, ci_low, ci_high, p_value, significant,
        direction, interpretation (one row per feature).
    n_, base_rate_ : int, float
        Training rows and churn rate.
    """

    def __init__(self, features: list[str], *, confidence: float = 0.95, horizon_days: int | None = None):
        self.features = list(features)
        self.confidence = confidence
        self.horizon_days = horizon_days

    def _design(self, df: pd.DataFrame, features: list[str]) -> pd.DataFrame:
        X = df[features].astype(float).copy()
        for f in features:
            if f in _FLIP:
                X[f] = -X[f]
        return X

    def fit(self, df: pd.DataFrame, *, outcome: str = "churned", groups: str | None = None) -> "ChurnRiskModel":
        """Fit the logit on ``df``; with ``groups`` (e.g. ``"account_id"`` when the frame
        pools several cut-offs, so an account appears more than once) the confidence
        intervals are cluster-robust by that column."""
        import statsmodels.api as sm

        if not self.features:
            raise ParameterError("the churn model has no features; fix: list some in strategy.churn_features")
        missing = [f for f in self.features if f not in df.columns]
        if missing:
            raise ParameterError(f"churn feature(s) {missing} are not in the data (available: "
                                 f"{', '.join(c for c in df.columns if c in FEATURES)}); fix: remove them from "
                                 "strategy.churn_features or provide the data they need (surveys, accounts)")
        data = df.dropna(subset=[outcome, *self.features])
        y = data[outcome].astype(float)
        if len(data) < 30 or y.nunique() < 2 or min(y.sum(), len(y) - y.sum()) < 5:
            n, k = len(data), int(y.sum())
            raise ChurnModelNotSupported(
                f"too little data to fit the churn model: {n} accounts, {k} churned; it needs at least 30 accounts "
                "with 5 churned and 5 retained (a longer history, or a shorter strategy.churn_horizon_days, helps)",
                client=f"too few accounts to learn which are about to stop buying: in the periods the model learns "
                       f"from, {k} account{'s' if k != 1 else ''} stopped buying and {n - k} kept buying (at least 5 "
                       "of each, and 30 in all, are needed)",
                # fewer than 30 distinct accounts: a larger base unlocks it; else a longer history does
                need="base" if (data[groups].nunique() if groups in data else n) < 30 else "history")
        self.dropped_ = [f for f in self.features if data[f].nunique() < 2]
        self.features_ = [f for f in self.features if f not in self.dropped_]
        X = sm.add_constant(self._design(data, self.features_), has_constant="add")
        kw = {}
        if groups is not None:
            codes = pd.factorize(data[groups])[0]
            if len(np.unique(codes)) < len(codes):
                kw = {"cov_type": "cluster", "cov_kwds": {"groups": codes}}
        try:
            self.result_ = sm.Logit(y, X).fit(disp=0, maxiter=200, **kw)
        except Exception as exc:  # perfect separation, singular matrix
            try:
                self.result_ = sm.Logit(y, X).fit_regularized(disp=0, alpha=1e-3, maxiter=500)
            except Exception:
                raise RunError(f"the churn model could not be fitted ({exc}); fix: drop a feature that "
                               "perfectly predicts churn or is a copy of another from strategy.churn_features") from None
        self.n_ = int(len(data))
        self.base_rate_ = float(y.mean())
        self.drivers_ = self._drivers()
        self.exog_means_ = np.asarray(X.mean(axis=0))[1:]  # the average training account (contributions)
        # the fit keeps copies of the pooled training design (5 million rows x a dozen columns at 1
        # million accounts); every figure used later is computed above or from params
        try:
            self.result_.remove_data()
        except (AttributeError, NotImplementedError):  # a results class without it keeps its data
            pass
        return self

    def _drivers(self) -> pd.DataFrame:
        r = self.result_
        ci = np.asarray(r.conf_int(alpha=1 - self.confidence))
        names = list(r.params.index)
        h = self.horizon_days
        horizon = ("the next period" if not h else f"the next {round(h / 30.44)} months" if h % 365 and h >= 60
                   and abs(h / 30.44 - round(h / 30.44)) < 0.1 else f"the next {h // 365 * 12} months" if h % 365 == 0
                   else f"the next {h} days")
        rows = []
        for i, f in enumerate(names):
            if f == "const":
                continue
            coef, lo, hi, p = float(r.params.iloc[i]), float(ci[i, 0]), float(ci[i, 1]), float(r.pvalues.iloc[i])
            spec = FEATURES.get(f, _Feature(f.replace("_", " "), f"one unit more of {f.replace('_', ' ')}"))
            orr, orl, orh = np.exp(coef), np.exp(lo), np.exp(hi)
            sig = bool(orl > 1 or orh < 1)
            material = sig and abs(coef) >= np.log(MATERIAL_ODDS_RATIO)
            lvl = f"{self.confidence:.0%}"
            if not sig:
                text = (f"No clear effect of {spec.unit} on churn: odds ratio {orr:.2f} "
                        f"({lvl} CI {orl:.2f}–{orh:.2f} includes 1).")
            elif not material:
                text = (f"{spec.unit[0].upper() + spec.unit[1:]} {'raises' if orr > 1 else 'lowers'} the odds of "
                        f"churning in {horizon} by only {abs(orr - 1):.0%} (odds ratio {orr:.2f}, {lvl} CI "
                        f"{orl:.2f}–{orh:.2f}): measurable, too small to act on.")
            elif orr > 1 and f in EARLY_WARNING_FEATURES:
                text = (f"{spec.unit[0].upper() + spec.unit[1:]} multiplies the odds of churning in {horizon} by "
                        f"{orr:.2f} ({lvl} CI {orl:.2f}–{orh:.2f}): an early-warning sign, not a cause.")
            elif orr > 1:
                text = (f"{spec.unit[0].upper() + spec.unit[1:]} multiplies the odds of churning in {horizon} by "
                        f"{orr:.2f} ({lvl} CI {orl:.2f}–{orh:.2f}): a risk driver.")
            else:
                text = (f"{spec.unit[0].upper() + spec.unit[1:]} cuts the odds of churning in {horizon} by "
                        f"{1 - orr:.0%} (odds ratio {orr:.2f}, {lvl} CI {orl:.2f}–{orh:.2f}): protective.")
            rows.append({"feature": f, "label": spec.label, "coef": coef, "odds_ratio": orr, "ci_low": orl,
                         "ci_high": orh, "p_value": p, "significant": sig, "material": material,
                         "direction": (("raises risk" if orr > 1 else "lowers risk") if material
                                       else "too small" if sig else "unclear"),
                         "interpretation": text})
        return pd.DataFrame(rows)

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """Probability of churn in the horizon for each row of ``df``."""
        import statsmodels.api as sm

        X = sm.add_constant(self._design(df, self.features_).fillna(0.0), has_constant="add")
        return np.asarray(self.result_.predict(X[self.result_.params.index]), dtype=float)

    def contributions(self, df: pd.DataFrame) -> pd.DataFrame:
        """Each feature's push on the log-odds relative to the average training account:
        coef_k x (x_ik - mean_k)."""
        X = self._design(df, self.features_).fillna(0.0)
        means = self.exog_means_
        coefs = self.result_.params.drop("const").to_numpy()
        return pd.DataFrame((X.to_numpy() - means) * coefs, columns=self.features_, index=df.index)


def compute_backtest(y_true, score, *, n_bins: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Out-of-time performance of churn scores.

    * AUC = probability a churner scores above a non-churner (0.5 = chance);
    * Brier score = mean (score - outcome)^2; Brier skill = 1 - Brier / Brier of
      predicting the base rate for everyone;
    * top-decile lift = churn rate among the 10% highest scores / overall churn rate.

    Returns
    -------
    (DataFrame, DataFrame)
        metrics (metric, label, value, unit, note) and calibration by score decile (decile,
        accounts, predicted, observed).
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y_true, dtype=float)
    p = np.asarray(score, dtype=float)
    ok = np.isfinite(y) & np.isfinite(p)
    y, p = y[ok], p[ok]
    base = float(y.mean()) if len(y) else np.nan
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else np.nan
    brier = float(np.mean((p - y) ** 2))
    brier0 = float(np.mean((base - y) ** 2))
    order = np.argsort(-p, kind="stable")
    k = max(1, int(round(len(y) / n_bins)))
    top = float(y[order[:k]].mean()) if len(y) else np.nan
    metrics = pd.DataFrame([
        ("accounts", "Accounts in the test window", float(len(y)), "count", "active at the test cut-off"),
        ("base_rate", "Churn rate in the test window", base, "share", ""),
        ("auc", "AUC (0.5 = chance, 1 = perfect ranking)", auc, "ratio", ""),
        ("brier", "Brier score (lower is better)", brier, "ratio", ""),
        ("brier_skill", "Brier skill vs predicting the base rate", 1 - brier / brier0 if brier0 > 0 else np.nan,
         "ratio", "above 0 = better than no model"),
        ("top_decile_rate", "Churn rate in the top risk decile", top, "share", ""),
        ("top_decile_lift", "Top-decile lift", top / base if base > 0 else np.nan, "ratio",
         "churn rate in the top 10% of scores / overall churn rate"),
    ], columns=["metric", "label", "value", "unit", "note"])
    dec = pd.qcut(pd.Series(p).rank(method="first"), n_bins, labels=False) + 1 if len(p) >= n_bins else \
        pd.Series(np.ones(len(p), dtype=int))
    cal = pd.DataFrame({"decile": dec.to_numpy(), "p": p, "y": y}).groupby("decile").agg(
        accounts=("y", "size"), predicted=("p", "mean"), observed=("y", "mean")).reset_index()
    return metrics, cal


def horizon_words(horizon_days: int) -> str:
    """The churn model's horizon as every page says it: "a year" for 365 days, else "180 days"."""
    from ..present.formats import fmt_days

    return "a year" if int(horizon_days) == 365 else fmt_days(horizon_days)


def backtest_sentence(backtest: pd.DataFrame, horizon_days: int) -> str:
    """The back-test in the words every page uses: how often the model ranked a churner above a
    stayer on a later period, and the riskiest tenth's churn rate beside the rate of all the
    accounts active then, in the model's own window (so it is not read against the 12-month churn
    KPI); '' without a back-test. ``backtest``: :func:`compute_backtest`'s metrics."""
    from ..present.formats import fmt_share

    bt = backtest.set_index("metric")["value"] if len(backtest) else pd.Series(dtype=float)
    auc, rate, base = (float(bt.get(k, np.nan)) for k in ("auc", "top_decile_rate", "base_rate"))
    if not np.isfinite(auc):
        return ""
    out = (f"Tested on a later period, the model ranked a churner above a stayer {fmt_share(auc, decimals=0)} "
           "of the time (50% = chance)")
    if np.isfinite(rate) and np.isfinite(base):
        out += (f"; its riskiest tenth churned at {fmt_share(rate, decimals=0)} within {horizon_words(horizon_days)}, against "
                f"{fmt_share(base, decimals=1)} of all active accounts")
    return out + "."


def risk_band_label(band, band_shares: dict[str, float]) -> str:
    """A risk band as a client page names it: the bands are ranks, not levels, so each says which
    share of the active accounts it holds ("high (riskiest 10%)", "medium (next 20%)", "low (other
    70%)"); a reader of a high-churn client otherwise reads a 47% churn probability called "low" as
    safe. Other values (lapsed, not scored, missing) are returned as they are ('' for missing)."""
    from ..present.formats import fmt_share

    if not isinstance(band, str):
        return ""
    hi, mid = float(band_shares.get("high", 0.0)), float(band_shares.get("medium", 0.0))
    share = {"high": ("riskiest", hi), "medium": ("next", mid), "low": ("other", 1.0 - hi - mid)}.get(band.lower())
    if share is None:
        return band
    return f"{band} ({share[0]} {fmt_share(share[1], decimals=0)})"


def compute_churn_risk(scoring: pd.DataFrame, model: ChurnRiskModel | None, *, segments: pd.DataFrame,
                       account_summary: pd.DataFrame, band_shares: dict[str, float], segment_col: str = "quadrant",
                       revenue_col: str = "revenue_12m") -> pd.DataFrame:
    """Risk score, band and revenue at risk for every account.

    Active accounts (in ``scoring``, features at the as-of date) get ``risk_score`` =
    predicted churn probability over the horizon; bands by rank: the top
    ``band_shares['high']`` share of active accounts is ``high``, the next
    ``band_shares['medium']`` ``medium``, the rest ``low``. ``revenue_at_risk`` =
    risk_score x last-12-month revenue. Accounts not active at the as-of date are
    ``lapsed`` with no score (their revenue is already lost; ``note`` says so).
    ``main_driver`` is the feature pushing the account's risk up most against the
    average account.

    With ``model=None`` (the data could not support the churn model, see
    :func:`run_churn_analysis`) no account is scored: the table is empty (with its
    columns), so no risk score or revenue at risk is invented.

    Returns
    -------
    DataFrame
        account_id, segment, active, risk_score, risk_band, risk_rank, revenue_12m,
        revenue_at_risk, main_driver, note.
    """
    if model is None:
        return pd.DataFrame({c: pd.Series(dtype=("bool" if c == "active" else "Int64" if c == "risk_rank" else
                                                  "float64" if c in ("risk_score", "revenue_12m", "revenue_at_risk")
                                                  else "object")) for c in CHURN_RISK_COLUMNS})
    base = segments[["account_id", segment_col]].merge(account_summary[["account_id", revenue_col]], on="account_id",
                                                        how="left").rename(columns={segment_col: "segment"})
    base["account_id"] = base["account_id"].astype(str)
    p = pd.Series(model.predict_proba(scoring), index=scoring["account_id"].astype(str).to_numpy())
    contrib = model.contributions(scoring)
    contrib.index = scoring["account_id"].astype(str).to_numpy()
    top = contrib.idxmax(axis=1).where(contrib.max(axis=1) > 0)
    labels = {f: FEATURES[f].label if f in FEATURES else f for f in contrib.columns}
    base["active"] = base["account_id"].isin(p.index)
    base["risk_score"] = base["account_id"].map(p)
    rank = base["risk_score"].rank(ascending=False, method="first")
    n_act = int(base["active"].sum())
    hi = int(round(band_shares["high"] * n_act))
    med = hi + int(round(band_shares["medium"] * n_act))
    base["risk_rank"] = rank.astype("Int64")
    base["risk_band"] = np.select([~base["active"], rank <= hi, rank <= med], ["lapsed", "high", "medium"], "low")
    base["revenue_12m"] = base[revenue_col].fillna(0.0)
    base["revenue_at_risk"] = (base["risk_score"] * base["revenue_12m"]).fillna(0.0)
    base["main_driver"] = base["account_id"].map(top).map(labels)
    base["note"] = np.where(base["active"], "", "no order in the activity window before the as-of date: already lapsed")
    return base[["account_id", "segment", "active", "risk_score", "risk_band", "risk_rank", "revenue_12m",
                 "revenue_at_risk", "main_driver", "note"]]


def compute_revenue_at_risk(churn_risk: pd.DataFrame, *, order: list[str] | None = None) -> pd.DataFrame:
    """Revenue at risk per segment.

    Columns: segment, accounts, active_accounts, high_risk_accounts, mean_risk (over
    active accounts), revenue_12m, revenue_at_risk, share_at_risk (= revenue_at_risk /
    revenue_12m).
    """
    d = churn_risk
    if d.empty:  # no account scored (churn model not supported)
        return pd.DataFrame({c: pd.Series(dtype="object" if c == "segment" else "int64" if "accounts" in c
                                          else "float64")
                             for c in ("segment", "accounts", "active_accounts", "high_risk_accounts", "mean_risk",
                                       "revenue_12m", "revenue_at_risk", "share_at_risk")})
    g = d.groupby("segment")
    out = pd.DataFrame({
        "accounts": g.size(), "active_accounts": g["active"].sum(),
        "high_risk_accounts": d[d["risk_band"] == "high"].groupby("segment").size(),
        "mean_risk": g["risk_score"].mean(), "revenue_12m": g["revenue_12m"].sum(),
        "revenue_at_risk": g["revenue_at_risk"].sum(),
    })
    order = [s for s in (order or []) if s in out.index] + [s for s in out.index if s not in (order or [])]
    out = out.reindex(order).fillna({"high_risk_accounts": 0})
    for c in ("accounts", "active_accounts", "high_risk_accounts"):
        out[c] = out[c].astype(int)
    out["share_at_risk"] = out["revenue_at_risk"] / out["revenue_12m"].where(out["revenue_12m"] > 0)
    return out.reset_index(names="segment")


def run_churn_analysis(transactions: pd.DataFrame | str, *, as_of: dt.date, horizon_days: int, activity_days: int,
                       features: list[str], surveys: pd.DataFrame | None = None,
                       accounts: pd.DataFrame | None = None, confidence: float = 0.95, windows: int = 4,
                       step_days: int = 91) -> dict:
    """Time-split back-test, final model and scoring frame.

    * test cut-off = as_of - horizon (the last window whose outcome is fully observed);
    * the back-test model pools ``windows`` cut-offs ``step_days`` apart whose outcome
      windows all end on or before the test cut-off (the latest is test cut-off -
      horizon), so nothing it learns from overlaps the test window; it is scored on the
      test window;
    * the final model pools ``windows`` cut-offs ending with the test cut-off and scores
      the accounts active at the as-of date. Pooled windows repeat accounts, so its
      confidence intervals are cluster-robust by account.

    Features that need data the client does not have (surveys, accounts) are dropped
    and listed in ``skipped``.

    When the data cannot support a model (:class:`ChurnModelNotSupported`: no account
    active before the cut-offs, or too few accounts / churners) this is a data
    limitation, not a user error: the result has ``supported`` False, ``model`` None,
    empty ``drivers`` / ``backtest`` / ``calibration`` frames (with their columns) and
    the reason in ``note``. When only the back-test cannot be fitted (history too short
    for its earlier windows) the final model is kept, the back-test frames are empty
    and ``note`` says why.

    Returns
    -------
    dict
        ``supported`` (bool), ``note`` (why the model or its back-test is missing, else
        ""), ``model`` (final ChurnRiskModel or None), ``drivers`` (its drivers_),
        ``backtest_model``, ``scoring`` (the accounts scored at the as-of date), ``backtest`` metrics, ``calibration``, ``skipped`` features,
        ``cutoffs`` (train list, test, final list, score), ``refusal`` and ``backtest_refusal``
        (None, or ``{"caveat", "need"}``: why the model or its back-test could not be fitted, in
        client words, and the input that would unlock it).
    """
    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        raise ParameterError(f"strategy.churn_features has unknown feature(s) {unknown}; valid: {', '.join(FEATURES)}")
    if windows < 1:
        raise ParameterError(f"windows = {windows}; the churn model needs at least one training window")
    as_of = pd.Timestamp(as_of)
    cut_test = as_of - pd.Timedelta(days=horizon_days)
    cuts_train = [cut_test - pd.Timedelta(days=horizon_days + k * step_days) for k in range(windows)]
    cuts_final = [cut_test - pd.Timedelta(days=k * step_days) for k in range(windows)]
    kw = dict(horizon_days=horizon_days, activity_days=activity_days, surveys=surveys, accounts=accounts,
              data_end=as_of)

    # every cut-off's frame from one pass over the transactions
    at = build_churn_frames(transactions, cutoffs=[as_of, cut_test, *cuts_train, *cuts_final], **kw)

    def pooled(cuts):
        frames = [at[_day(c)] for c in sorted(cuts)]
        frames = [f for f in frames if len(f)]
        if not frames:
            dates = ", ".join(pd.Timestamp(c).strftime("%-d %b %Y") for c in sorted(cuts))
            raise ChurnModelNotSupported(f"no account was active before the churn-model cut-off dates ({dates}); "
                           "the order history is too short for a horizon of "
                           f"{horizon_days} days; fix: set a shorter strategy.churn_horizon_days",
                           client=f"the order history is too short for a {horizon_days}-day churn horizon: no "
                                  f"account was buying before {dates}", need="history")
        return pd.concat(frames, ignore_index=True)

    def reason(exc: Exception) -> str:
        return str(exc).split("; fix:")[0]

    cutoffs = {"train": [c.date() for c in sorted(cuts_train)], "test": cut_test.date(),
               "final": [c.date() for c in sorted(cuts_final)], "score": as_of.date()}
    empty_bt = pd.DataFrame({c: pd.Series(dtype="float64" if c == "value" else "object") for c in BACKTEST_COLUMNS})
    empty_cal = pd.DataFrame({c: pd.Series(dtype="float64" if c in ("predicted", "observed") else "int64")
                              for c in CALIBRATION_COLUMNS})
    scoring, test = at[_day(as_of)], at[_day(cut_test)]
    try:
        final_train = pooled(cuts_final)
        skipped = [f for f in features if f not in final_train.columns]
        used = [f for f in features if f in final_train.columns]
        final = ChurnRiskModel(used, confidence=confidence, horizon_days=horizon_days).fit(final_train,
                                                                                          groups="account_id")
    except ChurnModelNotSupported as exc:
        empty_drivers = pd.DataFrame({c: pd.Series(dtype="bool" if c in ("significant", "material") else "float64"
                                                   if c in ("coef", "odds_ratio", "ci_low", "ci_high", "p_value")
                                                   else "object") for c in DRIVER_COLUMNS})
        return {"supported": False, "note": f"churn model not supported: {reason(exc)}", "model": None,
                "refusal": {"caveat": exc.client, "need": exc.need}, "backtest_refusal": None,
                "drivers": empty_drivers, "backtest_model": None, "scoring": scoring, "backtest": empty_bt,
                "calibration": empty_cal,
                "skipped": [f for f in features if f not in scoring.columns], "cutoffs": cutoffs}
    note, train, bt, bt_refusal = "", None, None, None
    metrics, cal = empty_bt, empty_cal
    try:
        train = pooled(cuts_train)
        bt = ChurnRiskModel([f for f in used if f in train.columns], confidence=confidence,
                            horizon_days=horizon_days).fit(train, groups="account_id")
        metrics, cal = compute_backtest(test["churned"], bt.predict_proba(test))
    except ChurnModelNotSupported as exc:
        note = f"churn back-test not supported: {reason(exc)}"
        bt_refusal = {"caveat": f"a back-test on a later period cannot be fitted: {exc.client}", "need": exc.need}
    # the pooled training and test frames (millions of rows at scale) are not returned: only the
    # scoring frame is used after the fit, and the memory they held goes back to the system
    del train, final_train, test
    at.clear()  # every cut-off's frame but the scoring one (held above)
    from ..data.readers import return_freed_memory

    return_freed_memory()
    return {"supported": True, "note": note, "model": final, "refusal": None, "backtest_refusal": bt_refusal,
            "drivers": final.drivers_, "backtest_model": bt, "scoring": scoring, "backtest": metrics,
            "calibration": cal, "skipped": skipped, "cutoffs": cutoffs}


def compute_churn_model_status(result: dict) -> pd.DataFrame:
    """One row saying whether the data supported the churn model (for the deck's
    data-limits slide and the review).

    Returns
    -------
    DataFrame
        analysis, supported (bool), reason ("" when supported and back-tested).
    """
    return pd.DataFrame({"analysis": ["Churn-risk model"], "supported": [bool(result["supported"])],
                         "reason": [str(result.get("note") or "")]})


def describe_churn_analysis(result: dict) -> str:
    """A sentence on what the churn model was trained and tested on, or why it was not fitted."""
    cut = result["cutoffs"]
    skipped = (f" Features skipped for lack of data: {', '.join(result['skipped'])}." if result["skipped"] else "")
    if result["model"] is None:  # the reason the deliverables give (the run's analysis support records it)
        why = (result.get("refusal") or {}).get("caveat") or result["note"]
        return (f"**The churn-risk model is not supported by this data** — {why}. No account gets a "
                "risk score and no revenue at risk is estimated; downstream tables carry no churn numbers. "
                f"(Method: {result['note']}.)")
    m = result["model"]
    text = (f"Trained on cut-offs {', '.join(str(c) for c in cut['final'])} ({m.n_:,} account-windows, churn rate "
            f"{m.base_rate_:.1%});")
    if result["backtest_model"] is not None:
        text += (f" back-test model trained on {', '.join(str(c) for c in cut['train'])}, tested on "
                 f"{cut['test']}.")
    else:
        text += f" no back-test ({result['note']})."
    return text + skipped
