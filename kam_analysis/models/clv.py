"""Predictive customer lifetime value: BG/NBD, Gamma-Gamma, P(alive) and discounted CLV.

The two models of Fader, Hardie & Lee (2005), fitted by maximum likelihood with scipy
(L-BFGS-B on the log-parameters with the analytic gradient of each log-likelihood):

* **BG/NBD** ("Counting your customers the easy way", *Marketing Science* 24(2)): while
  alive, an account buys as a Poisson process with rate λ ~ Gamma(r, α); after each
  purchase it drops out for good with probability p ~ Beta(a, b). From an account's
  repeat frequency ``x``, recency ``t_x`` and age ``T`` it gives P(alive) and the
  expected number of purchases in any future period.
* **Gamma-Gamma** ("RFM and CLV: using iso-value curves", *JMR* 42(4); Fader & Hardie
  2013 note): the value of each transaction is Gamma(p, ν) with ν ~ Gamma(q, γ); it
  gives the expected value of an account's future transactions from the mean value
  ``m_x`` of its ``x`` repeat transactions.

CLV over a horizon is expected spend per transaction times the expected transactions in
each future month, discounted monthly. Time is measured in ``time_unit_days`` (weeks by
default, as in the papers). The estimators follow scikit-learn: settings in the
constructor, ``fit`` validates, sets ``name_`` attributes and returns ``self``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, special

from ..exceptions import KAMError

__all__ = [
    "CLVFitError",
    "BetaGeoFitter",
    "GammaGammaFitter",
    "compute_clv_summary",
    "compute_holdout_check",
    "compute_clv",
    "compute_clv_summary_from_run",
]


class CLVFitError(KAMError):
    """A CLV model could not be fitted (bad input or no convergence); the message says why."""


# --------------------------------------------------------------------------- data
def _purchase_days_sql(src: str, *, until: pd.Timestamp, account: str = "account_id", date: str = "order_date",
                       value: str | None = "net_revenue", order_lines: bool = True) -> str:
    """SQL ``(account_id, d, v)``: the purchase days of order lines ``src``, the one definition.

    Purchases on the same calendar day (up to ``until``) are one transaction, their values
    summed exactly (DECIMAL) (Fader, Hardie & Lee 2005). With ``order_lines`` the rows are
    order lines with returns (the run's transactions): a day that nets to zero or less (a
    return on its own) is not a purchase; without it every row is a purchase (a purchase
    log such as CDNOW's, where a free CD, value 0, is a purchase). Without ``value`` every
    day with a row is a purchase of value 0.
    """
    from ..data.prepare import exact_sum

    v = exact_sum(value) if value is not None else "CAST(0 AS DECIMAL(38, 4))"
    having = f" HAVING {v} > 0" if value is not None and order_lines else ""
    return (f"SELECT {account} AS account_id, CAST({date} AS DATE) AS d, {v} AS v FROM {src} "
            f"WHERE CAST({date} AS DATE) <= DATE '{until.date()}' GROUP BY ALL{having}")


def _summary_sql(days: str, *, cal_end: pd.Timestamp, obs_end: pd.Timestamp, unit: float,
                 frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """The per-account summary of purchase days ``days`` (see :func:`compute_clv_summary`), in DuckDB."""
    from ..metrics.engine import duckdb_connect

    cal, obs = f"DATE '{cal_end.date()}'", f"DATE '{obs_end.date()}'"
    con = duckdb_connect()  # memory-capped (KAM_DUCKDB_MEMORY_LIMIT)
    try:
        if frame is not None:
            con.register(_FRAME, frame)
        return con.execute(f"""
            WITH days AS ({days}),
            acc AS (SELECT account_id,
                           count(*) FILTER (WHERE d <= {cal}) - 1 AS frequency,
                           min(d) AS first_d, max(d) FILTER (WHERE d <= {cal}) AS last_d,
                           sum(v) FILTER (WHERE d <= {cal}) - arg_min(v, d) AS repeat_total,
                           count(*) FILTER (WHERE d > {cal}) AS n_hold,
                           sum(v) FILTER (WHERE d > {cal}) AS v_hold
                    FROM days WHERE d <= {obs} GROUP BY account_id HAVING min(d) <= {cal})
            SELECT account_id, CAST(frequency AS BIGINT) AS frequency,
                   date_diff('day', first_d, last_d) / {unit} AS recency,
                   date_diff('day', first_d, {cal}) / {unit} AS "T",
                   CASE WHEN frequency > 0 THEN CAST(repeat_total AS DOUBLE) / frequency ELSE 0.0 END
                       AS monetary_value,
                   CAST(n_hold AS BIGINT) AS frequency_holdout,
                   CASE WHEN n_hold > 0 THEN CAST(v_hold AS DOUBLE) / n_hold ELSE 0.0 END AS monetary_holdout
            FROM acc ORDER BY account_id""").df()
    finally:
        con.close()


#: the name a pandas frame of purchases is registered under in :func:`compute_clv_summary`'s connection
_FRAME = "_kam_clv_purchases"


def _q(col: str) -> str:
    return '"' + str(col).replace('"', '""') + '"'


def _ends(observation_end, calibration_end) -> tuple[pd.Timestamp, pd.Timestamp]:
    obs_end = pd.Timestamp(observation_end).normalize()
    cal_end = pd.Timestamp(calibration_end).normalize() if calibration_end is not None else obs_end
    if cal_end > obs_end:
        raise CLVFitError(f"calibration end {cal_end.date()} is after observation end {obs_end.date()}; "
                          "fix: choose a calibration end before the observation end")
    return obs_end, cal_end


def _finish(df: pd.DataFrame, *, holdout: bool, obs_end, cal_end, time_unit_days: float,
            account_col: str) -> pd.DataFrame:
    df["frequency"] = df["frequency"].astype("int64")
    for c in ("recency", "T", "monetary_value", "monetary_holdout"):
        df[c] = df[c].astype("float64")
    if not holdout:
        df = df.drop(columns=["frequency_holdout", "monetary_holdout"])
    else:
        df["frequency_holdout"] = df["frequency_holdout"].astype("int64")
        df["duration_holdout"] = (obs_end - cal_end) / pd.Timedelta(days=time_unit_days)
    return df.rename(columns={"account_id": account_col})


def compute_clv_summary(purchases: pd.DataFrame, *, observation_end, calibration_end=None,
                        account_col: str = "account_id", date_col: str = "order_date",
                        value_col: str | None = "value", time_unit_days: float = 7.0,
                        order_lines: bool = False) -> pd.DataFrame:
    """Frequency / recency / age / monetary summary per account, with an optional holdout.

    ``purchases`` is a pandas frame of dated purchases (or order lines); it is registered
    in DuckDB and summarised by the same SQL as the run's transactions
    (:func:`compute_clv_summary_from_run`): one definition of the summary. Purchases on the
    same day are one transaction (their values summed), as in Fader, Hardie & Lee (2005).
    Every row is a purchase unless ``order_lines``: then the rows are order lines with
    returns, as the run's transactions are, and a day whose lines net to zero or less (a
    return on its own) is not a purchase.

    Formulas (per account, time in units of ``time_unit_days``)
    -----------------------------------------------------------
    * ``frequency`` x = number of purchase days in the calibration period − 1 (repeat purchases);
    * ``recency`` t_x = last − first purchase day in the calibration period;
    * ``T`` = calibration end − first purchase day;
    * ``monetary_value`` m_x = mean value of the repeat purchases (first purchase excluded;
      0 when x = 0);
    * with ``calibration_end``: ``frequency_holdout`` = purchase days after calibration end
      up to ``observation_end``, ``monetary_holdout`` their mean value and
      ``duration_holdout`` = observation end − calibration end.

    Only accounts whose first purchase is on or before the calibration end are kept. Money
    is summed exactly (DECIMAL, 4 decimals) and rounded once. The account column keeps its
    name (``account_col``) and its type.
    """
    obs_end, cal_end = _ends(observation_end, calibration_end)
    cols = [account_col, date_col] + ([value_col] if value_col else [])
    missing = [c for c in cols if c not in purchases.columns]
    if missing:
        raise CLVFitError(f"purchase data has no column(s) {missing}; columns present: {list(purchases.columns)}")
    frame = purchases
    if not pd.api.types.is_datetime64_any_dtype(purchases[date_col]):
        frame = purchases[cols].assign(**{date_col: pd.to_datetime(purchases[date_col])})
    days = _purchase_days_sql(_FRAME, until=obs_end, account=_q(account_col), date=_q(date_col),
                              value=_q(value_col) if value_col else None, order_lines=order_lines)
    df = _summary_sql(days, cal_end=cal_end, obs_end=obs_end, unit=float(time_unit_days), frame=frame)
    return _finish(df, holdout=calibration_end is not None, obs_end=obs_end, cal_end=cal_end,
                   time_unit_days=time_unit_days, account_col=account_col)


def compute_clv_summary_from_run(run, *, observation_end, calibration_end=None, time_unit_days: float = 7.0,
                                 relation: str | None = None) -> pd.DataFrame:
    """:func:`compute_clv_summary` of the run's transactions, aggregated in DuckDB.

    The purchase days (net revenue per account and day, positive days only, up to the
    run's as-of date) never reach pandas: one row per account leaves the engine, with the
    columns and definitions of :func:`compute_clv_summary` (the same SQL). ``relation``
    replaces the run's transactions (a DuckDB relation of order lines); the account ids
    are strings.
    """
    obs_end, cal_end = _ends(observation_end, calibration_end)
    as_of = pd.Timestamp(run.params.analysis.as_of_date).normalize() if run is not None else obs_end
    days = _purchase_days_sql(relation or run.transactions_sql(), until=min(as_of, obs_end),
                              account="CAST(account_id AS VARCHAR)")
    df = _summary_sql(days, cal_end=cal_end, obs_end=obs_end, unit=float(time_unit_days))
    df["account_id"] = df["account_id"].astype(str)
    return _finish(df, holdout=calibration_end is not None, obs_end=obs_end, cal_end=cal_end,
                   time_unit_days=time_unit_days, account_col="account_id")


def _check_rft(frequency, recency, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(frequency, dtype=float)
    tx = np.asarray(recency, dtype=float)
    T = np.asarray(T, dtype=float)
    if not (len(x) == len(tx) == len(T)):
        raise CLVFitError("frequency, recency and T must have the same length")
    if len(x) == 0:
        raise CLVFitError("no accounts to fit the CLV model on; fix: check the purchase data and dates")
    problems = []
    for name, bad in (("missing values", ~np.isfinite(x) | ~np.isfinite(tx) | ~np.isfinite(T)),
                      ("negative frequency", x < 0), ("non-integer frequency", x != np.round(x)),
                      ("recency > T", tx > T + 1e-9), ("negative recency", tx < 0),
                      ("recency 0 with repeat purchases", (x > 0) & (tx <= 0))):
        if bad.any():
            problems.append(f"{name}: {int(bad.sum())} rows (first at positions {np.flatnonzero(bad)[:5].tolist()})")
    if problems:
        raise CLVFitError("CLV summary is inconsistent — " + "; ".join(problems)
                          + "; fix: build it with compute_clv_summary from dated purchases")
    return x, tx, T


#: bounds of the log-parameters: a parameter that runs to 1e-8 or 1e8 has no interior maximum
_LOG_BOUND = 8 * np.log(10)


def _minimise(neg_ll_grad, x0: np.ndarray, names: list[str], model: str, maxiter: int):
    """Minimise a mean negative log-likelihood on the log scale (all parameters positive).

    ``neg_ll_grad(theta)`` returns the value and its analytic gradient, so the
    quasi-Newton L-BFGS-B converges in a few dozen evaluations (Nelder–Mead needed about
    800 without gradients). Parameters are bounded to [1e-8, 1e8]: a parameter that runs
    to a bound means the likelihood has no interior maximum, which is reported.
    """
    from threadpoolctl import threadpool_limits

    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(x0)
    opts = {"maxiter": maxiter, "gtol": 1e-10, "ftol": 1e-15, "maxcor": 20}
    # one BLAS thread: OpenBLAS threads the optimiser's tiny linear algebra and the
    # likelihood's dot products, and on a shared 2-core machine the threads' hand-offs made
    # a 23,570-account fit 40x slower (1.1 s against 29 ms)
    with np.errstate(all="ignore"), threadpool_limits(1, user_api="blas"):
        best = optimize.minimize(neg_ll_grad, x0, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
        if not best.success:  # a line search that stops short (rounding near the optimum): restart once
            again = optimize.minimize(neg_ll_grad, best.x, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
            if np.isfinite(again.fun) and again.fun <= best.fun:
                best = again
    params = np.exp(best.x)
    if not np.isfinite(best.fun) or not np.all(np.isfinite(params)):
        raise CLVFitError(f"{model} fit failed: the log-likelihood is not finite at the solution "
                          f"({dict(zip(names, params.round(4)))}); fix: check the summary for extreme values")
    if np.any(params > 1e6) or np.any(params < 1e-6):
        raise CLVFitError(f"{model} fit did not converge to a usable solution: a parameter ran to a bound "
                          f"({dict(zip(names, params.round(6)))}). The data may have too few repeat buyers "
                          "or too short a history; fix: lengthen the history or shorten the holdout")
    return params, -best.fun, best


class BetaGeoFitter:
    """BG/NBD model of purchase frequency and drop-out (Fader, Hardie & Lee 2005).

    Individual log-likelihood, for repeat frequency x, recency t_x and age T::

        L = Γ(r+x) α^r / Γ(r) · B(a, b+x) / B(a, b) ·
            [ (α+T)^-(r+x) + 1{x>0} · a/(b+x−1) · (α+t_x)^-(r+x) ]

    Parameters
    ----------
    penalizer : float
        L2 penalty on the parameters (0 = pure maximum likelihood, as published).
    maxiter : int
        Iteration limit of the optimiser.

    Attributes
    ----------
    params_ : dict
        ``r, alpha, a, b`` at the maximum.
    log_likelihood_ : float
        Total log-likelihood at the maximum.
    n_ : int
        Accounts fitted.
    """

    param_names = ["r", "alpha", "a", "b"]

    def __init__(self, *, penalizer: float = 0.0, maxiter: int = 20_000):
        self.penalizer = penalizer
        self.maxiter = maxiter

    @staticmethod
    def _ll(params, x, tx, T):
        r, alpha, a, b = params
        a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
        a2 = special.betaln(a, b + x) - special.betaln(a, b)
        a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(x > 0, np.log(a) - np.log(np.where(x > 0, b + x - 1, 1.0)) - (r + x) * np.log(alpha + tx),
                          -np.inf)
        return a1 + a2 + np.logaddexp(a3, a4)

    @staticmethod
    def _prepare(x, tx, T, w) -> dict:
        """Data in the form the likelihood needs: the terms that depend on x alone are
        computed once per distinct frequency, weighted by how many accounts have it."""
        ux, inv = np.unique(x, return_inverse=True)
        return {"x": x, "tx": tx, "T": T, "w": w, "ux": ux, "wu": np.bincount(inv, weights=w), "rep": x > 0,
                "xm1": np.where(x > 0, x - 1, 0.0)}

    @staticmethod
    def _ll_grad(params, d: dict) -> tuple[float, np.ndarray]:
        """Total (weighted) log-likelihood and its gradient in (r, α, a, b).

        With A = −(r+x) ln(α+T), B = ln a − ln(b+x−1) − (r+x) ln(α+t_x) (B = −∞ when
        x = 0), L = logaddexp(A, B) and the weight s = e^(B−L) of the second term::

            ∂/∂r = ψ(r+x) − ψ(r) + ln α − (1−s) ln(α+T) − s ln(α+t_x)
            ∂/∂α = r/α − (r+x) [(1−s)/(α+T) + s/(α+t_x)]
            ∂/∂a = ψ(a+b) − ψ(a+b+x) + s/a
            ∂/∂b = ψ(b+x) − ψ(b) + ψ(a+b) − ψ(a+b+x) − s/(b+x−1)
        """
        r, alpha, a, b = params
        x, tx, T, w, ux, wu = d["x"], d["tx"], d["T"], d["w"], d["ux"], d["wu"]
        # terms in x only: once per distinct frequency
        ab_x = special.digamma(a + b + ux)
        ll = float(np.dot(wu, special.gammaln(r + ux) + special.betaln(a, b + ux))) \
            + wu.sum() * (r * np.log(alpha) - special.gammaln(r) - special.betaln(a, b))
        g = np.array([np.dot(wu, special.digamma(r + ux)) + wu.sum() * (np.log(alpha) - special.digamma(r)),
                      wu.sum() * r / alpha,
                      wu.sum() * special.digamma(a + b) - np.dot(wu, ab_x),
                      np.dot(wu, special.digamma(b + ux) - ab_x) + wu.sum() * (special.digamma(a + b)
                                                                              - special.digamma(b))])
        # the two-term mixture, per account
        log_T, log_tx = np.log(alpha + T), np.log(alpha + tx)
        rx = r + x
        diff = np.where(d["rep"], np.log(a) - np.log(b + d["xm1"]) + rx * (log_T - log_tx), -np.inf)
        mix = -rx * log_T + np.logaddexp(0.0, diff)  # logaddexp(A, B) = A + log(1 + e^(B−A))
        s = special.expit(diff)
        ws = w * s
        ll += float(np.dot(w, mix))
        g[0] -= np.dot(w, log_T) + np.dot(ws, log_tx - log_T)
        g[1] -= np.dot(w * rx, (1 - s) / (alpha + T) + s / (alpha + tx))
        g[2] += ws.sum() / a
        g[3] -= np.dot(ws, 1.0 / (b + d["xm1"]))
        return ll, g

    def fit(self, frequency, recency, T, *, weights=None) -> "BetaGeoFitter":
        """Fit by maximum likelihood; ``weights`` counts identical rows (optional).

        The mean negative log-likelihood is minimised over the log-parameters with
        L-BFGS-B and the analytic gradient (:meth:`_ll_grad`).
        """
        x, tx, T = _check_rft(frequency, recency, T)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
        if (x > 0).sum() == 0:
            raise CLVFitError("BG/NBD cannot be fitted: no account made a repeat purchase; "
                              "fix: use a longer history")
        scale = np.array([1.0, max(T.max() / 10.0, 1e-9), 1.0, 1.0])  # work on a scale where alpha is near 1
        data = self._prepare(x, tx, T, w)
        total = w.sum()

        def neg(logp):
            p = np.exp(logp)
            ll, g = self._ll_grad(p * scale, data)
            # chain rule: d/d(log p_j) = p_j · scale_j · dℓ/dP_j
            return (-ll / total + self.penalizer * np.sum(p ** 2),
                    -(p * scale * g) / total + 2 * self.penalizer * p ** 2)

        params, _, _ = _minimise(neg, np.zeros(4), self.param_names, "BG/NBD", self.maxiter)
        params = params * scale
        self.params_ = dict(zip(self.param_names, map(float, params)))
        self.log_likelihood_ = float(np.sum(w * self._ll(params, x, tx, T)))
        self.n_ = int(w.sum())
        return self

    def _p(self):
        if not hasattr(self, "params_"):
            raise CLVFitError("the BG/NBD model is not fitted yet; fix: call fit() first")
        return (self.params_[k] for k in self.param_names)

    def conditional_probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(alive | x, t_x, T) = 1 / (1 + 1{x>0} · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))."""
        r, alpha, a, b = self._p()
        x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_ratio = (np.log(a) - np.log(np.where(x > 0, b + x - 1, 1.0))
                         + (r + x) * (np.log(alpha + T) - np.log(alpha + tx)))
            return np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)

    def expected_purchases(self, t) -> np.ndarray:
        """E[X(t)] for a new account = (a+b−1)/(a−1) · [1 − (α/(α+t))^r · ₂F₁(r, b; a+b−1; t/(α+t))]."""
        r, alpha, a, b = self._p()
        t = np.asarray(t, dtype=float)
        hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)

    def conditional_expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """E[Y(t) | x, t_x, T], expected purchases in the next ``t`` time units.

        ``(a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))] · P(alive)``
        """
        r, alpha, a, b = self._p()
        x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        t = np.asarray(t, dtype=float)
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        return first * self.conditional_probability_alive(x, tx, T)


