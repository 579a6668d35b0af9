"""Smoke tests for the review charts: titled, labelled, no NaN plotted."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from kam_analysis import charts
from kam_analysis.phases import review


def _tracking():
    ps = pd.date_range("2022-01-01", periods=8, freq="QS")
    rows = []
    for seg, base in (("All accounts", 100.0), ("Star", 50.0)):
        for i, p in enumerate(ps):
            rows.append((p, seg, "average_order_value", base + i, 10.0))
            rows.append((p, seg, "period_retention_rate", np.nan if i == 0 else 0.7 + 0.01 * i, 100.0))
    k = pd.DataFrame(rows, columns=["period_start", "segment", "kpi", "value", "n"])
    return review.compute_kpi_tracking(k, programme_start=ps[4].date(), targets={"average_order_value": 105},
                                       amber=0.05, red=0.15, trend_window=2, flat_band=0.02)


def test_review_charts_are_titled_and_labelled():
    tr = _tracking()
    with charts.kam_style():
        ax = charts.plot_kpi_tracking(tr, kpi="average_order_value", unit="currency", currency="EUR",
                                      programme_start=tr["period_start"].iloc[4])
        assert ax.get_title() and ax.get_ylabel()
        spc = review.compute_spc_set(tr, min_baseline=3)
        ax = charts.plot_spc(spc[spc["kpi"] == "period_retention_rate"], title="Retention", ylabel="share",
                             unit="share")
        assert ax.get_title() == "Retention"
        assert not np.isnan(ax.lines[0].get_ydata().astype(float)).any()  # the NaN first period is not drawn
        mig = pd.DataFrame({"from_segment": ["A", "A", "B", "B"], "to_segment": ["A", "B", "A", "B"],
                            "accounts": [3, 1, 0, 2], "revenue": [30.0, 10, 0, 20]})
        ax = charts.plot_migration_matrix(mig, value="revenue", currency="EUR")
        assert ax.get_xlabel() == "Segment now" and ax.get_ylabel() == "Segment at baseline"
        recs = pd.DataFrame({"rank": [1, 2], "recommendation": ["Do this", "Do that"], "value": [10.0, 5.0]})
        ax = charts.plot_recommendations(recs)
        assert ax.get_title() and ax.get_xlabel()
        sc = pd.DataFrame({"segment": ["All accounts", "Star"], "kpi": ["retention_rate"] * 2, "value": [0.8, 0.5],
                           "status": ["green", "red"]})
        ax = charts.plot_scorecard(sc)
        assert ax.get_title()
        es = pd.DataFrame({"rel_period": [-2, -1, 0], "coef": [0.01, 0.0, 0.1], "ci_low": [-0.1, 0.0, 0.0],
                           "ci_high": [0.1, 0.0, 0.2]})
        trends = pd.DataFrame({"period_start": list(pd.date_range("2024-01-01", periods=3, freq="QS")) * 2,
                               "group": ["Programme accounts"] * 3 + ["Matched control accounts"] * 3,
                               "mean_log_revenue": [7.0, 7.1, 7.3, 6.0, 6.1, 6.1]})
        fig = charts.plot_parallel_trends(trends, es, programme_start=pd.Timestamp("2024-07-01"))
        assert len(fig.axes) == 2 and all(a.get_title() for a in fig.axes)
    plt.close("all")
