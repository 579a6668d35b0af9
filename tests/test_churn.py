"""Churn-risk model: planted drivers are recovered, features are built without leakage, honest back-test."""
from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from kam_analysis import PLANTED, ParameterError, RunError, open_run
from kam_analysis.models import churn
from tests.conftest import write_demo_params


# --------------------------------------------------------------------------- planted driver on simulated data
def _simulate(n: int, seed: int, log_or_detractor: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "recency_months": rng.uniform(0, 6, n),
        "detractor": (rng.random(n) < 0.3).astype(float),
        "tenure_years": rng.uniform(0, 5, n),
    })
    logit = -2.0 + 0.3 * df["recency_months"] + log_or_detractor * df["detractor"] + 0.0 * df["tenure_years"]
    df["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    df["account_id"] = [f"A{i}" for i in range(n)]
    return df


def test_model_recovers_planted_driver_direction_and_size():
    true_or = 2.5
    df = _simulate(6000, seed=11, log_or_detractor=np.log(true_or))
    m = churn.ChurnRiskModel(["recency_months", "detractor", "tenure_years"], horizon_days=365).fit(df)
    d = m.drivers_.set_index("feature")
    assert d.loc["detractor", "ci_low"] < true_or < d.loc["detractor", "ci_high"]
    assert d.loc["detractor", "odds_ratio"] == pytest.approx(true_or, rel=0.2)
    assert d.loc["detractor", "direction"] == "raises risk"
    assert d.loc["recency_months", "odds_ratio"] == pytest.approx(np.exp(0.3), rel=0.1)
    assert d.loc["tenure_years", "ci_low"] < 1 < d.loc["tenure_years", "ci_high"]  # planted: no effect
    assert d.loc["detractor", "interpretation"].startswith("A detractor NPS score (0-6)")
    assert "multiplies the odds of churning in the next 12 months" in d.loc["detractor", "interpretation"]
    p = m.predict_proba(df)
    assert p.mean() == pytest.approx(df["churned"].mean(), abs=0.01)  # logit is calibrated in sample


def test_protective_driver_reads_as_protective():
    df = _simulate(4000, seed=5, log_or_detractor=np.log(0.4))
    d = churn.ChurnRiskModel(["recency_months", "detractor"]).fit(df).drivers_.set_index("feature")
    assert d.loc["detractor", "odds_ratio"] < 1 and d.loc["detractor", "direction"] == "lowers risk"
    assert "cuts the odds" in d.loc["detractor", "interpretation"]


def test_a_tiny_effect_on_a_large_base_is_clear_but_not_a_driver():
    """Planted: tenure raises the odds by 3% a year on 200,000 accounts (statistically clear, too
    small to act on) and a detractor by 2.5x. Only the detractor is a driver; tenure reads as
    measurable but too small, and the deck's slide names the detractor."""
    rng = np.random.default_rng(3)
    n = 200_000
    df = pd.DataFrame({"tenure_years": rng.uniform(0, 10, n), "detractor": (rng.random(n) < 0.3).astype(float)})
    logit = -1.5 + np.log(1.03) * df["tenure_years"] + np.log(2.5) * df["detractor"]
    df["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    df["account_id"] = [f"A{i}" for i in range(n)]
    d = churn.ChurnRiskModel(["tenure_years", "detractor"], horizon_days=365).fit(df).drivers_.set_index("feature")
    assert d.loc["tenure_years", "significant"] and not d.loc["tenure_years", "material"]
    assert d.loc["tenure_years", "direction"] == "too small"
    assert "too small to act on" in d.loc["tenure_years", "interpretation"]
    assert d.loc["detractor", "material"] and d.loc["detractor", "direction"] == "raises risk"
    from kam_analysis.deliverables.deck_story.strategy import driver_is_clear
    assert driver_is_clear(d.reset_index()).tolist() == [False, True]


def test_model_input_errors():
    df = _simulate(200, seed=1, log_or_detractor=0.5)
    with pytest.raises(ParameterError, match=r"churn feature\(s\) \['nps_score'\] are not in the data"):
        churn.ChurnRiskModel(["recency_months", "nps_score"]).fit(df)
    with pytest.raises(RunError, match="too little data to fit the churn model"):
        churn.ChurnRiskModel(["recency_months"]).fit(df.head(20))
    with pytest.raises(ParameterError, match=r"unknown feature\(s\) \['mood'\]"):
        churn.run_churn_analysis(pd.DataFrame(), as_of=dt.date(2025, 1, 1), horizon_days=365, activity_days=180,
                                features=["mood"])


# --------------------------------------------------------------------------- features at a cut-off
def _tx(rows):
    df = pd.DataFrame(rows, columns=["account_id", "order_id", "order_date", "net_revenue", "category"])
    df["order_date"] = pd.to_datetime(df["order_date"])
    return df


def test_churn_frame_features_and_outcome_by_hand():
    tx = _tx([
        ("a", "1", "2024-03-01", 100.0, "X"), ("a", "2", "2024-09-01", 50.0, "Y"), ("a", "3", "2024-11-15", 70.0, "X"),
        ("a", "4", "2025-02-01", 80.0, "X"),  # a buys again after the cut-off: retained
        ("b", "5", "2024-12-01", 40.0, "X"),  # b: never again -> churned
        ("c", "6", "2023-01-01", 10.0, "X"),  # c: inactive at the cut-off -> not in the population
        ("b", "7", "2025-06-01", -40.0, "X"),  # a return is not an order
    ])
    surveys = pd.DataFrame({"account_id": ["a", "b", "b"], "survey_date": ["2024-10-01", "2024-10-01", "2025-01-10"],
                            "nps": [9.0, 4.0, 10.0], "csat": [5.0, 2.0, 5.0]})
    f = churn.build_churn_frame(tx, cutoff=dt.date(2024, 12, 31), horizon_days=180, activity_days=180, surveys=surveys,
                               data_end=dt.date(2025, 12, 31)).set_index("account_id")
    assert list(f.index) == ["a", "b"]
    assert f.loc["a", "churned"] == 0 and f.loc["b", "churned"] == 1
    assert f.loc["a", "recency_months"] == pytest.approx(46 / 30.44)
    # a: 2 orders in the last 6 months (Sep, Nov), 1 in the 6 months before (Mar): log2(3/2)
    assert f.loc["a", "frequency_trend"] == pytest.approx(np.log2(3 / 2))
    assert f.loc["a", "orders_12m_log2"] == pytest.approx(np.log2(3))
    assert f.loc["a", "category_breadth"] == 2 and f.loc["a", "revenue_12m"] == 220
    assert f.loc["a", "tenure_years"] == pytest.approx(305 / 365.25)
    # the survey after the cut-off (b: 10 in Jan 2025) must not be used
    assert f.loc["b", "detractor"] == 1 and f.loc["a", "detractor"] == 0 and f.loc["b", "csat_low"] == 1
    assert f["no_survey"].sum() == 0
    # outcome window beyond the data: unobserved
    g = churn.build_churn_frame(tx, cutoff=dt.date(2025, 10, 1), horizon_days=180, activity_days=365,
                               data_end=dt.date(2025, 12, 31))
    assert g["churned"].isna().all() and "detractor" not in g


def test_churn_frame_windows_are_the_kpis_calendar_months():
    """'Last 12 months' and 'last 6 months' are calendar months, as in every KPI (not 365 / 182 days):
    at the cut-off 31 Mar 2024 (a leap year) 1 Apr 2023 is inside the year and 1 Oct 2023 inside the half-year."""
    from kam_analysis import metrics
    from kam_analysis.metrics.engine import OrderSource

    tx = _tx([("z", "1", "2023-03-31", 10.0, "X"), ("z", "2", "2023-04-01", 20.0, "Y"),
              ("z", "3", "2023-09-30", 30.0, "X"), ("z", "4", "2023-10-01", 40.0, "X"),
              ("z", "5", "2024-03-01", 50.0, "X")])
    f = churn.build_churn_frame(tx, cutoff=dt.date(2024, 3, 31), horizon_days=90, activity_days=180).set_index("account_id")
    assert f.loc["z", "revenue_12m"] == 20 + 30 + 40 + 50                # 31 Mar 2023 is a year back: out
    assert f.loc["z", "orders_12m_log2"] == pytest.approx(np.log2(4))
    assert f.loc["z", "frequency_trend"] == pytest.approx(np.log2(3 / 3))  # 1 Oct, 1 Mar recent; 1 Apr, 30 Sep prior
    assert f.loc["z", "category_breadth"] == 2                            # Y on 1 Apr 2023 is in the year
    kpis = metrics.compute_account_kpis(OrderSource.from_frame(tx, revenue_col="net_revenue", order_col="order_id"),
                                        as_of="2024-03-31", churn_days=180).set_index("account_id")
    assert kpis.at["z", "revenue_12m"] == f.loc["z", "revenue_12m"] and kpis.at["z", "orders_12m"] == 4


def test_backtest_metrics_by_hand():
    m, cal = churn.compute_backtest([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.3], n_bins=2)
    v = m.set_index("metric")["value"]
    assert v["auc"] == 1.0
    assert v["brier"] == pytest.approx((0.01 + 0.01 + 0.04 + 0.09) / 4)
    assert v["brier_skill"] == pytest.approx(1 - 0.0375 / 0.25)
    assert v["top_decile_lift"] == pytest.approx(1.0 / 0.5)  # top half (2 of 4) both churned
    assert cal["observed"].tolist() == [0.0, 1.0]


def test_risk_bands_and_revenue_at_risk():
    df = _simulate(1000, seed=2, log_or_detractor=1.0)
    m = churn.ChurnRiskModel(["recency_months", "detractor"]).fit(df)
    scoring = df.head(100)
    segs = pd.DataFrame({"account_id": [f"A{i}" for i in range(120)], "quadrant": ["S", "T"] * 60})
    summ = pd.DataFrame({"account_id": segs["account_id"], "revenue_12m": 100.0})
    cr = churn.compute_churn_risk(scoring, m, segments=segs, account_summary=summ,
                                 band_shares={"high": 0.1, "medium": 0.2})
    assert (cr["risk_band"] == "high").sum() == 10 and (cr["risk_band"] == "medium").sum() == 20
    assert (cr["risk_band"] == "lapsed").sum() == 20 and cr.loc[~cr["active"], "risk_score"].isna().all()
    hi = cr[cr["risk_band"] == "high"]["risk_score"].min()
    assert hi >= cr[cr["risk_band"] == "medium"]["risk_score"].max()
    assert cr["revenue_at_risk"].sum() == pytest.approx(100 * cr["risk_score"].sum())
    by = churn.compute_revenue_at_risk(cr, order=["T", "S"])
    assert by["segment"].tolist() == ["T", "S"]
    assert by["revenue_at_risk"].sum() == pytest.approx(cr["revenue_at_risk"].sum())
    assert by["active_accounts"].sum() == 100


# --------------------------------------------------------------------------- the demo client's planted driver
@pytest.fixture(scope="module")
def full_demo_run(tmp_path_factory):
    """The demo client at its full size (2,000 accounts, seed 42, as params/demo.yaml)."""
    tmp = tmp_path_factory.mktemp("demo2000")
    return open_run(write_demo_params(tmp, n_accounts=2000, seed=42), tmp / "run")


def test_demo_churn_model_finds_planted_detractor_driver(full_demo_run):
    run = full_demo_run
    p = run.params
    res = churn.run_churn_analysis(run.transactions_sql(), as_of=p.analysis.as_of_date,
                                  horizon_days=p.strategy.churn_horizon_days, activity_days=p.analysis.churn_days,
                                  features=p.strategy.churn_features, windows=p.strategy.churn_windows,
                                  surveys=run.read_data("surveys"), accounts=run.read_data("accounts"))
    d = res["model"].drivers_.set_index("feature")
    # planted: detractors' monthly odds of stopping for good x PLANTED['detractor_churn_odds_ratio'] (3.0); the
    # observed 12-month odds ratio is diluted by accounts that pause without churning, so ask for a clear OR > 1
    assert d.loc["detractor", "ci_low"] > 1
    assert 1.3 < d.loc["detractor", "odds_ratio"] < PLANTED["detractor_churn_odds_ratio"] * 1.5
    bt = res["backtest"].set_index("metric")["value"]
    assert bt["auc"] > 0.6 and bt["top_decile_lift"] > 1.5 and bt["brier_skill"] > 0
    # honest split: training outcome windows end by the test cut-off
    assert max(res["cutoffs"]["train"]) + dt.timedelta(days=p.strategy.churn_horizon_days) <= res["cutoffs"]["test"]
    assert res["scoring"]["churned"].isna().all()


def test_churn_analysis_without_surveys_skips_survey_features(demo_run):
    p = demo_run.params
    res = churn.run_churn_analysis(demo_run.transactions_sql(), as_of=p.analysis.as_of_date, horizon_days=365,
                                  activity_days=p.analysis.churn_days, features=p.strategy.churn_features,
                                  windows=2, surveys=None, accounts=None)
    assert res["skipped"] == ["detractor", "no_survey"]
    assert "detractor" not in set(res["model"].drivers_["feature"])
    assert len(res["scoring"]) > 0 and res["scoring"]["churned"].isna().all()


# --------------------------------------------------------------------------- data that cannot support the model
def test_history_too_short_is_reported_not_supported_and_scores_nobody():
    # three accounts whose only orders fall 60 days before the as-of date: nobody was active
    # before any cut-off of a 365-day horizon, so the model cannot be fitted
    tx = _tx([("A1", "O1", "2024-11-01", 100.0, "x"), ("A2", "O2", "2024-11-01", -20.0, "x"),
              ("A3", "O3", "2024-11-01", 0.0, "y")])
    res = churn.run_churn_analysis(tx, as_of=dt.date(2024, 12, 31), horizon_days=365, activity_days=180,
                                  features=["recency_months", "orders_12m_log2", "tenure_years"])
    assert res["supported"] is False and res["model"] is None and res["backtest_model"] is None
    assert re.search(r"^churn model not supported: no account was active before the churn-model cut-off dates "
                     r"\([^)]*1 Jan 2024\); .*too short for a horizon of 365 days$", res["note"])
    assert "['" not in res["note"]  # dates in words, never a Python list
    assert "fix:" not in res["note"]
    assert list(res["drivers"].columns) == churn.DRIVER_COLUMNS and res["drivers"].empty
    assert list(res["backtest"].columns) == churn.BACKTEST_COLUMNS and res["backtest"].empty
    assert list(res["calibration"].columns) == churn.CALIBRATION_COLUMNS and res["calibration"].empty
    status = churn.compute_churn_model_status(res)
    assert status.to_dict("records") == [{"analysis": "Churn-risk model", "supported": False, "reason": res["note"]}]
    assert "not supported by this data" in churn.describe_churn_analysis(res)

    segs = pd.DataFrame({"account_id": ["A1", "A2", "A3"], "quadrant": ["Star", "Star", "Status"]})
    summ = pd.DataFrame({"account_id": ["A1", "A2", "A3"], "revenue_12m": [100.0, -20.0, 0.0]})
    cr = churn.compute_churn_risk(res["scoring"], res["model"], segments=segs, account_summary=summ,
                                 band_shares={"high": 0.1, "medium": 0.2})
    assert cr.empty and list(cr.columns) == churn.CHURN_RISK_COLUMNS  # no invented scores or revenue at risk
    by_seg = churn.compute_revenue_at_risk(cr, order=["Star", "Status"])
    assert by_seg.empty and {"segment", "revenue_at_risk", "share_at_risk"} <= set(by_seg.columns)


def test_too_few_accounts_is_not_supported_with_its_reason():
    # 10 accounts ordering every month for three years: the windows exist but hold < 30 accounts
    rows = [(f"A{i}", f"O{i}-{m}", (pd.Timestamp("2022-01-15") + pd.DateOffset(months=m)).date().isoformat(),
             100.0, "x") for i in range(10) for m in range(36)]
    res = churn.run_churn_analysis(_tx(rows), as_of=dt.date(2024, 12, 31), horizon_days=180, activity_days=180,
                                  features=["recency_months", "orders_12m_log2"])
    assert res["supported"] is False
    assert "no account was active" not in res["note"]  # the reason is the fit's, not the history's
    assert re.match(r"churn model not supported: too little data to fit the churn model: \d+ accounts, 0 churned",
                    res["note"])


def test_churn_charts_draw_a_not_supported_panel():
    import matplotlib.pyplot as plt

    from kam_analysis import charts

    note = "churn model not supported: the order history is too short"
    ax = charts.plot_churn_drivers(pd.DataFrame(columns=churn.DRIVER_COLUMNS), note=note)
    assert "not supported" in ax.get_title() and any(note in t.get_text() for t in ax.texts)
    ax2 = charts.plot_risk_by_segment(churn.compute_revenue_at_risk(pd.DataFrame(columns=churn.CHURN_RISK_COLUMNS)),
                                      note=note)
    assert "not estimated" in ax2.get_title() and not ax2.patches
    plt.close("all")


def _steady_accounts(n: int, lapsed: int):
    """``n`` accounts ordering every month for three years, the first ``lapsed`` stopping a year before the
    as-of date: enough accounts for the 20-account minimum, too few stopping to learn from."""
    rows = []
    for i in range(n):
        months = 24 if i < lapsed else 36
        rows += [(f"A{i}", f"O{i}-{m}", (pd.Timestamp("2022-01-15") + pd.DateOffset(months=m)).date().isoformat(),
                  100.0, "x") for m in range(months)]
    return _tx(rows)


def test_the_models_own_refusal_is_in_client_words_with_what_unlocks_it():
    res = churn.run_churn_analysis(_steady_accounts(40, 2), as_of=dt.date(2024, 12, 31), horizon_days=180,
                                   activity_days=180, features=["recency_months", "orders_12m_log2"])
    assert res["supported"] is False
    caveat, need = res["refusal"]["caveat"], res["refusal"]["need"]
    n, k = map(int, re.search(r"(\d+) accounts, (\d+) churned", res["note"]).groups())
    assert k == 4  # planted: 2 accounts stop buying, seen in 2 pooled windows each
    assert caveat.startswith("too few accounts to learn which are about to stop buying: in the periods the model "
                             f"learns from, {k} accounts stopped buying and {n - k} kept buying")
    assert "(at least 5 of each, and 30 in all, are needed)" in caveat
    assert not re.search(r"\b[a-z]+[._][a-z_.]+\b", caveat)  # no parameter key, no snake_case
    assert need == "history"  # 40 accounts in each window: it is the stopping that is missing
    assert caveat in churn.describe_churn_analysis(res)  # the notebook leads with the client's reason
    short = churn.run_churn_analysis(_steady_accounts(10, 0), as_of=dt.date(2024, 12, 31), horizon_days=180,
                                     activity_days=180, features=["recency_months", "orders_12m_log2"])
    assert short["refusal"]["need"] == "base"  # fewer than 30 to learn from: a larger base unlocks it
    too_short = churn.run_churn_analysis(_steady_accounts(40, 0), as_of=dt.date(2022, 3, 31), horizon_days=365,
                                         activity_days=180, features=["recency_months"])
    assert too_short["refusal"]["caveat"].startswith("the order history is too short for a 365-day churn horizon")


def test_an_early_warning_sign_is_not_sold_as_the_cause(demo_run, tmp_path):
    """Months since the last order describes the slowdown churn is the end of: when it is the
    strongest effect the deck calls it an early-warning sign and names the strongest driver a
    manager can act on; without one it says nothing actionable moves churn enough."""
    import shutil

    from kam_analysis.data.runfolder import Run
    from kam_analysis.deliverables.deck_story._base import DeckData
    from kam_analysis.deliverables.deck_story.strategy import s_churn_drivers

    shutil.copytree(demo_run.dir, tmp_path / "run", dirs_exist_ok=True)
    run = Run(tmp_path / "run", demo_run.params)
    rows = [("recency_months", "Months since last order", 2.96, 2.94, 2.97, True),
            ("detractor", "Detractor (latest NPS 0-6)", 1.40, 1.35, 1.45, True),
            ("tenure_years", "Tenure (years)", 1.02, 1.01, 1.03, False)]
    drivers = pd.DataFrame(rows, columns=["feature", "label", "odds_ratio", "ci_low", "ci_high", "material"]).assign(
        p_value=0.001, significant=True, interpretation="x")
    run.write_table("churn_drivers", drivers)
    (spec,) = s_churn_drivers(DeckData(run))
    assert spec.title.startswith("Months since last order is the clearest early-warning sign of churn (odds ratio 2.96); ")
    assert spec.title.endswith("of what a manager can act on, detractor weighs most (odds ratio 1.40)")
    run.write_table("churn_drivers", drivers.assign(material=[True, False, False]))
    (spec,) = s_churn_drivers(DeckData(run))
    assert spec.title.endswith("nothing a manager can act on moves churn enough to matter")
    run.write_table("churn_drivers", drivers.iloc[1:])
    (spec,) = s_churn_drivers(DeckData(run))
    assert spec.title.startswith("Detractor is the strongest clear churn driver (odds ratio 1.40")
    # the model's own sentence says the same
    df = _simulate(6000, seed=11, log_or_detractor=np.log(2.5))
    d = churn.ChurnRiskModel(["recency_months", "detractor"], horizon_days=365).fit(df).drivers_.set_index("feature")
    assert "an early-warning sign" in d.loc["recency_months", "interpretation"]
    assert d.loc["detractor", "interpretation"].endswith("a risk driver.")


def test_risk_band_labels_say_the_bands_are_ranks():
    """A band is a rank among the active accounts, not a level: the label says which share it holds,
    so a 47% churn probability in the 'low' band of a high-churn client is not read as safe."""
    from kam_analysis.models.churn import risk_band_label

    shares = {"high": 0.10, "medium": 0.25}
    assert risk_band_label("high", shares) == "high (riskiest 10%)"
    assert risk_band_label("medium", shares) == "medium (next 25%)"
    assert risk_band_label("low", shares) == "low (other 65%)"
    assert risk_band_label("lapsed", shares) == "lapsed" and risk_band_label(None, shares) == ""


def test_every_churn_feature_label_is_whole_on_a_chart_axis():
    """The driver chart's axis shows CHART_LABEL_MAX characters; a longer label ended in '…' mid-word
    ('Order count, last 12 months (per doubli…')."""
    from kam_analysis.deliverables._pptx import CHART_LABEL_MAX
    from kam_analysis.models.churn import FEATURES

    long = {k: f.label for k, f in FEATURES.items() if len(f.label) > CHART_LABEL_MAX}
    assert not long, long