class GammaGammaFitter:
    """Gamma-Gamma model of the value of repeat transactions (Fader, Hardie & Lee 2005).

    For an account with x repeat transactions of mean value m_x the likelihood is::

        f(m_x | p, q, γ, x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q · m_x^(px−1) · x^(px) / (γ + m_x x)^(px+q)

    and the expected value of its future transactions is
    ``E[M | m_x, x] = (γ + m_x x) p / (p x + q − 1)``.

    Attributes
    ----------
    params_ : dict
        ``p, q, v`` (v is γ) at the maximum.
    log_likelihood_ : float
    n_ : int
        Accounts with repeat purchases used in the fit.
    """

    param_names = ["p", "q", "v"]

    def __init__(self, *, penalizer: float = 0.0, maxiter: int = 20_000):
        self.penalizer = penalizer
        self.maxiter = maxiter

    @staticmethod
    def _ll(params, x, m):
        p, q, v = params
        return (special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q) + q * np.log(v)
                + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(v + m * x))

    @staticmethod
    def _prepare(x, m) -> dict:
        """The sums the likelihood needs; terms in x alone once per distinct frequency."""
        ux, inv = np.unique(x, return_inverse=True)
        log_m = np.log(m)
        return {"x": x, "m": m, "ux": ux, "nu": np.bincount(inv).astype(float), "n": float(len(x)),
                "sum_log_m": float(log_m.sum()), "sum_x_log_m": float(np.dot(x, log_m))}

    @staticmethod
    def _ll_grad(params, d: dict) -> tuple[float, np.ndarray]:
        """Total log-likelihood and its gradient in (p, q, γ)::

            ∂/∂p = x [ψ(px+q) − ψ(px) + ln m_x + ln x − ln(γ + m_x x)]
            ∂/∂q = ψ(px+q) − ψ(q) + ln γ − ln(γ + m_x x)
            ∂/∂γ = q/γ − (px+q)/(γ + m_x x)
        """
        p, q, v = params
        x, m, ux, nu, n = d["x"], d["m"], d["ux"], d["nu"], d["n"]
        pu = p * ux
        psi_pq = special.digamma(pu + q)
        log_u = np.log(ux)
        ll_u = special.gammaln(pu + q) - special.gammaln(pu) + pu * log_u
        log_vm = np.log(v + m * x)
        ll = (float(np.dot(nu, ll_u)) + n * (q * np.log(v) - special.gammaln(q)) + p * d["sum_x_log_m"]
              - d["sum_log_m"] - float(np.dot(p * x + q, log_vm)))
        g = np.array([np.dot(nu * ux, psi_pq - special.digamma(pu) + log_u) + d["sum_x_log_m"] - np.dot(x, log_vm),
                      np.dot(nu, psi_pq) - n * special.digamma(q) + n * np.log(v) - log_vm.sum(),
                      n * q / v - np.sum((p * x + q) / (v + m * x))])
        return ll, g

    def fit(self, frequency, monetary_value) -> "GammaGammaFitter":
        """Fit on accounts with at least one repeat purchase and positive mean value."""
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary_value, dtype=float)
        keep = (x > 0) & np.isfinite(m)
        bad = keep & (m <= 0)
        if bad.any():
            raise CLVFitError(f"Gamma-Gamma needs positive mean transaction values; {int(bad.sum())} accounts with "
                              "repeat purchases have a mean value <= 0; fix: drop returns-only days from the purchases")
        x, m = x[keep], m[keep]
        if len(x) < 10:
            raise CLVFitError(f"Gamma-Gamma cannot be fitted on {len(x)} accounts with repeat purchases "
                              "(needs at least 10); fix: use a longer history")
        scale = np.array([1.0, 1.0, float(np.mean(m))])  # work on a scale where gamma is near 1
        data = self._prepare(x, m)

        def neg(logp):
            p = np.exp(logp)
            ll, g = self._ll_grad(p * scale, data)
            return (-ll / len(x) + self.penalizer * np.sum(p ** 2),
                    -(p * scale * g) / len(x) + 2 * self.penalizer * p ** 2)

        params, _, _ = _minimise(neg, np.array([0.0, 0.7, 0.0]), self.param_names, "Gamma-Gamma", self.maxiter)
        params = params * scale
        self.params_ = dict(zip(self.param_names, map(float, params)))
        self.log_likelihood_ = float(np.sum(self._ll(params, x, m)))
        self.n_ = int(len(x))
        if self.params_["q"] <= 1:
            raise CLVFitError(f"Gamma-Gamma fit gives q = {self.params_['q']:.3f} <= 1, so the expected spend is "
                              "infinite; fix: check for extreme transaction values (outliers) in the data")
        return self

    def conditional_expected_average_profit(self, frequency, monetary_value) -> np.ndarray:
        """E[M | m_x, x] = (γ + m_x x) p / (p x + q − 1); the population mean p γ / (q − 1) when x = 0."""
        if not hasattr(self, "params_"):
            raise CLVFitError("the Gamma-Gamma model is not fitted yet; fix: call fit() first")
        p, q, v = (self.params_[k] for k in self.param_names)
        x = np.asarray(frequency, dtype=float)
        m = np.where(x > 0, np.asarray(monetary_value, dtype=float), 0.0)
        return (v + m * x) * p / (p * x + q - 1)


