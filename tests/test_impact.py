"""Tests for kam_analysis.models.impact: the difference-in-differences programme-impact estimate."""
from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pandas as pd
import pytest

from kam_analysis import PLANTED
from kam_analysis.models.impact import ProgrammeImpact
from kam_analysis.phases import review


def simulate_panel(*, effect: float, n: int = 600, periods: int = 16, start: int = 10, pre_trend: float = 0.0,
                   seed: int = 0):
    """Account x quarter log revenue with account and period effects and a planted programme effect.

    Programme accounts are the top 15% by account effect (selection on level, as in real
    programmes); after period ``start`` their log revenue rises by ``effect``. With
    ``pre_trend`` they also drift upward by that much per period all along (a violation of
    parallel trends). Some account-periods are inactive (no row).
    """
    rng = np.random.default_rng(seed)
    alpha = rng.normal(7, 1, n)
    key = alpha > np.quantile(alpha, 0.85)
    gamma = np.cumsum(rng.normal(0.02, 0.05, periods))
    ps = pd.date_range("2021-01-01", periods=periods, freq="QS")
    i, t = np.repeat(np.arange(n), periods), np.tile(np.arange(periods), n)
    y = (alpha[i] + gamma[t] + effect * (key[i] & (t >= start)) + pre_trend * t * key[i]
         + rng.normal(0, 0.3, n * periods))
    active = rng.random(n * periods) >= 0.15
    ap = pd.DataFrame({"account_id": [f"A{k:04d}" for k in i[active]], "period_start": ps[t[active]],
                       "revenue": np.exp(y[active])})
    acc = pd.DataFrame({"account_id": [f"A{i:04d}" for i in range(n)], "key_account": key})
    return ap, acc, ps[start].date()



def test_did_recovers_planted_effect():
    effect = math.log(1.15)
    ap, acc, start = simulate_panel(effect=effect)
    m = ProgrammeImpact(programme_start=start, drop_edge_periods=False).fit(ap, acc)
    assert m.supported_
    assert m.ci_low_ <= effect <= m.ci_high_
    assert abs(m.estimate_ - effect) < 0.05
    assert m.ci_low_ > 0 and m.p_value_ < 0.05
    assert m.uplift_ == pytest.approx(math.expm1(m.estimate_))
    assert m.pretrend_p_value_ > 0.05
    assert abs(m.placebo_estimate_) < 0.05 and m.placebo_p_value_ > 0.05  # no effect before the start
    assert "more than" in m.sentence_
    es = m.event_study_.set_index("rel_period")
    assert es.loc[-1, "coef"] == 0 and es.loc[2, "coef"] > 0.05  # post effects visible
    t = m.summary()
    assert t.loc[0, "supported"] and list(t.columns[:5]) == ["supported", "estimate", "ci_low", "ci_high", "p_value"]



def test_did_reports_no_effect_on_placebo_data():
    ap, acc, start = simulate_panel(effect=0.0, seed=1)
    m = ProgrammeImpact(programme_start=start, drop_edge_periods=False).fit(ap, acc)
    assert m.supported_
    assert m.ci_low_ < 0 < m.ci_high_
    assert m.p_value_ > 0.05
    assert "no measurable difference" in m.sentence_
    # at a large client's scale the counts read with thousands separators (the 200,000-account
    # engagement's deck, KPI workbook and HTML read 'the 14196 programme accounts')
    m.n_treated_, m.n_control_ = 14_196, 74_516
    assert "the 14,196 programme accounts and 74,516 comparable accounts" in m._sentence()



def test_did_flags_diverging_pre_trends():
    ap, acc, start = simulate_panel(effect=0.0, pre_trend=0.08, seed=2)
    m = ProgrammeImpact(programme_start=start, drop_edge_periods=False).fit(ap, acc)
    assert m.pretrend_p_value_ < 0.05
    assert m.placebo_estimate_ > 0 and m.placebo_p_value_ < 0.05
    assert "already diverging" in m.sentence_



