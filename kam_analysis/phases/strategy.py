"""Strategy and operational planning (phases 3-4).

From the segmentation to a plan the client can run: the playbook each portfolio
quadrant gets, who covers which account with how many hours (an optimisation), what to
sell to whom (cross-sell whitespace), what reaching the targets is worth (scenarios and
a tornado), an account plan for each top key account and the operating calendar phase 5
monitors against. The churn-risk model lives in :mod:`kam_analysis.models.churn`.

Everything configurable (playbooks, hours, uplifts, default levers, actions, the
operating rhythm) comes from ``templates/playbooks.yaml`` and ``params.strategy``.
"""
from __future__ import annotations

import copy
import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ParameterError

__all__ = [
    "PLAYBOOK_FIELDS",
    "LEVERS",
    "load_playbooks",
    "compute_segment_playbook",
    "compute_account_value",
    "resolve_capacity",
    "optimise_coverage",
    "compute_naive_coverage",
    "assign_managers",
    "compute_coverage_plan",
    "compute_whitespace",
    "compute_category_penetration",
    "compute_segment_baseline",
    "resolve_segment_targets",
    "compute_lever_impact",
    "compute_impact_scenarios",
    "compute_sensitivity",
    "build_account_plans",
    "build_kpi_ownership",
    "build_operating_calendar",
    "format_metrics",
    "build_strategy_headlines",
]

PLAYBOOK_FIELDS = ("objective", "engagement_model", "service_level", "contact_cadence", "investment_level",
                   "kpi_focus", "raci", "hours_per_account", "expected_uplift", "targets", "actions")
_REQUIRED_FIELDS = ("objective", "engagement_model", "contact_cadence", "investment_level", "expected_uplift")
LEVERS = ("retention_pts", "aov_growth", "frequency_growth", "cross_sell_capture")
_LEVER_LABELS = {"retention_pts": "Retention (+points)", "aov_growth": "Average order value (+%)",
                 "frequency_growth": "Order frequency (+%)", "cross_sell_capture": "Cross-sell capture (% of whitespace)"}


def _fmt_list(values, n: int = 5) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:n])
    return shown + (f" (and {len(values) - n} more)" if len(values) > n else "")


# =========================================================================== playbooks
def load_playbooks(path: str | Path, *, segments: list[str] | None = None,
                   overrides: dict[str, dict[str, Any]] | None = None,
                   engagement_hours: dict[str, float] | None = None) -> dict:
    """Read and validate the playbooks file, applying the client's overrides.

    Parameters
    ----------
    path : path
        ``templates/playbooks.yaml`` or the client's copy (``strategy.playbooks``).
    segments : list of str, optional
        The portfolio quadrant names (``segmentation.quadrant_names.ordered()``). Every
        playbook must be for one of them and every one of them must have a playbook.
    overrides : dict, optional
        ``segment -> {field: value}`` (``strategy.playbook_overrides``); replaces entries.
    engagement_hours : dict, optional
        ``engagement model -> hours per account per year`` (``strategy.engagement_hours``).

    Returns
    -------
    dict
        The file's content with ``playbooks`` resolved: overrides applied and
        ``hours_per_account`` filled from the engagement model where a playbook has none.

    Raises
    ------
    ParameterError
        Missing/unreadable file, a playbook for a segment that does not exist, a segment
        without a playbook, an unknown field or engagement model, or a value out of range.
    """
    from ..config import read_yaml_mapping

    path = Path(path)
    data = read_yaml_mapping(path, what="playbooks file", setting="strategy.playbooks")
    if not isinstance(data, dict) or not isinstance(data.get("playbooks"), dict) or not data["playbooks"]:
        raise ParameterError(f"playbooks file {path} must have a top-level 'playbooks:' mapping of segment -> fields")
    data = copy.deepcopy(data)
    books: dict[str, dict] = {str(k): dict(v or {}) for k, v in data["playbooks"].items()}
    models: dict[str, dict] = {str(k): dict(v or {}) for k, v in (data.get("engagement_models") or {}).items()}
    if not models:
        raise ParameterError(f"playbooks file {path} has no 'engagement_models:' section; fix: add one with "
                             "hours_per_account for each model (see templates/playbooks.yaml)")
    for model, hours in (engagement_hours or {}).items():
        if model not in models:
            raise ParameterError(f"strategy.engagement_hours names engagement model {model!r}, which is not in "
                                 f"{path} (models: {', '.join(models)}); fix: use one of those names")
        if hours is None or not hours >= 0:
            raise ParameterError(f"strategy.engagement_hours[{model!r}] = {hours!r}; hours must be >= 0")
        models[model]["hours_per_account"] = float(hours)
    for seg, fields in (overrides or {}).items():
        if seg not in books:
            raise ParameterError(
                f"strategy.playbook_overrides has a playbook for segment {seg!r}, which does not exist "
                f"(playbooks in {path.name}: {', '.join(books)}); fix: use one of those segment names")
        unknown = [f for f in fields if f not in PLAYBOOK_FIELDS]
        if unknown:
            raise ParameterError(f"strategy.playbook_overrides[{seg!r}] has unknown field(s) {_fmt_list(unknown)}; "
                                 f"valid fields: {', '.join(PLAYBOOK_FIELDS)}")
        books[seg].update(copy.deepcopy(fields))
    if segments is not None:
        extra = [s for s in books if s not in segments]
        if extra:
            raise ParameterError(
                f"{path.name} has a playbook for segment(s) {_fmt_list(extra)} that do not exist in the portfolio "
                f"matrix (segments: {', '.join(segments)}); fix: rename the playbook(s) to the quadrant names or "
                "change segmentation.quadrant_names")
        missing = [s for s in segments if s not in books]
        if missing:
            raise ParameterError(f"segment(s) {_fmt_list(missing)} have no playbook in {path.name}; fix: add a "
                                 "playbook for each quadrant (copy one of the existing entries)")
    for seg, pb in books.items():
        where = f"playbook {seg!r} ({path.name})"
        unknown = [f for f in pb if f not in PLAYBOOK_FIELDS]
        if unknown:
            raise ParameterError(f"{where} has unknown field(s) {_fmt_list(unknown)}; valid: {', '.join(PLAYBOOK_FIELDS)}")
        miss = [f for f in _REQUIRED_FIELDS if f not in pb]
        if miss:
            raise ParameterError(f"{where} is missing {', '.join(miss)}; fix: add the field(s)")
        if pb["engagement_model"] not in models:
            raise ParameterError(f"{where} uses engagement model {pb['engagement_model']!r}, which is not in "
                                 f"engagement_models ({', '.join(models)}); fix: use one of those")
        if pb.get("hours_per_account") is None or pb["engagement_model"] in (engagement_hours or {}):
            pb["hours_per_account"] = float(models[pb["engagement_model"]].get("hours_per_account", 0.0))
        for f, lo, hi in (("hours_per_account", 0, 2000), ("expected_uplift", 0, 1)):
            v = pb[f]
            if not isinstance(v, (int, float)) or not lo <= v <= hi:
                raise ParameterError(f"{where}: {f} = {v!r} must be a number between {lo} and {hi}")
        for lever, v in (pb.get("targets") or {}).items():
            if lever not in LEVERS:
                raise ParameterError(f"{where}: unknown target lever {lever!r}; valid: {', '.join(LEVERS)}")
            if not isinstance(v, (int, float)) or not -1 <= v <= 1:
                raise ParameterError(f"{where}: targets.{lever} = {v!r} must be a share between -1 and 1")
    data["playbooks"] = books
    data["engagement_models"] = models
    return data


def _playbook_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v).replace("_", " ") for v in value)
    return "" if value is None else str(value)