# --------------------------------------------------------------------------- CLV
def _clv_from_models(bgf: BetaGeoFitter, ggf: GammaGammaFitter, summary: pd.DataFrame, *, horizon_months: int,
                     annual_discount_rate: float, time_unit_days: float) -> tuple[np.ndarray, np.ndarray]:
    x, tx, T = summary["frequency"], summary["recency"], summary["T"]
    spend = ggf.conditional_expected_average_profit(x, summary["monetary_value"])
    month = 365.25 / 12 / time_unit_days
    d_m = (1 + annual_discount_rate) ** (1 / 12) - 1
    clv = np.zeros(len(summary))
    prev = np.zeros(len(summary))
    for k in range(1, horizon_months + 1):
        cum = bgf.conditional_expected_purchases(k * month, x, tx, T)
        clv += (cum - prev) * spend / (1 + d_m) ** k
        prev = cum
    return clv, prev


def compute_clv(summary: pd.DataFrame, *, horizon_months: int = 36, annual_discount_rate: float = 0.10,
                time_unit_days: float = 7.0, account_col: str = "account_id"):
    """Fit BG/NBD and Gamma-Gamma on a CLV summary and score every account.

    Discounted CLV over ``horizon_months``::

        CLV = Σ_{k=1..H} E[M] · (E[Y(k·Δ)] − E[Y((k−1)·Δ)]) / (1 + d)^k

    with Δ one month in model time units and d the monthly rate equivalent to
    ``annual_discount_rate``.

    Returns
    -------
    scores : DataFrame
        ``account_id, frequency, recency, T, monetary_value, p_alive, expected_purchases``
        (over the horizon), ``expected_spend`` (per transaction) and ``clv``.
    params : DataFrame
        ``model, parameter, value`` (the ``clv_params`` table), including the
        log-likelihood and the number of accounts fitted.
    models : tuple
        The fitted ``(BetaGeoFitter, GammaGammaFitter)``.
    """
    bgf = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    ggf = GammaGammaFitter().fit(summary["frequency"], summary["monetary_value"])
    clv, purchases = _clv_from_models(bgf, ggf, summary, horizon_months=horizon_months,
                                      annual_discount_rate=annual_discount_rate, time_unit_days=time_unit_days)
    scores = summary[[account_col, "frequency", "recency", "T", "monetary_value"]].copy()
    scores["p_alive"] = bgf.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
    scores["expected_purchases"] = purchases
    scores["expected_spend"] = ggf.conditional_expected_average_profit(summary["frequency"], summary["monetary_value"])
    scores["clv"] = clv
    rows = [("BG/NBD", k, v) for k, v in bgf.params_.items()]
    rows += [("BG/NBD", "log_likelihood", bgf.log_likelihood_), ("BG/NBD", "n_accounts", float(bgf.n_))]
    rows += [("Gamma-Gamma", k, v) for k, v in ggf.params_.items()]
    rows += [("Gamma-Gamma", "log_likelihood", ggf.log_likelihood_), ("Gamma-Gamma", "n_accounts", float(ggf.n_))]
    rows += [("CLV", "horizon_months", float(horizon_months)), ("CLV", "annual_discount_rate", annual_discount_rate),
             ("CLV", "time_unit_days", float(time_unit_days))]
    params = pd.DataFrame(rows, columns=["model", "parameter", "value"])
    return scores, params, (bgf, ggf)