def test_did_accounts_for_every_programme_account():
    """From the client's programme list to the estimate: each programme account left out is
    counted under its reason, and the counts add up to the programme."""
    ap, acc, start = simulate_panel(effect=0.1, n=300, seed=3)
    ps = sorted(ap["period_start"].unique())
    planted = pd.DataFrame({"account_id": ["P_NONE1", "P_NONE2", "P_EDGE", "P_NEW1", "P_NEW2", "P_NEW3"],
                            "key_account": True})
    extra = pd.DataFrame([("P_EDGE", ps[3], 900.0)]  # one period only: both its first and its last, dropped
                         + [(f"P_NEW{k}", ps[p], 800.0) for k in (1, 2, 3) for p in range(11, 16)],  # joined after
                         columns=["account_id", "period_start", "revenue"])
    m = ProgrammeImpact(programme_start=start).fit(pd.concat([ap, extra]), pd.concat([acc, planted]))
    assert m.supported_
    n_key = int(acc["key_account"].sum())
    assert m.n_programme_ == n_key + 6
    assert (m.n_excluded_no_revenue_, m.n_excluded_partial_periods_, m.n_excluded_no_pre_history_) == (2, 1, 3)
    assert m.n_treated_ == n_key  # every simulated programme account bought in the matching window
    assert m.n_control_ <= m.n_control_pool_ == int((~acc["key_account"]).sum())
    assert m.accounts_note_ == (
        f"{n_key} of the {n_key + 6} accounts in the client's programme are in the estimate; left out: 2 with no "
        "revenue in the data; 1 with revenue only in partly covered periods (an account's first or last period, or "
        "the one the programme started in); 3 that did not buy in the first 4 of the 9 periods before the "
        "programme (the matching window), so have no history to be matched on.")
    row = m.summary().iloc[0]
    assert row["n_programme"] == row["n_treated"] + row["n_excluded_no_revenue"] + row[
        "n_excluded_partial_periods"] + row["n_excluded_no_pre_history"]
    assert row["accounts_note"] == m.accounts_note_
    full = ProgrammeImpact(programme_start=start).fit(ap, acc)
    assert full.accounts_note_ == f"All {n_key} accounts in the client's programme are in the estimate."



def test_did_says_why_when_data_cannot_support_it():
    ap, acc, start = simulate_panel(effect=0.1, n=120, periods=8, start=5)
    no_date = ProgrammeImpact(programme_start=None).fit(ap, acc)
    assert not no_date.supported_ and "programme start" in no_date.reason_
    assert np.isnan(no_date.estimate_) and "cannot be estimated" in no_date.sentence_
    no_flag = ProgrammeImpact(programme_start=start).fit(ap, acc.drop(columns="key_account"))
    assert not no_flag.supported_ and "key_account" in no_flag.reason_
    early = ProgrammeImpact(programme_start=dt.date(2021, 4, 1)).fit(ap, acc)
    assert not early.supported_ and re.search(r"only \d complete period", early.reason_)
    late = ProgrammeImpact(programme_start=dt.date(2022, 10, 1), min_post_periods=2).fit(ap, acc)
    assert not late.supported_ and "since the programme start" in late.reason_
    no_control = ProgrammeImpact(programme_start=start).fit(ap, acc.assign(key_account=True))
    assert not no_control.supported_ and "control group" in no_control.reason_
    assert bool(no_control.summary().loc[0, "supported"]) is False



def test_did_recovers_the_demo_programme_uplift(tmp_path_factory):
    """The demo client (params/demo.yaml: 2,000 accounts, seed 42) plants +15% order value
    for key accounts after the programme start; the estimate's CI must contain log(1.15)."""
    from conftest import write_demo_params

    from kam_analysis import open_run

    tmp = tmp_path_factory.mktemp("demo2000")
    run = open_run(write_demo_params(tmp, n_accounts=2000, seed=42), tmp / "run")
    m = review.programme_impact_from_params(run.read_table("account_period"), run.read_table("account_summary"),
                                            params=run.params)
    assert m.supported_, m.reason_
    truth = math.log(1 + PLANTED["programme_uplift"])
    assert m.ci_low_ <= truth <= m.ci_high_
    assert m.ci_low_ > 0 and m.n_treated_ >= 100