def compute_segment_playbook(segments: pd.DataFrame, account_summary: pd.DataFrame, playbooks: dict, *,
                             segment_col: str = "quadrant", account_col: str = "account_id",
                             revenue_col: str = "revenue_12m", order: list[str] | None = None) -> pd.DataFrame:
    """One row per segment: its size and the playbook that applies.

    Columns: segment, accounts, key_accounts, revenue_12m, revenue_share, objective,
    engagement_model (readable label), engagement_model_key, service_level, contact_cadence, investment_level,
    kpi_focus, responsible, accountable, consulted, informed, hours_per_account,
    hours_needed (= accounts x hours_per_account), expected_uplift.

    ``playbooks`` is the dict :func:`load_playbooks` returns. A segment in the data
    without a playbook raises :class:`ParameterError`.
    """
    books, models = playbooks["playbooks"], playbooks["engagement_models"]
    df = segments[[account_col, segment_col] + (["is_key"] if "is_key" in segments else [])].merge(
        account_summary[[account_col, revenue_col]], on=account_col, how="left")
    df[segment_col] = df[segment_col].astype(str)
    missing = sorted(set(df[segment_col]) - set(books))
    if missing:
        raise ParameterError(f"segment(s) {_fmt_list(missing)} in the segments table have no playbook "
                             f"(playbooks: {', '.join(books)}); fix: add them to the playbooks file")
    g = df.groupby(segment_col).agg(accounts=(account_col, "size"), revenue_12m=(revenue_col, "sum"))
    g["key_accounts"] = df.groupby(segment_col)["is_key"].sum().astype(int) if "is_key" in df else 0
    order = [s for s in (order or list(books)) if s in books]
    g = g.reindex(order).fillna({"accounts": 0, "revenue_12m": 0.0, "key_accounts": 0})
    total = g["revenue_12m"].sum()
    g["revenue_share"] = g["revenue_12m"] / total if total else np.nan
    rows = []
    for seg in g.index:
        pb = books[seg]
        raci = pb.get("raci") or {}
        rows.append({
            "objective": pb["objective"],
            "engagement_model": models[pb["engagement_model"]].get("label", pb["engagement_model"]),
            "engagement_model_key": pb["engagement_model"],
            "service_level": _playbook_text(pb.get("service_level")),
            "contact_cadence": _playbook_text(pb["contact_cadence"]),
            "investment_level": _playbook_text(pb["investment_level"]),
            "kpi_focus": _playbook_text(pb.get("kpi_focus")),
            **{r: _playbook_text(raci.get(r)) for r in ("responsible", "accountable", "consulted", "informed")},
            "hours_per_account": float(pb["hours_per_account"]), "expected_uplift": float(pb["expected_uplift"]),
        })
    out = pd.concat([g.reset_index(names="segment"), pd.DataFrame(rows)], axis=1)
    out["accounts"] = out["accounts"].astype(int)
    out["key_accounts"] = out["key_accounts"].astype(int)
    out["hours_needed"] = out["accounts"] * out["hours_per_account"]
    cols = ["segment", "accounts", "key_accounts", "revenue_12m", "revenue_share", "objective", "engagement_model",
            "engagement_model_key", "service_level", "contact_cadence", "investment_level", "kpi_focus", "responsible",
            "accountable", "consulted", "informed", "hours_per_account", "hours_needed", "expected_uplift"]
    return out[cols]


# =========================================================================== coverage
def compute_account_value(segments: pd.DataFrame, account_summary: pd.DataFrame, *, account_col: str = "account_id",
                          clv_col: str = "clv", revenue_col: str = "revenue_12m") -> tuple[pd.DataFrame, str]:
    """The value each account is worth to the plan, and a sentence saying which basis.

    ``value`` = the predicted customer lifetime value (``segments.clv``) where phase 2
    wrote one; accounts without a CLV (and every account when the column is absent) use
    their last-12-month revenue instead, and the note says so.

    Returns
    -------
    (DataFrame, str)
        ``account_id, value, value_basis`` and the note.
    """
    df = segments[[account_col]].merge(account_summary[[account_col, revenue_col]], on=account_col, how="left")
    hist = df[revenue_col].fillna(0.0).clip(lower=0)
    if clv_col in segments.columns and segments[clv_col].notna().any():
        clv = segments.set_index(account_col)[clv_col].reindex(df[account_col]).to_numpy(dtype=float)
        has = np.isfinite(clv)
        value = np.where(has, np.clip(clv, 0, None), hist)
        basis = np.where(has, "clv", "revenue_12m")
        n_fb = int((~has).sum())
        note = ("Value = predicted customer lifetime value (CLV) from the segmentation"
                + (f"; {n_fb:,} account(s) without a CLV use last-12-month revenue." if n_fb else "."))
    else:
        value, basis = hist.to_numpy(), np.full(len(df), "revenue_12m", dtype=object)
        note = ("Value = last-12-month revenue: the segments table has no CLV column, so historical value "
                "stands in for lifetime value.")
    return pd.DataFrame({account_col: df[account_col], "value": value, "value_basis": basis}), note


def resolve_capacity(accounts: pd.DataFrame | None, *, managers: dict[str, float] | None = None,
                     hours_per_manager: float = 1200.0, headcount: int | None = None,
                     non_manager_labels: list[str] = (), manager_col: str = "account_manager"
                     ) -> tuple[dict[str, float], str]:
    """Account managers available and their annual hours.

    In order: ``strategy.managers`` from the params; else the named managers in the
    accounts table (``account_manager``, ignoring ``non_manager_labels`` such as
    "Digital desk"), each with ``hours_per_manager``; else ``headcount`` anonymous
    managers ("Manager 1", ...).

    With none of these, no capacity is known: an empty dict (zero hours) and a note
    saying so — the plan then reports what full coverage would need.

    Raises
    ------
    ParameterError
        Negative hours.
    """
    if hours_per_manager is None or not hours_per_manager > 0:
        raise ParameterError(f"strategy.hours_per_manager = {hours_per_manager!r}; it must be a positive number "
                             "of hours per year")
    if managers:
        bad = {k: v for k, v in managers.items() if v is None or not v >= 0}
        if bad:
            raise ParameterError(f"strategy.managers has negative or missing capacity {bad}; fix: give each manager "
                                 "a number of hours per year >= 0")
        return {str(k): float(v) for k, v in managers.items()}, "strategy.managers in the params"
    skip = {s.strip().lower() for s in non_manager_labels}
    if accounts is not None and manager_col in accounts:
        names = accounts[manager_col].dropna().astype(str).str.strip()
        names = sorted({n for n in names if n and n.lower() not in skip})
        if names:
            return ({n: float(hours_per_manager) for n in names},
                    f"{len(names)} named managers in the accounts table x {hours_per_manager:,.0f} h")
    if headcount is not None:
        if headcount < 0:
            raise ParameterError(f"strategy.headcount = {headcount}; it must be >= 0")
        return ({f"Manager {i + 1}": float(hours_per_manager) for i in range(headcount)},
                f"strategy.headcount = {headcount} x {hours_per_manager:,.0f} h")
    # Nothing says who is available: plan with zero capacity rather than invent a team. The
    # coverage tables then show the hours and headcount full coverage needs.
    return {}, ("no account-manager capacity known: the accounts table names no managers and the params set "
                "neither strategy.managers nor strategy.headcount (set one to plan with a team)")


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