def compute_holdout_check(summary: pd.DataFrame, *, max_frequency: int = 7) -> pd.DataFrame:
    """Calibration/holdout check: fit BG/NBD on the calibration columns, predict the holdout.

    ``summary`` comes from :func:`compute_clv_summary` with a ``calibration_end``.
    Accounts are grouped by calibration repeat frequency (``max_frequency``+ pooled);
    for each group the mean actual and predicted holdout purchases are compared
    (Fader, Hardie & Lee 2005, figure 4). A final ``all`` row gives the totals.

    Returns ``frequency_group, accounts, actual, predicted, error`` (error = predicted − actual, means).
    """
    if "frequency_holdout" not in summary:
        raise CLVFitError("the summary has no holdout columns; fix: build it with calibration_end set")
    bgf = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    pred = bgf.conditional_expected_purchases(summary["duration_holdout"], summary["frequency"],
                                              summary["recency"], summary["T"])
    df = pd.DataFrame({"x": summary["frequency"].clip(upper=max_frequency), "actual": summary["frequency_holdout"],
                       "predicted": pred})
    g = df.groupby("x").agg(accounts=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean"))
    g.index = [f"{i}+" if i == max_frequency else str(i) for i in g.index]
    total = pd.DataFrame({"accounts": [len(df)], "actual": [df["actual"].sum()], "predicted": [df["predicted"].sum()]},
                         index=["all (total)"])
    out = pd.concat([g, total])
    out["error"] = out["predicted"] - out["actual"]
    out.index.name = "frequency_group"
    return out.reset_index()
