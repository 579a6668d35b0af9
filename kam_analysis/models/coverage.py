"""The coverage optimiser: which accounts get their playbook's hours, and which manager serves each.

Pure optimisation (``scipy.optimize.milp``), no I/O: a 0/1 knapsack for coverage, the
rule-of-thumb it is compared with, and a load-balanced assignment of covered accounts
to managers that keeps current relationships.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import ParameterError

__all__ = ["optimise_coverage", "compute_naive_coverage", "assign_managers"]


def optimise_coverage(accounts: pd.DataFrame, *, capacity: float, value_col: str = "value",
                      uplift_col: str = "expected_uplift", hours_col: str = "hours_per_account",
                      time_limit: float = 30.0, core_size: int = 2000) -> pd.Series:
    """Choose which accounts get their playbook's hours to maximise expected value.

    A 0/1 knapsack solved exactly with ``scipy.optimize.milp`` (HiGHS)::

        maximise   sum_i value_i * uplift_i * x_i
        subject to sum_i hours_i * x_i <= capacity,   x_i in {0, 1}

    Accounts whose playbook needs no hours (digital) are always covered. With more than
    ``core_size`` candidate accounts the problem is solved exactly on the ``core_size``
    accounts around the value-per-hour cut-off, accounts with a clearly better ratio
    fixed in and clearly worse ones out (the classic core method: optimal in practice
    when each account's hours are small against the capacity); if the solver finds no
    solution within ``time_limit`` seconds, greedy by value per hour is used. The method
    is in ``result.attrs["method"]``.

    Returns
    -------
    Series of bool
        ``covered`` per row of ``accounts``.

    Raises
    ------
    ParameterError
        Negative capacity or negative hours.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    if capacity is None or not np.isfinite(capacity) or capacity < 0:
        raise ParameterError(f"capacity = {capacity!r} hours; capacity must be zero or positive "
                             "(check strategy.managers / strategy.hours_per_manager)")
    hours = accounts[hours_col].to_numpy(dtype=float)
    if (hours < 0).any() or not np.isfinite(hours).all():
        raise ParameterError(f"{hours_col} has negative or missing values; every playbook needs hours >= 0")
    gain = (accounts[value_col].fillna(0).to_numpy(dtype=float).clip(min=0)
            * accounts[uplift_col].fillna(0).to_numpy(dtype=float).clip(min=0))
    covered = hours == 0
    idx = np.flatnonzero(~covered & (hours <= capacity) & (gain > 0))
    method = "exact (all candidates fit)"
    if len(idx) and hours[idx].sum() <= capacity:
        covered[idx] = True
    elif len(idx):
        # order by value per hour; beyond core_size candidates solve exactly on a "core" around the
        # greedy break point, with better-ratio accounts fixed in and worse ones fixed out
        order = idx[np.lexsort((-gain[idx], -gain[idx] / hours[idx]))]
        fixed_in = np.array([], dtype=int)
        core = order
        if len(order) > core_size:
            brk = int(np.searchsorted(np.cumsum(hours[order]), capacity, side="right"))
            lo, hi = max(0, brk - core_size // 2), min(len(order), brk + core_size // 2)
            fixed_in, core = order[:lo], order[lo:hi]
            method = f"exact on the {len(core):,} accounts around the value-per-hour cut-off (core knapsack)"
        else:
            method = "exact"
        cap_left = capacity - hours[fixed_in].sum()
        res = milp(c=-gain[core], integrality=np.ones(len(core)), bounds=Bounds(0, 1),
                   constraints=LinearConstraint(hours[core][None, :], -np.inf, cap_left),
                   options={"time_limit": time_limit, "mip_rel_gap": 1e-6})
        if res.x is not None:
            x = np.round(res.x).astype(bool)
        else:  # no solution in the time limit: greedy by value per hour (skip what does not fit)
            x = np.zeros(len(core), dtype=bool)
            left = cap_left
            for j in range(len(core)):
                if hours[core[j]] <= left:
                    x[j], left = True, left - hours[core[j]]
            method = "greedy by value per hour (the solver hit its time limit)"
        # enforce the budget exactly whatever the solver's tolerance
        while hours[core][x].sum() > cap_left + 1e-9:
            j = np.flatnonzero(x)[np.argmin(gain[core][x] / hours[core][x])]
            x[j] = False
        covered[fixed_in] = True
        covered[core[x]] = True
    out = pd.Series(covered, index=accounts.index, name="covered")
    out.attrs["method"] = method
    return out



def compute_naive_coverage(accounts: pd.DataFrame, *, capacity: float, rank_col: str = "revenue_12m",
                           hours_col: str = "hours_per_account") -> pd.Series:
    """The rule of thumb the optimiser is compared with: cover accounts in order of
    ``rank_col`` (largest first), skipping any that no longer fit, until capacity runs out."""
    hours = accounts[hours_col].to_numpy(dtype=float)
    covered = hours == 0
    left = float(capacity)
    for i in np.argsort(-accounts[rank_col].fillna(0).to_numpy(dtype=float), kind="stable"):
        if not covered[i] and hours[i] <= left:
            covered[i] = True
            left -= hours[i]
    return pd.Series(covered, index=accounts.index, name="covered")



def assign_managers(plan: pd.DataFrame, *, managers: dict[str, float], current_col: str = "account_manager",
                    hours_col: str = "hours_per_account", covered_col: str = "covered",
                    tolerance: float = 0.10, time_limit: float = 30.0) -> tuple[pd.Series, pd.DataFrame]:
    """Assign covered accounts to named managers: keep current relationships, balance load.

    A 0/1 assignment solved with ``scipy.optimize.milp``::

        maximise   sum_{i,m} keep_{i,m} x_{i,m}      (keep = 1 if m is i's current manager)
        subject to sum_m x_{i,m} = 1                  for every covered account needing hours
                   sum_i hours_i x_{i,m} <= cap_m     cap_m = hours_m * min(1, u + tolerance)

    where ``u`` is the team utilisation (hours allocated / hours available), so no
    manager is loaded more than ``tolerance`` points above the team average. If that is
    infeasible the tolerance is doubled until it fits (at most full capacity).

    Returns
    -------
    (Series, DataFrame)
        ``assigned_manager`` per row of ``plan`` (None for accounts needing no hours or
        not covered) and the load per manager: manager, capacity_hours, hours_assigned,
        utilisation, accounts, accounts_kept (already theirs).
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array, kron, eye

    names = list(managers)
    cap = np.array([managers[m] for m in names], dtype=float)
    assigned = pd.Series([None] * len(plan), index=plan.index, dtype=object, name="assigned_manager")
    need = plan[covered_col].to_numpy(bool) & (plan[hours_col].to_numpy(float) > 0)
    idx = np.flatnonzero(need)
    hours = plan[hours_col].to_numpy(float)[idx]
    current = (plan[current_col].astype(object).to_numpy()[idx] if current_col in plan
               else np.full(len(idx), None, dtype=object))
    n, k = len(idx), len(names)
    if n and k:
        keep = np.array([[1.0 if current[i] == m else 0.0 for m in names] for i in range(n)])
        util = hours.sum() / cap.sum() if cap.sum() else np.inf
        tol, x = tolerance, None
        for _ in range(8):
            mcap = cap * min(1.0, util + tol)
            a_one = kron(eye(n, format="csr"), csr_array(np.ones((1, k))))  # each account once
            a_cap = kron(csr_array(hours[None, :]), eye(k, format="csr"))  # per-manager hours
            res = milp(c=-(keep.ravel() + 1e-6), integrality=np.ones(n * k), bounds=Bounds(0, 1),
                       constraints=[LinearConstraint(a_one, 1, 1), LinearConstraint(a_cap, -np.inf, mcap)],
                       options={"time_limit": time_limit, "mip_rel_gap": 1e-4})
            if res.x is not None:
                x = np.round(res.x).reshape(n, k)
                break
            if util + tol >= 1:
                break
            tol = tol * 2 if tol > 0 else 0.05
        if x is None:  # fragmentation: fall back to greedy least-loaded (never above capacity)
            x = np.zeros((n, k))
            load = np.zeros(k)
            for i in np.argsort(-hours, kind="stable"):
                room = cap - load - hours[i]
                pref = [j for j in range(k) if keep[i, j] and room[j] >= 0]
                j = pref[0] if pref else (int(np.argmax(room)) if room.max() >= 0 else None)
                if j is not None:
                    x[i, j] = 1
                    load[j] += hours[i]
        who = np.where(x.sum(axis=1) > 0, x.argmax(axis=1), -1)
        assigned.iloc[idx] = [names[j] if j >= 0 else None for j in who]
    load = pd.DataFrame({"manager": pd.Series(names, dtype=object), "capacity_hours": cap})
    a = pd.DataFrame({"manager": pd.Series(assigned.iloc[idx].to_numpy(), dtype=object), "hours": hours,
                      "kept": [assigned.iloc[idx].iloc[i] == current[i] for i in range(n)]})
    g = a.dropna(subset=["manager"]).groupby("manager").agg(hours_assigned=("hours", "sum"),
                                                             accounts=("hours", "size"), accounts_kept=("kept", "sum"))
    load = load.merge(g, left_on="manager", right_index=True, how="left").fillna(
        {"hours_assigned": 0.0, "accounts": 0, "accounts_kept": 0})
    load["utilisation"] = np.where(load["capacity_hours"] > 0,
                                   load["hours_assigned"] / load["capacity_hours"].where(load["capacity_hours"] > 0), 0.0)
    load[["accounts", "accounts_kept"]] = load[["accounts", "accounts_kept"]].astype(int)
    return assigned, load[["manager", "capacity_hours", "hours_assigned", "utilisation", "accounts", "accounts_kept"]]
