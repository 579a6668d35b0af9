"""Two more synthetic clients, shaped like the transactions-only extracts real clients send.

The Maison Demo client (:mod:`kam_analysis.data.demo`) has every input an engagement can
use. Real first extracts are usually thinner; these two reproduce them so the engagement
can be run, tested and looked at on them:

``consumer`` — "Harbor & Pine", a US consumer retailer
    One file of point-of-sale and web lines: tens of thousands of customers (default
    26,000, of whom about 22,000 buy in the extract), 18 months, **no order id** (an order is a customer's lines on one date),
    compact dates (``20250314``), US dollars, no margin, no accounts file, no surveys, no
    capability assessment, no programme, no targets. Most customers buy once or twice; a
    long tail of small baskets. Some baskets hold two identical lines (two of the same item
    scanned separately): exact duplicate rows that are genuine repeat purchases. Refunds
    are negative lines on a later date.
``b2b`` — "Calder Supply", a UK trade wholesaler
    One file of invoice lines: a few thousand trade customers (default 3,000), 12 months,
    an invoice number on every line and several lines per invoice, day-first dates
    (``14/03/2025``), pounds sterling, no margin, no accounts file (the customer's name is
    on each line, as invoice extracts carry it), no surveys, no programme, no targets.
    Revenue is concentrated (a few large accounts); credit notes carry their own number
    and a negative amount. A few invoices hold two identical lines.

Both are deterministic: one ``numpy.random.Generator`` seeded by ``seed``, so the same
arguments always give byte-identical files. :data:`CLIENT_COLUMNS` names each file's
columns (the params files ``params/demo-consumer.yaml`` and ``params/demo-b2b.yaml`` map
them onto the contract).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["PROFILES", "CLIENT_COLUMNS", "PROFILE_DEFAULTS", "generate_consumer", "generate_b2b",
           "generate_client", "profile_files"]

#: Profiles of :func:`kam_analysis.data.demo_clients` (``demo`` is Maison Demo, the full client).
PROFILES = ("demo", "consumer", "b2b")

#: Each profile's default size and history (``kam demo-data --profile`` and ``data.demo`` use them).
PROFILE_DEFAULTS: dict[str, dict] = {
    "consumer": {"seed": 12, "n_accounts": 26_000, "start": dt.date(2024, 1, 1), "end": dt.date(2025, 6, 30)},
    "b2b": {"seed": 21, "n_accounts": 3_000, "start": dt.date(2024, 4, 1), "end": dt.date(2025, 3, 31)},
}

#: Contract column -> the client's column name, per profile (only the transactions file exists).
CLIENT_COLUMNS: dict[str, dict[str, str]] = {
    "consumer": {"account_id": "customer_no", "order_date": "txn_date", "net_revenue": "sales_usd",
                 "category": "product_line", "channel": "channel"},
    "b2b": {"order_id": "Invoice Number", "order_date": "Invoice Date", "account_id": "Customer Account",
            "net_revenue": "Line Net (GBP)", "category": "Product Group"},
}

_CONSUMER_LINES = ["Womenswear", "Menswear", "Kids", "Footwear", "Accessories", "Home"]
_B2B_GROUPS = ["Fasteners & fixings", "Hand tools", "Power tools", "Safety & PPE", "Electrical", "Plumbing"]
_B2B_PREFIX = ["Abbey", "Bridgewater", "Carrick", "Dunmore", "Elmfield", "Fenwick", "Glenholm", "Hartley",
               "Ivybridge", "Kingsway", "Lindley", "Marlow", "Northgate", "Oakham", "Penrith", "Redbrook"]
_B2B_TRADE = ["Building Services", "Electrical", "Plumbing & Heating", "Joinery", "Construction",
              "Maintenance", "Facilities", "Roofing", "Contractors", "Property Services"]
_B2B_SUFFIX = ["Ltd", "Ltd", "Limited", "& Sons", "LLP", ""]


def profile_files(profile: str, out_dir: str | Path) -> dict[str, Path]:
    """The paths the ``consumer`` or ``b2b`` generator writes in ``out_dir``."""
    name = {"consumer": "pos_transactions.csv", "b2b": "invoice_lines.csv"}[profile]
    return {"transactions": Path(out_dir) / name}


def generate_client(profile: str, out_dir: str | Path, *, seed: int | None = None, n_accounts: int | None = None,
                    start: dt.date | None = None, end: dt.date | None = None,
                    programme_start: dt.date | None = None, n_orders: int | None = None,
                    file_format: str = "csv") -> dict[str, Path]:
    """Write the synthetic client of ``profile`` (one of :data:`PROFILES`) into ``out_dir``.

    Unset arguments take the profile's defaults (:data:`PROFILE_DEFAULTS`; the demo's are
    those of :func:`~kam_analysis.data.demo.generate_demo`). ``programme_start``,
    ``n_orders`` and ``file_format`` apply to the demo only: the other two clients have no
    programme and one CSV file.
    """
    given = {k: v for k, v in (("seed", seed), ("n_accounts", n_accounts), ("start", start), ("end", end))
             if v is not None}
    if profile == "demo":
        from .demo import DEMO_START, generate_demo

        # no programme start given: the demo's key accounts are in the programme from the first day
        prog = programme_start if programme_start is not None else given.get("start", DEMO_START)
        return generate_demo(out_dir, **given, programme_start=prog, n_orders=n_orders, file_format=file_format)
    if profile not in PROFILE_DEFAULTS:
        raise ValueError(f"unknown demo profile {profile!r}; choose one of {', '.join(PROFILES)}")
    kw = {**PROFILE_DEFAULTS[profile], **given}
    return (generate_consumer if profile == "consumer" else generate_b2b)(out_dir, **kw)


def _months(start: dt.date, end: dt.date) -> tuple[pd.PeriodIndex, np.ndarray, np.ndarray]:
    months = pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq="M")
    first = np.array([p.start_time.to_datetime64() for p in months], dtype="datetime64[D]")
    days = np.array([p.days_in_month for p in months])
    return months, first, days


def _lines(rng: np.random.Generator, n_orders: int, mean_extra: float, affinity: np.ndarray,
           owner: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split each order's value into 1 + Poisson(``mean_extra``) lines of a category each.

    Returns (order index of each line, category of each line, line amount)."""
    n_lines = 1 + rng.poisson(mean_extra, n_orders)
    order_of_line = np.repeat(np.arange(n_orders), n_lines)
    weight = rng.gamma(2.0, 1.0, len(order_of_line))
    share = weight / np.bincount(order_of_line, weights=weight, minlength=n_orders)[order_of_line]
    amount = np.round(value[order_of_line] * share, 2)
    cum = np.cumsum(affinity, axis=1)
    u = rng.random(len(order_of_line))
    cat = (u[:, None] > cum[owner[order_of_line]]).sum(axis=1).clip(0, affinity.shape[1] - 1)
    return order_of_line, cat, amount