def compute_coverage_plan(segments: pd.DataFrame, account_summary: pd.DataFrame, playbooks: dict, *,
                          managers: dict[str, float], segment_col: str = "quadrant", account_col: str = "account_id",
                          tolerance: float = 0.10, order: list[str] | None = None) -> dict[str, Any]:
    """The coverage and capacity plan.

    Joins each account to its segment's playbook (hours, expected uplift), values it
    (:func:`compute_account_value`), chooses the accounts to cover with
    :func:`optimise_coverage` under the managers' total hours, compares with covering by
    revenue rank (:func:`compute_naive_coverage`) and assigns covered accounts to
    managers (:func:`assign_managers`).

    Returns
    -------
    dict
        ``coverage_plan`` (per account: account_id, segment, is_key, engagement_model,
        hours_per_account, expected_uplift, value, value_basis, expected_gain = value x
        uplift, revenue_12m, covered, hours_allocated, account_manager, assigned_manager,
        status), ``coverage_by_segment`` (segment, engagement_model, accounts, covered,
        uncovered, coverage_rate, hours_needed, hours_allocated, value, value_covered,
        expected_gain_covered, value_at_stake, revenue_12m_uncovered), ``capacity_summary``
        (metric, label, value, unit, note), ``manager_load`` and ``value_note``.
    """
    books = playbooks["playbooks"]
    cols = [account_col, segment_col] + (["is_key"] if "is_key" in segments else [])
    df = segments[cols].copy()
    df[segment_col] = df[segment_col].astype(str)
    missing = sorted(set(df[segment_col]) - set(books))
    if missing:
        raise ParameterError(f"segment(s) {_fmt_list(missing)} have no playbook; fix: add them to the playbooks file")
    value, note = compute_account_value(segments, account_summary, account_col=account_col)
    df = df.merge(value, on=account_col, how="left")
    summ_cols = [c for c in (account_col, "revenue_12m", "account_manager") if c in account_summary]
    df = df.merge(account_summary[summ_cols], on=account_col, how="left")
    if "is_key" not in df:
        df["is_key"] = False
    models = playbooks["engagement_models"]
    df["engagement_model_key"] = df[segment_col].map(lambda s: books[s]["engagement_model"])
    df["engagement_model"] = df["engagement_model_key"].map(lambda m: models[m].get("label", m))
    df["hours_per_account"] = df[segment_col].map(lambda s: float(books[s]["hours_per_account"]))
    df["expected_uplift"] = df[segment_col].map(lambda s: float(books[s]["expected_uplift"]))
    df["expected_gain"] = df["value"] * df["expected_uplift"]
    df["revenue_12m"] = df["revenue_12m"].fillna(0.0)
    capacity = float(sum(managers.values()))
    opt = optimise_coverage(df, capacity=capacity)
    df["covered"] = opt
    naive = compute_naive_coverage(df, capacity=capacity)
    df["hours_allocated"] = np.where(df["covered"], df["hours_per_account"], 0.0)
    if "account_manager" not in df:
        df["account_manager"] = None
    df["assigned_manager"], load = assign_managers(df, managers=managers, tolerance=tolerance)
    needs = df["hours_per_account"] > 0
    df["status"] = np.select([~needs, df["covered"]], ["digital (no KAM hours)", "covered"], "uncovered")
    df = df.rename(columns={segment_col: "segment"})

    g = df.groupby("segment")
    seg = pd.DataFrame({
        "accounts": g.size(), "covered": g["covered"].sum(), "hours_needed": g["hours_per_account"].sum(),
        "hours_allocated": g["hours_allocated"].sum(), "value": g["value"].sum(),
        "value_covered": df[df["covered"]].groupby("segment")["value"].sum(),
        "expected_gain_covered": df[df["covered"]].groupby("segment")["expected_gain"].sum(),
        "value_at_stake": df[~df["covered"]].groupby("segment")["expected_gain"].sum(),
        "revenue_12m_uncovered": df[~df["covered"]].groupby("segment")["revenue_12m"].sum(),
    })
    order = [s for s in (order or list(books)) if s in seg.index] + [s for s in seg.index if s not in (order or books)]
    seg = seg.reindex(order).fillna(0.0)
    seg["accounts"] = seg["accounts"].astype(int)
    seg["covered"] = seg["covered"].astype(int)
    seg["uncovered"] = seg["accounts"] - seg["covered"]
    seg["coverage_rate"] = seg["covered"] / seg["accounts"].where(seg["accounts"] > 0)
    seg.insert(0, "engagement_model", [models[books[s]["engagement_model"]].get("label", books[s]["engagement_model"])
                                       for s in seg.index])
    seg = seg.reset_index(names="segment")[
        ["segment", "engagement_model", "accounts", "covered", "uncovered", "coverage_rate", "hours_needed",
         "hours_allocated", "value", "value_covered", "expected_gain_covered", "value_at_stake",
         "revenue_12m_uncovered"]]

    hours_needed = float(df["hours_per_account"].sum())
    per_mgr = capacity / len(managers) if managers else float("nan")
    headcount_full = math.ceil(hours_needed / per_mgr - 1e-9) if per_mgr and per_mgr > 0 else float("nan")
    gain_opt = float(df.loc[df["covered"], "expected_gain"].sum())
    gain_naive = float(df.loc[naive.to_numpy(), "expected_gain"].sum())
    rows = [
        ("managers", "Account managers available", len(managers), "count", ""),
        ("capacity_hours", "Account-manager hours available per year", capacity, "hours", ""),
        ("hours_needed", "Hours a full-coverage plan needs per year", hours_needed, "hours",
         "every account gets its playbook's hours"),
        ("hours_allocated", "Hours allocated by the plan", float(df["hours_allocated"].sum()), "hours", ""),
        ("utilisation", "Capacity used", float(df["hours_allocated"].sum()) / capacity if capacity else float("nan"),
         "share", ""),
        ("headcount_full_coverage", "Managers needed for full coverage", headcount_full, "count",
         f"at {per_mgr:,.0f} h per manager" if np.isfinite(per_mgr) else ""),
        ("additional_headcount", "Additional managers for full coverage",
         max(headcount_full - len(managers), 0) if np.isfinite(headcount_full) else float("nan"), "count", ""),
        ("accounts_needing_hours", "Accounts whose playbook needs manager hours", int(needs.sum()), "count", ""),
        ("accounts_covered", "Of which covered by the plan", int((df["covered"] & needs).sum()), "count", ""),
        ("accounts_uncovered", "Of which left uncovered", int((~df["covered"] & needs).sum()), "count", ""),
        ("expected_gain_covered", "Expected value added by covered accounts", gain_opt, "currency",
         f"value x expected uplift of the playbook; optimisation: {opt.attrs.get('method', 'exact')}"),
        ("value_at_stake", "Expected value forgone on uncovered accounts",
         float(df.loc[~df["covered"], "expected_gain"].sum()), "currency", ""),
        ("expected_gain_naive", "Expected value when covering by revenue rank", gain_naive, "currency",
         "the rule of thumb: biggest accounts first"),
        ("optimiser_gain", "Extra value of the optimised plan over revenue rank", gain_opt - gain_naive, "currency", ""),
    ]
    summary = pd.DataFrame(rows, columns=["metric", "label", "value", "unit", "note"])
    summary.loc[summary["metric"] == "expected_gain_covered", "note"] += "; " + note
    plan_cols = ["account_id", "segment", "is_key", "engagement_model", "engagement_model_key", "hours_per_account",
                 "expected_uplift",
                 "value", "value_basis", "expected_gain", "revenue_12m", "covered", "hours_allocated",
                 "account_manager", "assigned_manager", "status"]
    return {"coverage_plan": df.rename(columns={account_col: "account_id"})[plan_cols], "coverage_by_segment": seg,
            "capacity_summary": summary, "manager_load": load, "value_note": note}


# =========================================================================== whitespace
def _wallet(account_category: pd.DataFrame, *, account_col: str, category_col: str, revenue_col: str) -> pd.DataFrame:
    rev = account_category.astype({revenue_col: float}).pivot_table(index=account_col, columns=category_col, values=revenue_col,
                                       aggfunc="sum", fill_value=0.0).clip(lower=0)
    rev = rev[rev.sum(axis=1) > 0]
    rev.columns = [str(c) for c in rev.columns]
    return rev


