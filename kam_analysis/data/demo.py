"""A deterministic synthetic client: "Maison Demo", an online and store retailer.

The demo is modelled on the situations KAM engagements meet in online retail (apparel,
luxury accessories, home decor): a few hundred trade customers (boutiques, department
stores, interior designers, hotels) and many consumers, bought through web, mobile
app, store and a trade desk. Revenue is long-tailed; the client designated its key
accounts when its KAM programme started, partway through the data.

Planted truths
--------------
The generator plants effects that the analytics must recover. They are the constants
in :data:`PLANTED` (tests import them rather than repeating numbers):

``programme_uplift``
    After ``programme_start``, every order of a designated key account
    (``key_account = Y``) is worth ``1 + programme_uplift`` times what it would
    otherwise be. On log revenue per active account-month a difference-in-differences
    estimate should be close to ``log(1 + programme_uplift)``.
``market_growth``
    All accounts' order values grow by this share per year (so a naive before/after
    comparison of key accounts overstates the programme effect).
``base_monthly_churn`` / ``detractor_churn_odds_ratio``
    Each month an active account stops buying for good with probability
    ``base_monthly_churn``; for an account whose true NPS is a detractor score (0-6) the
    odds of stopping are multiplied by ``detractor_churn_odds_ratio``. A churn model
    must find low NPS as a driver with an odds ratio above 1.
``trade_aov`` / ``consumer_aov``
    Median order values of trade and consumer accounts.
``footwear_given_apparel_lift``
    Accounts that buy apparel are this many times more likely to also buy footwear
    (a co-purchase pattern cross-sell analysis should see).

Everything is drawn from one ``numpy.random.Generator`` seeded by ``seed``, with
stable ordering, so the same arguments always give byte-identical files.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["PLANTED", "DEMO_COLUMNS", "generate_demo", "demo_files", "season_factor"]

PLANTED: dict[str, float] = {
    "programme_uplift": 0.15,
    "market_growth": 0.03,
    "base_monthly_churn": 0.012,
    "detractor_churn_odds_ratio": 3.0,
    "trade_aov": 1400.0,
    "consumer_aov": 190.0,
    "footwear_given_apparel_lift": 1.6,
    "key_account_share": 0.08,
}

#: The demo's default history (a programme start left unset means "from the first day").
DEMO_START, DEMO_END = dt.date(2022, 1, 1), dt.date(2025, 12, 31)

CATEGORIES = ["Apparel", "Footwear", "Luxury accessories", "Home decor", "Fragrance"]
_MARGIN_RATE = np.array([0.52, 0.48, 0.61, 0.44, 0.57])
CHANNELS = ["Web", "Mobile app", "Store", "Trade desk"]
REGIONS = ["UK & Ireland", "DACH", "France", "Benelux", "Nordics", "Southern Europe"]
_REGION_P = [0.24, 0.22, 0.18, 0.12, 0.10, 0.14]
TRADE_SEGMENTS = ["Boutique retailer", "Department store", "Interior designer", "Hospitality"]
MANAGERS = ["Amelia Hart", "Jonas Weber", "Claire Dubois", "Luca Romano", "Sofia Lindqvist",
            "Daniel Okafor", "Eva Novak", "Tom Jansen"]
CAPABILITY = [  # dimension, score, target
    ("Account selection & prioritisation", 2.5, 4.0),
    ("Account planning", 2.0, 4.0),
    ("Customer insight", 3.0, 4.0),
    ("Value proposition & offer", 3.5, 4.5),
    ("KAM roles & skills", 2.5, 4.0),
    ("Cross-functional collaboration", 2.0, 3.5),
    ("Performance measurement", 1.5, 4.0),
    ("Governance & sponsorship", 3.0, 4.0),
]

# Client-style column names: the demo params map them onto the contract.
DEMO_COLUMNS = {
    "transactions": {"order_id": "Order No", "account_id": "Customer ID", "order_date": "Order Date",
                     "net_revenue": "Net Sales (EUR)", "gross_margin": "Gross Margin (EUR)",
                     "category": "Product Category", "channel": "Sales Channel"},
    "accounts": {"account_id": "Customer ID", "account_name": "Customer Name", "region": "Region",
                 "segment": "Customer Type", "acquisition_date": "Customer Since",
                 "account_manager": "Account Manager", "strategic_importance": "Strategic Rating (1-5)",
                 "cost_to_serve": "Annual Cost to Serve (EUR)", "key_account": "KAM Programme"},
    "surveys": {"account_id": "Customer ID", "survey_date": "Response Date",
                "nps": "Likelihood to Recommend (0-10)", "csat": "Satisfaction (1-5)"},
    "capability": {"dimension": "Dimension", "score": "Score", "target": "Target"},
}

_FIRST = ["Olivia", "Noah", "Emma", "Liam", "Mia", "Lucas", "Sofia", "Elias", "Lena", "Hugo", "Chloé",
          "Mateo", "Ingrid", "Finn", "Giulia", "Oscar", "Zoé", "Anton", "Maja", "Léa"]
_LAST = ["Müller", "Martin", "Rossi", "Jansen", "Nilsson", "Smith", "Dubois", "García", "Weber",
         "Bernard", "Ricci", "de Vries", "Larsen", "Brown", "Moreau", "Fischer", "Conti", "Peeters"]
_CO_A = ["Atelier", "Maison", "Casa", "Studio", "House of", "Galerie", "Nordic", "Bella", "Linden",
         "Rivière", "Oak &", "Via", "Alba", "Kensington", "Hygge", "Lumen"]
_CO_B = ["Nord", "Lumière", "Interiors", "Collective", "Living", "Boutique", "Stone", "Mode", "Hotel Group",
         "Design", "Concept Store", "Department Store", "Home", "Trading", "Style"]
_CO_SUFFIX = ["Ltd", "GmbH", "SARL", "B.V.", "AB", "S.p.A.", "", ""]


def demo_files(out_dir: str | Path, file_format: str = "csv") -> dict[str, Path]:
    """The paths :func:`generate_demo` writes in ``out_dir``."""
    out = Path(out_dir)
    ext = "parquet" if file_format == "parquet" else "csv"
    return {"transactions": out / f"orders.{ext}", "accounts": out / "customers.csv",
            "surveys": out / "nps_survey.csv", "capability": out / "kam_capability.csv"}


def season_factor(month_of_year: np.ndarray) -> np.ndarray:
    """Purchase-rate multiplier of each calendar month (1-12): busy November-December, quiet July-August."""
    return np.select([np.isin(month_of_year, [11, 12]), np.isin(month_of_year, [7, 8])], [1.35, 0.85], 1.0)


def _names(rng: np.random.Generator, is_trade: np.ndarray) -> list[str]:
    n = len(is_trade)
    first = rng.choice(_FIRST, n)
    last = rng.choice(_LAST, n)
    a = rng.choice(_CO_A, n)
    b = rng.choice(_CO_B, n)
    s = rng.choice(_CO_SUFFIX, n)
    names = []
    for i in range(n):
        if is_trade[i]:
            names.append(" ".join(x for x in (a[i], b[i], s[i]) if x))
        else:
            names.append(f"{first[i]} {last[i]}")
    return names


def generate_demo(out_dir: str | Path, *, seed: int = 42, n_accounts: int = 2000,
                  start: dt.date = DEMO_START, end: dt.date = DEMO_END,
                  programme_start: dt.date = dt.date(2024, 7, 1), n_orders: int | None = None,
                  file_format: str = "csv") -> dict[str, Path]:
    """Write the demo client's four files into ``out_dir`` and return their paths.

    Parameters
    ----------
    out_dir : path
        Folder to write into (created).
    seed : int
        Seed of the only random generator used.
    n_accounts : int
        Number of accounts (the demo uses 2,000; the benchmark 200,000).
    start, end : date
        First and last day of order history.
    programme_start : date
        Start of the client's KAM programme (key accounts get ``programme_uplift``).
    n_orders : int, optional
        Large-client mode: scale purchase rates so about this many orders are written,
        drawn and written one month at a time (:func:`_stream_orders`; 50 million orders
        for 1 million accounts peak near 1.1 GiB). Same layout as the default mode, other
        draws: the default demo's bytes do not depend on this mode.
    file_format : {"csv", "parquet"}
        Format of the orders file (the other files are small CSVs).
    """
    rng = np.random.default_rng(seed)
    P = PLANTED
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    months = pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq="M")
    n_m = len(months)
    n = int(n_accounts)
    prog_m = max(0, min(n_m, (programme_start.year - start.year) * 12 + programme_start.month - start.month))

    # ---------------- accounts
    is_trade = rng.random(n) < 0.22
    # 35% of the base existed before the data starts; the rest arrive over the period
    existing = rng.random(n) < 0.35
    acq_m = np.where(existing, 0, rng.integers(0, max(n_m - 3, 1), n))
    acq_offset_days = np.where(existing, rng.integers(30, 1500, n), 0)
    rate = rng.gamma(2.0, 0.25, n) * np.where(is_trade, 2.2, 0.9)  # orders / month
    aov = np.exp(rng.normal(0.0, 0.55, n)) * np.where(is_trade, P["trade_aov"], P["consumer_aov"])
    nps_true = np.clip(np.round(rng.normal(7.4, 2.0, n)), 0, 10)
    detractor = nps_true <= 6
    base = P["base_monthly_churn"]
    odds = base / (1 - base) * np.where(detractor, P["detractor_churn_odds_ratio"], 1.0)
    p_churn = odds / (1 + odds)
    life = rng.geometric(p_churn)  # months active before churning (>= 1)
    last_m = np.minimum(acq_m + life, n_m)  # exclusive
    value_score = rate * aov
    # strategic importance: correlated with value, 1-5
    rank = pd.Series(value_score).rank(pct=True).to_numpy()
    strategic = np.clip(np.round(1 + 4 * rank + rng.normal(0, 0.8, n)), 1, 5).astype(int)
    # key accounts: chosen by the client at programme start among accounts acquired a year earlier
    eligible = (acq_m <= max(prog_m - 6, 0)) & (last_m > prog_m)
    k = max(1, int(round(P["key_account_share"] * n)))
    score = np.where(eligible, value_score * (0.8 + 0.1 * strategic), -1)
    key_idx = np.argsort(-score, kind="stable")[:k]
    is_key = np.zeros(n, dtype=bool)
    is_key[key_idx] = True
    # category affinity: apparel buyers lean towards footwear
    alpha = np.array([1.2, 0.5, 0.6, 0.9, 0.5])
    affinity = rng.dirichlet(alpha * 0.8, n)
    buys_apparel = affinity[:, 0] > 0.15
    affinity[:, 1] *= np.where(buys_apparel, P["footwear_given_apparel_lift"], 1.0)
    affinity /= affinity.sum(axis=1, keepdims=True)
    chan_p = np.where(is_trade[:, None], [0.25, 0.05, 0.10, 0.60], [0.50, 0.30, 0.20, 0.0])

    # ---------------- orders
    m_idx = np.arange(n_m)
    month_start = np.array([p.start_time.to_datetime64() for p in months], dtype="datetime64[D]")
    days_in = np.array([p.days_in_month for p in months])
    season = season_factor(np.array([p.month for p in months]))
    paths = demo_files(out, file_format)
    acc_ids = np.array([f"C{100000 + i}" for i in range(n)])
    if n_orders:
        # large-client mode streams month by month (bounded memory at 50 million orders)
        n_orders_acc, first_order = _stream_orders(
            rng, paths["transactions"], file_format, acc_ids=acc_ids,
            n_orders=int(n_orders), acq_m=acq_m, last_m=last_m, rate=rate, aov=aov, is_key=is_key,
            is_trade=is_trade, prog_m=prog_m, affinity=affinity, chan_p=chan_p, season=season,
            month_start=month_start, days_in=days_in)
    else:
        alive = (m_idx[None, :] >= acq_m[:, None]) & (m_idx[None, :] < last_m[:, None])
        lam = rate[:, None] * season[None, :] * alive
        counts = rng.poisson(lam)
        acc_of_order = np.repeat(np.repeat(np.arange(n), n_m), counts.ravel())
        mon_of_order = np.repeat(np.tile(m_idx, n), counts.ravel())
        n_ord = len(acc_of_order)
        day = (rng.random(n_ord) * days_in[mon_of_order]).astype(int)
        dates = month_start[mon_of_order] + day.astype("timedelta64[D]")
        years = (mon_of_order / 12.0)
        uplift = np.where(is_key[acc_of_order] & (mon_of_order >= prog_m), 1 + P["programme_uplift"], 1.0)
        value = aov[acc_of_order] * np.exp(rng.normal(-0.06, 0.35, n_ord)) * (1 + P["market_growth"]) ** years * uplift
        cat = _draw_choice(rng.random(n_ord), affinity, acc_of_order).clip(0, len(CATEGORIES) - 1)
        chan = _draw_choice(rng.random(n_ord), chan_p, acc_of_order).clip(0, len(CHANNELS) - 1)
        mrate = _MARGIN_RATE[cat] - np.where(is_trade[acc_of_order], 0.12, 0.0) + rng.normal(0, 0.03, n_ord)
        order_sort = np.lexsort((acc_of_order, dates))
        acc_of_order, dates, value, cat, chan, mrate = (a[order_sort] for a in (acc_of_order, dates, value, cat, chan, mrate))
        revenue = np.round(value, 2)
        margin = np.round(value * mrate, 2)
        order_no = np.arange(1, n_ord + 1) + 1_000_000

        # returns: 3% of orders get a negative line under the same order number
        ret = rng.random(n_ord) < 0.03
        r_share = rng.uniform(0.2, 1.0, ret.sum())
        # Built column by column as Arrow arrays (categories and ids as dictionary codes), so a
        # 10-million-order client never holds fixed-width numpy strings or a pandas copy.
        orders = _order_lines(order_no, dates, acc_of_order, revenue, margin, cat, chan, ret, r_share)
        _write_orders(orders, paths["transactions"], file_format, acc_ids)
        del orders
        n_orders_acc = np.bincount(acc_of_order, minlength=n)
        first_order = pd.Series(dates).groupby(acc_of_order).min()

    # ---------------- accounts file
    years_active = np.maximum((last_m - acq_m) / 12.0, 1 / 12)
    cts = (60 + 18 * n_orders_acc / years_active + np.where(is_trade, 900, 0) + np.where(is_key, 4500, 0)
           + rng.normal(0, 40, n)).clip(20)
    acq_date = np.array([month_start[m] for m in acq_m]) - acq_offset_days.astype("timedelta64[D]")
    has_first = np.isin(np.arange(n), first_order.index)
    acq_date = np.where(has_first & (acq_offset_days == 0),
                        pd.Series(first_order).reindex(np.arange(n)).to_numpy(dtype="datetime64[D]"), acq_date)
    seg = np.where(is_trade, rng.choice(TRADE_SEGMENTS, n, p=[0.45, 0.15, 0.25, 0.15]),
                   np.where(value_score > np.quantile(value_score, 0.8), "VIP consumer", "Consumer"))
    manager = np.where(is_key | (is_trade & (rank > 0.6)), rng.choice(MANAGERS, n), "Digital desk")
    accounts = pd.DataFrame({
        "Customer ID": acc_ids,
        "Customer Name": _names(rng, is_trade),
        "Region": rng.choice(REGIONS, n, p=_REGION_P),
        "Customer Type": seg,
        "Customer Since": pd.to_datetime(acq_date).strftime("%Y-%m-%d"),
        "Account Manager": manager,
        "Strategic Rating (1-5)": strategic,
        "Annual Cost to Serve (EUR)": np.round(cts, 0),
        "KAM Programme": np.where(is_key, "Y", "N"),
    })

    # ---------------- surveys: an annual relationship survey of active accounts
    rows = []
    for y_start in range(0, n_m, 12):
        m_survey = min(y_start + 9, n_m - 1)  # October
        active = (acq_m <= m_survey) & (last_m > m_survey)
        p_resp = np.where(is_trade | is_key, 0.7, 0.35)
        resp = active & (rng.random(n) < p_resp)
        idx = np.flatnonzero(resp)
        score = np.clip(np.round(nps_true[idx] + rng.normal(0, 0.8, len(idx))), 0, 10)
        csat = np.clip(np.round(1 + (nps_true[idx] / 10) * 4 + rng.normal(0, 0.6, len(idx))), 1, 5)
        d = month_start[m_survey] + rng.integers(0, 28, len(idx)).astype("timedelta64[D]")
        rows.append(pd.DataFrame({"Customer ID": acc_ids[idx], "Response Date": d,
                                  "Likelihood to Recommend (0-10)": score.astype(int),
                                  "Satisfaction (1-5)": csat.astype(int)}))
    surveys = pd.concat(rows, ignore_index=True).sort_values(["Response Date", "Customer ID"], kind="stable")

    capability = pd.DataFrame(CAPABILITY, columns=["Dimension", "Score", "Target"])

    accounts.to_csv(paths["accounts"], index=False, encoding="utf-8")
    surveys["Response Date"] = pd.to_datetime(surveys["Response Date"]).dt.strftime("%Y-%m-%d")
    surveys.to_csv(paths["surveys"], index=False, encoding="utf-8")
    capability.to_csv(paths["capability"], index=False, encoding="utf-8")
    return paths


def _draw_choice(u: np.ndarray, probs: np.ndarray, owner: np.ndarray, chunk: int = 1_000_000) -> np.ndarray:
    """Index of the option each uniform draw ``u[i]`` falls in, under row ``probs[owner[i]]``.

    Inverse-CDF sampling, done in chunks so a 10-million-order client never builds an
    orders x options matrix in one piece (same result as doing it at once).
    """
    out = np.empty(len(u), dtype=np.int64)
    cum_by_owner = np.cumsum(probs, axis=1)
    for lo in range(0, len(u), chunk):
        hi = min(lo + chunk, len(u))
        out[lo:hi] = (u[lo:hi, None] > cum_by_owner[owner[lo:hi]]).sum(axis=1)
    return out


def _order_lines(order_no, dates, acc, revenue, margin, cat, chan, ret, r_share) -> dict:
    """Order lines and their return lines (``ret``: orders with a return of ``r_share`` of the
    value), as the orders file's columns: by date, then order number; stable, so an order's line
    comes before its return line (the same order as sorting the "SO-<number>" strings while
    numbers have equal length)."""
    line_no = np.concatenate([order_no, order_no[ret]])
    line_date = np.concatenate([dates, dates[ret]])
    rows = np.lexsort((line_no, line_date))
    return {
        "Order No": line_no[rows],
        "Customer ID": np.concatenate([acc, acc[ret]])[rows],
        "Order Date": line_date[rows],
        "Net Sales (EUR)": np.concatenate([revenue, -np.round(revenue[ret] * r_share, 2)])[rows],
        "Gross Margin (EUR)": np.concatenate([margin, -np.round(margin[ret] * r_share, 2)])[rows],
        "Product Category": np.concatenate([cat, cat[ret]])[rows],
        "Sales Channel": np.concatenate([chan, chan[ret]])[rows],
    }


def _write_orders(orders: dict[str, np.ndarray], path: Path, file_format: str, acc_ids: np.ndarray) -> None:
    """Write the orders (numpy columns; ids and categories as codes) as Parquet or CSV."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = _orders_table(orders, file_format, acc_ids)
    tmp = path.with_suffix(path.suffix + ".tmp")
    if file_format == "parquet":
        pq.write_table(table, tmp)
    else:
        pacsv.write_csv(table, tmp)
    tmp.replace(path)


