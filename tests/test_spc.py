"""Tests for kam_analysis.models.spc: control limits and signals, by hand."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kam_analysis.models.spc import compute_spc


def test_individuals_chart_limits_by_hand():
    x = [10, 12, 11, 13, 10, 12, 30]
    s = pd.DataFrame({"period_start": pd.date_range("2023-01-01", periods=7, freq="QS"), "value": x})
    mask = np.array([True] * 6 + [False])
    r = compute_spc(s, kind="individuals", baseline_mask=mask, min_baseline=6)
    centre = np.mean(x[:6])
    mr = np.mean(np.abs(np.diff(x[:6])))  # (2+1+2+3+2)/5 = 2
    assert r["center"].iloc[0] == pytest.approx(centre)
    assert r["ucl"].iloc[0] == pytest.approx(centre + 2.66 * mr)
    assert r["lcl"].iloc[0] == pytest.approx(centre - 2.66 * mr)
    assert r["signal"].tolist() == [False] * 6 + [True]
    assert r["limits_from"].iloc[0] == "baseline"



def test_p_chart_limits_and_run_rule():
    n = np.array([100, 100, 400, 100, 100, 100, 100, 100, 100, 100])
    p = np.array([0.50, 0.52, 0.48, 0.55, 0.56, 0.57, 0.55, 0.56, 0.58, 0.57])
    s = pd.DataFrame({"period_start": pd.date_range("2023-01-01", periods=10, freq="MS"), "value": p, "n": n})
    r = compute_spc(s, kind="p", baseline_mask=np.array([True] * 3 + [False] * 7), min_baseline=2,
                           run_length=7)
    pbar = (p[:3] * n[:3]).sum() / n[:3].sum()
    assert r["center"].iloc[0] == pytest.approx(pbar)
    assert r["ucl"].iloc[2] == pytest.approx(pbar + 3 * math.sqrt(pbar * (1 - pbar) / 400))
    assert r["ucl"].iloc[0] > r["ucl"].iloc[2]  # wider limits with a smaller denominator
    # 7 points above the centre line from index 3 on -> the 7th of them signals a run
    assert not r["signal"].iloc[:9].any()
    assert r.loc[9, "rule"] in {"run of 7", "outside limits"} and r["signal"].iloc[9]


def test_p_chart_widens_to_the_real_variation_of_a_large_base():
    """Laney p': 500,000 accounts a quarter, retention wandering +/- 1 point from quarter to
    quarter (planted), then a 6-point drop. The binomial sigma is 0.065 points, so a classic
    p-chart would flag nearly every quarter; the p' limits follow the real variation and
    flag only the drop."""
    rng = np.random.default_rng(7)
    n = np.full(16, 500_000)
    p = 0.70 + rng.normal(0, 0.01, 16)
    p[12:] -= 0.06
    s = pd.DataFrame({"period_start": pd.date_range("2021-01-01", periods=16, freq="QS"), "value": p, "n": n})
    mask = np.array([True] * 12 + [False] * 4)
    r = compute_spc(s, kind="p", baseline_mask=mask, min_baseline=6, run_length=99)
    pbar = (p[:12] * n[:12]).sum() / n[:12].sum()
    sd = math.sqrt(pbar * (1 - pbar) / 500_000)
    z = (p[:12] - pbar) / sd
    sigma_z = np.abs(np.diff(z)).mean() / 1.128
    assert sigma_z > 5  # overdispersed: the process varies far more than sampling would
    assert r["ucl"].iloc[0] == pytest.approx(pbar + 3 * sd * sigma_z)
    assert r["signal"].tolist() == [False] * 12 + [True] * 4
    classic = ((np.abs(p[:12] - pbar)) > 3 * sd).sum()
    assert classic >= 8  # what the unadjusted chart would have flagged among the stable quarters