def compute_category_penetration(account_category: pd.DataFrame, segments: pd.DataFrame, *,
                                 segment_col: str = "quadrant", account_col: str = "account_id",
                                 category_col: str = "category", revenue_col: str = "revenue") -> pd.DataFrame:
    """Share of buying accounts in each segment that buy each category.

    penetration(s, c) = accounts in s with revenue in c > 0 / accounts in s with any revenue.
    Columns: segment, category, accounts, buyers, penetration.
    """
    rev = _wallet(account_category, account_col=account_col, category_col=category_col, revenue_col=revenue_col)
    seg = segments.set_index(account_col)[segment_col].astype(str).reindex(rev.index)
    buys = (rev > 0).astype(int)
    buys["segment"] = seg.fillna("(no segment)").to_numpy()
    long = buys.groupby("segment").agg(["sum", "size"])
    out = []
    for c in rev.columns:
        part = long[c].rename(columns={"sum": "buyers", "size": "accounts"}).reset_index()
        part["category"] = c
        out.append(part)
    res = pd.concat(out, ignore_index=True)
    res["penetration"] = res["buyers"] / res["accounts"]
    return res[["segment", "category", "accounts", "buyers", "penetration"]]


def compute_whitespace(account_category: pd.DataFrame, *, segments: pd.DataFrame, account_summary: pd.DataFrame,
                       targets: list[str] | None = None, min_propensity: float = 0.3, top_n: int = 3,
                       min_peers: int = 5, segment_col: str = "quadrant", account_col: str = "account_id",
                       category_col: str = "category", revenue_col: str = "revenue",
                       value_col: str = "revenue_12m") -> pd.DataFrame:
    """Cross-sell whitespace: for each target account, the categories it does not buy
    that similar accounts do, with the expected annual value of each.

    For target account ``a`` and a category ``c`` it does not buy:

    * ``segment_penetration`` = share of the other buying accounts in ``a``'s segment
      that buy ``c``;
    * ``co_purchase_confidence`` = max over the categories ``b`` that ``a`` buys of
      P(c | b) = accounts buying b and c / accounts buying b (``driver_category`` = that
      b), and ``lift`` = P(c | b) / P(c);
    * ``propensity`` = max(segment_penetration, co_purchase_confidence) and ``basis``
      says which;
    * ``peer_share_of_wallet`` ``s`` = median share of ``c`` in the wallet of accounts in
      the segment that buy ``c`` (all buyers when fewer than ``min_peers``);
    * ``potential_value`` = R x s / (1 - s): the revenue that makes ``c`` a share ``s`` of
      the account's wallet, with R its last-12-month revenue; ``expected_value`` =
      propensity x potential_value.

    Opportunities with propensity >= ``min_propensity`` are kept, the ``top_n`` per
    account by expected value (``rank`` 1 = best).

    Returns
    -------
    DataFrame
        account_id, segment, is_key, category, rank, segment_penetration, driver_category,
        co_purchase_confidence, lift, propensity, basis, peer_share_of_wallet,
        revenue_12m, potential_value, expected_value.
    """
    cols = ["account_id", "segment", "is_key", "category", "rank", "segment_penetration", "driver_category",
            "co_purchase_confidence", "lift", "propensity", "basis", "peer_share_of_wallet", "revenue_12m",
            "potential_value", "expected_value"]
    # no opportunity: an empty frame with typed columns, so filters such as ws[ws["is_key"]] still work
    empty = pd.DataFrame({c: pd.Series(dtype="bool" if c == "is_key" else "int64" if c == "rank" else "object"
                                       if c in ("account_id", "segment", "category", "driver_category", "basis")
                                       else "float64") for c in cols})
    rev = _wallet(account_category, account_col=account_col, category_col=category_col, revenue_col=revenue_col)
    if rev.empty or rev.shape[1] < 2:
        return empty
    cats = list(rev.columns)
    ids = rev.index.astype(str)
    n, k = rev.shape
    b = (rev.to_numpy() > 0)
    bf = b.astype(float)
    share = rev.to_numpy() / rev.to_numpy().sum(axis=1, keepdims=True)
    seg = segments.set_index(segments[account_col].astype(str))[segment_col].astype(str).reindex(ids)
    seg = seg.fillna("(no segment)").to_numpy()
    is_key_s = (segments.set_index(segments[account_col].astype(str))["is_key"].astype(bool).reindex(ids)
                .fillna(False).to_numpy() if "is_key" in segments else np.zeros(n, dtype=bool))
    seg_codes, seg_idx = np.unique(seg, return_inverse=True)
    # segment penetration among the *other* accounts of the segment (the account itself does not buy c)
    seg_n = np.bincount(seg_idx, minlength=len(seg_codes)).astype(float)
    seg_buyers = np.vstack([np.bincount(seg_idx, weights=bf[:, j], minlength=len(seg_codes)) for j in range(k)]).T
    others = seg_n[seg_idx] - 1
    seg_pen = np.where(others[:, None] > 0, seg_buyers[seg_idx] / np.where(others[:, None] > 0, others[:, None], 1), 0.0)
    # co-purchase: conf[b, c] = P(c | b); best driver among the categories the account buys
    co = bf.T @ bf
    n_b = np.diag(co)
    conf = np.where(n_b[:, None] > 0, co / np.where(n_b[:, None] > 0, n_b[:, None], 1), 0.0)
    p_c = bf.mean(axis=0)
    best = np.full((n, k), -1.0)
    driver = np.full((n, k), -1)
    for j in range(k):
        cand = np.where(b[:, j:j + 1], conf[j][None, :], -1.0)
        better = cand > best
        best = np.where(better, cand, best)
        driver = np.where(better, j, driver)
    cconf = np.clip(best, 0, None)
    lift = np.where(p_c[None, :] > 0, cconf / np.where(p_c > 0, p_c, 1)[None, :], np.nan)
    prop = np.maximum(seg_pen, cconf)
    # typical share of wallet of the category among buyers in the segment (all buyers when too few)
    med_all = np.array([np.median(share[b[:, j], j]) if b[:, j].any() else np.nan for j in range(k)])
    med_seg = np.full((len(seg_codes), k), np.nan)
    for si in range(len(seg_codes)):
        in_s = seg_idx == si
        for j in range(k):
            m = in_s & b[:, j]
            if m.sum() >= min_peers:
                med_seg[si, j] = np.median(share[m, j])
    s_wallet = np.where(np.isnan(med_seg[seg_idx]), med_all[None, :], med_seg[seg_idx])
    s_wallet = np.clip(np.nan_to_num(s_wallet, nan=0.0), 0, 0.9)
    value = account_summary.set_index(account_summary[account_col].astype(str))[value_col].reindex(ids)
    value = value.fillna(0.0).clip(lower=0).to_numpy(dtype=float)
    potential = value[:, None] * s_wallet / (1 - s_wallet)
    target = np.ones(n, dtype=bool) if targets is None else np.isin(ids, [str(t) for t in targets])
    keep = target[:, None] & ~b & (prop >= min_propensity) & (prop > 0)
    ai, cj = np.nonzero(keep)
    if not len(ai):
        return empty
    cat_arr = np.array(cats, dtype=object)
    drv = driver[ai, cj]
    out = pd.DataFrame({
        "account_id": ids[ai].to_numpy() if hasattr(ids[ai], "to_numpy") else ids[ai], "segment": seg[ai],
        "is_key": is_key_s[ai], "category": cat_arr[cj], "segment_penetration": seg_pen[ai, cj],
        "driver_category": np.where(drv >= 0, cat_arr[np.clip(drv, 0, None)], None),
        "co_purchase_confidence": cconf[ai, cj], "lift": np.where(drv >= 0, lift[ai, cj], np.nan),
        "propensity": prop[ai, cj], "peer_share_of_wallet": s_wallet[ai, cj], "revenue_12m": value[ai],
        "potential_value": potential[ai, cj]})
    out["expected_value"] = out["propensity"] * out["potential_value"]
    seg_based = out["segment_penetration"] >= out["co_purchase_confidence"]
    out["basis"] = np.where(
        seg_based,
        [f"{p:.0%} of {sg} accounts buy {c}" for p, sg, c in zip(out["segment_penetration"], out["segment"], out["category"])],
        [f"{p:.0%} of {d} buyers also buy {c} (lift {lf:.1f}x)" for p, d, c, lf in
         zip(out["co_purchase_confidence"], out["driver_category"], out["category"], out["lift"])])
    out = out.sort_values(["account_id", "expected_value", "category"], ascending=[True, False, True], kind="stable")
    out["rank"] = out.groupby("account_id").cumcount() + 1
    out = out[out["rank"] <= top_n]
    return out[cols].reset_index(drop=True)


