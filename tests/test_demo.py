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


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    """A large-client-mode demo written month by month, as Parquet and as CSV from the same seed."""
    root = tmp_path_factory.mktemp("streamed")
    pq_paths = generate_demo(root / "pq", seed=11, n_accounts=300, n_orders=30_000, file_format="parquet")
    csv_paths = generate_demo(root / "csv", seed=11, n_accounts=300, n_orders=30_000, file_format="csv")
    return pq_paths, csv_paths


def test_large_client_mode_writes_month_by_month_in_the_files_order(streamed):
    import pyarrow.parquet as pq

    pq_paths, csv_paths = streamed
    f = pq.ParquetFile(pq_paths["transactions"])
    assert f.metadata.num_row_groups == 48  # one piece per month of 2022-2025: never the whole file in memory
    o = f.read().to_pandas()
    no = o["Order No"].str[3:].astype(int)
    # by date, then order number; order numbers run 1,000,001... without gaps; a return line follows its order
    assert o["Order Date"].is_monotonic_increasing
    assert (no.groupby(o["Order Date"]).apply(lambda s: s.is_monotonic_increasing)).all()
    assert sorted(no.unique()) == list(range(1_000_001, 1_000_001 + no.nunique()))
    dup = o[no.duplicated(keep=False)]
    assert len(dup) and (dup.groupby("Order No")["Net Sales (EUR)"].apply(lambda s: s.iloc[0] > 0 > s.iloc[1])).all()
    assert 0.02 < no.duplicated().mean() < 0.04  # 3% of orders have a return line
    # the CSV from the same seed holds the same rows, its dates day-first
    c = pd.read_csv(csv_paths["transactions"])
    assert len(c) == len(o) and c["Order No"].tolist() == o["Order No"].tolist()
    assert pd.to_datetime(c["Order Date"], format="%d/%m/%Y").tolist() == o["Order Date"].tolist()
    assert c["Net Sales (EUR)"].tolist() == pytest.approx(o["Net Sales (EUR)"].tolist())


def test_large_client_mode_accounts_file_agrees_with_the_orders(streamed):
    import datetime as dt

    pq_paths, _ = streamed
    o = pd.read_parquet(pq_paths["transactions"])
    acc = pd.read_csv(pq_paths["accounts"])
    first = o.groupby("Customer ID")["Order Date"].min()
    since = pd.to_datetime(acc.set_index("Customer ID")["Customer Since"])
    # an account acquired within the data joined on its first order (tracked across the monthly pieces);
    # one that existed before the data joined earlier
    inside = since[since >= pd.Timestamp(dt.date(2022, 1, 1))].index.intersection(first.index)
    assert len(inside) > 50 and (since[inside] == first[inside]).all()
    assert (since[first.index] <= first).all()
    # key accounts get the programme uplift: their median order value grows more after the start
    key = set(acc.loc[acc["KAM Programme"] == "Y", "Customer ID"])
    sale = o[o["Net Sales (EUR)"] > 0].assign(key=lambda d: d["Customer ID"].isin(key),
                                              post=lambda d: d["Order Date"] >= pd.Timestamp("2024-07-01"))
    med = sale.groupby(["key", "post"])["Net Sales (EUR)"].median()
    assert med[(True, True)] / med[(True, False)] > med[(False, True)] / med[(False, False)]
