"""Shared fixtures: a small demo client prepared once per test session.

Phase tests use ``demo_run`` (a prepared run folder of a 400-account demo client) or
build their own tiny frames. Render/browser tests use ``require_tool``.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def write_demo_params(tmp: Path, *, n_accounts: int = 400, seed: int = 7, name: str = "Test Client",
                      extra: dict | None = None) -> Path:
    """A params file for a small demo client whose data and outputs live under ``tmp``."""
    raw = yaml.safe_load((REPO / "params" / "demo.yaml").read_text())
    raw["client"]["name"] = name
    raw["data"]["demo"] = {"seed": seed, "n_accounts": n_accounts}
    for table in ("transactions", "accounts", "surveys", "capability"):
        raw["data"][table]["path"] = str(tmp / "data" / Path(raw["data"][table]["path"]).name)
    raw["output"] = {"root": str(tmp / "outputs")}
    for k, v in (extra or {}).items():
        raw[k] = v
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def demo_params(tmp_path_factory) -> Path:
    return write_demo_params(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def demo_run(demo_params, tmp_path_factory):
    """A prepared run folder (validated data + account-level tables) of the small demo."""
    from kam_analysis import open_run

    return open_run(demo_params, tmp_path_factory.mktemp("run"))


def order_frame(lines) -> "pd.DataFrame":
    """Orders as a pandas frame, for a test's reference computation only.

    ``lines``: a run (its clean transactions), a DuckDB relation of order lines or a pandas
    frame of them. One row per ``account_id, order_id``: ``order_date`` (its earliest
    line), ``revenue`` and ``gross_margin`` (its lines summed exactly). The package itself
    keeps orders in DuckDB (``metrics.engine.OrderSource``; issue 15).
    """
    import pandas as pd

    from kam_analysis.data.prepare import exact_sum
    from kam_analysis.metrics.engine import duckdb_connect

    con = duckdb_connect()
    try:
        if isinstance(lines, pd.DataFrame):
            con.register("lines", lines)
            src = "lines"
        else:
            src = lines if isinstance(lines, str) else lines.transactions_sql()
        df = con.execute(
            f"SELECT account_id, order_id, CAST(min(order_date) AS TIMESTAMP) AS order_date, "
            f"CAST({exact_sum('net_revenue')} AS DOUBLE) AS revenue, "
            f"CAST({exact_sum('gross_margin')} AS DOUBLE) AS gross_margin "
            f"FROM {src} GROUP BY account_id, order_id ORDER BY order_date, order_id").df()
    finally:
        con.close()
    df["order_date"] = pd.to_datetime(df["order_date"])
    df["gross_margin"] = df["gross_margin"].astype("float64")
    return df


def require_tool(name: str) -> str:
    """Path of a system tool (soffice, chromium, pdftoppm); skip the test if absent.

    With KAM_REQUIRE_SYSTEM_DEPS=1 (set by CI) a missing tool fails the test instead.
    """
    path = shutil.which(name)
    if path is None:
        msg = f"{name} not installed (make system-deps installs it)"
        if os.environ.get("KAM_REQUIRE_SYSTEM_DEPS") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


THIN_SIZES = {"consumer": 2_500, "b2b": 600}


@pytest.fixture(scope="session")
def language_co_run(tmp_path_factory):
    """The demo engagement on 600 accounts, run once per session with the real runner (its result)."""
    from kam_analysis.runner import run_engagement

    params = write_demo_params(tmp_path_factory.mktemp("lang"), n_accounts=600, seed=11, name="Language Co")
    res = run_engagement(params, progress=None)
    assert res.ok
    return res


@pytest.fixture(scope="session")
def thin_client_runs(tmp_path_factory):
    """The two transactions-only demo clients (params/demo-consumer.yaml, demo-b2b.yaml, scaled
    down), each run once per session with the real runner: profile -> (result, raw params)."""
    import yaml

    from kam_analysis.config import REPO_ROOT
    from kam_analysis.data.demo_clients import profile_files
    from kam_analysis.runner import run_engagement

    cache: dict = {}

    def get(profile: str):
        if profile not in cache:
            tmp = tmp_path_factory.mktemp(profile)
            raw = yaml.safe_load((REPO_ROOT / "params" / f"demo-{profile}.yaml").read_text())
            raw["data"]["demo"]["n_accounts"] = THIN_SIZES[profile]
            raw["data"]["transactions"]["path"] = str(profile_files(profile, tmp / "data")["transactions"])
            raw["output"] = {"root": str(tmp / "outputs")}
            path = tmp / "params.yaml"
            path.write_text(yaml.safe_dump(raw, sort_keys=False))
            cache[profile] = (run_engagement(path, progress=None), raw, path)
        return cache[profile]

    return get
