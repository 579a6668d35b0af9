"""Key-account sets (metrics.key_accounts) on a tiny client counted by hand."""
from __future__ import annotations

import pandas as pd

from kam_analysis import metrics

# selected by the scoring: a, b, c; in the programme: b, c, d (e's flag is missing: not in it)
SEGMENTS = pd.DataFrame({"account_id": list("abcde"), "is_key": [True, True, True, False, False]})
ACCOUNTS = pd.DataFrame({"account_id": list("abcde"), "key_account": [False, True, True, True, None]})


def test_three_sets_and_their_overlap():
    k = metrics.compute_key_account_sets(SEGMENTS, ACCOUNTS)
    assert k == {"accounts": 5, "selected": 3, "has_programme_flag": True, "in_programme": 3, "both": 2,
                 "selected_only": 1, "programme_only": 1, "union": 4}
    assert k["selected"] + k["programme_only"] == k["union"] == k["in_programme"] + k["selected_only"]


def test_without_a_programme_flag_the_programme_counts_are_unknown_not_zero():
    k = metrics.compute_key_account_sets(SEGMENTS, ACCOUNTS.drop(columns="key_account"))
    assert k["selected"] == 3 and k["has_programme_flag"] is False
    assert k["in_programme"] is None and k["union"] is None


def test_programme_flag_as_text_reads_like_validation():
    acc = pd.DataFrame({"account_id": list("abcdef"), "key_account": ["Y", "no", "TRUE", "1", None, "x"]})
    assert metrics.in_programme(acc).to_dict() == {"a": True, "b": False, "c": True, "d": True, "e": False,
                                                   "f": True}


def test_headline_key_accounts_is_the_programme_set():
    a = pd.DataFrame({"account_id": list("abcde"), "revenue_12m": [10.0, 20.0, 30.0, 40.0, 0.0],
                      "orders_12m": [1, 1, 1, 1, 0], "orders_prev_12m": 0, "revenue_prev_12m": 0.0,
                      "active": True, "active_at_start": False, "active_at_prev_start": False, "is_new_12m": True,
                      "in_book_12m": True, "gross_margin_12m": float("nan"), "clv_historical": 1.0,
                      "nps_12m": float("nan"), "csat_12m": float("nan"), "nps_prev_12m": float("nan"),
                      "csat_prev_12m": float("nan"), "responded_12m": False,
                      "key_account": [False, True, True, True, None]})
    h = metrics.compute_group_kpis(a).set_index("kpi")["value"]
    assert h["key_accounts"] == metrics.compute_key_account_sets(SEGMENTS, ACCOUNTS)["in_programme"] == 3
    assert h["key_account_revenue_share"] == (20 + 30 + 40) / 100