# =========================================================================== targets and scenarios
def compute_segment_baseline(account_summary: pd.DataFrame, segments: pd.DataFrame, *, segment_col: str = "quadrant",
                             account_col: str = "account_id", order: list[str] | None = None) -> pd.DataFrame:
    """Current KPIs per segment that the impact levers act on (trailing twelve months).

    Formulas
    --------
    * ``base_accounts`` = accounts that ordered in the previous 12 months;
    * ``retained`` = of those, accounts that ordered again in the last 12 months;
    * ``retention_rate`` = retained / base_accounts;
    * ``revenue_per_retained`` = last-12-month revenue of retained accounts / retained;
    * ``average_order_value`` = revenue_12m / orders_12m;
    * ``orders_per_account`` = orders_12m / accounts with an order in the last 12 months;
    * ``margin_rate`` = gross margin / revenue over the whole history (1 when the data
      has no margin, noted in ``note``).
    """
    df = segments[[account_col, segment_col]].merge(account_summary, on=account_col, how="left")
    df[segment_col] = df[segment_col].astype(str)
    prev = df["orders_prev_12m"].fillna(0) > 0
    last = df["orders_12m"].fillna(0) > 0
    df["_base"], df["_ret"] = prev, prev & last
    df["_ret_rev"] = np.where(df["_ret"], df["revenue_12m"].fillna(0), 0.0)
    df["_buyer"] = last
    has_margin = "gross_margin" in df and df["gross_margin"].notna().any()
    df["_gm"] = df["gross_margin"].fillna(0.0) if has_margin else 0.0
    g = df.groupby(segment_col)
    out = pd.DataFrame({
        "accounts": g.size(), "revenue_12m": g["revenue_12m"].sum(), "orders_12m": g["orders_12m"].sum(),
        "buyers_12m": g["_buyer"].sum(), "base_accounts": g["_base"].sum(), "retained": g["_ret"].sum(),
        "retained_revenue": g["_ret_rev"].sum(), "gross_margin": g["_gm"].sum(), "revenue": g["revenue"].sum(),
    })
    order = [s for s in (order or []) if s in out.index] + [s for s in out.index if s not in (order or [])]
    out = out.reindex(order)
    out["retention_rate"] = out["retained"] / out["base_accounts"].where(out["base_accounts"] > 0)
    out["revenue_per_retained"] = out["retained_revenue"] / out["retained"].where(out["retained"] > 0)
    out["average_order_value"] = out["revenue_12m"] / out["orders_12m"].where(out["orders_12m"] > 0)
    out["orders_per_account"] = out["orders_12m"] / out["buyers_12m"].where(out["buyers_12m"] > 0)
    if has_margin:
        out["margin_rate"] = (out["gross_margin"] / out["revenue"].where(out["revenue"] > 0)).fillna(0.0)
        out["note"] = ""
    else:
        out["margin_rate"] = 1.0
        out["note"] = "no gross margin in the data: profit impact = revenue impact"
    for c in ("accounts", "orders_12m", "buyers_12m", "base_accounts", "retained"):
        out[c] = out[c].astype(int)
    return out.reset_index(names="segment")[
        ["segment", "accounts", "revenue_12m", "base_accounts", "retained", "retention_rate", "revenue_per_retained",
         "orders_12m", "buyers_12m", "average_order_value", "orders_per_account", "margin_rate", "note"]]


def resolve_segment_targets(baseline: pd.DataFrame, *, playbooks: dict, overrides: dict[str, dict[str, float]]
                            | None = None, benchmark_gaps: pd.DataFrame | None = None,
                            gap_closure: float = 0.5) -> pd.DataFrame:
    """The lever value per segment, and where it comes from.

    Priority: ``strategy.segment_targets`` in the params > the benchmark gap (company
    level, from the ``benchmark_gaps`` table when phase 1 wrote it; ``gap_closure`` of
    the gap is closed) > the playbook's default ``targets``. Levers:

    * ``retention_pts`` = closure x max(benchmark - current retention, 0);
    * ``aov_growth`` = closure x max(benchmark AOV / current AOV - 1, 0);
    * ``frequency_growth``, ``cross_sell_capture``: params or playbook only.

    Returns
    -------
    DataFrame
        segment, lever, label, value, source, current_kpi, target_kpi (retention and AOV
        as levels; NaN otherwise).

    Raises
    ------
    ParameterError
        A target for a segment that does not exist, or an unknown lever.
    """
    books = playbooks["playbooks"]
    segs = list(baseline["segment"])
    for s, levers in (overrides or {}).items():
        if s not in segs and s not in books:
            raise ParameterError(f"strategy.segment_targets has targets for segment {s!r}, which does not exist "
                                 f"(segments: {', '.join(segs)}); fix: use one of those names")
        bad = [k for k in levers if k not in LEVERS]
        if bad:
            raise ParameterError(f"strategy.segment_targets[{s!r}] has unknown lever(s) {_fmt_list(bad)}; "
                                 f"valid: {', '.join(LEVERS)}")
        for k, v in levers.items():
            if not isinstance(v, (int, float)) or not -1 <= v <= 1:
                raise ParameterError(f"strategy.segment_targets[{s!r}].{k} = {v!r} must be a share between -1 and 1 "
                                     "(0.03 = +3 points / +3%)")
    bench: dict[str, tuple[float, float]] = {}
    if benchmark_gaps is not None and {"kpi", "current", "benchmark"} <= set(benchmark_gaps.columns):
        for _, r in benchmark_gaps.iterrows():
            if pd.notna(r["current"]) and pd.notna(r["benchmark"]):
                bench[str(r["kpi"])] = (float(r["current"]), float(r["benchmark"]))
    rows = []
    for _, b in baseline.iterrows():
        s = b["segment"]
        for lever in LEVERS:
            src, val = None, None
            if lever in (overrides or {}).get(s, {}):
                val, src = float(overrides[s][lever]), "params (strategy.segment_targets)"
            elif lever == "retention_pts" and "retention_rate" in bench:
                cur, bm = bench["retention_rate"]
                val, src = gap_closure * max(bm - cur, 0.0), f"benchmark gap x {gap_closure:.0%} (company level)"
            elif lever == "aov_growth" and "average_order_value" in bench and bench["average_order_value"][0] > 0:
                cur, bm = bench["average_order_value"]
                val, src = gap_closure * max(bm / cur - 1, 0.0), f"benchmark gap x {gap_closure:.0%} (company level)"
            else:
                val = float((books.get(s, {}).get("targets") or {}).get(lever, 0.0))
                src = "playbook default" if lever in (books.get(s, {}).get("targets") or {}) else "none (0)"
            cur_kpi = tgt_kpi = np.nan
            if lever == "retention_pts" and pd.notna(b["retention_rate"]):
                cur_kpi, tgt_kpi = b["retention_rate"], min(b["retention_rate"] + val, 1.0)
            elif lever == "aov_growth" and pd.notna(b["average_order_value"]):
                cur_kpi, tgt_kpi = b["average_order_value"], b["average_order_value"] * (1 + val)
            elif lever == "frequency_growth" and pd.notna(b["orders_per_account"]):
                cur_kpi, tgt_kpi = b["orders_per_account"], b["orders_per_account"] * (1 + val)
            rows.append({"segment": s, "lever": lever, "label": _LEVER_LABELS[lever], "value": val, "source": src,
                         "current_kpi": cur_kpi, "target_kpi": tgt_kpi})
    return pd.DataFrame(rows)


