"""CLV models: recover simulated parameters, match the published CDNOW estimates, fail clearly."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kam_analysis.models import clv
from kam_analysis.models.clv import BetaGeoFitter, CLVFitError, GammaGammaFitter

DATA = Path(__file__).parent / "data" / "CDNOW_sample.txt"


# ---------------------------------------------------------------- simulation helpers
def simulate_bgnbd(n, r, alpha, a, b, *, T_max=52.0, seed=0):
    """Simulate BG/NBD customers: Poisson(λ) purchases, drop out with prob p after each."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    T = rng.uniform(T_max / 2, T_max, n)
    x = np.zeros(n, dtype=int)
    tx = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T[i]:
                break
            x[i] += 1
            tx[i] = t
            if rng.random() < p[i]:
                break
    return x, tx, T


def simulate_gamma_gamma(x, p, q, v, *, seed=0):
    rng = np.random.default_rng(seed)
    nu = rng.gamma(q, 1 / v, len(x))
    return np.array([rng.gamma(p, 1 / nu[i], k).mean() if k > 0 else 0.0 for i, k in enumerate(x)])


def test_bgnbd_recovers_simulated_parameters():
    truth = {"r": 0.8, "alpha": 6.0, "a": 0.9, "b": 3.0}
    x, tx, T = simulate_bgnbd(20000, *truth.values(), T_max=78.0, seed=1)
    fit = BetaGeoFitter().fit(x, tx, T)
    for k, v in truth.items():
        assert fit.params_[k] == pytest.approx(v, rel=0.12), k
    # mean drop-out probability a/(a+b) is the best-identified quantity
    assert fit.params_["a"] / (fit.params_["a"] + fit.params_["b"]) == pytest.approx(0.9 / 3.9, rel=0.05)
    # the fitted model must predict the simulated totals
    assert fit.expected_purchases(T).sum() == pytest.approx(x.sum(), rel=0.05)


def test_gamma_gamma_recovers_simulated_parameters():
    truth = {"p": 5.0, "q": 4.0, "v": 20.0}
    rng = np.random.default_rng(3)
    x = rng.integers(1, 12, 5000)
    m = simulate_gamma_gamma(x, *truth.values(), seed=4)
    fit = GammaGammaFitter().fit(x, m)
    for k, v in truth.items():
        assert fit.params_[k] == pytest.approx(v, rel=0.2), k
    assert fit.n_ == 5000


# ---------------------------------------------------------------- CDNOW (published values)
@pytest.fixture(scope="module")
def cdnow_summary():
    df = pd.read_csv(DATA, sep=r"\s+", header=None, names=["master", "id", "date", "cds", "value"],
                     dtype={"date": str})
    df["date"] = pd.to_datetime(df["date"], format="%Y%m%d")
    return clv.compute_clv_summary(df, account_col="id", date_col="date", value_col="value",
                                   calibration_end="1997-09-30", observation_end="1998-06-30")


def test_cdnow_summary_shape(cdnow_summary):
    s = cdnow_summary
    assert len(s) == 2357
    assert (s["frequency"] > 0).sum() == 946  # repeat buyers in the calibration period (FHL 2005)
    assert s["T"].max() == pytest.approx(272 / 7)
    assert s["duration_holdout"].iloc[0] == pytest.approx(39.0)


def test_cdnow_bgnbd_matches_published(cdnow_summary):
    s = cdnow_summary
    fit = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    # Fader, Hardie & Lee (2005), Marketing Science 24(2): r .243, α 4.414, a .793, b 2.426, LL -9582.4
    assert round(fit.params_["r"], 3) == 0.243
    assert round(fit.params_["alpha"], 3) == 4.414
    assert round(fit.params_["a"], 3) == 0.793
    assert round(fit.params_["b"], 3) == 2.426
    assert round(fit.log_likelihood_, 1) == -9582.4


def test_cdnow_gamma_gamma_matches_published(cdnow_summary):
    s = cdnow_summary
    fit = GammaGammaFitter().fit(s["frequency"], s["monetary_value"])
    # Fader, Hardie & Lee (2005), JMR 42(4): p 6.25, q 3.74, γ 15.44 (946 repeat buyers)
    assert round(fit.params_["p"], 2) == 6.25
    assert round(fit.params_["q"], 2) == 3.74
    assert round(fit.params_["v"], 2) == 15.44
    assert fit.n_ == 946


def test_cdnow_holdout_check_is_close(cdnow_summary):
    check = clv.compute_holdout_check(cdnow_summary)
    total = check.set_index("frequency_group").loc["all (total)"]
    # the model tracks the 39-week holdout within about 15% in aggregate
    assert abs(total["predicted"] / total["actual"] - 1) < 0.15
    by_x = check[check["frequency_group"] != "all (total)"]
    assert by_x["predicted"].is_monotonic_increasing  # more past purchases -> more predicted


