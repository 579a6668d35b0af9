"""The transactions-only demo clients: the shape of a real first extract, deterministically."""
from __future__ import annotations

import hashlib

import pandas as pd
import pytest
import yaml

from kam_analysis.cli import main
from kam_analysis.config import REPO_ROOT, load_params
from kam_analysis.data.demo_clients import CLIENT_COLUMNS, PROFILE_DEFAULTS, generate_client, profile_files


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("profile", ["consumer", "b2b"])
def test_same_seed_same_bytes_other_seed_other_data(tmp_path, profile):
    a = generate_client(profile, tmp_path / "a", seed=5, n_accounts=300)["transactions"]
    b = generate_client(profile, tmp_path / "b", seed=5, n_accounts=300)["transactions"]
    c = generate_client(profile, tmp_path / "c", seed=6, n_accounts=300)["transactions"]
    assert _digest(a) == _digest(b) != _digest(c)


def test_consumer_is_a_transactions_only_consumer_extract(tmp_path):
    """Default size: 20,000+ buying customers over 18 months, no order id, compact dates, dollars,
    genuine repeat lines (exact duplicate rows) and refunds."""
    paths = generate_client("consumer", tmp_path)
    assert set(paths) == {"transactions"}
    df = pd.read_csv(paths["transactions"], dtype=str)
    assert list(df.columns) == list(CLIENT_COLUMNS["consumer"].values())
    assert df["customer_no"].nunique() >= 20_000
    assert df["txn_date"].str.fullmatch(r"20\d{6}").all()
    dates = pd.to_datetime(df["txn_date"], format="%Y%m%d")
    d = PROFILE_DEFAULTS["consumer"]
    assert dates.min() >= pd.Timestamp(d["start"]) and dates.max() <= pd.Timestamp(d["end"])
    assert (dates.max() - dates.min()).days > 540  # 18 months
    amount = df["sales_usd"].astype(float)
    assert (amount < 0).any() and df.duplicated().sum() > 0
    # small baskets: a typical order (a customer's lines on one day) is tens of dollars
    orders = df.assign(a=amount)[amount > 0].groupby(["customer_no", "txn_date"])["a"].sum()
    assert 15 < orders.median() < 80
    # most customers buy once or twice: a mass-consumer base
    per_customer = orders.groupby(level=0).size()
    assert (per_customer <= 2).mean() > 0.6


def test_b2b_is_an_invoice_lines_extract(tmp_path):
    paths = generate_client("b2b", tmp_path)
    df = pd.read_csv(paths["transactions"], dtype=str)
    assert set(CLIENT_COLUMNS["b2b"].values()) <= set(df.columns)
    n_customers = df["Customer Account"].nunique()
    assert 2_000 <= n_customers <= 5_000
    # several lines per invoice, one customer and one date per invoice
    per_invoice = df.groupby("Invoice Number").agg(lines=("Invoice Date", "size"),
                                                    dates=("Invoice Date", "nunique"),
                                                    accounts=("Customer Account", "nunique"))
    assert per_invoice["lines"].mean() > 2.5
    assert (per_invoice["dates"] == 1).all() and (per_invoice["accounts"] == 1).all()
    dates = pd.to_datetime(df["Invoice Date"], format="%d/%m/%Y")
    assert (dates.max() - dates.min()).days in range(330, 366)
    assert (dates.dt.day_of_week < 5).all()  # invoices on working days
    amount = df["Line Net (GBP)"].astype(float)
    credits = df["Invoice Number"].str.startswith("CN")
    assert (amount[credits] < 0).all() and (amount[~credits] > 0).all()
    # revenue concentrated: the top tenth of customers hold over a third of it
    by_customer = amount.groupby(df["Customer Account"]).sum().sort_values(ascending=False)
    assert by_customer.head(n_customers // 10).sum() / by_customer.sum() > 1 / 3


@pytest.mark.parametrize("profile", ["consumer", "b2b"])
def test_params_file_runs_the_profile(tmp_path, profile):
    """params/demo-<profile>.yaml generates its client on first use and validates clean."""
    raw = yaml.safe_load((REPO_ROOT / "params" / f"demo-{profile}.yaml").read_text())
    assert raw["data"]["demo"]["profile"] == profile and set(raw["data"]) == {"demo", "transactions"}
    assert "targets" not in raw and "context" not in raw and "programme_start" not in raw["analysis"]
    assert raw["data"]["transactions"]["columns"] == CLIENT_COLUMNS[profile]
    raw["data"]["demo"]["n_accounts"] = 300
    raw["data"]["transactions"]["path"] = str(profile_files(profile, tmp_path / "data")["transactions"])
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert load_params(path).data.demo.profile == profile
    assert main(["validate", str(path)]) == 0


def test_cli_writes_a_profile(tmp_path, capsys):
    assert main(["demo-data", str(tmp_path), "--profile", "b2b", "--accounts", "50"]) == 0
    assert (tmp_path / "invoice_lines.csv").exists()
    assert main(["demo-data", str(tmp_path), "--profile", "consumer", "--orders", "5000"]) == 2
    assert "demo only" in capsys.readouterr().err