def compute_lever_impact(baseline: pd.DataFrame, levers: pd.DataFrame, *,
                         whitespace_value: dict[str, float] | None = None,
                         multipliers: dict[str, float] | None = None) -> pd.DataFrame:
    """Annual revenue and gross-profit impact of each lever in each segment.

    With lever value ``v`` scaled by ``multipliers[lever]`` (default 1):

    * retention: ``min(v, 1 - retention_rate) x base_accounts x revenue_per_retained``;
    * AOV and frequency: ``v x revenue_12m``;
    * cross-sell: ``v x whitespace value of the segment``;
    * gross profit = revenue impact x ``margin_rate`` of the segment.

    Levers add up (interactions are ignored, which slightly understates a combined plan).

    Returns
    -------
    DataFrame
        segment, lever, lever_value, revenue_impact, profit_impact.
    """
    b = baseline.set_index("segment")
    ws = whitespace_value or {}
    mult = multipliers or {}
    rows = []
    for _, r in levers.iterrows():
        s, lever = r["segment"], r["lever"]
        v = float(r["value"]) * float(mult.get(lever, 1.0))
        row = b.loc[s]
        if lever == "retention_pts":
            rr = row["retention_rate"]
            room = 1 - rr if pd.notna(rr) else 0.0
            rev = min(v, room) * row["base_accounts"] * (row["revenue_per_retained"] if pd.notna(row["revenue_per_retained"]) else 0.0)
        elif lever in ("aov_growth", "frequency_growth"):
            rev = v * row["revenue_12m"]
        elif lever == "cross_sell_capture":
            rev = v * float(ws.get(s, 0.0))
        else:
            raise ParameterError(f"unknown lever {lever!r}; valid: {', '.join(LEVERS)}")
        rows.append({"segment": s, "lever": lever, "lever_value": v, "revenue_impact": float(rev),
                     "profit_impact": float(rev) * float(row["margin_rate"])})
    return pd.DataFrame(rows, columns=["segment", "lever", "lever_value", "revenue_impact", "profit_impact"])