def _orders_table(orders: dict[str, np.ndarray], file_format: str, acc_ids: np.ndarray):
    """The orders (numpy columns; ids and categories as codes) as an Arrow table in the file's layout."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def decode(codes: np.ndarray, labels) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(list(labels))).dictionary_decode()

    when = pa.array(orders["Order Date"].astype("datetime64[ms]"))
    columns = {
        "Order No": pc.binary_join_element_wise("SO-", pc.cast(pa.array(orders["Order No"]), pa.string()), ""),
        "Customer ID": decode(orders["Customer ID"], acc_ids),
        # European retailer: day-first dates in CSV, as client extracts usually are
        "Order Date": when if file_format == "parquet" else pc.strftime(when, format="%d/%m/%Y"),
        "Net Sales (EUR)": pa.array(orders["Net Sales (EUR)"]),
        "Gross Margin (EUR)": pa.array(orders["Gross Margin (EUR)"]),
        "Product Category": decode(orders["Product Category"], CATEGORIES),
        "Sales Channel": decode(orders["Sales Channel"], CHANNELS),
    }
    return pa.table(columns)


def _stream_orders(rng: np.random.Generator, path: Path, file_format: str, *, acc_ids: np.ndarray, n_orders: int,
                   acq_m: np.ndarray, last_m: np.ndarray, rate: np.ndarray, aov: np.ndarray,
                   is_key: np.ndarray, is_trade: np.ndarray, prog_m: int, affinity: np.ndarray,
                   chan_p: np.ndarray, season: np.ndarray, month_start: np.ndarray,
                   days_in: np.ndarray) -> tuple[np.ndarray, pd.Series]:
    """Large-client mode: draw and write the orders one calendar month at a time.

    Every account's purchase rate is scaled by one factor so the expected number of orders
    (before returns) is ``n_orders``; ranks and shares are unchanged. The model is the
    in-memory one's (same rates, values, uplift, categories, channels, margins, 3% returns),
    but the draws are made month by month, so only one month's orders are in memory and
    50 million orders are written in bounded memory. The file is in the same order as the
    in-memory one (by date, then order number; order numbers by date, then account; a
    return line right after its order) and has the same columns and types.

    Returns each account's number of orders and the date of its first order (by account
    index, accounts with orders only), which the accounts file needs.
    """
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    P = PLANTED
    n, n_m = len(acc_ids), len(season)

    def alive(m: int) -> np.ndarray:
        return (acq_m <= m) & (last_m > m)

    expected = sum(float(season[m] * rate[alive(m)].sum()) for m in range(n_m))
    scale = float(n_orders) / max(expected, 1e-9)
    n_orders_acc = np.zeros(n, dtype=np.int64)
    first = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    next_no = 1_000_001
    tmp = path.with_suffix(path.suffix + ".tmp")
    writer = None
    try:
        for m in range(n_m):
            counts = rng.poisson(rate * season[m] * alive(m) * scale)
            acc = np.repeat(np.arange(n), counts)
            k = len(acc)
            day = (rng.random(k) * days_in[m]).astype(int)
            dates = month_start[m] + day.astype("timedelta64[D]")
            uplift = np.where(is_key[acc] & (m >= prog_m), 1 + P["programme_uplift"], 1.0)
            value = aov[acc] * np.exp(rng.normal(-0.06, 0.35, k)) * (1 + P["market_growth"]) ** (m / 12.0) * uplift
            cat = _draw_choice(rng.random(k), affinity, acc).clip(0, len(CATEGORIES) - 1)
            chan = _draw_choice(rng.random(k), chan_p, acc).clip(0, len(CHANNELS) - 1)
            mrate = _MARGIN_RATE[cat] - np.where(is_trade[acc], 0.12, 0.0) + rng.normal(0, 0.03, k)
            order_sort = np.lexsort((acc, dates))
            acc, dates, value, cat, chan, mrate = (a[order_sort] for a in (acc, dates, value, cat, chan, mrate))
            revenue = np.round(value, 2)
            margin = np.round(value * mrate, 2)
            order_no = np.arange(next_no, next_no + k)
            next_no += k
            ret = rng.random(k) < 0.03
            r_share = rng.uniform(0.2, 1.0, ret.sum())
            chunk = _order_lines(order_no, dates, acc, revenue, margin, cat, chan, ret, r_share)
            n_orders_acc += np.bincount(acc, minlength=n)
            # orders are sorted by date: an account's first row this month is its earliest
            seen, at = np.unique(acc, return_index=True)
            new = seen[np.isnat(first[seen])]
            first[new] = dates[at[np.isnat(first[seen])]]
            table = _orders_table(chunk, file_format, acc_ids)
            if writer is None:
                writer = (pq.ParquetWriter(tmp, table.schema) if file_format == "parquet"
                          else pacsv.CSVWriter(tmp, table.schema))
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)
    has = ~np.isnat(first)
    return n_orders_acc, pd.Series(first[has], index=np.flatnonzero(has))