def test_p_alive_and_conditional_purchases_behave(cdnow_summary):
    s = cdnow_summary
    fit = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    # no repeat purchase: P(alive) = 1 by the model's assumption
    assert fit.conditional_probability_alive([0], [0], [30])[0] == 1.0
    # same frequency, long silence -> lower P(alive) and fewer expected purchases
    recent = fit.conditional_probability_alive([5], [30], [32])[0]
    lapsed = fit.conditional_probability_alive([5], [5], [32])[0]
    assert recent > lapsed
    assert fit.conditional_expected_purchases(10, [5], [30], [32])[0] > \
        fit.conditional_expected_purchases(10, [5], [5], [32])[0]


def test_compute_clv_discounting(cdnow_summary):
    s = cdnow_summary.drop(columns=["frequency_holdout", "monetary_holdout", "duration_holdout"])
    s = s.rename(columns={"id": "account_id"})
    nodisc, params, (bgf, ggf) = clv.compute_clv(s, horizon_months=12, annual_discount_rate=0.0)
    disc, _, _ = clv.compute_clv(s, horizon_months=12, annual_discount_rate=0.15)
    # undiscounted CLV = expected spend x expected purchases over the horizon
    np.testing.assert_allclose(nodisc["clv"], nodisc["expected_spend"] * nodisc["expected_purchases"], rtol=1e-9)
    assert (disc["clv"] <= nodisc["clv"] + 1e-9).all() and disc["clv"].sum() < nodisc["clv"].sum()
    assert set(params["model"]) == {"BG/NBD", "Gamma-Gamma", "CLV"}
    assert params.query("parameter == 'r'")["value"].iloc[0] == pytest.approx(0.2426, abs=1e-3)


# ---------------------------------------------------------------- summary and errors
def test_summary_hand_worked():
    tx = pd.DataFrame({"account_id": ["A", "A", "A", "A", "B", "C"],
                       "order_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-15", "2024-01-29",
                                                     "2024-01-08", "2024-02-05"]),
                       "value": [10.0, 5.0, 20.0, 40.0, 7.0, 9.0]})
    s = clv.compute_clv_summary(tx, calibration_end="2024-01-29", observation_end="2024-02-26").set_index("account_id")
    # A: purchase days 1 Jan (15), 15 Jan (20), 29 Jan (40): x=2, t_x=4 weeks, T=4, m = (20+40)/2
    assert s.loc["A", "frequency"] == 2
    assert s.loc["A", "recency"] == pytest.approx(4.0)
    assert s.loc["A", "T"] == pytest.approx(4.0)
    assert s.loc["A", "monetary_value"] == pytest.approx(30.0)
    assert s.loc["B", "frequency"] == 0 and s.loc["B", "monetary_value"] == 0
    assert s.loc["B", "T"] == pytest.approx(3.0)
    assert "C" not in s.index  # first purchase after calibration end
    assert s.loc["A", "duration_holdout"] == pytest.approx(4.0)


def test_summary_of_a_purchase_log_and_of_order_lines():
    """A purchase log counts every row (a free CD, value 0, is a purchase, as in CDNOW); order
    lines with returns count only the days that net to more than zero (the run's rule)."""
    tx = pd.DataFrame({"cust": [7, 7, 7, 7, 8],
                       "day": ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-15", "2024-01-08"],
                       "amount": [10.0, 0.0, 30.0, -30.0, 5.0]})
    before = tx.copy()
    log = clv.compute_clv_summary(tx, account_col="cust", date_col="day", value_col="amount",
                                  observation_end="2024-01-29", time_unit_days=1.0)
    assert list(log.columns) == ["cust", "frequency", "recency", "T", "monetary_value"]
    assert log["cust"].tolist() == [7, 8]                       # the account column keeps its name and type
    a = log.set_index("cust").loc[7]
    # 7: days 1, 8 (0.0) and 15 (30 - 30 = 0): three purchases, two repeats of value 0
    assert (a["frequency"], a["recency"], a["T"], a["monetary_value"]) == (2, 14.0, 28.0, 0.0)
    lines = clv.compute_clv_summary(tx, account_col="cust", date_col="day", value_col="amount",
                                    observation_end="2024-01-29", time_unit_days=1.0, order_lines=True)
    a = lines.set_index("cust").loc[7]
    assert (a["frequency"], a["recency"], a["T"], a["monetary_value"]) == (0, 0.0, 28.0, 0.0)   # only 1 Jan
    no_value = clv.compute_clv_summary(tx, account_col="cust", date_col="day", value_col=None,
                                       observation_end="2024-01-29").set_index("cust")
    assert no_value.at[7, "frequency"] == 2 and no_value.at[7, "monetary_value"] == 0.0
    pd.testing.assert_frame_equal(tx, before)                    # the caller's frame is untouched
    with pytest.raises(CLVFitError, match=r"no column\(s\) \['value'\]"):
        clv.compute_clv_summary(tx, account_col="cust", date_col="day", observation_end="2024-01-29")
    with pytest.raises(CLVFitError, match="calibration end 2024-02-05 is after"):
        clv.compute_clv_summary(tx, account_col="cust", date_col="day", value_col="amount",
                                observation_end="2024-01-29", calibration_end="2024-02-05")