def _repeat_some(rng: np.random.Generator, order_of_line: np.ndarray, share: float) -> np.ndarray:
    """Indices of lines to write twice: one line of about ``share`` of the orders (the same item
    bought twice, scanned as two identical lines)."""
    first_line = np.flatnonzero(np.r_[True, order_of_line[1:] != order_of_line[:-1]])
    return first_line[rng.random(len(first_line)) < share]


def generate_consumer(out_dir: str | Path, *, seed: int = 12, n_accounts: int = 26_000,
                      start: dt.date = dt.date(2024, 1, 1), end: dt.date = dt.date(2025, 6, 30)) -> dict[str, Path]:
    """Write the consumer retailer's one transactions file into ``out_dir`` (see the module doc).

    Columns: ``customer_no`` (a loyalty number), ``txn_date`` (``YYYYMMDD``), ``sales_usd``,
    ``product_line``, ``channel``. No order id, no margin.
    """
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    months, month_start, days_in = _months(start, end)
    n_m, n = len(months), int(n_accounts)

    # customers: a third existed before the extract starts, the rest are won over the period
    existing = rng.random(n) < 0.33
    acq_m = np.where(existing, 0, rng.integers(0, n_m, n))
    small_business = rng.random(n) < 0.01  # a few resellers and offices buying on a consumer card
    rate = rng.gamma(0.8, 0.22, n) * np.where(small_business, 4.0, 1.0)  # orders a month
    life = rng.geometric(0.07, n)  # months before the customer stops buying
    last_m = np.minimum(acq_m + life, n_m)
    aov = np.exp(rng.normal(np.log(32.0), 0.55, n)) * np.where(small_business, 6.0, 1.0)
    affinity = rng.dirichlet(np.array([1.0, 0.7, 0.5, 0.6, 0.8, 0.4]), n)
    online = rng.random(n) < 0.45

    m_idx = np.arange(n_m)
    alive = (m_idx[None, :] >= acq_m[:, None]) & (m_idx[None, :] < last_m[:, None])
    moy = np.array([p.month for p in months])
    season = np.select([moy == 12, moy == 11, np.isin(moy, [1, 2])], [1.6, 1.25, 0.8], 1.0)
    counts = rng.poisson(rate[:, None] * season[None, :] * alive)
    # a new customer is won by a purchase: at least one order in the month it was acquired
    won = ~existing
    counts[np.flatnonzero(won), acq_m[won]] = np.maximum(counts[np.flatnonzero(won), acq_m[won]], 1)
    acc = np.repeat(np.repeat(np.arange(n), n_m), counts.ravel())
    mon = np.repeat(np.tile(m_idx, n), counts.ravel())
    day = (rng.random(len(acc)) * days_in[mon]).astype(int)
    date = month_start[mon] + day.astype("timedelta64[D]")
    value = aov[acc] * np.exp(rng.normal(-0.1, 0.45, len(acc)))
    order_of_line, cat, amount = _lines(rng, len(acc), 0.7, affinity, acc, value)
    line_acc, line_date = acc[order_of_line], date[order_of_line]
    chan = np.where(online[line_acc] ^ (rng.random(len(line_acc)) < 0.15), "Online", "Store")
    twice = _repeat_some(rng, order_of_line, 0.006)

    # refunds: 3% of orders return one line 3-40 days later (dropped when after the extract)
    first_line = np.flatnonzero(np.r_[True, order_of_line[1:] != order_of_line[:-1]])
    ret = first_line[rng.random(len(first_line)) < 0.03]
    ret_date = line_date[ret] + rng.integers(3, 41, len(ret)).astype("timedelta64[D]")
    keep = ret_date <= np.datetime64(end, "D")
    ret, ret_date = ret[keep], ret_date[keep]

    frame = pd.DataFrame({
        "customer_no": np.concatenate([line_acc, line_acc[twice], line_acc[ret]]) + 40_000_001,
        "txn_date": np.concatenate([line_date, line_date[twice], ret_date]),
        "sales_usd": np.concatenate([amount, amount[twice], -amount[ret]]),
        "product_line": np.array(_CONSUMER_LINES)[np.concatenate([cat, cat[twice], cat[ret]])],
        "channel": np.concatenate([chan, chan[twice], chan[ret]]),
    })
    frame = frame[frame["sales_usd"] != 0]
    frame = frame.sort_values(["txn_date", "customer_no", "product_line", "sales_usd"], kind="stable")
    frame["txn_date"] = pd.to_datetime(frame["txn_date"]).dt.strftime("%Y%m%d")
    paths = profile_files("consumer", out)
    _write_csv(frame, paths["transactions"])
    return paths


