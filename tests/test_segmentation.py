"""Segmentation: scoring and quadrants on hand-worked frames, overrides, stability, RFM, clusters."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kam_analysis import ParameterError
from kam_analysis.models import clustering
from kam_analysis.phases import overrides, rfm
from kam_analysis.phases import segmentation as sg
from kam_analysis.config import Criterion, QuadrantNames, QuadrantOverride, REPO_ROOT
from kam_analysis.data.runfolder import Run

NAMES = QuadrantNames()


def crit(**kw):
    return {k: Criterion(**v) for k, v in kw.items()}


# ---------------------------------------------------------------- normalisation and scores
def test_normalise_percentile_minmax_and_missing():
    v = pd.Series([10.0, 20.0, 30.0, np.nan])
    np.testing.assert_allclose(sg.normalise(v), [1 / 3, 2 / 3, 1.0, 0.5])
    np.testing.assert_allclose(sg.normalise(v, higher_is_better=False), [1.0, 2 / 3, 1 / 3, 0.5])
    np.testing.assert_allclose(sg.normalise(v, method="minmax"), [0.0, 0.5, 1.0, 0.5])
    np.testing.assert_allclose(sg.normalise(v, method="minmax", higher_is_better=False), [1.0, 0.5, 0.0, 0.5])
    np.testing.assert_allclose(sg.normalise(pd.Series([5.0, 5.0, 5.0]), method="minmax"), [0.5, 0.5, 0.5])
    with pytest.raises(ParameterError, match="not one of 'percentile', 'minmax'"):
        sg.normalise(v, method="zscore")


def test_weighted_score_hand_worked():
    f = pd.DataFrame({"account_id": ["A", "B", "C", "D"], "x": [1, 2, 3, 4], "y": [4, 3, 2, 1]})
    criteria = crit(size={"column": "x", "group": "value", "weight": 3},
                    trend={"column": "y", "group": "growth", "weight": 1},
                    rating={"column": "not_there", "group": "strategic", "weight": 5})
    scores, weights, norm = sg.compute_weighted_score(f, criteria=criteria)
    # x -> .25 .5 .75 1 ; y -> 1 .75 .5 .25 ; weights .75/.25 after dropping the absent criterion
    np.testing.assert_allclose(scores["score"], [0.4375, 0.5625, 0.6875, 0.8125])
    np.testing.assert_allclose(scores["score_size"], [0.1875, 0.375, 0.5625, 0.75])
    np.testing.assert_allclose(scores["score_value"], scores["score_size"])
    np.testing.assert_allclose(scores["score_growth"], [0.25, 0.1875, 0.125, 0.0625])
    assert "score_strategic" not in scores
    w = weights.set_index("criterion")
    assert w.loc["rating", "status"] == "not in data" and w.loc["rating", "weight_used"] == 0
    assert w.loc["size", "weight_used"] == pytest.approx(0.75)
    assert list(norm.columns) == ["size", "trend"]


def test_selection_picks_top_share_and_breaks_ties_by_id():
    f = pd.DataFrame({"account_id": ["B", "A", "C", "D"], "x": [5, 5, 1, 2]})
    scores, _, _ = sg.compute_selection_scores(f, criteria=crit(v={"column": "x", "weight": 1}),
                                               key_account_share=0.25)
    s = scores.set_index("account_id")
    assert s["is_key"].sum() == 1 and s.loc["A", "is_key"]  # A and B tie; A first by id
    assert s.loc["A", "selection_rank"] == 1 and s.loc["B", "selection_rank"] == 2
    assert s.loc["C", "selection_rank"] == 4


def test_no_usable_criterion_is_a_clear_error():
    f = pd.DataFrame({"account_id": ["A"], "x": [1.0]})
    with pytest.raises(ParameterError, match="none of the score criteria"):
        sg.compute_weighted_score(f, criteria=crit(v={"column": "nope", "weight": 1}))


def test_quadrants_fixed_thresholds_hand_worked():
    a = pd.Series([0.8, 0.8, 0.2, 0.2, 0.5])
    s = pd.Series([0.9, 0.1, 0.9, 0.1, 0.5])
    q = sg.assign_quadrants(a, s, names=NAMES, attractiveness_threshold=0.5, strength_threshold=0.5)
    assert list(q) == ["Strategic", "Star", "Status", "Streamline", "Strategic"]  # at the threshold = high


def test_quadrants_median_split_and_custom_names():
    names = QuadrantNames(high_attractiveness_high_strength="Partner", high_attractiveness_low_strength="Develop",
                          low_attractiveness_high_strength="Maintain", low_attractiveness_low_strength="Serve")
    q = sg.assign_quadrants(pd.Series([1, 2, 3, 4]), pd.Series([4, 3, 2, 1]), names=names)
    assert list(q) == ["Maintain", "Maintain", "Develop", "Develop"]  # medians 2.5 / 2.5


def test_account_features_hand_worked():
    summary = pd.DataFrame({
        "account_id": ["A", "B"], "revenue": [1000.0, 0.0], "gross_margin": [400.0, 0.0],
        "revenue_12m": [500.0, 0.0], "revenue_prev_12m": [250.0, 0.0], "orders_12m": [3, 0],
        "n_orders": [6, 0], "cost_to_serve": [100.0, 10.0], "tenure_days": [400, np.nan],
        "n_categories": [2, 0], "n_channels": [1, 0], "recency_days": [10, np.nan]})
    period = pd.DataFrame({"account_id": ["A", "A"], "period_start": pd.to_datetime(["2024-04-01", "2024-10-01"]),
                           "orders": [2, 1]})
    period = pd.concat([period, pd.DataFrame({"account_id": ["X", "X"], "orders": [1, 1],
                                              "period_start": pd.to_datetime(["2024-01-01", "2024-07-01"])})])
    ak = pd.DataFrame({"account_id": ["A", "B"], "gross_margin_12m": [180.0, 0.0], "profit_12m": [80.0, np.nan]})
    f = sg.compute_account_features(summary, account_period=period, account_kpis=ak).set_index("account_id")
    assert f.loc["A", "margin_rate"] == pytest.approx(0.4)
    # the metrics layer's 12-month margin and profit, not a lifetime rate applied to 12-month revenue
    assert f.loc["A", "gross_margin_12m"] == pytest.approx(180.0)
    assert f.loc["A", "profit_12m"] == pytest.approx(80.0) and np.isnan(f.loc["B", "profit_12m"])
    bare = sg.compute_account_features(summary, account_period=period).set_index("account_id")
    assert bare["profit_12m"].isna().all()  # never estimated when the metrics layer's figures are absent
    assert f.loc["A", "revenue_change"] == 250 and f.loc["A", "revenue_growth"] == pytest.approx(1.0)
    # periods: Jan, Apr, Jul, Oct; A first orders in Apr -> 2 of 3 periods
    assert f.loc["A", "order_regularity"] == pytest.approx(2 / 3)
    assert f.loc["B", "order_regularity"] == 0 and np.isnan(f.loc["B", "revenue_growth"])


# ---------------------------------------------------------------- overrides
@pytest.fixture()
def small_segments():
    return pd.DataFrame({"account_id": ["A", "B", "C"], "quadrant_model": ["Strategic", "Star", "Streamline"]})


def test_overrides_applied_and_logged(small_segments):
    ov = pd.DataFrame({"account_id": ["B", "C"], "quadrant": ["Strategic", "Streamline"],
                       "reason": ["Board-level partnership signed 2025", "Confirmed"]})
    out, log = overrides.apply_overrides(small_segments, ov, quadrant_names=NAMES.ordered())
    o = out.set_index("account_id")
    assert o.loc["B", "quadrant"] == "Strategic" and o.loc["B", "quadrant_model"] == "Star"
    assert o.loc["B", "override_reason"] == "Board-level partnership signed 2025"
    assert o.loc["A", "quadrant"] == "Strategic" and o.loc["A", "override_reason"] is None
    assert o["overridden"].tolist() == [False, True, True]
    assert log["account_id"].tolist() == ["B", "C"]
    assert log["changed"].tolist() == [True, False]
    assert log["quadrant_model"].tolist() == ["Star", "Streamline"]


def test_bad_overrides_give_clear_errors(small_segments):
    q = NAMES.ordered()
    bad = pd.DataFrame({"account_id": ["Z9"], "quadrant": ["Strategic"], "reason": ["x"]})
    with pytest.raises(ParameterError, match=r"not in the data.*'Z9'"):
        overrides.apply_overrides(small_segments, bad, quadrant_names=q)
    bad = pd.DataFrame({"account_id": ["A"], "quadrant": ["Strategik"], "reason": ["x"]})
    with pytest.raises(ParameterError, match=r"'Strategik' is not one of .*did you mean 'Strategic'"):
        overrides.apply_overrides(small_segments, bad, quadrant_names=q)
    bad = pd.DataFrame({"account_id": ["A"], "quadrant": ["Star"], "reason": ["  "]})
    with pytest.raises(ParameterError, match="no reason"):
        overrides.apply_overrides(small_segments, bad, quadrant_names=q)
    bad = pd.DataFrame({"account_id": ["A", "A"], "quadrant": ["Star", "Status"], "reason": ["x", "y"]})
    with pytest.raises(ParameterError, match="more than once"):
        overrides.apply_overrides(small_segments, bad, quadrant_names=q)


def test_load_overrides_file(tmp_path):
    p = tmp_path / "ov.csv"
    p.write_text("Account_ID,Quadrant,Reason\nB,Status,Dormant contract\n", encoding="utf-8")
    ov = overrides.load_overrides(p)
    assert ov.iloc[0].to_dict() == {"account_id": "B", "quadrant": "Status", "reason": "Dormant contract",
                                    "source": "file ov.csv, row 2"}
    (tmp_path / "bad.csv").write_text("account_id,segment\nB,Status\n")
    with pytest.raises(ParameterError, match=r"no column\(s\) \['quadrant', 'reason'\]"):
        overrides.load_overrides(tmp_path / "bad.csv")
    with pytest.raises(ParameterError, match="not found"):
        overrides.load_overrides(tmp_path / "missing.csv")


# ---------------------------------------------------------------- stability
def test_stability_far_accounts_are_stable_and_boundary_ones_are_not():
    # two criteria per axis that disagree only for account 2 (on the boundary)
    na = pd.DataFrame({"c1": [0.95, 0.05, 0.9, 0.1], "c2": [0.95, 0.05, 0.1, 0.9]})
    ns = pd.DataFrame({"d1": [0.9, 0.9, 0.1, 0.1], "d2": [0.9, 0.9, 0.1, 0.1]})
    w = pd.Series({"c1": 0.5, "c2": 0.5})
    wsr = pd.Series({"d1": 0.5, "d2": 0.5})
    model = sg.assign_quadrants(na @ w, ns @ wsr, names=NAMES, attractiveness_threshold=0.5, strength_threshold=0.5)
    st = sg.compute_stability(na, w, ns, wsr, model, names=NAMES, attractiveness_threshold=0.5,
                              strength_threshold=0.5, draws=400, concentration=5, seed=1)
    assert st[0] == 1.0 and st[1] == 1.0
    assert 0.2 < st[2] < 0.8  # exactly on the line: about half the draws flip it
    st2 = sg.compute_stability(na, w, ns, wsr, model, names=NAMES, attractiveness_threshold=0.5,
                               strength_threshold=0.5, draws=400, concentration=5, seed=1)
    pd.testing.assert_series_equal(st, st2)


def test_stability_scored_in_blocks_gives_the_same_shares():
    """Scoring a chunk's draws a few at a time (bounded memory at a million accounts) keeps the draws and
    the per-draw median thresholds: the same shares as scoring all draws of the chunk at once."""
    rng = np.random.default_rng(4)
    na = pd.DataFrame(rng.random((300, 3)), columns=["c1", "c2", "c3"])
    ns = pd.DataFrame(rng.random((300, 2)), columns=["d1", "d2"])
    w, wsr = pd.Series({"c1": 0.5, "c2": 0.3, "c3": 0.2}), pd.Series({"d1": 0.6, "d2": 0.4})
    model = sg.assign_quadrants(na @ w, ns @ wsr, names=NAMES)
    kw = dict(names=NAMES, draws=120, concentration=8, seed=3)
    whole = sg.compute_stability(na, w, ns, wsr, model, **kw)
    for cells in (300, 7 * 300, 1):  # one draw at a time, seven, and the floor of one
        pd.testing.assert_series_equal(sg.compute_stability(na, w, ns, wsr, model, block_cells=cells, **kw), whole)
    assert 0 < whole.min() < 1 and whole.max() == 1.0  # median thresholds: some accounts do flip


# ---------------------------------------------------------------- RFM
@pytest.fixture(scope="module")
def rfm_map():
    return rfm.load_rfm_segments(REPO_ROOT / "templates" / "rfm_segments.yaml")


def test_rfm_hand_worked(rfm_map):
    f = pd.DataFrame({"account_id": list("ABCDEF"), "recency_days": [1, 2, 3, 4, 5, np.nan],
                      "n_orders": [50, 40, 30, 20, 10, 0], "revenue": [5, 4, 3, 2, 1, 0]})
    r = rfm.compute_rfm(f, segments=rfm_map, bins=5).set_index("account_id")
    # 5 ordering accounts + one that never ordered (scores 1); ranks over 6 rows
    assert r.loc["A", "rfm_score"] == "555" and r.loc["A", "rfm_segment"] == "Champions"
    assert r.loc["F", "rfm_score"] == "111" and r.loc["F", "rfm_segment"] == "Hibernating"
    assert r.loc["E", "r_score"] == 1 and r.loc["E", "f_score"] == 2  # rank 2 of 6 -> ceil(5*2/6)=2
    # 3 bins are rescaled to the 5-point mapping: 3 -> 5, 1 -> 2
    r3 = rfm.compute_rfm(f, segments=rfm_map, bins=3).set_index("account_id")
    assert r3.loc["A", "rfm_segment"] == "Champions" and r3["r_score"].max() == 3


def test_rfm_mapping_gaps_are_named(tmp_path):
    p = tmp_path / "rfm.yaml"
    p.write_text("scale: 5\nsegments:\n  - name: Top\n    recency: [3, 5]\n    frequency: [1, 5]\n")
    with pytest.raises(ParameterError, match=r"leaves 10 \(R, F\) score pair\(s\) unnamed"):
        rfm.load_rfm_segments(p)


# ---------------------------------------------------------------- clusters
def test_clusters_recover_planted_groups_reproducibly():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [6, 0], [0, 6]])
    X = np.vstack([c + rng.normal(0, 0.5, (60, 2)) for c in centres])
    truth = np.repeat([0, 1, 2], 60)
    f = pd.DataFrame({"account_id": [f"A{i:03d}" for i in range(180)], "revenue_12m": X[:, 0],
                      "n_categories": X[:, 1]})
    a, prof, sil = clustering.compute_clusters(f, columns=["revenue_12m", "n_categories"], k_min=2, k_max=6, seed=3,
                                             feature_labels=sg.FEATURE_LABELS)
    assert int(sil.loc[sil["chosen"], "k"].iloc[0]) == 3
    assert pd.crosstab(a["cluster"], truth).max(axis=1).tolist() == [60, 60, 60]
    # numbered by revenue: cluster 1 is the high-revenue blob
    assert prof.loc[prof["cluster"] == 1, "revenue_12m"].iloc[0] > 5
    assert "High spend" in prof.loc[prof["cluster"] == 1, "cluster_label"].iloc[0]
    a2, _, _ = clustering.compute_clusters(f, columns=["revenue_12m", "n_categories"], k_min=2, k_max=6, seed=3,
                                             feature_labels=sg.FEATURE_LABELS)
    pd.testing.assert_frame_equal(a, a2)
    with pytest.raises(ParameterError, match="not account features"):
        clustering.compute_clusters(f, columns=["nope"])


# ---------------------------------------------------------------- profiles
def test_segment_profiles_hand_worked():
    from kam_analysis.config import QuadrantIntents

    segs = pd.DataFrame({"account_id": ["A", "B", "C"], "quadrant": ["Strategic", "Strategic", "Status"],
                         "is_key": [True, False, False]})
    feats = pd.DataFrame({"account_id": ["A", "B", "C"], "revenue_12m": [600.0, 200.0, 200.0],
                          "gross_margin_12m": [300.0, 100.0, 50.0], "profit_12m": [250.0, 50.0, -50.0],
                          "orders_12m": [4, 2, 1], "recency_days": [5, 15, 100], "tenure_days": [730, 365, 365],
                          "n_categories": [3, 1, 2], "margin_rate": [0.5, 0.5, 0.25]})
    p = sg.compute_segment_profiles(segs, feats, names=NAMES, intents=QuadrantIntents()).set_index("segment")
    assert list(p.index) == NAMES.ordered()
    assert p.loc["Strategic", "accounts"] == 2 and p.loc["Star", "accounts"] == 0
    assert p.loc["Strategic", "revenue_share"] == pytest.approx(0.8)
    assert p.loc["Strategic", "profit_share"] == pytest.approx(300 / 250)
    assert p.loc["Status", "profit_share"] == pytest.approx(-50 / 250)
    assert p.loc["Strategic", "key_accounts"] == 1
    assert p.loc["Strategic", "avg_tenure_years"] == pytest.approx(547.5 / 365.25)
    assert p.loc["Status", "intent"].startswith("Maintain")


# ---------------------------------------------------------------- the whole phase on the demo
def _run_with(demo_run, **seg_changes):
    params = demo_run.params.model_copy(deep=True)
    for k, v in seg_changes.items():
        setattr(params.segmentation, k, v)
    return Run(demo_run.dir, params)


def test_demo_segmentation_contract_and_reproducible(demo_run):
    a = sg.compute_segmentation(demo_run)
    b = sg.compute_segmentation(demo_run)
    seg = a["segments"]
    for col in ("account_id", "selection_score", "is_key", "attractiveness", "relative_strength", "quadrant",
                "quadrant_model", "override_reason", "rfm_segment", "cluster", "clv", "p_alive", "stability"):
        assert col in seg.columns, col
    assert {"segment", "accounts", "revenue_12m", "revenue_share", "profit_share", "intent"} <= set(
        a["segment_profiles"].columns)
    assert {"model", "parameter", "value"} == set(a["clv_params"].columns)
    pd.testing.assert_frame_equal(seg, b["segments"])  # seeded: identical segments
    live = seg["account_status"] == "live"
    inactive = demo_run.params.segmentation.key_accounts.tier_names.inactive
    assert set(seg.loc[live, "quadrant"]) <= set(NAMES.ordered())
    assert (seg.loc[~live, "quadrant"] == inactive).all() and (~live).any()
    assert seg.loc[~live, ["attractiveness", "relative_strength", "stability"]].isna().all().all()
    assert seg.loc[live, "stability"].between(0, 1).all()
    # key accounts: live, and their value carries a dedicated manager (docs/key_accounts.md)
    sizing = a["key_account_sizing"].set_index("metric")["value"]
    assert seg["is_key"].sum() == sizing["selected"] > 0
    assert not seg.loc[~live, "is_key"].any()
    assert (seg.loc[seg["is_key"], "revenue_12m"] >= sizing["key_floor"]).all()
    # the client's own key accounts (planted: chosen by value) score far above the rest
    assert seg.loc[seg["currently_key"], "selection_score"].mean() > seg.loc[~seg["currently_key"],
                                                                              "selection_score"].mean() + 0.2
    assert a["segment_profiles"]["accounts"].sum() == len(seg)
    assert a["segment_overrides"].empty and seg["override_reason"].isna().all()


def test_demo_overrides_from_params_and_file(demo_run, tmp_path):
    seg0 = sg.compute_segmentation(demo_run)["segments"].set_index("account_id")
    ids = seg0.index[:2].tolist()
    target = next(q for q in NAMES.ordered() if q != seg0.loc[ids[0], "quadrant_model"])
    (tmp_path / "overrides.csv").write_text(f"account_id,quadrant,reason\n{ids[1]},Status,Contract renewal due\n")
    run = _run_with(demo_run, overrides=[QuadrantOverride(account_id=ids[0], quadrant=target,
                                                          reason="CEO sponsor")],
                    overrides_file="overrides.csv")
    run.params.source_path = tmp_path / "params.yaml"  # relative override file read from here
    out = sg.compute_segmentation(run)
    seg = out["segments"].set_index("account_id")
    assert seg.loc[ids[0], "quadrant"] == target and seg.loc[ids[0], "override_reason"] == "CEO sponsor"
    assert seg.loc[ids[0], "quadrant_model"] == seg0.loc[ids[0], "quadrant_model"]
    assert seg.loc[ids[1], "quadrant"] == "Status"
    log = out["segment_overrides"]
    assert sorted(log["account_id"]) == sorted(ids)
    assert set(log["source"]) == {"file overrides.csv, row 2", "params segmentation.overrides[0]"}
    bad = _run_with(demo_run, overrides=[QuadrantOverride(account_id="NOPE", quadrant="Star", reason="x")])
    with pytest.raises(ParameterError, match="not in the data"):
        sg.compute_segmentation(bad)


def test_clv_failure_is_noted_not_invented(demo_run, monkeypatch):
    from kam_analysis.models import clv

    def no_fit(self, *a, **k):
        raise clv.CLVFitError("BG/NBD fit did not converge (planted)")

    monkeypatch.setattr(clv.BetaGeoFitter, "fit", no_fit)
    out = sg.compute_segmentation(demo_run)
    seg = out["segments"]
    assert seg["clv"].isna().all() and seg["p_alive"].isna().all()
    w = out["selection_weights"].set_index("criterion")
    assert w.loc["clv", "status"] == "not in data" and w.loc["expected_purchases", "status"] == "not in data"
    assert w.loc[w["status"] == "used"].groupby("axis")["weight_used"].sum().round(9).eq(1).all()
    note = dict(zip(out["segmentation_settings"]["setting"], out["segmentation_settings"]["value"]))["clv_note"]
    assert note.startswith("CLV not estimated") and "planted" in note
    assert out["clv_params"].empty and out["clv_holdout"].empty
