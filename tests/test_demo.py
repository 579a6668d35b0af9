"""The demo generator: deterministic, its default output fixed, and a large-client mode."""
from __future__ import annotations

import hashlib

import duckdb
import pandas as pd
import pytest

from kam_analysis.data.demo import DEMO_COLUMNS, PLANTED, _draw_choice, demo_files, generate_demo


def _digest(paths) -> dict[str, str]:
    return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in paths.items()}


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a = _digest(generate_demo(tmp_path / "a", seed=5, n_accounts=80))
    b = _digest(generate_demo(tmp_path / "b", seed=5, n_accounts=80))
    c = _digest(generate_demo(tmp_path / "c", seed=6, n_accounts=80))
    assert a == b
    assert a["transactions"] != c["transactions"]


def test_default_demo_output_is_unchanged(tmp_path):
    """Other phases' tests rely on the demo's exact data: its orders file must not drift."""
    paths = generate_demo(tmp_path, seed=7, n_accounts=400)
    assert _digest(paths)["transactions"] == "8817e40cd1c5950f4ef9fe52471185dbc263d9c83381ed7e9e522619508311fc"
    assert _digest(paths)["accounts"] == "067cce7fb236baea589dbd9c58a9cee8bd29a0cbac9bfdb6f8da7eefe7c40e9f"


def test_files_carry_the_client_style_columns(tmp_path):
    paths = generate_demo(tmp_path, seed=1, n_accounts=50)
    for table, mapping in DEMO_COLUMNS.items():
        cols = list(pd.read_csv(paths[table], nrows=1).columns)
        assert set(mapping.values()) <= set(cols), table


@pytest.mark.parametrize("target", [20_000, 60_000])
def test_large_client_mode_hits_the_order_count(tmp_path, target):
    paths = generate_demo(tmp_path, seed=3, n_accounts=2_000, n_orders=target, file_format="parquet")
    assert paths["transactions"] == demo_files(tmp_path, "parquet")["transactions"]
    n_orders = duckdb.connect().execute(
        f"SELECT count(DISTINCT \"Order No\") FROM '{paths['transactions']}'").fetchone()[0]
    assert abs(n_orders - target) / target < 0.03  # Poisson noise around the target


def test_draw_choice_matches_inverse_cdf():
    probs = pd.DataFrame([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]).to_numpy()
    u = pd.Series([0.1, 0.25, 0.9, 0.99]).to_numpy()
    owner = pd.Series([0, 0, 0, 1]).to_numpy()
    # the second owner's cumulative is [1, 1, 1]: 0.99 falls in the first option
    assert _draw_choice(u, probs, owner, chunk=3).tolist() == [0, 1, 2, 0]
    assert _draw_choice(u, probs, owner, chunk=1).tolist() == _draw_choice(u, probs, owner).tolist()


def test_planted_truths_are_documented_numbers():
    assert 0 < PLANTED["programme_uplift"] < 1 and PLANTED["detractor_churn_odds_ratio"] > 1