def test_did_declines_on_too_few_programme_accounts(demo_run):
    """The 400-account demo has about 30 key accounts, fewer with history: no number, a reason."""
    m = review.programme_impact_from_params(demo_run.read_table("account_period"),
                                            demo_run.read_table("account_summary"), params=demo_run.params)
    assert not m.supported_
    assert re.search(r"only \d+ programme accounts bought in at least 1 period of .*at least 30", m.reason_)
    assert np.isnan(m.summary().loc[0, "estimate"])


# ---------------------------------------------------------------- matching: k-d tree = brute force
def brute_force_match(pool, treated, ratio):
    """The matching as it was first written: sort every free pool row by distance, per treated row."""
    free = np.ones(len(pool), dtype=bool)
    taken = []
    for point in treated:
        if not free.any():
            break
        dist = np.where(free, np.sqrt(((pool - point) ** 2).sum(axis=1)), np.inf)
        nearest = np.argsort(dist, kind="stable")[: min(ratio, int(free.sum()))]
        free[nearest] = False
        taken.append(nearest)
    return np.concatenate(taken) if taken else np.array([], dtype=int)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matching_equals_brute_force_with_planted_ties(seed):
    from kam_analysis.models.impact import match_nearest

    rng = np.random.default_rng(seed)
    # coarse grids: many pool rows at exactly the same point and at equal distances from a treated row
    pool = np.column_stack([rng.integers(0, 12, 3000), rng.integers(0, 4, 3000)]).astype(float) / 2.0
    pool[:200] = [3.0, 1.0]  # a block of identical rows
    treated = np.column_stack([rng.integers(4, 12, 250), rng.integers(0, 4, 250)]).astype(float) / 2.0
    treated[:30] = [3.0, 1.0]  # treated rows sitting on that block
    treated = treated[np.argsort(-treated[:, 0], kind="stable")]
    for ratio in (1, 5, 10):
        expected = brute_force_match(pool, treated, ratio)
        got = match_nearest(pool, treated, ratio)
        np.testing.assert_array_equal(got, expected)
    # continuous values, pool nearly exhausted (200 x 10 of 2,100): the tree is rebuilt along the way
    pool = rng.normal(0, 1, (2100, 2))
    treated = rng.normal(1, 1, (200, 2))
    np.testing.assert_array_equal(match_nearest(pool, treated, 10), brute_force_match(pool, treated, 10))
    # more demand than pool: every pool row is taken once, then matching stops
    got = match_nearest(pool[:50], treated, 10)
    np.testing.assert_array_equal(got, brute_force_match(pool[:50], treated, 10))
    assert sorted(got) == list(range(50))


def test_did_with_tied_accounts_recovers_effect_and_matches_brute_force(monkeypatch):
    from kam_analysis.models import impact

    effect = math.log(1.2)
    ap, acc, start = simulate_panel(effect=effect, n=900, seed=5)
    # revenue on a coarse grid and orders constant: many accounts tie on the matching features
    ap["revenue"] = np.exp(np.round(np.log(ap["revenue"]) * 2) / 2)
    ap["orders"] = 1
    fast = ProgrammeImpact(programme_start=start, drop_edge_periods=False).fit(ap, acc)
    assert fast.supported_ and fast.ci_low_ <= effect <= fast.ci_high_ and fast.ci_low_ > 0
    monkeypatch.setattr(impact, "match_nearest", brute_force_match)
    slow = ProgrammeImpact(programme_start=start, drop_edge_periods=False).fit(ap, acc)
    pd.testing.assert_frame_equal(fast.summary(), slow.summary(), check_exact=True)
    assert fast.n_control_ == slow.n_control_ > 0
