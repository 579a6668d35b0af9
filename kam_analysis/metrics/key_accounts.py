"""Key accounts: the three sets the engagement talks about, defined once, and their counts.

* **Selected** - accounts the selection scoring picks (``segments.is_key``, phase 2);
* **In the programme** - accounts the client already manages as key accounts (the
  accounts data's ``key_account`` flag; :func:`in_programme`); a missing flag is "not in
  the programme";
* **Union** - selected or in the programme: the accounts a key-account programme would
  cover once the selection is adopted (the deck's "key accounts" when it talks about both).

:func:`compute_key_account_sets` gives the counts (and the overlap) a deliverable quotes, so
"200 selected, 160 in the programme" can always be reconciled on the page.

Who can be selected, and how many (docs/key_accounts.md): only **live** accounts
(:func:`kam_analysis.metrics.capability.lifecycle_status`); only accounts whose value **can carry** a dedicated manager's
hours (:func:`value_per_hour_floor`); and no more than the client's managers can serve
(:func:`compute_key_account_sizing`, which also gives every account its coverage tier:
key, growth, core or inactive).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["in_programme", "compute_key_account_sets", "value_per_hour_floor", "compute_key_account_sizing", "TIERS",
           "programme_by_tier"]

_TRUE_TEXT = frozenset({"Y", "YES", "TRUE", "1", "T", "X"})


def in_programme(accounts: pd.DataFrame, *, flag_col: str = "key_account",
                 account_col: str = "account_id") -> pd.Series:
    """Whether each account is in the client's key-account programme, indexed by account id.

    A boolean flag is taken as it is; text and numbers are read as yes when they are one
    of ``Y, YES, TRUE, T, X, 1`` (any case); a missing flag is not in the programme. Without
    a ``flag_col`` column every account is outside (the caller says "no programme flag").
    """
    ids = accounts[account_col].astype(str)
    if flag_col not in accounts:
        return pd.Series(False, index=pd.Index(ids, name=account_col), name="in_programme")
    f = accounts[flag_col]
    if f.dtype == bool or str(f.dtype) == "boolean":
        flag = f.fillna(False).astype(bool)
    else:
        flag = f.map(lambda v: False if pd.isna(v) else str(v).strip().upper().removesuffix(".0") in _TRUE_TEXT)
    return pd.Series(flag.to_numpy(dtype=bool), index=pd.Index(ids, name=account_col), name="in_programme")


def compute_key_account_sets(segments: pd.DataFrame, accounts: pd.DataFrame | None = None, *,
                             selected_col: str = "is_key", flag_col: str = "key_account",
                             account_col: str = "account_id") -> dict:
    """Counts of the three key-account sets and their overlap.

    Parameters
    ----------
    segments : DataFrame
        The ``segments`` table (``account_id``, ``is_key``).
    accounts : DataFrame, optional
        The accounts data with the programme flag; None or without ``flag_col``: the
        programme counts are None (not zero: the data does not say).

    Returns
    -------
    dict
        ``selected`` (by the scoring), ``in_programme`` (client's flag), ``both``,
        ``selected_only`` (new to the programme), ``programme_only`` (in the programme, not
        selected), ``union`` (selected or in the programme), ``accounts`` (all accounts),
        ``has_programme_flag``.
    """
    sel = pd.Series(segments[selected_col].fillna(False).astype(bool).to_numpy(),
                    index=segments[account_col].astype(str))
    out = {"accounts": int(len(sel)), "selected": int(sel.sum()), "has_programme_flag": False,
           "in_programme": None, "both": None, "selected_only": None, "programme_only": None, "union": None}
    if accounts is None or flag_col not in accounts or accounts[flag_col].isna().all():
        return out
    prog = in_programme(accounts, flag_col=flag_col, account_col=account_col)
    prog = prog[~prog.index.duplicated()].reindex(sel.index.union(prog.index), fill_value=False)
    sel = sel.reindex(prog.index, fill_value=False)
    out.update(has_programme_flag=True, accounts=int(len(prog)), in_programme=int(prog.sum()),
               both=int((sel & prog).sum()), selected_only=int((sel & ~prog).sum()),
               programme_only=int((~sel & prog).sum()), union=int((sel | prog).sum()))
    return out


# --------------------------------------------------------------------------- live accounts, sizing, tiers
#: coverage tiers, richest service first (:func:`compute_key_account_sizing`); the names shown to
#: the client come from ``segmentation.key_accounts.tier_names``
TIERS = ("key", "growth", "core", "inactive")


def programme_by_tier(segments: pd.DataFrame) -> dict | None:
    """Where the client's current programme lands in the coverage tiers the data supports.

    ``segments``: the ``segments`` table (``currently_key``: the client's programme flag;
    ``coverage_tier_key``: :data:`TIERS`; ``is_key``). Returns ``programme`` (accounts in the
    client's programme), ``by_tier`` (tier -> programme accounts in it, every tier of
    :data:`TIERS`) and ``new_key`` (key accounts outside the programme today); None when the
    data has no programme flag or nobody is in the programme.
    """
    if not {"currently_key", "coverage_tier_key"} <= set(segments.columns):
        return None
    prog = segments["currently_key"].fillna(False).astype(bool)
    if not prog.any():
        return None
    tiers = segments.loc[prog, "coverage_tier_key"].astype(str).value_counts()
    key = segments["is_key"].fillna(False).astype(bool) if "is_key" in segments else \
        segments["coverage_tier_key"].astype(str).eq("key")
    return {"programme": int(prog.sum()), "by_tier": {t: int(tiers.get(t, 0)) for t in TIERS},
            "new_key": int((key & ~prog).sum())}


def value_per_hour_floor(live_revenue: float, *, key_hours: float, min_revenue_share: float,
                         cost_per_hour: float | None = None, max_cost_share: float = 0.10,
                         assumed_cost_per_hour: float | None = None) -> tuple[float, str]:
    """The revenue an account must bring a year for each account-manager hour it gets.

    An account **can carry** ``h`` hours of account-manager time a year when its
    last-12-month revenue is at least ``h x floor``:

    * with the client's cost per hour (``strategy.cost_per_hour`` > 0):
      ``cost_per_hour / max_cost_share`` - the manager's time may cost at most
      ``max_cost_share`` of the account's revenue;
    * otherwise the stricter of ``min_revenue_share x live_revenue / key_hours`` (a dedicated
      manager's ``key_hours`` need an account with at least ``min_revenue_share`` of the
      live base's revenue: the client's own concentration decides how many reach it) and,
      with ``assumed_cost_per_hour`` (the business case's documented assumption),
      ``assumed_cost_per_hour / max_cost_share`` - so a small base whose few customers are
      each a visible share of its revenue does not promise a manager to a small account.

    Returns ``(floor, basis)``, ``basis`` a sentence for the method notes. ``floor`` is
    infinite when the live base has no revenue (no account can carry any hours).
    """
    if cost_per_hour and cost_per_hour > 0:
        return (float(cost_per_hour) / max_cost_share,
                f"manager time may cost at most {max_cost_share:.0%} of an account's revenue "
                f"(cost per hour {cost_per_hour:,.2f})")
    if not live_revenue or live_revenue <= 0 or not key_hours or key_hours <= 0:
        return float("inf"), "no revenue from live accounts: no account can carry manager time"
    share = min_revenue_share * float(live_revenue) / float(key_hours)
    basis = (f"a dedicated manager ({key_hours:,.0f} h a year) needs an account with at least "
             f"{min_revenue_share:.1%} of the live accounts' revenue")
    if assumed_cost_per_hour and assumed_cost_per_hour / max_cost_share > share:
        return (float(assumed_cost_per_hour) / max_cost_share,
                f"manager time may cost at most {max_cost_share:.0%} of an account's revenue at an assumed "
                f"{assumed_cost_per_hour:,.0f} per hour (no cost per hour given; stricter here than {basis[2:]})")
    return share, basis


def compute_key_account_sizing(accounts: pd.DataFrame, *, key_hours: float, growth_hours: float,
                               floor: float, capacity_hours: float | None, hours_per_manager: float,
                               managers: int | None = None, max_share: float | None = None,
                               account_col: str = "account_id", value_col: str = "revenue_12m",
                               live_col: str = "live", score_col: str = "selection_score"
                               ) -> tuple[pd.DataFrame, dict]:
    """How many key accounts value and capacity support, which they are, and every account's tier.

    The rule (docs/key_accounts.md)
    -------------------------------
    * **warranted** - live accounts whose value can carry a dedicated manager:
      ``value >= key_hours x floor`` (:func:`value_per_hour_floor`);
    * **capacity** - key accounts the client's managers can serve:
      ``floor(capacity_hours / key_hours)``; None when the capacity is unknown (then it
      does not limit the list, and the headcount it needs is reported instead);
    * **selected** (``is_key``) - the ``min(warranted, capacity)`` warranted accounts
      with the best selection score (ties by account id), and no more than ``max_share``
      of the live accounts when a share is set (``segmentation.key_account_share``);
    * **capacity gap** - ``warranted - capacity`` when the capacity binds;
    * tiers: ``key`` = selected; ``growth`` = other live accounts whose value can carry
      ``growth_hours`` (a pooled team; warranted accounts beyond capacity land here);
      ``core`` = other live accounts (digital and inside sales, no manager hours);
      ``inactive`` = accounts that are not live.

    Parameters
    ----------
    accounts : DataFrame
        ``account_id``, ``revenue_12m``, ``live`` (bool) and ``selection_score`` (NaN for
        accounts that are not live).

    Returns
    -------
    (DataFrame, dict)
        Per account ``account_id, warrants_key, is_key, coverage_tier`` (a :data:`TIERS`
        key); and the sizing: live_accounts, inactive_accounts, live_revenue, floor,
        key_floor (value a key account needs), growth_floor, warranted, capacity_accounts
        (None: unknown), selected, capacity_gap, managers, managers_needed (for every
        warranted account), capacity_binds.
    """
    a = accounts[[account_col, value_col, live_col, score_col]].copy()
    live = a[live_col].fillna(False).astype(bool)
    value = a[value_col].astype(float).fillna(0.0)
    key_floor = key_hours * floor
    growth_floor = growth_hours * floor if growth_hours > 0 else float("inf")
    warrants = live & (value >= key_floor) & (value > 0)
    cap = None if capacity_hours is None else int(capacity_hours // key_hours) if key_hours > 0 else 0
    n_w = int(warrants.sum())
    served = n_w if cap is None else min(n_w, cap)
    limit = served if max_share is None else min(served, int(max_share * live.sum()))
    order = (a[warrants].assign(_s=a.loc[warrants, score_col].astype(float).fillna(-1.0))
             .sort_values(["_s", account_col], ascending=[False, True], kind="stable"))
    chosen = set(order.head(limit)[account_col])
    is_key = a[account_col].isin(chosen).to_numpy()
    tier = np.where(~live, "inactive", np.where(is_key, "key", np.where(value >= growth_floor, "growth", "core")))
    per = pd.DataFrame({account_col: a[account_col].to_numpy(), "warrants_key": warrants.to_numpy(),
                        "is_key": is_key, "coverage_tier": tier})
    needed = int(np.ceil(n_w * key_hours / hours_per_manager - 1e-9)) if hours_per_manager > 0 else None
    sizing = {"live_accounts": int(live.sum()), "inactive_accounts": int((~live).sum()),
              "live_revenue": float(value[live].clip(lower=0).sum()), "floor": float(floor),
              "key_floor": float(key_floor), "growth_floor": float(growth_floor), "warranted": n_w,
              "capacity_accounts": cap, "selected": int(len(chosen)), "capacity_gap": int(n_w - served),
              "managers": managers, "managers_needed": needed,
              "capacity_binds": bool(cap is not None and n_w > cap)}
    return per, sizing
