"""A later snapshot of the demo client, with the execution of an earlier run's plan planted.

A KAM engagement comes back months after the plan (phase 5: monitoring and review) with a
fresh extract from the client and the account-plan actions file the client returned. For the
demo, :func:`generate_followup` makes both from a finished run of Maison Demo (the *plan
run*): its history is the plan run's own clean data, unchanged; six more months of orders
follow the as-of date; the plan run's committed key accounts (its ``segments`` table) and
action ids (its ``account_plan_actions`` table) decide what is planted.

Planted truths
--------------
The constants are :data:`FOLLOWUP_PLANTED`; which accounts and actions were picked is
written to ``planted.json`` beside the generated files, for tests only (the analysis never
reads it: no parameter names it).

``grown`` / ``declined`` / ``stable``
    Every committed key account that is not lost has its revenue over the 12 months to the
    new as-of date set to a multiple of its revenue over the 12 months to the plan's (the
    plan run's ``revenue_12m``): ``grown_revenue_factor`` for a few (grown clearly),
    ``declined_revenue_factor`` for one to three (declined), and a draw within
    ``stable_revenue_factor`` for the rest (stable). ``planted.json`` gives each one's ratio.
``lost``
    A few committed key accounts place no order after the plan's as-of date: at the new date
    they are no longer live (no order within ``analysis.churn_days``).
``migration``
    ``migration_share`` of the committed ``migration_from`` quadrant's live accounts (not key
    accounts; the most attractive first) buy ``migration_revenue_factor`` times their last
    12 months' revenue in the six months: they cross the attractiveness split into the
    ``migration_to`` quadrant.
``actions``
    The returned actions file: the plan's actions (and its recommendations, by their
    ``REC-`` ids) with the contract's columns ``action_id, status, status_date, comment``
    filled in beside the account, action, owner and due date. Every action of a grown account
    is done, a lost account's first is dropped and the others not started, the rest draw a
    status by ``action_status_shares``; a "not reported" row keeps an empty status, as a
    client who did not fill it in leaves it. The top three recommendations are done, in
    progress and not started; the others are not reported.
``coverage``
    The accounts file names the manager of the plan (the coverage plan's ``assigned_manager``)
    for the accounts the plan hands to another manager, except every third of those
    hand-overs, still pending: its old manager is still named.
``whitespace_converted``
    Each grown key account buys the plan's top one or two cross-sell (whitespace)
    categories for it in the six months (its first orders).
``new_accounts``
    New accounts are won at the pace of the 12 months before the plan, each buying like an
    account won then (from the month it is won; a digital-desk account, not in the plan).

Every other account carries on as in the last 12 months — its own order rate, order value,
category and channel mix and margin rate, with the demo's seasonality, market growth and
monthly churn — except that committed key accounts other than the lost ones do not stop
buying, so the lost key accounts are exactly the planted ones.

Deterministic: one ``numpy.random.Generator`` seeded from the plan run's demo seed, accounts
and actions in a stable order, so the same plan run always gives byte-identical files.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import ParameterError
from .demo import DEMO_COLUMNS, PLANTED, TRADE_SEGMENTS, _names, demo_files, season_factor
from .history import client_dir
from .planrun import ACTION_STATUSES, NOT_REPORTED

__all__ = ["FOLLOWUP_PLANTED", "followup_files", "generate_followup", "ensure_followup_data"]

FOLLOWUP_PLANTED: dict = {
    "months": 6,
    "grown_share": 0.15, "grown_min": 2, "grown_max": 8,
    "lost_share": 0.10, "lost_min": 2, "lost_max": 5,
    "declined_share": 0.08, "declined_min": 1, "declined_max": 3,
    "grown_revenue_factor": 1.6,
    "declined_revenue_factor": 0.7,
    "stable_revenue_factor": (0.96, 1.05),
    "migration_from": "low_attractiveness_high_strength",  # a key of segmentation.quadrant_names
    "migration_to": "high_attractiveness_high_strength",
    "migration_share": 0.5,
    "migration_revenue_factor": 3.0,
    "action_status_shares": {"done": 0.45, "in progress": 0.25, "not started": 0.10, "not reported": 0.20},
}


_COMMENTS = {
    "done": ["Agreed at the quarterly business review", "Done; follow-up meeting booked",
             "Completed with the client's buyer", "Done, confirmed by e-mail"],
    "in progress": ["First meeting held; proposal being prepared", "Proposal sent, waiting for the buyer",
                    "Started; next step at the summer review"],
    "not started": ["Not started: the buyer changed", "Postponed to next quarter", "No slot with the client yet"],
    "dropped": ["Dropped: the client stopped ordering", "Dropped: no contact since January"],
}


#: the file beside the snapshot naming the plan run it was made from (so a newer demo run makes it again)
MADE_FROM = ".made_from"


def followup_files(out_dir: str | Path) -> dict[str, Path]:
    """The paths :func:`generate_followup` writes in ``out_dir``: the demo's four files, the
    returned actions file (``actions``) and the planted truths (``planted``, for tests only)."""
    out = Path(out_dir)
    return {**demo_files(out), "actions": out / "returned_actions.csv", "planted": out / "planted.json"}


def ensure_followup_data(params) -> None:
    """Make the follow-up demo's files (``data.demo.follow_up_months``) when missing or made from another run.

    They are made from the plan run ``review.plan_run`` names (``latest``: the client's most
    recent successful run with an earlier as-of date), ``follow_up_months`` after its as-of
    date, into the folder of the transactions file; the params must name the generator's
    files there (as ``params/demo-review.yaml`` does). Files made from another plan run (the
    demo was run again since) are made again from this one.

    Raises
    ------
    ParameterError
        No plan run to make them from ("run make demo first"), the params name other files,
        or the snapshot would not end on ``analysis.as_of_date``.
    """
    from .planrun import check_plan_identity, resolve_plan_run

    months = params.data.demo.follow_up_months
    files = {k: Path(getattr(params.data, k).path) for k in ("transactions", "accounts", "surveys", "capability")
             if getattr(params.data, k) is not None}
    if "transactions" not in files:
        raise ParameterError("data.demo.follow_up_months writes the follow-up demo's files, but data.transactions "
                             "names no file; fix: give data.transactions.path, as params/demo-review.yaml does")
    actions = params.review.actions_file
    out_dir = files["transactions"].parent
    made = followup_files(out_dir)
    present = all(p.exists() for p in files.values()) and (actions is None or Path(actions).exists())
    runs = client_dir(params)
    as_of = params.analysis.as_of_date
    try:
        if params.review.plan_run is None or as_of is None:
            raise ParameterError("review.plan_run and analysis.as_of_date name the plan run and the end of the "
                                 "follow-up data; fix: set review.plan_run: latest and analysis.as_of_date")
        plan = resolve_plan_run(params.review.plan_run, client_dir=runs, client_name=params.client.name,
                                as_of=as_of)
        _, plan_params = check_plan_identity(plan, client_name=params.client.name, as_of=as_of)
    except ParameterError as exc:
        if present:  # the review's own checks say what is wrong with the plan run
            return
        why = str(exc).split("; fix:")[0]
        raise ParameterError(
            f"the follow-up demo's data ({out_dir}) is made from the demo's own run, and there is none to make it "
            f"from: {why}; fix: run make demo first (kam run params/demo.yaml), then make demo-review") from None
    stamp = out_dir / MADE_FROM
    if present and stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == str(Path(plan).resolve()):
        return
    named = {**{f"data.{k}.path": (p, made[k]) for k, p in files.items()},
             **({"review.actions_file": (Path(actions), made["actions"])} if actions is not None else {})}
    wrong = [f"{key} ({given.name}, expected {want.name})" for key, (given, want) in named.items()
             if Path(given).resolve() != want.resolve()]
    if wrong:
        if present:  # the client's own files under a follow-up demo spec: leave them alone
            return
        raise ParameterError(
            f"data.demo.follow_up_months writes the follow-up demo's files into {out_dir}, but the params name other "
            f"files: {'; '.join(wrong)}; fix: point them at "
            f"{', '.join(p.name for k, p in made.items() if k != 'planted')} in that folder, as "
            "params/demo-review.yaml does")
    plan_as_of = pd.Timestamp(plan_params["analysis"]["as_of_date"])
    end = (plan_as_of + pd.DateOffset(months=months)).date()
    if end != as_of:
        raise ParameterError(
            f"data.demo.follow_up_months ({months}) after the plan run's as-of date {plan_as_of.date()} ends the "
            f"follow-up data on {end}, but analysis.as_of_date is {as_of}; fix: set analysis.as_of_date: {end}, or "
            "follow_up_months to the months between the two dates")
    generate_followup(plan, out_dir, months=months)
    stamp.write_text(str(Path(plan).resolve()) + "\n", encoding="utf-8")


def _read_plan_run(plan_run: Path) -> dict:
    """The plan run's manifest, parameters, committed tables and clean data (contract names)."""
    plan_run = Path(plan_run)
    missing = [p for p in ("manifest.json", "params.json") if not (plan_run / p).is_file()]
    if missing:
        raise ParameterError(f"{plan_run} is not a finished run folder (no {', '.join(missing)}); fix: name a run "
                             "folder under outputs/<client>/, or run the plan first (make demo)")
    manifest = json.loads((plan_run / "manifest.json").read_text(encoding="utf-8"))
    params = json.loads((plan_run / "params.json").read_text(encoding="utf-8"))
    need = {"tables": ["segments", "account_plan_actions", "coverage_plan", "recommendations"],
            "data": ["transactions", "accounts", "surveys", "capability"]}
    absent = [f"{d}/{n}.parquet" for d, names in need.items() for n in names
              if not (plan_run / d / f"{n}.parquet").is_file()]
    if absent:
        raise ParameterError(f"the plan run {plan_run} lacks {', '.join(absent)}: the follow-up demo snapshot is "
                             "made from the demo's segments, account plans and clean data; fix: run the whole "
                             "demo engagement again (make demo)")
    out = {"manifest": manifest, "params": params}
    for d, names in need.items():
        for n in names:
            out[n] = pd.read_parquet(plan_run / d / f"{n}.parquet")
    ws = plan_run / "tables" / "whitespace.parquet"  # optional: the cross-sell the plan named
    out["whitespace"] = pd.read_parquet(ws, columns=["account_id", "category", "rank"]) if ws.is_file() else None
    if "action_id" not in out["account_plan_actions"]:
        raise ParameterError(f"the plan run {plan_run} has account-plan actions without an action_id (a run made "
                             "before actions had ids); fix: run the demo engagement again (make demo)")
    return out