def generate_b2b(out_dir: str | Path, *, seed: int = 21, n_accounts: int = 3_000,
                 start: dt.date = dt.date(2024, 4, 1), end: dt.date = dt.date(2025, 3, 31)) -> dict[str, Path]:
    """Write the trade wholesaler's one invoice-lines file into ``out_dir`` (see the module doc).

    Columns: ``Invoice Number`` (``INV`` or ``CN`` for a credit note), ``Invoice Date``
    (``dd/mm/yyyy``), ``Customer Account``, ``Customer Name``, ``Product Group``,
    ``Line Net (GBP)``. No margin.
    """
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    months, month_start, days_in = _months(start, end)
    n_m, n = len(months), int(n_accounts)

    # trade accounts: spend is heavily concentrated; big accounts invoice more often
    annual = np.exp(rng.normal(np.log(4_000.0), 1.35, n))
    invoices_a_month = np.clip(0.25 + annual / 12_000.0, 0.25, 22.0) * rng.gamma(4.0, 0.25, n)
    invoice_value = annual / 12.0 / invoices_a_month
    existing = rng.random(n) < 0.88
    acq_m = np.where(existing, 0, rng.integers(1, n_m, n))
    life = rng.geometric(0.015, n)
    last_m = np.minimum(acq_m + life, n_m)
    affinity = rng.dirichlet(np.array([1.2, 0.9, 0.6, 0.8, 0.7, 0.6]), n)

    m_idx = np.arange(n_m)
    alive = (m_idx[None, :] >= acq_m[:, None]) & (m_idx[None, :] < last_m[:, None])
    moy = np.array([p.month for p in months])
    season = np.select([moy == 12, np.isin(moy, [8])], [0.7, 0.85], 1.0)
    counts = rng.poisson(invoices_a_month[:, None] * season[None, :] * alive)
    acc = np.repeat(np.repeat(np.arange(n), n_m), counts.ravel())
    mon = np.repeat(np.tile(m_idx, n), counts.ravel())
    date = month_start[mon] + (rng.random(len(acc)) * days_in[mon]).astype(int).astype("timedelta64[D]")
    date = np.busday_offset(date, 0, roll="forward")  # invoices are raised on working days
    over = date > np.datetime64(end, "D")
    date[over] = np.busday_offset(np.datetime64(end, "D"), 0, roll="backward")
    value = invoice_value[acc] * np.exp(rng.normal(-0.08, 0.4, len(acc)))
    order = np.lexsort((acc, date))
    acc, date, value = acc[order], date[order], value[order]
    order_of_line, cat, amount = _lines(rng, len(acc), 2.5, affinity, acc, value)
    twice = _repeat_some(rng, order_of_line, 0.01)
    inv_no = np.array([f"INV{200001 + i}" for i in range(len(acc))])

    # credit notes: 4% of invoices credit part of one line 5-40 days later, under their own number
    first_line = np.flatnonzero(np.r_[True, order_of_line[1:] != order_of_line[:-1]])
    cred = first_line[rng.random(len(first_line)) < 0.04]
    cred_date = np.busday_offset(date[order_of_line[cred]] + rng.integers(5, 41, len(cred)).astype("timedelta64[D]"),
                                 0, roll="forward")
    keep = cred_date <= np.datetime64(end, "D")
    cred, cred_date = cred[keep], cred_date[keep]
    cred_amount = -np.round(amount[cred] * rng.uniform(0.2, 1.0, len(cred)), 2)

    names = np.array([" ".join(x for x in (a, b, s) if x) for a, b, s in
                      zip(rng.choice(_B2B_PREFIX, n), rng.choice(_B2B_TRADE, n), rng.choice(_B2B_SUFFIX, n))])
    line_acc = acc[order_of_line]
    all_acc = np.concatenate([line_acc, line_acc[twice], line_acc[cred]])
    frame = pd.DataFrame({
        "Invoice Number": np.concatenate([inv_no[order_of_line], inv_no[order_of_line[twice]],
                                          [f"CN{50001 + i}" for i in range(len(cred))]]),
        "Invoice Date": np.concatenate([date[order_of_line], date[order_of_line[twice]], cred_date]),
        "Customer Account": np.array([f"CAL{10001 + i:05d}" for i in range(n)])[all_acc],
        "Customer Name": names[all_acc],
        "Product Group": np.array(_B2B_GROUPS)[np.concatenate([cat, cat[twice], cat[cred]])],
        "Line Net (GBP)": np.concatenate([amount, amount[twice], cred_amount]),
    })
    frame = frame[frame["Line Net (GBP)"] != 0]
    frame = frame.sort_values(["Invoice Date", "Invoice Number"], kind="stable")
    frame["Invoice Date"] = pd.to_datetime(frame["Invoice Date"]).dt.strftime("%d/%m/%Y")
    paths = profile_files("b2b", out)
    _write_csv(frame, paths["transactions"])
    return paths


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.to_csv(tmp, index=False, encoding="utf-8", float_format="%.2f", lineterminator="\n")
    tmp.replace(path)
