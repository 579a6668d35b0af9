"""Tests for kam_analysis.phases.migration: the baseline segmentation and how accounts moved since."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from kam_analysis.phases import migration


def test_migration_matrix_matches_hand_built_case():
    base = pd.DataFrame({"account_id": ["a", "b", "c", "d", "f"], "quadrant": ["S", "S", "T", "T", "S"]})
    cur = pd.DataFrame({"account_id": ["a", "b", "c", "d", "e"], "quadrant": ["S", "T", "T", "S", "T"]})
    rev_now = pd.DataFrame({"account_id": ["a", "b", "c", "d", "e"], "revenue_12m": [10.0, 20, 30, 40, 50]})
    rev_then = pd.DataFrame({"account_id": ["a", "b", "c", "d", "f"], "revenue_12m": [5.0, 25, 30, 10, 7]})
    m = migration.compute_segment_migration(base, cur, current_revenue=rev_now, baseline_revenue=rev_then,
                                         order=["S", "T"])
    g = m.set_index(["from_segment", "to_segment"])
    assert g.loc[("S", "S"), "accounts"] == 1 and g.loc[("S", "T"), "accounts"] == 1
    assert g.loc[("T", "S"), "accounts"] == 1 and g.loc[("T", "T"), "accounts"] == 1
    assert g.loc[("New since baseline", "T"), "accounts"] == 1  # e
    assert g.loc[("S", "No longer segmented"), "accounts"] == 1  # f
    assert g.loc[("S", "T"), "revenue"] == 20 and g.loc[("S", "T"), "revenue_baseline"] == 25
    assert g.loc[("T", "S"), "revenue_change"] == 30
    assert g.loc[("S", "S"), "share_of_from"] == pytest.approx(1 / 3)
    assert g.loc[("New since baseline", "S"), "accounts"] == 0  # zero cells are present
    assert m["accounts"].sum() == 6
    assert not g.loc[("T", "T"), "moved"] and g.loc[("T", "S"), "moved"]



def test_key_status_changes():
    base = pd.DataFrame({"account_id": ["a", "b", "c"], "is_key": [True, True, False], "quadrant": ["S", "S", "T"]})
    cur = pd.DataFrame({"account_id": ["a", "b", "c"], "is_key": [True, False, True], "quadrant": ["S", "T", "S"]})
    rev = pd.DataFrame({"account_id": ["a", "b", "c"], "revenue_12m": [1.0, 2.0, 3.0]})
    k = migration.compute_key_status_changes(base, cur, baseline_revenue=rev, current_revenue=rev)
    assert k.set_index("account_id")["change"].to_dict() == {"b": "fell out of key status", "c": "became key"}
    assert k.iloc[0]["account_id"] == "b"  # fall-outs first
    assert k.set_index("account_id").loc["b", "current_segment"] == "T"



def test_summary_as_of_reproduces_account_summary_at_as_of(demo_run):
    s = demo_run.read_table("account_summary")
    b = migration.compute_summary_as_of(demo_run, demo_run.params.analysis.as_of_date)
    m = s.merge(b, on="account_id", suffixes=("", "_b"))
    assert len(m) == s["n_orders"].gt(0).sum() or len(m) == s["first_order_date"].notna().sum()
    for c in ("revenue_12m", "revenue_prev_12m", "orders_12m", "n_categories", "tenure_days"):
        assert np.allclose(m[c].astype(float), m[c + "_b"].astype(float)), c
    earlier = migration.compute_summary_as_of(demo_run, dt.date(2024, 7, 1))
    assert pd.to_datetime(earlier["last_order_date"]).max() <= pd.Timestamp("2024-07-01")
    assert len(earlier) < len(b)



def test_empty_baseline_means_every_current_account_is_new():
    """No account had bought by the baseline date: nothing to segment, so all accounts are new since then."""
    from kam_analysis.config import Params

    params = Params.model_validate({"client": {"name": "X"}, "data": {"transactions": {"path": "o.csv"}},
                                    "analysis": {"as_of_date": "2025-12-31"}})
    empty = pd.DataFrame(columns=["account_id", "revenue_12m", "tenure_days", "n_categories"])
    base = migration.compute_baseline_segments(empty, params=params)
    assert base.empty and {"account_id", "quadrant", "is_key", "tier", "revenue_12m"} <= set(base.columns)
    current = pd.DataFrame({"account_id": ["a", "b"], "quadrant": ["Strategic", "Star"], "revenue_12m": [10.0, 5.0]})
    mig = migration.compute_segment_migration(base, current)
    moved = mig[mig["accounts"] > 0]
    assert set(moved["from_segment"]) == {"New since baseline"}
    assert moved["accounts"].sum() == 2 and set(moved["to_segment"]) == {"Strategic", "Star"}