def _pick(rng: np.random.Generator, ids: list[str], share: float, lo: int, hi: int,
          prefer: set[str] | None = None) -> list[str]:
    """A random ``share`` of ``ids`` (at least ``lo``, at most ``hi``); those in ``prefer`` first."""
    k = int(min(len(ids), max(lo, min(hi, round(share * len(ids))))))
    order = rng.permutation(np.array(ids, dtype=object)).tolist()
    if prefer:
        order = sorted(order, key=lambda a: a not in prefer)  # stable: random within each group
    return sorted(order[:k])


def _mix(lines: pd.DataFrame, col: str, options: list[str], accounts: pd.Index) -> np.ndarray:
    """Each account's share of lines per option (uniform for an account without lines)."""
    counts = pd.crosstab(lines["account_id"], lines[col]).reindex(index=accounts, columns=options, fill_value=0)
    m = counts.to_numpy(dtype=float) + 1e-9
    return m / m.sum(axis=1, keepdims=True)


def generate_followup(plan_run: str | Path, out_dir: str | Path, *, months: int | None = None,
                      seed: int | None = None) -> dict[str, Path]:
    """Write a later snapshot of the demo client, and its returned actions file, into ``out_dir``.

    Parameters
    ----------
    plan_run : path
        A finished run folder of the demo client (``outputs/maison-demo/<run-id>``): the plan
        whose execution is planted.
    out_dir : path
        Folder to write into (created): ``orders.csv``, ``customers.csv``, ``nps_survey.csv``,
        ``kam_capability.csv`` (the demo's columns, :data:`~kam_analysis.data.demo.DEMO_COLUMNS`),
        ``returned_actions.csv`` and ``planted.json`` (:func:`followup_files`).
    months : int, optional
        Months after the plan's as-of date the new snapshot ends (default 6).
    seed : int, optional
        Seed (default: derived from the plan run's demo seed).

    Raises
    ------
    ParameterError
        The folder is not a finished run, or lacks the tables or data the snapshot is made from.
    """
    P = FOLLOWUP_PLANTED
    months = int(months or P["months"])
    plan = _read_plan_run(Path(plan_run))
    params = plan["params"]
    demo_seed = ((params.get("data") or {}).get("demo") or {}).get("seed") or 42
    rng = np.random.default_rng([int(seed if seed is not None else demo_seed), 16])
    as_of = pd.Timestamp(params["analysis"]["as_of_date"])
    new_as_of = as_of + pd.DateOffset(months=months)
    churn_days = int(params["analysis"]["churn_days"])
    names = params["segmentation"]["quadrant_names"]

    tx = plan["transactions"].copy()
    tx["order_date"] = pd.to_datetime(tx["order_date"])
    acc = plan["accounts"].copy()
    ids = pd.Index(sorted(acc["account_id"].astype(str)), name="account_id")
    n = len(ids)
    pos = tx[tx["net_revenue"] > 0]
    orders = pos.groupby(["account_id", "order_id"], sort=True).agg(
        date=("order_date", "min"), value=("net_revenue", "sum"))
    orders = orders.reset_index()
    last_order = orders.groupby("account_id")["date"].max().reindex(ids)
    first_order = orders.groupby("account_id")["date"].min().reindex(ids)
    live = (last_order > as_of - pd.Timedelta(days=churn_days)).fillna(False).to_numpy()
    recent = orders[orders["date"] > as_of - pd.DateOffset(months=12)]
    n12 = recent.groupby("account_id").size().reindex(ids, fill_value=0).to_numpy(dtype=float)
    span = ((as_of - first_order).dt.days / 30.44).clip(1, 12).fillna(12).to_numpy()
    rate = n12 / span
    aov = recent.groupby("account_id")["value"].mean().reindex(ids)
    aov = aov.fillna(orders.groupby("account_id")["value"].mean().reindex(ids)).fillna(1.0).to_numpy()
    lines24 = pos[pos["order_date"] > as_of - pd.DateOffset(months=24)]
    cats = sorted(tx["category"].dropna().astype(str).unique())
    chans = sorted(tx["channel"].dropna().astype(str).unique())
    cat_mix, chan_mix = _mix(lines24, "category", cats, ids), _mix(lines24, "channel", chans, ids)
    by_acc = pos.groupby("account_id")[["net_revenue", "gross_margin"]].sum().reindex(ids)
    margin_rate = (by_acc["gross_margin"] / by_acc["net_revenue"]).clip(0, 0.9).fillna(0.45).to_numpy()
    h2 = tx[tx["order_date"] > as_of - pd.DateOffset(months=months)].groupby("account_id")["net_revenue"].sum()
    h2 = h2.reindex(ids, fill_value=0.0).to_numpy()

    # ---------------- what the plan committed, and what is planted on it
    seg = plan["segments"].assign(account_id=lambda d: d["account_id"].astype(str)).set_index("account_id")
    seg = seg.reindex(ids)
    pos_of = {a: i for i, a in enumerate(ids)}
    rev12_plan = seg["revenue_12m"].fillna(0.0).to_numpy()
    key_ids = [a for a in ids[seg["is_key"].fillna(False).to_numpy(dtype=bool)]]
    live_key = [a for a in key_ids if live[pos_of[a]]]
    lost = _pick(rng, live_key, P["lost_share"], P["lost_min"], P["lost_max"])
    # grown accounts are picked among those the plan named cross-sell for, when there are enough
    ws_named = set(plan["whitespace"]["account_id"].astype(str)) if plan["whitespace"] is not None else set()
    grown = _pick(rng, [a for a in live_key if a not in lost and rev12_plan[pos_of[a]] > 0],
                  P["grown_share"], P["grown_min"], P["grown_max"], prefer=ws_named)
    # a decline shows in the trailing 12 months only if the six months before the plan hold
    # less than the declined share of its revenue
    declined = _pick(rng, [a for a in live_key if a not in lost and a not in grown and rev12_plan[pos_of[a]] > 0
                           and h2[pos_of[a]] < 0.5 * rev12_plan[pos_of[a]]],
                     P["declined_share"], P["declined_min"], P["declined_max"])
    stable = [a for a in live_key if a not in lost and a not in grown and a not in declined]
    from_name, to_name = names[P["migration_from"]], names[P["migration_to"]]
    pool = seg[(seg["quadrant"] == from_name) & ~seg["is_key"].fillna(False).astype(bool)
               & pd.Series(live, index=ids) & (seg["revenue_12m"].fillna(0) > 0)]
    pool = pool.sort_values(["attractiveness"], ascending=False, kind="stable")
    movers = sorted(pool.index[:int(round(P["migration_share"] * (seg["quadrant"] == from_name).sum()))].tolist())

    is_lost, is_grown, is_mover = (np.isin(ids, x) for x in (lost, grown, movers))
    # every committed live key account's trailing-12-month revenue at the new date, as a multiple
    # of the plan's: grown, declined, or within a few percent (stable)
    ratio = np.full(n, np.nan)
    ratio[is_grown] = P["grown_revenue_factor"]
    ratio[np.isin(ids, declined)] = P["declined_revenue_factor"]
    steady = np.isin(ids, stable)
    ratio[steady] = rng.uniform(*P["stable_revenue_factor"], int(steady.sum()))
    protected = np.isin(ids, key_ids) | is_mover  # committed key accounts (and movers) do not churn
    nps = plan["surveys"].sort_values("survey_date", kind="stable").groupby("account_id")["nps"].last()
    detractor = (nps.reindex(ids) <= 6).fillna(False).to_numpy()
    start = as_of + pd.Timedelta(days=1)
    periods = pd.period_range(start, new_as_of, freq="M")
    n_m = len(periods)

    # ---------------- new accounts, won at the pace of the 12 months before the plan: each
    # buys like an account won in those months (its template) from the month it is won
    won = [pos_of[a] for a in first_order.index[(first_order > as_of - pd.DateOffset(months=12)).to_numpy()]]
    n_new = int(round(len(won) * months / 12)) if won else 0
    tpl = rng.choice(np.array(won, dtype=int), n_new) if n_new else np.zeros(0, dtype=int)
    digits = ids.str.extract(r"^([A-Za-z]*)(\d+)$")
    prefix = digits[0].dropna().iloc[0] if digits[1].notna().all() and len(ids) else "N"
    first_new = int(digits[1].astype("int64").max()) + 1 if digits[1].notna().all() and len(ids) else 1
    new_ids = np.array([f"{prefix}{first_new + i}" for i in range(n_new)], dtype=object)
    won_month = np.concatenate([np.zeros(n, dtype=int), rng.integers(0, n_m, n_new)])
    ext = (lambda a, fill=None: np.concatenate([a, a[tpl] if fill is None else np.full(n_new, fill, dtype=a.dtype)]))
    rate, aov, margin_rate = ext(rate), ext(aov), ext(margin_rate)
    cat_mix, chan_mix = np.vstack([cat_mix, cat_mix[tpl]]), np.vstack([chan_mix, chan_mix[tpl]])
    live, is_lost, is_mover, protected, detractor = (ext(a, False) for a in (live, is_lost, is_mover, protected,
                                                                                 detractor))
    live[n:] = True
    ratio, rev12_plan, h2 = ext(ratio, np.nan), ext(rev12_plan, 0.0), ext(h2, 0.0)
    all_ids = np.concatenate([ids.to_numpy(dtype=object), new_ids])
    n_old, n = n, n + n_new

    # ---------------- six more months of orders
    lo = np.array([max(p.start_time, start).to_datetime64() for p in periods], dtype="datetime64[D]")
    hi = np.array([min(p.end_time.normalize(), new_as_of).to_datetime64() for p in periods], dtype="datetime64[D]")
    ndays = (hi - lo).astype(int) + 1
    frac = ndays / np.array([p.days_in_month for p in periods])
    base = PLANTED["base_monthly_churn"]
    odds = base / (1 - base) * np.where(detractor, PLANTED["detractor_churn_odds_ratio"], 1.0)
    life = rng.geometric(odds / (1 + odds))  # months still buying (>= 1)
    life = np.where(protected, n_m, life)
    m_idx = np.arange(n_m)[None, :]
    alive = (live[:, None] & ~is_lost[:, None] & (m_idx >= won_month[:, None])
             & (m_idx < won_month[:, None] + life[:, None]))
    season = season_factor(np.array([p.month for p in periods])) * frac
    lam = rate[:, None] * season[None, :] * alive
    counts = rng.poisson(lam)
    # a new account is won by a purchase: at least one order in the month it is won
    counts[np.arange(n_old, n), won_month[n_old:]] = np.maximum(counts[np.arange(n_old, n), won_month[n_old:]], 1)
    # a planted account buys at least twice (spread over the months), so its revenue can be set
    boost = ~np.isnan(ratio) | is_mover
    short = boost & (counts.sum(axis=1) < 2)
    counts[short, 0] += 1
    counts[short, n_m // 2] += 1
    acc_of = np.repeat(np.repeat(np.arange(n), n_m), counts.ravel())
    mon_of = np.repeat(np.tile(np.arange(n_m), n), counts.ravel())
    k = len(acc_of)
    dates = lo[mon_of] + (rng.random(k) * ndays[mon_of]).astype(int).astype("timedelta64[D]")
    years = (mon_of + 0.5) / 12.0  # market growth continues from the as-of date
    value = aov[acc_of] * np.exp(rng.normal(-0.06, 0.35, k)) * (1 + PLANTED["market_growth"]) ** years
    # planted revenue: committed key accounts reach their ratio x the plan's 12 months over the
    # 12 months to the new date; movers buy migration_revenue_factor x their 12 months in the six
    target = np.maximum(ratio * rev12_plan - h2, 0.05 * rev12_plan)
    target[is_mover] = P["migration_revenue_factor"] * rev12_plan[is_mover]
    sums = np.bincount(acc_of, weights=value, minlength=n)
    scale = np.where(np.isnan(target), 1.0, target / np.where(sums > 0, sums, 1.0))
    value = value * scale[acc_of]
    cat = _choice(rng.random(k), cat_mix, acc_of)
    # grown accounts bought the cross-sell the plan named for them: their first orders of the six
    # months are in the plan's top whitespace categories (one order each, up to two)
    converted: dict[str, list[str]] = {}
    ws = plan["whitespace"]
    if ws is not None and k:
        ws = ws.assign(account_id=ws["account_id"].astype(str)).sort_values(["account_id", "rank"], kind="stable")
        first_orders = pd.Series(np.arange(k)).groupby(acc_of).apply(list)
        for a in grown:
            named = [c for c in ws.loc[ws["account_id"] == a, "category"].astype(str) if c in cats][:2]
            slots = first_orders.get(pos_of[a], [])
            if len(slots) > len(named) >= 1:  # keep at least one order in the account's own mix
                for slot, c in zip(slots, named):
                    cat[slot] = cats.index(c)
                converted[a] = named
    chan = _choice(rng.random(k), chan_mix, acc_of)
    mrate = margin_rate[acc_of] + rng.normal(0, 0.03, k)
    revenue = np.round(value, 2)
    if k:  # the planted totals to the cent: the rounding difference goes on each account's last order
        diff = np.where(np.isnan(target), 0.0, np.round(target - np.bincount(acc_of, weights=revenue, minlength=n), 2))
        last_idx = pd.Series(np.arange(k)).groupby(acc_of).max()
        revenue[last_idx.to_numpy()] += diff[last_idx.index.to_numpy()]
    margin = np.round(revenue * mrate, 2)
    sort = np.lexsort((acc_of, dates))
    acc_of, dates, revenue, margin, cat, chan = (a[sort] for a in (acc_of, dates, revenue, margin, cat, chan))
    # returns: 3% of ordinary orders (never on planted accounts, whose totals are the planted truth)
    ret = (rng.random(k) < 0.03) & ~boost[acc_of]
    r_share = rng.uniform(0.2, 1.0, int(ret.sum()))
    first_no = int(tx["order_id"].astype(str).str.extract(r"(\d+)$")[0].astype("int64").max()) + 1
    order_no = np.array([f"SO-{first_no + i}" for i in range(k)], dtype=object)
    new_lines = pd.DataFrame({
        "account_id": np.concatenate([all_ids[acc_of], all_ids[acc_of[ret]]]),
        "order_id": np.concatenate([order_no, order_no[ret]]),
        "order_date": np.concatenate([dates, dates[ret]]).astype("datetime64[ns]"),
        "net_revenue": np.concatenate([revenue, -np.round(revenue[ret] * r_share, 2)]),
        "gross_margin": np.concatenate([margin, -np.round(margin[ret] * r_share, 2)]),
        "category": np.array(cats, dtype=object)[np.concatenate([cat, cat[ret]])],
        "channel": np.array(chans, dtype=object)[np.concatenate([chan, chan[ret]])],
    })
    history = tx[["account_id", "order_id", "order_date", "net_revenue", "gross_margin", "category", "channel"]]
    all_lines = pd.concat([history, new_lines.sort_values(["order_date", "order_id"], kind="stable")],
                          ignore_index=True)

    # ---------------- the accounts file: the planned managers are in place
    cov = plan["coverage_plan"]
    cov = cov[cov["assigned_manager"].notna() & (cov["assigned_manager"].astype(str) != "")]
    planned = cov.set_index(cov["account_id"].astype(str))["assigned_manager"].astype(str)
    acc = acc.assign(account_id=acc["account_id"].astype(str)).set_index("account_id").reindex(ids)
    changed = planned[planned.index.isin(acc.index)]
    changed = changed[changed != acc.loc[changed.index, "account_manager"].astype(str)]
    # every third planned hand-over (the first of three) has not happened yet: the old manager is still named
    pending = changed.iloc[::3]
    changed = changed.drop(pending.index)
    acc.loc[changed.index, "account_manager"] = changed
    if n_new:  # the new accounts: a template's profile, a name, served by the digital desk until sized
        new_acc = acc.iloc[tpl].copy()
        new_acc.index = pd.Index(new_ids, name="account_id")
        trade = new_acc["segment"].astype(str).isin(TRADE_SEGMENTS).to_numpy()
        new_acc["account_name"] = _names(rng, trade)
        first_new_order = new_lines.groupby("account_id")["order_date"].min()
        new_acc["acquisition_date"] = first_new_order.reindex(new_acc.index).dt.date.to_numpy()
        new_acc["account_manager"] = "Digital desk"
        new_acc["key_account"] = False
        acc = pd.concat([acc, new_acc])

    # ---------------- the returned actions file
    returned, status_of = _returned_actions(rng, plan["account_plan_actions"], plan["recommendations"],
                                            as_of, new_as_of, grown, lost)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = followup_files(out)
    _write_demo_files(paths, all_lines, acc.reset_index(), plan["surveys"], plan["capability"])
    _write_csv(returned, paths["actions"])
    planted = {
        "note": "planted truths of the follow-up demo snapshot: read by tests only, never by the analysis",
        "client": plan["manifest"].get("client"), "plan_run": plan["manifest"].get("run_id"),
        "plan_as_of": as_of.date().isoformat(), "as_of": new_as_of.date().isoformat(), "months": months,
        "key_accounts": {"committed": len(key_ids), "grown": grown, "declined": declined, "stable": stable,
                         "lost": lost},
        "revenue_ratio": {a: round(float((h2[pos_of[a]] + target[pos_of[a]]) / rev12_plan[pos_of[a]]), 4)
                          for a in [*grown, *declined, *stable]},
        "migration": {"from": from_name, "to": to_name, "accounts": movers,
                      "segment_accounts": int((seg["quadrant"] == from_name).sum()),
                      "revenue_factor": P["migration_revenue_factor"]},
        "actions": {s: sorted(a for a, st in status_of.items() if st == s and not a.startswith("REC-"))
                    for s in (*ACTION_STATUSES, NOT_REPORTED)},
        "recommendations": {a: st for a, st in sorted(status_of.items()) if a.startswith("REC-")},
        "coverage_delivered": {a: m for a, m in sorted(changed.items())},
        "coverage_not_delivered": {a: m for a, m in sorted(pending.items())},
        "new_accounts": new_ids.tolist(),
        "whitespace_converted": converted,
    }
    paths["planted"].write_text(json.dumps(planted, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return paths


def _choice(u: np.ndarray, probs: np.ndarray, owner: np.ndarray) -> np.ndarray:
    cum = np.cumsum(probs, axis=1)
    return (u[:, None] > cum[owner]).sum(axis=1).clip(0, probs.shape[1] - 1)


_RETURNED_COLUMNS = ["action_id", "account_id", "account_name", "action", "owner", "due_date",
                     "status", "status_date", "comment"]


def _returned_actions(rng: np.random.Generator, actions: pd.DataFrame, recs: pd.DataFrame, as_of: pd.Timestamp,
                      new_as_of: pd.Timestamp, grown: list[str], lost: list[str]) -> tuple[pd.DataFrame, dict]:
    """The file the client returns (every committed action and recommendation, the status filled
    in where reported) and each id's planted status."""
    shares = FOLLOWUP_PLANTED["action_status_shares"]
    options, p = list(shares), np.array(list(shares.values()), dtype=float)
    rows, status_of = [], {}
    if "recommendation_id" not in recs:  # a plan run made before recommendations had ids
        recs = recs.iloc[0:0].assign(recommendation_id="")
    rec_rows = pd.DataFrame({
        "action_id": recs.get("recommendation_id", pd.Series(dtype=str)).astype(str),
        "account_id": "", "account_name": "", "action": recs["recommendation"].astype(str),
        "owner": recs["owner"] if "owner" in recs else "", "due_date": recs["due_date"] if "due_date" in recs else ""})
    items = pd.concat([actions.reindex(columns=_RETURNED_COLUMNS[:6]), rec_rows], ignore_index=True)
    n_act = len(actions)
    due = pd.to_datetime(items["due_date"], errors="coerce")
    draws = rng.choice(len(options), size=len(items), p=p / p.sum())
    days = rng.integers(0, 60, len(items))
    pick = rng.integers(0, 100, len(items))
    first_lost_action: set[str] = set()
    rec_status = ["done", "in progress", "not started"]
    for i, (aid, account) in enumerate(zip(items["action_id"].astype(str), items["account_id"].fillna("").astype(str))):
        if i >= n_act:  # a recommendation
            status = rec_status[i - n_act] if i - n_act < len(rec_status) else NOT_REPORTED
        elif account in grown:
            status = "done"
        elif account in lost:
            status = "not started" if account in first_lost_action else "dropped"
            first_lost_action.add(account)
        else:
            status = options[draws[i]]
        status_of[aid] = status
        base = {c: items.at[i, c] for c in _RETURNED_COLUMNS[:6]}
        base["due_date"] = due.iloc[i].date().isoformat() if pd.notna(due.iloc[i]) else ""
        if status == NOT_REPORTED:
            rows.append({**base, "status": "", "status_date": "", "comment": ""})
            continue
        d = due.iloc[i] if pd.notna(due.iloc[i]) else as_of + pd.Timedelta(days=45)
        if status == "done":
            when = d + pd.Timedelta(days=int(days[i] % 21) - 10)
        elif status == "in progress":
            when = new_as_of - pd.Timedelta(days=int(days[i] % 45))
        else:
            when = new_as_of - pd.Timedelta(days=int(days[i] % 20))
        when = min(max(when, as_of + pd.Timedelta(days=7)), new_as_of)
        comments = _COMMENTS[status]
        rows.append({**base, "status": status, "status_date": when.date().isoformat(),
                     "comment": comments[pick[i] % len(comments)]})
    return pd.DataFrame(rows, columns=_RETURNED_COLUMNS), status_of


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    tmp.replace(path)


def _write_demo_files(paths: dict[str, Path], lines: pd.DataFrame, accounts: pd.DataFrame,
                      surveys: pd.DataFrame, capability: pd.DataFrame) -> None:
    """The four files in the demo's client columns and formats (as :func:`~.demo.generate_demo` writes them)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    cols = DEMO_COLUMNS
    tx = lines.rename(columns=cols["transactions"])
    tx["Order Date"] = pd.to_datetime(tx["Order Date"]).dt.strftime("%d/%m/%Y")  # day-first, as the demo's
    tx = tx[list(cols["transactions"].values())]
    tmp = paths["transactions"].with_suffix(".csv.tmp")
    pacsv.write_csv(pa.Table.from_pandas(tx, preserve_index=False), tmp)
    tmp.replace(paths["transactions"])

    a = accounts.rename(columns=cols["accounts"])
    a["Customer Since"] = pd.to_datetime(a["Customer Since"]).dt.strftime("%Y-%m-%d")
    a["Strategic Rating (1-5)"] = a["Strategic Rating (1-5)"].round().astype("Int64")
    a["KAM Programme"] = np.where(a["KAM Programme"].astype(bool), "Y", "N")
    _write_csv(a[list(cols["accounts"].values())], paths["accounts"])

    s = surveys.rename(columns=cols["surveys"])
    s["Response Date"] = pd.to_datetime(s["Response Date"]).dt.strftime("%Y-%m-%d")
    for c in ("Likelihood to Recommend (0-10)", "Satisfaction (1-5)"):
        s[c] = s[c].round().astype("Int64")
    _write_csv(s[list(cols["surveys"].values())], paths["surveys"])
    c = capability.rename(columns=cols["capability"])
    _write_csv(c[list(cols["capability"].values())], paths["capability"])