def test_inconsistent_summary_gives_clear_error():
    with pytest.raises(CLVFitError, match=r"recency > T: 1 rows"):
        BetaGeoFitter().fit([1, 2], [5, 12], [10, 10])


def test_no_repeat_buyers_gives_clear_error():
    with pytest.raises(CLVFitError, match="no account made a repeat purchase"):
        BetaGeoFitter().fit([0, 0, 0], [0, 0, 0], [10, 12, 9])
    with pytest.raises(CLVFitError, match="needs at least 10"):
        GammaGammaFitter().fit([1, 2, 0], [5.0, 6.0, 0.0])


def test_unfitted_model_gives_clear_error():
    with pytest.raises(CLVFitError, match="not fitted yet"):
        BetaGeoFitter().conditional_probability_alive([1], [1], [2])


def test_degenerate_data_does_not_converge_silently():
    # every account buys every week until the end: no drop-out information, p -> 0
    x = np.full(50, 20)
    with pytest.raises(CLVFitError, match="did not converge|ran to a bound"):
        BetaGeoFitter().fit(x, np.full(50, 20.0), np.full(50, 20.0))


# ---------------------------------------------------------------- analytic gradients
def _finite_difference(f, params, rel=1e-6):
    out = []
    for j in range(len(params)):
        h = rel * params[j]
        e = np.zeros(len(params))
        e[j] = h
        out.append((f(params + e) - f(params - e)) / (2 * h))
    return np.array(out)


def test_bgnbd_gradient_matches_finite_differences():
    x, tx, T = simulate_bgnbd(3000, 0.5, 5.0, 0.8, 2.5, T_max=52.0, seed=2)
    x = x.astype(float)
    w = np.random.default_rng(0).integers(1, 4, len(x)).astype(float)  # weights enter the gradient too
    data = BetaGeoFitter._prepare(x, tx, T, w)
    for params in (np.array([0.4, 6.0, 1.2, 3.1]), np.array([2.0, 0.5, 0.1, 15.0])):
        ll, grad = BetaGeoFitter._ll_grad(params, data)
        total = lambda p: float(np.sum(w * BetaGeoFitter._ll(p, x, tx, T)))  # noqa: E731
        assert ll == pytest.approx(total(params), rel=1e-12)
        np.testing.assert_allclose(grad, _finite_difference(total, params), rtol=1e-6, atol=1e-6)


def test_gamma_gamma_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.integers(1, 9, 800).astype(float)
    m = rng.gamma(3.0, 5.0, 800)
    data = GammaGammaFitter._prepare(x, m)
    for params in (np.array([4.0, 3.0, 12.0]), np.array([0.7, 9.0, 150.0])):
        ll, grad = GammaGammaFitter._ll_grad(params, data)
        total = lambda p: float(np.sum(GammaGammaFitter._ll(p, x, m)))  # noqa: E731
        assert ll == pytest.approx(total(params), rel=1e-12)
        np.testing.assert_allclose(grad, _finite_difference(total, params), rtol=1e-6, atol=1e-6)


def test_cdnow_estimates_match_the_previous_gradient_free_fit_to_1e4(cdnow_summary):
    # the estimates the Nelder–Mead + polish optimiser gave before the analytic gradients
    s = cdnow_summary
    bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    for k, v in {"r": 0.242595, "alpha": 4.413602, "a": 0.792922, "b": 2.425907}.items():
        assert bg.params_[k] == pytest.approx(v, rel=1e-4), k
    gg = GammaGammaFitter().fit(s["frequency"], s["monetary_value"])
    for k, v in {"p": 6.249572, "q": 3.744225, "v": 15.443523}.items():
        assert gg.params_[k] == pytest.approx(v, rel=1e-4), k
    # and they are a maximum: the gradient vanishes there
    x, tx, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    _, g = BetaGeoFitter._ll_grad(np.array(list(bg.params_.values())),
                                  BetaGeoFitter._prepare(x, tx, T, np.ones_like(x)))
    assert np.abs(g * np.array(list(bg.params_.values()))).max() < 1e-2  # on a total log-likelihood of -9582
    # 23,570 customers (the sample ten times over) have the same maximum
    big = pd.concat([s] * 10)
    bg10 = BetaGeoFitter().fit(big["frequency"], big["recency"], big["T"])
    for k, v in bg.params_.items():
        assert bg10.params_[k] == pytest.approx(v, rel=1e-5), k
