"""Programme impact: a difference-in-differences estimate of the KAM programme's effect on revenue.

A pure estimator (no I/O): :class:`ProgrammeImpact` takes the account x period revenue
and the accounts' programme flag and returns the estimate, its interval, the checks of
its assumptions, and the counts it rests on — programme accounts in the data, those
matched, and those left out with the reason — so a reader can follow every account from
the client's programme list to the estimate.
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from ..metrics import in_programme
from ..present.formats import fmt_count

__all__ = ["ProgrammeImpact", "match_nearest", "period_offset"]


def period_offset(period: str) -> pd.DateOffset:
    """Length of one analysis period (``analysis.period``) as a date offset."""
    months = {"month": 1, "quarter": 3, "year": 12}.get(period)
    if months is None:
        raise ValueError(f"period must be month, quarter or year, got {period!r}")
    return pd.DateOffset(months=months)










def match_nearest(pool: np.ndarray, treated: np.ndarray, ratio: int) -> np.ndarray:
    """Greedy nearest-neighbour matching without replacement: positions in ``pool`` taken.

    Each row of ``treated`` in turn takes the ``ratio`` free rows of ``pool`` nearest to it
    (Euclidean distance; ties go to the earlier pool row) until the pool runs out. This is
    the exact result of sorting every free pool row by distance for every treated row, found
    with a k-d tree instead: the tree is asked for the k nearest rows, k doubling until it
    holds ``ratio`` free rows and every row as near as the last of them (so ties are all
    seen; the final order uses the same distance formula as the sort), and it is rebuilt on
    the free rows once the taken rows it skipped outnumber half the rows it holds. Cost
    about O((n_pool + n_treated · ratio) log n_pool) while the pool is plentiful, plus the
    skipped rows when matching takes most of it (8% programme accounts with 10 controls
    each take 87% of the pool: 0.6 / 1.0 / 2.6 s CPU at 50 / 100 / 200 thousand accounts,
    where sorting the pool per treated row took 29 s at 50 thousand).
    """
    from scipy.spatial import cKDTree

    free = np.ones(len(pool), dtype=bool)
    n_free = len(pool)
    ids = np.arange(len(pool))  # tree row -> pool position
    tree = cKDTree(pool, balanced_tree=False, compact_nodes=False)  # quick to build: it is rebuilt often
    skipped, k_last = 0, ratio
    taken: list[np.ndarray] = []
    for point in treated:
        if n_free == 0:
            break
        want = min(ratio, n_free)
        if skipped > len(ids) // 2:  # many taken rows in the tree: rebuild it on the free ones
            ids = np.flatnonzero(free)
            tree, skipped, k_last = cKDTree(pool[ids], balanced_tree=False, compact_nodes=False), 0, want
        k = max(want, k_last // 2)  # consecutive treated rows are alike: start near the last k
        while True:
            k = min(k, len(ids))
            dist, idx = tree.query(point, k=np.arange(1, k + 1))
            pos = ids[idx]
            ok = free[pos]
            if ok.sum() >= want:
                limit = dist[ok][want - 1]
                # every row at the limit distance (ties, rounding) must be among the k
                if k == len(ids) or dist[-1] > limit * (1 + 1e-9) + 1e-12:
                    break
            elif k == len(ids):
                break
            k *= 2
        skipped += int((~ok).sum())
        k_last = k
        cand = pos[ok]
        exact = np.sqrt(((pool[cand] - point) ** 2).sum(axis=1))
        pick = cand[np.lexsort((cand, exact))[:want]]
        free[pick] = False
        n_free -= len(pick)
        taken.append(pick)
    return np.concatenate(taken) if taken else np.array([], dtype=int)


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
    n_programme_ : int
        Accounts the client's programme flag marks (``treated_col`` true).
    n_excluded_no_revenue_, n_excluded_partial_periods_, n_excluded_no_pre_history_ : int
        Programme accounts left out of the estimate, by reason: no period with revenue in
        the data; revenue only in partly covered periods (an account's first or last
        period, or the one the programme starts in); no purchase in the matching window
        before the programme (new or lapsed accounts: nothing to match them on).
        ``n_programme_ = n_treated_ + the three`` once matching has run.
    n_control_pool_ : int
        Non-programme accounts with history in the matching window, the pool the
        ``n_control_`` matched controls are drawn from.
    accounts_note_ : str
        The reconciliation in one sentence, from the programme to the estimate ("114 of
        the 160 accounts in the client's programme are in the estimate; left out: ...").
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
    def _within(df: pd.DataFrame, cols: list[str], codes: np.ndarray) -> pd.DataFrame:
        """``cols`` demeaned within account (``codes``: each row's account as an integer, 0..G-1).

        One float array of the result and one column-sized temporary at a time: at 1 million
        accounts the event study's design is 3 million rows x 30 columns, and pandas'
        ``groupby().transform`` held three copies of it (the selection, the group means, the
        difference)."""
        codes = np.asarray(codes)
        counts = np.bincount(codes).astype(float)
        a = np.empty((len(df), len(cols)), dtype=float, order="F")
        for j, c in enumerate(cols):
            x = df[c].to_numpy(dtype=float)
            a[:, j] = x - (np.bincount(codes, weights=x, minlength=len(counts)) / counts)[codes]
        return pd.DataFrame(a, columns=list(cols), index=df.index, copy=False)

    def fit(self, account_period: pd.DataFrame, accounts: pd.DataFrame, *, account_col: str = "account_id",
            period_col: str = "period_start", revenue_col: str = "revenue",
            treated_col: str = "key_account", orders_col: str | None = "orders") -> "ProgrammeImpact":
        """Estimate the effect; sets the attributes listed in the class docstring.

        Runs with one BLAS thread: the regressions are tall and narrow (account-periods x
        a few dozen columns), where OpenBLAS's threads gain nothing, and on a shared 2-core
        machine their hand-offs doubled the fit's time (50,000 accounts: 8.4 s -> 3.8 s).
        """
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="blas"):
            return self._fit(account_period, accounts, account_col=account_col, period_col=period_col,
                             revenue_col=revenue_col, treated_col=treated_col, orders_col=orders_col)

    def _fit(self, account_period: pd.DataFrame, accounts: pd.DataFrame, *, account_col: str, period_col: str,
             revenue_col: str, treated_col: str, orders_col: str | None) -> "ProgrammeImpact":
        import statsmodels.api as sm

        for a in ("n_treated_", "n_control_", "n_obs_", "n_pre_periods_", "n_post_periods_", "n_programme_",
                  "n_excluded_no_revenue_", "n_excluded_partial_periods_", "n_excluded_no_pre_history_",
                  "n_control_pool_"):
            setattr(self, a, 0)
        self.accounts_note_ = ""
        self.trends_ = pd.DataFrame(columns=["period_start", "group", "mean_log_revenue", "accounts"])
        if self.programme_start is None:
            return self._unsupported("no programme start date is recorded")
        if treated_col not in accounts.columns or accounts[treated_col].isna().all():
            return self._unsupported(f"the accounts data has no '{treated_col}' column marking programme accounts, "
                                     "so there is no treated group")
        flag = accounts[[account_col, treated_col]].dropna().drop_duplicates(account_col).copy()
        flag[treated_col] = in_programme(flag, flag_col=treated_col, account_col=account_col).to_numpy()
        programme = set(flag.loc[flag[treated_col], account_col])
        self.n_programme_ = len(programme)
        bought = set(account_period.loc[account_period[revenue_col] > 0, account_col])
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
        usable = set(ap.loc[ap[treated_col], account_col])
        self.n_excluded_no_revenue_ = len(programme - bought)
        self.n_excluded_partial_periods_ = len((programme & bought) - usable)
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
        self.n_excluded_no_pre_history_ = len(usable) - len(treated)
        self.n_control_pool_ = len(pool)
        self.match_window_periods_ = n_match if match_end is not None else len(pre_periods)
        self.match_pre_periods_ = len(pre_periods)
        if len(treated) < self.min_accounts:
            n_t, k = len(treated), self.min_match_periods
            return self._unsupported(f"only {n_t} programme account{'' if n_t == 1 else 's'} bought in at least "
                                     f"{k} period{'' if k == 1 else 's'} of the matching window before the start; "
                                     f"at least {self.min_accounts} are needed")
        if len(pool) < self.min_accounts:
            return self._unsupported(f"only {len(pool)} non-programme account{'' if len(pool) == 1 else 's'} "
                                     "with pre-programme history to "
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
            chosen.update(pool_sorted.index[match_nearest(pz, tz, self.control_ratio)])
        else:  # common support: every non-programme account within the programme accounts' range
            lo = float(treated["level"].quantile(self.support_quantile))
            hi = float(treated["level"].quantile(1 - self.support_quantile))
            chosen.update(pool.index[(pool["level"] >= lo) & (pool["level"] <= hi)])
        if len(chosen) < self.min_accounts:
            return self._unsupported(f"only {len(chosen)} non-programme account(s) have pre-programme revenue "
                                     f"comparable to the programme accounts; at least {self.min_accounts} are needed")
        keep = set(treated.index) | chosen
        d = ap[ap[account_col].isin(keep)].copy()
        n_treated = len(treated)
        del ap, window, pre, treated, pool  # the account-period frames (millions of rows): only d is fitted
        if match_end is not None:
            d = d[d[period_col] >= match_end]
            periods = [p for p in periods if p >= match_end]
            self.n_pre_periods_ = sum(p < start for p in periods)
        self.match_window_end_ = match_end
        d["treated"] = d[treated_col].astype(float)
        d["did"] = d["treated"] * d["post"].astype(float)
        self.n_treated_, self.n_control_, self.n_obs_ = n_treated, len(chosen), len(d)
        tr = d.groupby([period_col, "treated"]).agg(mean_log_revenue=("y", "mean"), accounts=("y", "size"))
        tr = tr.reset_index().rename(columns={period_col: "period_start"})
        tr["group"] = np.where(tr["treated"] == 1, "Programme accounts", "Matched control accounts")
        self.trends_ = tr[["period_start", "group", "mean_log_revenue", "accounts"]]
        # two-way FE: period dummies + regressors, all demeaned within account. The dummies live
        # only in the frames being demeaned, never in d (3M rows x 30 columns at 1M accounts)
        pidx = {p: i for i, p in enumerate(periods)}
        d = d.reset_index(drop=True)
        d["pi"] = d[period_col].map(pidx)
        pi = d["pi"].to_numpy()
        present = sorted(set(pi.tolist()))[1:]  # the first period is the reference
        pcols = [f"p_{i}" for i in present]

        def design(cols: dict) -> pd.DataFrame:
            return pd.DataFrame({**cols, **{f"p_{i}": (pi == i).astype(float) for i in present}}, copy=False)

        groups = d[account_col].astype("category").cat.codes.to_numpy()
        alpha = 1 - self.confidence
        X = self._within(design({"did": d["did"].to_numpy()}), ["did"] + pcols, groups)
        yd = self._within(d, ["y"], groups)["y"]
        res = sm.OLS(yd, X).fit(cov_type="cluster", cov_kwds={"groups": groups})
        ci = res.conf_int(alpha).loc["did"]
        self.estimate_ = float(res.params["did"])
        self.ci_low_, self.ci_high_ = float(ci.iloc[0]), float(ci.iloc[1])
        self.p_value_ = float(res.pvalues["did"])
        del res, X  # a fit keeps copies of its design matrix: freed before the next (3M rows at 1M accounts)
        self.uplift_ = math.expm1(self.estimate_)
        self.uplift_ci_low_, self.uplift_ci_high_ = math.expm1(self.ci_low_), math.expm1(self.ci_high_)
        # event study
        t0 = next(i for i, p in enumerate(periods) if p >= start)
        rel = pi - t0
        is_treated = d["treated"].to_numpy() == 1
        ecols, edum = [], {}
        for r in sorted(set(rel.tolist())):
            if r == -1:
                continue
            c = f"e_{'m' if r < 0 else 'p'}{abs(int(r))}"
            edum[c] = ((rel == r) & is_treated).astype(float)
            ecols.append((int(r), c))
        names = [c for _, c in ecols]
        Xe = self._within(design(edum), names + pcols, groups)
        del edum
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
        del ese, Xe, yd
        self._placebo(d, account_col, period_col, start, alpha)
        self.supported_ = True
        self.reason_ = ""
        self.sentence_ = self._sentence()
        self.accounts_note_ = self._accounts_note()
        return self

    def _accounts_note(self) -> str:
        """From the client's programme list to the accounts in the estimate, in one sentence."""
        n, k = self.n_programme_, self.n_treated_
        if n == k:
            return f"All {n:,} accounts in the client's programme are in the estimate."
        m, n_pre = self.match_window_periods_, self.match_pre_periods_
        window = ("before the programme" if self.match_window_end_ is None else
                  f"in the first {m} of the {n_pre} periods before the programme (the matching window)")
        parts = [(self.n_excluded_no_revenue_, "with no revenue in the data"),
                 (self.n_excluded_partial_periods_, "with revenue only in partly covered periods (an account's first "
                                                    "or last period, or the one the programme started in)"),
                 (self.n_excluded_no_pre_history_, f"that did not buy {window}, so have no history to be matched on")]
        left = "; ".join(f"{c:,} {why}" for c, why in parts if c)
        return f"{k:,} of the {n:,} accounts in the client's programme are in the estimate; left out: {left}."

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
        groups = pre[account_col].astype("category").cat.codes.to_numpy()
        X = self._within(pre, ["fake"] + pcols, groups)
        y = self._within(pre, ["y"], groups)["y"]
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
        tr = f"the {fmt_count(self.n_treated_)} programme accounts"  # 14,196, not 14196, at scale
        co = f"{fmt_count(self.n_control_)} comparable accounts outside the programme"
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
            "n_programme": self.n_programme_, "n_excluded_no_revenue": self.n_excluded_no_revenue_,
            "n_excluded_partial_periods": self.n_excluded_partial_periods_,
            "n_excluded_no_pre_history": self.n_excluded_no_pre_history_,
            "n_treated": self.n_treated_, "n_control_pool": self.n_control_pool_, "n_control": self.n_control_,
            "n_obs": self.n_obs_,
            "n_pre_periods": self.n_pre_periods_, "n_post_periods": self.n_post_periods_,
            "programme_start": pd.Timestamp(self.programme_start) if self.programme_start else pd.NaT,
            "sentence": self.sentence_, "accounts_note": self.accounts_note_, "reason": self.reason_}])