def compute_impact_scenarios(baseline: pd.DataFrame, levers: pd.DataFrame, *, whitespace_value: dict[str, float]
                             | None = None, multipliers: dict[str, float], weights: dict[str, float],
                             programme_cost: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Low / base / high impact of reaching the targets.

    Each scenario multiplies every lever by ``multipliers[scenario]``; ``profit_impact``
    = gross-profit impact - ``programme_cost`` (account-manager hours x cost per hour).
    ``weight`` is the scenario's probability weight (``strategy.scenario_weights``, sum
    1); ``weighted_profit_impact`` = weight x profit_impact, so the column sums to the
    expected impact.

    Returns
    -------
    (DataFrame, DataFrame)
        ``impact_scenarios``: scenario, multiplier, weight, revenue_12m, revenue_impact,
        revenue_impact_share, gross_profit_impact, programme_cost, profit_impact,
        weighted_profit_impact; and ``impact_by_lever``: scenario, segment, lever,
        lever_value, revenue_impact, profit_impact.
    """
    if abs(sum(weights.values()) - 1) > 1e-6:
        raise ParameterError(f"strategy.scenario_weights must sum to 1, they sum to {sum(weights.values()):.3f}")
    if programme_cost < 0:
        raise ParameterError(f"programme cost {programme_cost} is negative; check strategy.cost_per_hour")
    rows, by_lever = [], []
    base_rev = float(baseline["revenue_12m"].sum())
    for scen in ("low", "base", "high"):
        m = float(multipliers[scen])
        imp = compute_lever_impact(baseline, levers, whitespace_value=whitespace_value,
                                   multipliers={k: m for k in LEVERS})
        imp.insert(0, "scenario", scen)
        by_lever.append(imp)
        rev, gp = imp["revenue_impact"].sum(), imp["profit_impact"].sum()
        rows.append({"scenario": scen, "multiplier": m, "weight": float(weights[scen]), "revenue_12m": base_rev,
                     "revenue_impact": rev, "revenue_impact_share": rev / base_rev if base_rev else np.nan,
                     "gross_profit_impact": gp, "programme_cost": float(programme_cost),
                     "profit_impact": gp - programme_cost, "weighted_profit_impact": float(weights[scen]) * (gp - programme_cost)})
    return pd.DataFrame(rows), pd.concat(by_lever, ignore_index=True)


def compute_sensitivity(baseline: pd.DataFrame, levers: pd.DataFrame, *, whitespace_value: dict[str, float]
                        | None = None, multipliers: dict[str, float], programme_cost: float = 0.0) -> pd.DataFrame:
    """Tornado table: swing one lever from its low to its high multiplier, others at base.

    Returns
    -------
    DataFrame
        lever, label, low_multiplier, high_multiplier, profit_low, profit_base,
        profit_high, swing (= profit_high - profit_low), sorted by swing (largest first).
    """
    def total(mult):
        return compute_lever_impact(baseline, levers, whitespace_value=whitespace_value,
                                    multipliers=mult)["profit_impact"].sum() - programme_cost

    base_m = {k: multipliers["base"] for k in LEVERS}
    p_base = total(base_m)
    rows = []
    for lever in LEVERS:
        lo = total({**base_m, lever: multipliers["low"]})
        hi = total({**base_m, lever: multipliers["high"]})
        rows.append({"lever": lever, "label": _LEVER_LABELS[lever], "low_multiplier": multipliers["low"],
                     "high_multiplier": multipliers["high"], "profit_low": lo, "profit_base": p_base,
                     "profit_high": hi, "swing": hi - lo})
    return pd.DataFrame(rows).sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


# =========================================================================== account plans
def _owner(role_key: str, pb: dict, manager: str | None) -> str:
    raci = pb.get("raci") or {}
    role = raci.get(role_key, role_key.replace("_", " ").capitalize())
    if role_key == "responsible" and manager:
        return f"{manager} ({role})"
    return str(role)


def _money(v: float, currency: str) -> str:
    sym = {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency, currency + " ")
    return f"{sym}{v / 1e3:,.0f}k" if abs(v) >= 1e3 else f"{sym}{v:,.0f}"


def build_account_plans(segments: pd.DataFrame, account_summary: pd.DataFrame, *, playbooks: dict,
                        coverage_plan: pd.DataFrame | None = None, churn_risk: pd.DataFrame | None = None,
                        whitespace: pd.DataFrame | None = None, display_names: pd.Series | None = None,
                        top_n: int = 10, plan_date: dt.date, currency: str = "EUR", segment_col: str = "quadrant",
                        account_col: str = "account_id") -> tuple[pd.DataFrame, pd.DataFrame]:
    """An account plan for each of the top ``top_n`` key accounts by value.

    Current state (revenue, trend, value, NPS, risk), the segment's objective and
    engagement model, the best whitespace opportunities, and actions with owners and due
    dates: the playbook's standard actions plus triggered ones (``triggered_actions`` in
    the playbooks file) when the account is high-risk, a detractor, declining or has
    whitespace.

    Returns
    -------
    (DataFrame, DataFrame)
        ``account_plans``: rank, account_id, account_name, segment, account_manager,
        revenue_12m, revenue_prev_12m, revenue_trend, value, value_basis, clv and p_alive
        (NaN when the segmentation has none), nps_latest, risk_score, risk_band, objective, engagement_model, contact_cadence, whitespace,
        whitespace_value, n_actions, next_action, next_action_owner, next_action_due,
        kpis_to_watch; ``account_plan_actions``: account_id, account_name, action, owner,
        due_date, kpi, trigger.
    """
    books = playbooks["playbooks"]
    trig = playbooks.get("triggered_actions") or {}
    value, _ = compute_account_value(segments, account_summary, account_col=account_col)
    extra = [c for c in ("is_key", "clv", "p_alive") if c in segments]
    df = segments[[account_col, segment_col, *extra]].merge(value, on=account_col)
    for c in ("clv", "p_alive"):
        if c not in df:
            df[c] = np.nan
    keep = [c for c in ("revenue_12m", "revenue_prev_12m", "nps_latest", "account_manager") if c in account_summary]
    df = df.merge(account_summary[[account_col, *keep]], on=account_col, how="left")
    for c in ("nps_latest", "account_manager"):
        if c not in df:
            df[c] = np.nan if c == "nps_latest" else None
    key = df[df["is_key"].astype(bool)] if "is_key" in df else df
    key = key.sort_values(["value", account_col], ascending=[False, True], kind="stable").head(top_n).copy()
    if coverage_plan is not None and "assigned_manager" in coverage_plan:
        am = coverage_plan.set_index("account_id")["assigned_manager"]
        key["account_manager"] = key[account_col].map(am).where(lambda s: s.notna(), key["account_manager"])
    if churn_risk is not None:
        cr = churn_risk.set_index("account_id")
        key["risk_score"] = key[account_col].map(cr["risk_score"])
        key["risk_band"] = key[account_col].map(cr["risk_band"]).fillna("not scored")
    else:
        key["risk_score"], key["risk_band"] = np.nan, "not scored"
    names = display_names if display_names is not None else pd.Series(dtype=object)
    key["account_name"] = key[account_col].map(names).where(lambda s: s.notna(), key[account_col])
    prev = key["revenue_prev_12m"].fillna(0.0)
    key["revenue_trend"] = np.where(prev > 0, key["revenue_12m"].fillna(0) / prev.where(prev > 0) - 1, np.nan)
    base = pd.Timestamp(plan_date)
    plans, actions = [], []
    for rank, (_, r) in enumerate(key.iterrows(), start=1):
        seg = str(r[segment_col])
        pb = books.get(seg, {})
        mgr = r["account_manager"] if isinstance(r["account_manager"], str) and r["account_manager"] else None
        ws = (whitespace[whitespace["account_id"] == r[account_col]].sort_values("rank")
              if whitespace is not None and len(whitespace) else pd.DataFrame())
        acts = []

        def add(action, owner_key, due_days, kpi, trigger):
            acts.append({"account_id": r[account_col], "account_name": r["account_name"], "action": action,
                         "owner": _owner(owner_key, pb, mgr), "due_date": base + pd.Timedelta(days=int(due_days)),
                         "kpi": kpi, "trigger": trigger})

        if r["risk_band"] == "high" and "high_risk" in trig:
            t = trig["high_risk"]
            add(t["action"], t["owner"], t["due_days"], t.get("kpi", ""), "high churn risk")
        if pd.notna(r["nps_latest"]) and r["nps_latest"] <= 6 and "detractor" in trig:
            t = trig["detractor"]
            add(t["action"], t["owner"], t["due_days"], t.get("kpi", ""), f"detractor (NPS score {r['nps_latest']:.0f})")
        if pd.notna(r["revenue_trend"]) and r["revenue_trend"] < -0.1 and "declining" in trig:
            t = trig["declining"]
            add(t["action"], t["owner"], t["due_days"], t.get("kpi", ""), f"revenue {r['revenue_trend']:+.0%} year on year")
        for a in pb.get("actions") or []:
            add(a["action"], a.get("owner", "responsible"), a.get("due_days", 90), ", ".join(
                str(k).replace("_", " ") for k in (pb.get("kpi_focus") or [])), "playbook")
        if len(ws) and "whitespace" in trig:
            t = trig["whitespace"]
            for _, w in ws.iterrows():
                add(t["action"].format(category=w["category"], value=_money(w["expected_value"], currency)),
                    t["owner"], t["due_days"], t.get("kpi", ""), w["basis"])
        acts.sort(key=lambda x: x["due_date"])
        actions += acts
        kpis = list(dict.fromkeys([str(k).replace("_", " ") for k in (pb.get("kpi_focus") or [])]
                                  + ["risk score"] + (["category breadth"] if len(ws) else [])))
        plans.append({
            "rank": rank, "account_id": r[account_col], "account_name": r["account_name"], "segment": seg,
            "account_manager": mgr, "revenue_12m": r["revenue_12m"], "revenue_prev_12m": r["revenue_prev_12m"],
            "revenue_trend": r["revenue_trend"], "value": r["value"], "value_basis": r["value_basis"],
            "clv": r["clv"], "p_alive": r["p_alive"],
            "nps_latest": r["nps_latest"], "risk_score": r["risk_score"], "risk_band": r["risk_band"],
            "objective": pb.get("objective", ""), "engagement_model": (playbooks.get("engagement_models") or {}).get(pb.get("engagement_model"), {}).get(
                "label", pb.get("engagement_model", "")),
            "contact_cadence": _playbook_text(pb.get("contact_cadence")),
            "whitespace": "; ".join(f"{w['category']} ({_money(w['expected_value'], currency)})" for _, w in ws.iterrows())
            if len(ws) else "none above the propensity threshold",
            "whitespace_value": float(ws["expected_value"].sum()) if len(ws) else 0.0,
            "opportunities": "; ".join(f"{w['category']} ({_money(w['expected_value'], currency)})"
                                       for _, w in ws.iterrows()) if len(ws) else "",
            "actions": "; ".join(f"{a['action']} ({a['owner'].split(' (')[0]}, by {a['due_date']:%d %b %Y})"
                                 for a in acts[:3]),
            "n_actions": len(acts), "next_action": acts[0]["action"] if acts else "",
            "next_action_owner": acts[0]["owner"] if acts else "",
            "next_action_due": acts[0]["due_date"] if acts else pd.NaT, "kpis_to_watch": ", ".join(kpis),
        })
    plan_cols = ["rank", "account_id", "account_name", "segment", "account_manager", "revenue_12m", "revenue_prev_12m",
                 "revenue_trend", "value", "value_basis", "clv", "p_alive", "nps_latest", "risk_score", "risk_band", "objective",
                 "engagement_model", "contact_cadence", "whitespace", "whitespace_value", "opportunities", "actions",
                 "n_actions", "next_action",
                 "next_action_owner", "next_action_due", "kpis_to_watch"]
    act_cols = ["account_id", "account_name", "action", "owner", "due_date", "kpi", "trigger"]
    return pd.DataFrame(plans, columns=plan_cols), pd.DataFrame(actions, columns=act_cols)


# =========================================================================== operating plan
_FREQ_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}


def build_kpi_ownership(playbooks: dict, *, targets: dict[str, float] | None = None,
                        headline: pd.DataFrame | None = None) -> pd.DataFrame:
    """Who owns each programme KPI, how often it is reviewed, its current value and target.

    From ``kpi_ownership`` in the playbooks file; ``current`` from the ``kpi_headline``
    table where it has the KPI, ``target`` from ``params.targets``.

    Returns
    -------
    DataFrame
        kpi, label, owner, review, source_table, current, target.
    """
    items = playbooks.get("kpi_ownership") or []
    df = pd.DataFrame(items, columns=["kpi", "label", "owner", "review", "source_table"])
    bad = sorted(set(df["review"].dropna()) - set(_FREQ_MONTHS))
    if bad:
        raise ParameterError(f"kpi_ownership review cadence {_fmt_list(bad)} unknown; valid: {', '.join(_FREQ_MONTHS)}")
    cur = headline.set_index("kpi")["value"] if headline is not None and "kpi" in headline else pd.Series(dtype=float)
    df["current"] = df["kpi"].map(cur).astype(float)
    df["target"] = df["kpi"].map(targets or {}).astype(float)
    return df


def build_operating_calendar(playbooks: dict, *, start: dt.date, months: int = 12) -> pd.DataFrame:
    """The reporting and review calendar for the ``months`` after ``start``.

    Each ``operating_rhythm`` item of the playbooks file recurs at its frequency
    (monthly, quarterly, semiannual, annual), first in the month after ``start``, dated
    the first working day (Mon-Fri) of its month.

    Returns
    -------
    DataFrame
        date, activity, frequency, owner, audience, kpis, phase (``phase 5 review`` for
        the programme reviews phase 5 runs, otherwise ``operations``), sorted by date.
    """
    rows = []
    first = (pd.Timestamp(start) + pd.offsets.MonthBegin(1)).normalize()
    for item in playbooks.get("operating_rhythm") or []:
        freq = item.get("frequency")
        if freq not in _FREQ_MONTHS:
            raise ParameterError(f"operating_rhythm activity {item.get('activity')!r} has frequency {freq!r}; "
                                 f"valid: {', '.join(_FREQ_MONTHS)}")
        step = _FREQ_MONTHS[freq]
        for m in range(step - 1 if step > 1 else 0, months, step):
            d = first + pd.DateOffset(months=m)
            while d.weekday() >= 5:
                d += pd.Timedelta(days=1)
            rows.append({"date": d, "activity": item["activity"], "frequency": freq, "owner": item.get("owner", ""),
                         "audience": item.get("audience", ""), "kpis": item.get("kpis", ""),
                         "phase": "phase 5 review" if "phase 5" in item["activity"].lower() else "operations"})
    out = pd.DataFrame(rows, columns=["date", "activity", "frequency", "owner", "audience", "kpis", "phase"])
    return out.sort_values(["date", "activity"], kind="stable").reset_index(drop=True)


def format_metrics(metrics: pd.DataFrame, *, currency: str = "EUR", value_col: str = "value",
                   unit_col: str = "unit") -> pd.DataFrame:
    """A metric table (label, value, unit, note) with each value formatted by its unit,
    for reading in the notebook: currency with thousands separators, shares as
    percentages, counts and hours as integers, anything else to three decimals; NaN as
    an en dash."""
    sym = {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency, currency + " ")

    def fmt(v, unit):
        if v is None or not np.isfinite(v):
            return "–"
        if unit == "currency":
            return f"{sym}{v:,.0f}"
        if unit == "share":
            return f"{v:.1%}"
        if unit in ("count", "hours"):
            return f"{v:,.0f}" + (" h" if unit == "hours" else "")
        return f"{v:,.3f}"

    out = metrics.copy()
    out[value_col] = [fmt(float(v), u) for v, u in zip(out[value_col], out[unit_col])]
    cols = [c for c in ("label", value_col, "note") if c in out]
    return out[cols]


def build_strategy_headlines(*, capacity_summary: pd.DataFrame, churn_drivers: pd.DataFrame,
                             churn_backtest: pd.DataFrame, revenue_at_risk: pd.DataFrame, whitespace: pd.DataFrame,
                             impact_scenarios: pd.DataFrame, sensitivity: pd.DataFrame, currency: str = "EUR",
                             horizon_days: int = 365) -> pd.DataFrame:
    """The phase's findings as short sentences, each with its number and source table.

    Every number is read from the tables passed in, so the deck and the notebook say the
    same thing.

    Returns
    -------
    DataFrame
        topic, headline, value, unit, source_table (one row per finding; a finding the
        data cannot support is left out).
    """
    sym = {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency, currency + " ")

    def m(v):
        return f"{sym}{v / 1e6:,.1f}m" if abs(v) >= 1e6 else f"{sym}{v / 1e3:,.0f}k" if abs(v) >= 1e3 else f"{sym}{v:,.0f}"

    months = round(horizon_days / 30.44)
    rows = []
    cap = capacity_summary.set_index("metric")["value"]
    if {"managers", "accounts_covered", "accounts_needing_hours"} <= set(cap.index):
        extra = cap.get("additional_headcount", np.nan)
        more = (f"; covering all of them would take {cap['headcount_full_coverage']:,.0f} managers "
                f"({extra:,.0f} more)" if np.isfinite(extra) and extra > 0 else "")
        rows.append(("coverage", f"{cap['managers']:,.0f} account managers ({cap['capacity_hours']:,.0f} h a year) can "
                     f"give {cap['accounts_covered']:,.0f} of the {cap['accounts_needing_hours']:,.0f} accounts whose "
                     f"playbook needs manager time their full playbook{more}.",
                     cap["accounts_covered"] / cap["accounts_needing_hours"] if cap["accounts_needing_hours"] else np.nan,
                     "share", "capacity_summary"))
        rows.append(("value_at_stake", f"The accounts left uncovered forgo {m(cap['value_at_stake'])} of expected value "
                     f"a year; allocating hours by value per hour adds {m(cap['optimiser_gain'])} over covering the "
                     "largest accounts first.", cap["value_at_stake"], "currency", "capacity_summary"))
    sig = churn_drivers[churn_drivers["significant"] & (churn_drivers["odds_ratio"] > 1)]
    if len(sig):
        top = sig.sort_values("odds_ratio", ascending=False).iloc[0]
        rows.append(("churn_driver", top["interpretation"], top["odds_ratio"], "ratio", "churn_drivers"))
    bt = churn_backtest.set_index("metric")["value"]
    if np.isfinite(bt.get("auc", np.nan)):
        rows.append(("churn_backtest", f"Tested on a later period it was not trained on, the churn model ranks a churner "
                     f"above a non-churner {bt['auc']:.0%} of the time (AUC); the riskiest 10% of accounts churn "
                     f"{bt['top_decile_lift']:.1f}x as often as the average.", bt["auc"], "ratio", "churn_backtest"))
    if len(revenue_at_risk) and revenue_at_risk["revenue_at_risk"].sum() > 0:
        r = revenue_at_risk.sort_values("revenue_at_risk", ascending=False)
        tot = r["revenue_at_risk"].sum()
        rows.append(("revenue_at_risk", f"{m(tot)} of revenue is at risk of churn over the next {months} months, "
                     f"{r['revenue_at_risk'].iloc[0] / tot:.0%} of it in the {r['segment'].iloc[0]} segment.",
                     tot, "currency", "revenue_at_risk_by_segment"))
    if len(whitespace):
        key = whitespace[whitespace["is_key"].astype(bool)] if "is_key" in whitespace else whitespace
        if len(key):
            cat = key.groupby("category")["expected_value"].sum().sort_values(ascending=False)
            rows.append(("whitespace", f"Key accounts have {len(key):,} cross-sell opportunities worth "
                         f"{m(key['expected_value'].sum())} a year in expectation; the largest category is "
                         f"{cat.index[0]} ({m(cat.iloc[0])}).", key["expected_value"].sum(), "currency", "whitespace"))
    sc = impact_scenarios.set_index("scenario")
    if {"low", "base", "high"} <= set(sc.index):
        rows.append(("impact", f"Reaching the segment targets is worth {m(sc.loc['base', 'profit_impact'])} a year in "
                     f"profit on {m(sc.loc['base', 'revenue_impact'])} of revenue (low {m(sc.loc['low', 'profit_impact'])}"
                     f", high {m(sc.loc['high', 'profit_impact'])}).", sc.loc["base", "profit_impact"], "currency",
                     "impact_scenarios"))
    if len(sensitivity):
        t = sensitivity.iloc[0]
        rows.append(("sensitivity", f"The plan's value depends most on {t['label'].split(' (')[0].lower()}: between its "
                     f"low and high assumption profit moves by {m(t['swing'])}.", t["swing"], "currency", "sensitivity"))
    return pd.DataFrame(rows, columns=["topic", "headline", "value", "unit", "source_table"])
