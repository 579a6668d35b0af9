"""The follow-up review: what an earlier run of the client committed to, measured on new data.

A KAM engagement comes back months later with fresh data. ``review.plan_run`` names the
*plan run* (a run folder, a run id, or ``"latest"``: see :mod:`kam_analysis.data.planrun`);
:func:`load_plan` reads its commitments — the KPIs and targets, the key-account list and
the segmentation, the coverage plan, the account-plan actions, the recommendations — and
the returned actions file (``review.actions_file``). The ``compute_plan_*`` functions set
each commitment against this run's tables, and :func:`write_followup` writes the eight
``plan_*`` tables of the catalogue (phase "review"). The rules are in ``docs/followup.md``:

* every KPI value comes from the KPI engine: the plan's from the plan run's
  ``kpi_headline``, today's from this run's — one definition on both sides;
* migration is measured against the *committed* segmentation (the plan run's ``segments``),
  not against today's criteria applied to the past;
* a committed key account's outcome is ``lost`` when it is no longer active by the engine's
  definition (``account_kpis.active``: a counted order within ``analysis.churn_days``),
  else ``grown`` / ``declined`` when its trailing-12-month revenue moved by more than
  ``review.followup_grown`` / ``review.followup_declined`` (relative), else ``stable``;
* a KPI is ``met`` when today's value reaches the committed target (in the KPI's better
  direction), ``on track`` when the share of the plan's gap closed is at least the share of
  ``review.followup_target_months`` elapsed, ``off track`` otherwise, ``no target``
  without a committed target and ``no data`` when either value is missing;
* an action is ``overdue`` when it was due before this run's as-of date and the returned file
  reports it in progress or not started; one the file does not mention is ``not reported``
  (its status is unknown, so it is never called overdue).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.history import client_dir
from ..data.planrun import (NOT_REPORTED, check_plan_identity, read_actions_file, resolve_plan_run)
from ..data.runfolder import Run
from ..metrics import change_vs_baseline, higher_is_better, kpi_label, kpi_unit
from ..present.formats import fmt_date
from .account_plans import action_ids
from .recommendations import recommendation_ids

__all__ = ["COMMITMENTS", "OUTCOMES", "KPI_STATUSES", "Plan", "load_plan", "months_between", "kpi_status",
           "account_outcome", "compute_plan_kpis", "compute_plan_key_accounts", "compute_plan_segments",
           "compute_plan_migration", "compute_plan_coverage", "compute_plan_actions",
           "compute_plan_recommendations", "compute_plan_summary", "compute_followup", "write_followup",
           "NOT_IN_DATA", "unmeasured_kpis", "trajectory_date", "midpoint_headline"]

#: the plan run's commitment tables -> what the follow-up leaves out when one is missing
COMMITMENTS: dict[str, str] = {
    "kpi_headline": "the KPIs at the plan and their progress to target",
    "segments": "the committed key accounts, the committed segments and the migration since",
    "account_kpis": "the committed accounts' revenue at the plan",
    "coverage_plan": "coverage delivered against the plan",
    "account_plan_actions": "the account-plan actions and their status",
    "recommendations": "the recommendations and their status",
}
#: what the tables each need from the plan run
_NEEDS: dict[str, tuple[str, ...]] = {
    "plan_kpis": ("kpi_headline",),
    "plan_key_accounts": ("segments", "account_kpis"),
    "plan_segments": ("segments", "account_kpis"),
    "plan_migration": ("segments", "account_kpis"),
    "plan_coverage": ("coverage_plan",),
    "plan_actions": ("account_plan_actions",),
    "plan_recommendations": ("recommendations",),
}
#: outcome of a committed key account, worst last
OUTCOMES: tuple[str, ...] = ("grown", "stable", "declined", "lost")
#: status of a KPI against its committed target
KPI_STATUSES: tuple[str, ...] = ("met", "on track", "off track", "no target", "no data")
#: the current segment of a committed account that today's data does not have
NOT_IN_DATA = "Not in today's data"
_DAYS_PER_MONTH = 365.25 / 12


@dataclass
class Plan:
    """The commitments of a plan run, as :func:`load_plan` read them."""

    run_dir: Path
    run_id: str
    as_of: dt.date
    plan_date: dt.date
    params: dict
    tables: dict[str, pd.DataFrame]
    missing: dict[str, str]
    targets: dict[str, float]
    segment_column: str
    returned: pd.DataFrame | None = None
    actions_file: Path | None = None
    notes: list[str] = field(default_factory=list)

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)


def months_between(start: dt.date, end: dt.date) -> float:
    """Months from ``start`` to ``end``, one decimal: whole calendar months between two month ends
    (31 Dec -> 30 Jun = 6), else days / 30.44."""
    a, b = pd.Timestamp(start), pd.Timestamp(end)
    if a.is_month_end and b.is_month_end:
        return float((b.year - a.year) * 12 + b.month - a.month)
    return round((b - a).days / _DAYS_PER_MONTH, 1)


def load_plan(spec: str, params) -> Plan:
    """Resolve ``spec`` (``review.plan_run``), check it is an earlier run of this client, read its commitments.

    Reads the commitment tables (:data:`COMMITMENTS`; a missing one is recorded in
    ``Plan.missing`` with what the follow-up leaves out, not an error), the targets the
    plan committed to (its ``kpi_vs_target``, else its parameters' ``targets``), its
    ``whitespace`` and ``account_category`` when present (whitespace converted), and the
    returned actions file when ``params.review.actions_file`` is set, checked against the
    plan's action and recommendation ids.

    Raises
    ------
    ParameterError
        The run cannot be found, is another client's, did not succeed, or is not earlier.
    DataValidationError
        The returned actions file has problems (all of them, located).
    """
    as_of = params.analysis.as_of_date
    run_dir = resolve_plan_run(spec, client_dir=client_dir(params), client_name=params.client.name, as_of=as_of)
    manifest, pparams = check_plan_identity(run_dir, client_name=params.client.name, as_of=as_of)
    analysis = pparams.get("analysis") or {}
    plan_as_of = dt.date.fromisoformat(str(analysis["as_of_date"])[:10])
    plan_date_raw = (pparams.get("strategy") or {}).get("plan_date")
    plan_date = dt.date.fromisoformat(str(plan_date_raw)[:10]) if plan_date_raw else plan_as_of
    src = Run(run_dir, params, reader=f"the follow-up review (plan run {Path(run_dir).name})")
    tables, missing = {}, {}
    for name in (*COMMITMENTS, "kpi_vs_target", "whitespace", "account_category", "account_plans"):
        if src.has_table(name):
            tables[name] = pd.read_parquet(src.table_path(name))
        elif name in COMMITMENTS:
            missing[name] = COMMITMENTS[name]
    acts = tables.get("account_plan_actions")
    if acts is not None and "action_id" not in acts:  # a plan run made before the ids: the same ids, derived
        tables["account_plan_actions"] = acts.assign(action_id=action_ids(acts).to_numpy())
    recs = tables.get("recommendations")
    if recs is not None and "recommendation_id" not in recs:  # made before ids: the content ids, derived
        tables["recommendations"] = recs.assign(recommendation_id=recommendation_ids(recs).to_numpy())
    targets = {str(k): float(v) for k, v in (pparams.get("targets") or {}).items()}
    kvt = tables.get("kpi_vs_target")
    if kvt is not None and {"kpi", "target"} <= set(kvt.columns):
        targets.update({str(k): float(v) for k, v in zip(kvt["kpi"], kvt["target"]) if pd.notna(v)})
    seg_col = (pparams.get("review") or {}).get("segment_column") or "quadrant"
    segs = tables.get("segments")
    if segs is not None and seg_col not in segs:
        seg_col = "quadrant"
    plan = Plan(run_dir=Path(run_dir), run_id=Path(run_dir).name, as_of=plan_as_of, plan_date=plan_date,
                params=pparams, tables=tables, missing=missing, targets=targets, segment_column=seg_col)
    for name, what in missing.items():
        tables_out = ", ".join(t for t, needs in _NEEDS.items() if name in needs)
        plan.notes.append(f"The plan run {plan.run_id} has no {name} table: the follow-up leaves out {what} "
                          f"({tables_out}).")
    path = params.review.actions_file
    if path is not None:
        known = set()
        if acts is not None:
            known |= set(tables["account_plan_actions"]["action_id"].astype(str))
        if recs is not None and "recommendation_id" in tables["recommendations"]:
            known |= set(tables["recommendations"]["recommendation_id"].astype(str))
        plan.returned = read_actions_file(path, known_ids=known)
        plan.actions_file = Path(path)
    else:
        plan.notes.append("No returned actions file (review.actions_file): every committed action and "
                          "recommendation is 'not reported'.")
    return plan


# --------------------------------------------------------------------------- KPIs
def kpi_status(kpi: str, *, plan_value: float, target: float, actual: float, time_elapsed: float) -> tuple[str, float]:
    """(status, share of the gap closed) of one KPI against its committed target (module docstring).

    ``gap_closed`` = (actual - plan_value) / (target - plan_value) when the plan fell short of
    the target: 1 = the whole gap closed, 0 = no progress, negative = further away than at the
    plan; NaN when there was no gap (the target was already met at the plan: then ``met``
    while it still is, ``off track`` once it is not).
    """
    if target is None or not np.isfinite(target):
        return "no target", np.nan
    if actual is None or not np.isfinite(actual):
        return "no data", np.nan
    up = higher_is_better(kpi)

    def meets(v):
        return (v >= target) if up else (v <= target)

    known = plan_value is not None and np.isfinite(plan_value)
    had_gap = known and not meets(plan_value)
    gap = (actual - plan_value) / (target - plan_value) if had_gap else np.nan
    if meets(actual):
        return "met", gap
    if not known:
        return "no data", np.nan
    if not had_gap:  # the target was met at the plan and no longer is: slipped, whatever the time elapsed
        return "off track", np.nan
    return ("on track" if gap >= time_elapsed - 1e-12 else "off track"), gap


def compute_plan_kpis(plan_headline: pd.DataFrame, now_headline: pd.DataFrame, targets: dict[str, float], *,
                      months_since: float, target_months: int = 12,
                      unmeasured: dict[str, str] | None = None, midpoint: pd.DataFrame | None = None,
                      midpoint_date: dt.date | None = None) -> pd.DataFrame:
    """Each headline KPI at the plan, its committed target and today's value (both from the KPI engine).

    Columns: ``kpi, label, unit, plan_value, target, actual, change, change_kind`` (points for
    shares and scores, relative for money and counts: :func:`kam_analysis.metrics.change_vs_baseline`),
    ``trajectory`` (``improved`` / ``worsened`` / ``unchanged`` in the KPI's better direction),
    ``gap_closed``, ``time_elapsed`` (months since / ``target_months``, at most 1) and ``status``
    (:func:`kpi_status`). KPIs with a target first, in the order of the plan's headline.

    ``unmeasured`` maps a KPI the new data has not measured again since the plan (e.g. a
    survey KPI without a response since) to the reason: its trajectory is ``not measured``,
    its status ``no data`` (``no target`` without one), the reason in ``note`` — never rated.

    With ``midpoint`` (the same engine's headline KPIs at ``midpoint_date``, a month end
    between the plan and now: :func:`trajectory_date`) the path since the plan has a middle
    point: ``midpoint_value`` and ``midpoint_date``.
    """
    unmeasured = unmeasured or {}
    mid = (midpoint.drop_duplicates("kpi").set_index("kpi")["value"].astype(float)
           if midpoint is not None and len(midpoint) else pd.Series(dtype=float))
    plan = plan_headline.drop_duplicates("kpi").set_index("kpi")["value"].astype(float)
    now = now_headline.drop_duplicates("kpi").set_index("kpi")["value"].astype(float)
    labels = now_headline.drop_duplicates("kpi").set_index("kpi")["label"] if "label" in now_headline else {}
    elapsed = min(max(months_since / float(target_months), 0.0), 1.0)
    kpis = list(dict.fromkeys([*plan.index, *[k for k in targets if k in now.index or k in plan.index]]))
    rows = []
    for kpi in kpis:
        pv, av = float(plan.get(kpi, np.nan)), float(now.get(kpi, np.nan))
        tgt = float(targets.get(kpi, np.nan))
        change, kind = change_vs_baseline(av, pv, kpi)
        change = float(change)
        if not (np.isfinite(pv) and np.isfinite(av)):
            traj = "not measured"
        elif np.isclose(av, pv, rtol=1e-9, atol=1e-12):
            traj = "unchanged"
        else:
            traj = "improved" if (av > pv) == higher_is_better(kpi) else "worsened"
        status, gap = kpi_status(kpi, plan_value=pv, target=tgt, actual=av, time_elapsed=elapsed)
        if kpi in unmeasured:
            traj, gap = "not measured", np.nan
            status = "no target" if not np.isfinite(tgt) else "no data"
        try:
            label, unit = kpi_label(kpi), kpi_unit(kpi)
        except Exception:  # noqa: BLE001 - a KPI the registry no longer has: the plan's own words
            label, unit = str(labels.get(kpi, kpi)), ""
        rows.append({"kpi": kpi, "label": label, "unit": unit, "plan_value": pv, "target": tgt, "actual": av,
                     "change": change, "change_kind": kind, "trajectory": traj, "gap_closed": gap,
                     "time_elapsed": elapsed, "status": status, "note": unmeasured.get(kpi, ""),
                     "midpoint_value": np.nan if kpi in unmeasured else float(mid.get(kpi, np.nan)),
                     "midpoint_date": pd.Timestamp(midpoint_date) if midpoint_date else pd.NaT})
    out = pd.DataFrame(rows, columns=["kpi", "label", "unit", "plan_value", "target", "actual", "change",
                                      "change_kind", "trajectory", "gap_closed", "time_elapsed", "status", "note",
                                      "midpoint_value", "midpoint_date"])
    if midpoint_date is None:
        out = out.drop(columns=["midpoint_value", "midpoint_date"])
    has_target = out["target"].notna()
    return pd.concat([out[has_target], out[~has_target]], ignore_index=True)


def trajectory_date(plan_as_of: dt.date, as_of: dt.date) -> dt.date | None:
    """The month end at or before halfway from the plan's as-of date to this run's, strictly between
    them; None when there is none (less than about two months apart)."""
    a, b = pd.Timestamp(plan_as_of), pd.Timestamp(as_of)
    mid = (a + (b - a) / 2).normalize()
    end = mid if mid.is_month_end else mid - pd.offsets.MonthEnd(1)
    return end.date() if a < end < b else None


def midpoint_headline(run, when: dt.date) -> pd.DataFrame:
    """The headline KPIs at ``when`` from the KPI engine on this run's data (the assessment's call, as of then)."""
    from ..metrics import compute_account_kpis_as_of, compute_headline_kpis

    thr = run.params.thresholds
    cap = run.read_data("capability") if run.has_data("capability") else None
    return compute_headline_kpis(compute_account_kpis_as_of(run, when), confidence=thr.confidence,
                                 min_denominator=thr.min_denominator, survey_coverage_min=thr.survey_coverage_min,
                                 capability=cap)


def unmeasured_kpis(run, plan_as_of: dt.date) -> dict[str, str]:
    """The KPIs this run's data has not measured again since the plan, with the reason.

    The survey KPIs (``needs == "surveys"`` in the KPI registry) when no survey response is
    dated after the plan's as-of date: today's value then re-reads the plan's responses, so a
    change (or none) says nothing about what happened since.
    """
    from ..metrics import KPI_DEFINITIONS

    if run.has_data("surveys"):
        s = run.read_data("surveys")
        if "survey_date" in s and (pd.to_datetime(s["survey_date"]) > pd.Timestamp(plan_as_of)).any():
            return {}
    why = (f"no survey response since the plan (data up to {fmt_date(plan_as_of)}): not measured again; the "
           "responses since then would measure it")
    return {k: why for k, d in KPI_DEFINITIONS.items() if d.needs == "surveys"}


# --------------------------------------------------------------------------- accounts and segments
def account_outcome(revenue_plan: float, revenue_now: float, *, active: bool, grown: float = 0.10,
                    declined: float = 0.10) -> str:
    """``lost`` when the account is no longer active; else grown / declined beyond the thresholds; else stable.

    An account with no revenue at the plan that is active now has ``grown``.
    """
    if not active:
        return "lost"
    rp = float(revenue_plan) if revenue_plan is not None and np.isfinite(revenue_plan) else 0.0
    rn = float(revenue_now) if revenue_now is not None and np.isfinite(revenue_now) else 0.0
    if rp <= 0:
        return "grown" if rn > 0 else "stable"
    change = rn / rp - 1
    if change > grown + 1e-9:  # exactly at a threshold is within the band, whatever the float rounding
        return "grown"
    if change < -declined - 1e-9:
        return "declined"
    return "stable"


def _frame(df: pd.DataFrame, col: str = "account_id") -> pd.DataFrame:
    return df.assign(**{col: df[col].astype(str)}).drop_duplicates(col).set_index(col)


def compute_plan_key_accounts(plan_segments: pd.DataFrame, plan_kpis: pd.DataFrame, now_segments: pd.DataFrame,
                              now_kpis: pd.DataFrame, *, segment_col: str = "quadrant", names: pd.Series | None = None,
                              grown: float = 0.10, declined: float = 0.10, plan_whitespace: pd.DataFrame | None = None,
                              plan_categories: pd.DataFrame | None = None,
                              now_categories: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each key account of the plan's segmentation (``is_key``), then and now.

    ``revenue_plan`` / ``revenue_now`` are the KPI engine's trailing-12-month revenue
    (``account_kpis.revenue_12m`` of the plan run / this run), ``change`` the relative change,
    ``outcome`` :func:`account_outcome` with this run's ``active``; ``still_key`` is today's
    ``is_key``. With the plan's ``whitespace`` and both runs' ``account_category``:
    ``whitespace_plan`` (categories the plan named for the account), ``whitespace_converted``
    (of those, categories it had not bought at the plan and has bought since) and
    ``whitespace_categories`` (their names).
    """
    seg_p = _frame(plan_segments)
    key = seg_p[seg_p["is_key"].fillna(False).astype(bool)]
    kp, kn, sn = _frame(plan_kpis), _frame(now_kpis), _frame(now_segments)
    now_col = segment_col if segment_col in sn else "quadrant"
    ids = key.index
    out = pd.DataFrame({"account_id": ids})
    names = names if names is not None else pd.Series(dtype=object)
    out["account_name"] = out["account_id"].map(names).where(lambda s: s.notna(), out["account_id"])
    out["plan_segment"] = key[segment_col].astype(str).to_numpy()
    cur = ids.map(sn[now_col]) if now_col in sn else pd.Series(np.nan, index=ids)
    out["current_segment"] = pd.Series(cur, dtype=object).where(pd.notna(cur), NOT_IN_DATA).astype(str).to_numpy()
    still = ids.map(sn["is_key"]) if "is_key" in sn else pd.Series(np.nan, index=ids)
    out["still_key"] = pd.Series(still, dtype=object).fillna(False).astype(bool).to_numpy()
    out["revenue_plan"] = ids.map(kp["revenue_12m"]).astype(float).to_numpy() if "revenue_12m" in kp else np.nan
    out["revenue_now"] = pd.Series(ids.map(kn["revenue_12m"]), dtype=float).fillna(0.0).to_numpy()
    rp = out["revenue_plan"].astype(float)
    out["change"] = np.round(np.where(rp > 0, out["revenue_now"] / rp.where(rp > 0) - 1, np.nan), 10)
    active = pd.Series(ids.map(kn["active"]) if "active" in kn else np.nan, dtype=object).fillna(False).astype(bool)
    out["outcome"] = [account_outcome(a, b, active=c, grown=grown, declined=declined)
                      for a, b, c in zip(out["revenue_plan"], out["revenue_now"], active)]
    if "last_order_date" in kn:
        out["last_order_date"] = pd.to_datetime(ids.map(kn["last_order_date"])).to_numpy()
    if plan_whitespace is not None and {"account_id", "category"} <= set(plan_whitespace.columns) \
            and plan_categories is not None and now_categories is not None:
        def bought(cat: pd.DataFrame) -> set[tuple[str, str]]:
            c = cat[cat["revenue"].astype(float) > 0] if "revenue" in cat else cat
            return set(zip(c["account_id"].astype(str), c["category"].astype(str)))

        before, after = bought(plan_categories), bought(now_categories)
        ws = plan_whitespace.assign(account_id=plan_whitespace["account_id"].astype(str),
                                    category=plan_whitespace["category"].astype(str))
        named = ws.groupby("account_id")["category"].apply(lambda s: list(dict.fromkeys(s)))
        conv = {a: [c for c in cats if (a, c) in after and (a, c) not in before] for a, cats in named.items()}
        out["whitespace_plan"] = out["account_id"].map(named.map(len)).fillna(0).astype(int)
        out["whitespace_converted"] = out["account_id"].map({a: len(v) for a, v in conv.items()}).fillna(0).astype(int)
        out["whitespace_categories"] = out["account_id"].map({a: ", ".join(v) for a, v in conv.items()}).fillna("")
    order = {o: i for i, o in enumerate(OUTCOMES)}
    return (out.assign(_o=out["outcome"].map(order)).sort_values(["_o", "revenue_plan", "account_id"],
                                                                 ascending=[True, False, True])
            .drop(columns="_o").reset_index(drop=True))


def _members(plan_segments: pd.DataFrame, plan_kpis: pd.DataFrame, now_kpis: pd.DataFrame, segment_col: str):
    seg = _frame(plan_segments)
    kp, kn = _frame(plan_kpis), _frame(now_kpis)
    m = pd.DataFrame({"account_id": seg.index, "plan_segment": seg[segment_col].astype(str).to_numpy()})
    ids = seg.index
    m["revenue_plan"] = pd.Series(ids.map(kp["revenue_12m"]) if "revenue_12m" in kp else np.nan,
                                  dtype=float).fillna(0.0).to_numpy()
    m["revenue_now"] = pd.Series(ids.map(kn["revenue_12m"]), dtype=float).fillna(0.0).to_numpy()
    m["active_plan"] = pd.Series(ids.map(kp["active"]) if "active" in kp else np.nan,
                                 dtype=object).fillna(False).astype(bool).to_numpy()
    m["active_now"] = pd.Series(ids.map(kn["active"]), dtype=object).fillna(False).astype(bool).to_numpy()
    m["is_key"] = seg["is_key"].fillna(False).astype(bool).to_numpy() if "is_key" in seg else False
    return m


def compute_plan_segments(plan_segments: pd.DataFrame, plan_kpis: pd.DataFrame, now_kpis: pd.DataFrame, *,
                          segment_col: str = "quadrant", order: list[str] | None = None) -> pd.DataFrame:
    """Each committed segment, its members followed to today.

    ``accounts`` = the plan's members; ``accounts_active_plan`` / ``accounts_active`` = members
    active at the plan / now (the engine's ``active``); ``retention`` = members active at the
    plan still active now / members active at the plan (NaN without any); revenue is the
    engine's trailing-12-month revenue of the members then and now; ``key_accounts`` = the
    segment's committed key accounts.
    """
    m = _members(plan_segments, plan_kpis, now_kpis, segment_col)
    g = m.groupby("plan_segment", sort=False)
    out = pd.DataFrame({
        "accounts": g.size(), "key_accounts": g["is_key"].sum().astype(int),
        "accounts_active_plan": g["active_plan"].sum().astype(int), "accounts_active": g["active_now"].sum().astype(int),
        "revenue_plan": g["revenue_plan"].sum(), "revenue_now": g["revenue_now"].sum(),
        "retained": m[m["active_plan"]].groupby("plan_segment")["active_now"].sum(),
    })
    out["retention"] = out["retained"] / out["accounts_active_plan"].where(out["accounts_active_plan"] > 0)
    out["change"] = out["revenue_now"] / out["revenue_plan"].where(out["revenue_plan"] > 0) - 1
    out = out.drop(columns="retained").rename_axis("segment").reset_index()
    rank = {s: i for i, s in enumerate(order or [])}
    out = out.assign(_r=out["segment"].map(rank).fillna(len(rank))).sort_values(["_r", "segment"]).drop(columns="_r")
    return out[["segment", "accounts", "key_accounts", "accounts_active_plan", "accounts_active", "revenue_plan",
                "revenue_now", "change", "retention"]].reset_index(drop=True)


def compute_plan_migration(plan_segments: pd.DataFrame, plan_kpis: pd.DataFrame, now_segments: pd.DataFrame,
                           now_kpis: pd.DataFrame, *, segment_col: str = "quadrant",
                           order: list[str] | None = None) -> pd.DataFrame:
    """Committed segment x today's segment: where the plan's members are now.

    Rows are the plan run's ``segments`` (the segmentation the client committed to), columns
    this run's; a member today's data does not have is in :data:`NOT_IN_DATA`. ``accounts``,
    ``revenue_plan`` / ``revenue_now`` (the engine's trailing-12-month revenue),
    ``share_of_plan_segment`` (of the row's accounts) and ``moved`` (the segment changed).
    """
    m = _members(plan_segments, plan_kpis, now_kpis, segment_col)
    sn = _frame(now_segments)
    col = segment_col if segment_col in sn else "quadrant"
    cur = m["account_id"].map(sn[col]) if col in sn else pd.Series(np.nan, index=m.index)
    m["current_segment"] = pd.Series(cur, dtype=object).where(pd.notna(cur), NOT_IN_DATA).astype(str)
    g = m.groupby(["plan_segment", "current_segment"], sort=False)
    out = pd.DataFrame({"accounts": g.size(), "revenue_plan": g["revenue_plan"].sum(),
                        "revenue_now": g["revenue_now"].sum()}).reset_index()
    out["share_of_plan_segment"] = out["accounts"] / out.groupby("plan_segment")["accounts"].transform("sum")
    out["moved"] = out["plan_segment"] != out["current_segment"]
    rank = {s: i for i, s in enumerate(order or [])}
    out = out.assign(_a=out["plan_segment"].map(rank).fillna(len(rank)),
                     _b=out["current_segment"].map(rank).fillna(len(rank) + (out["current_segment"] == NOT_IN_DATA)))
    out = out.sort_values(["_a", "plan_segment", "_b", "current_segment"]).drop(columns=["_a", "_b"])
    return out[["plan_segment", "current_segment", "accounts", "revenue_plan", "revenue_now",
                "share_of_plan_segment", "moved"]].reset_index(drop=True)


# --------------------------------------------------------------------------- coverage
def _is_manager(values: pd.Series, no_coverage: list[str]) -> pd.Series:
    v = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    return (v != "") & ~v.str.lower().isin({s.strip().lower() for s in no_coverage})


def compute_plan_coverage(coverage_plan: pd.DataFrame, now_accounts: pd.DataFrame | None, *,
                          no_coverage: list[str] = (), manager_col: str = "account_manager") -> pd.DataFrame:
    """Coverage delivered against the plan, per manager the plan assigned accounts to.

    ``accounts_planned`` / ``hours_planned`` = the plan's accounts and hours for the manager
    (``coverage_plan.assigned_manager``, ``hours_allocated``; empty and ``no_coverage``
    labels are no manager); ``accounts_delivered`` = of those accounts, the ones today's
    accounts data names that manager for (``now_accounts[manager_col]``); ``delivery_rate``
    = delivered / planned. Without a manager column in today's data the delivery is NaN and
    ``status`` says what would measure it.
    """
    cp = coverage_plan.copy()
    cp["account_id"] = cp["account_id"].astype(str)
    mgr_col = "assigned_manager" if "assigned_manager" in cp else "account_manager"
    cp = cp[_is_manager(cp[mgr_col], list(no_coverage))]
    cp["manager"] = cp[mgr_col].astype(str).str.strip()
    hours = cp["hours_allocated"].astype(float) if "hours_allocated" in cp else pd.Series(np.nan, index=cp.index)
    cp["hours"] = hours
    g = cp.groupby("manager", sort=True)
    out = pd.DataFrame({"accounts_planned": g.size(), "hours_planned": g["hours"].sum(min_count=1)})
    has_now = now_accounts is not None and manager_col in now_accounts and \
        _is_manager(now_accounts[manager_col], []).any()
    if has_now:
        now = _frame(now_accounts)[manager_col].astype(object).where(lambda s: s.notna(), "").astype(str).str.strip()
        cp["delivered"] = cp["account_id"].map(now).fillna("").str.lower() == cp["manager"].str.lower()
        out["accounts_delivered"] = cp.groupby("manager")["delivered"].sum().astype(int)
        out["delivery_rate"] = out["accounts_delivered"] / out["accounts_planned"]
        out["status"] = [f"{d} of {p} planned accounts have this manager in today's accounts data"
                         for d, p in zip(out["accounts_delivered"], out["accounts_planned"])]
    else:
        out["accounts_delivered"] = np.nan
        out["delivery_rate"] = np.nan
        out["status"] = ("not measurable: today's accounts data names no account manager; send the accounts file "
                         "with each account's manager to measure the coverage delivered")
    out = out.rename_axis("manager").reset_index()
    return out[["manager", "accounts_planned", "accounts_delivered", "hours_planned", "delivery_rate", "status"]]


# --------------------------------------------------------------------------- actions and recommendations
def _with_status(frame: pd.DataFrame, id_col: str, returned: pd.DataFrame | None, as_of: dt.date) -> pd.DataFrame:
    out = frame.copy()
    out[id_col] = out[id_col].astype(str)
    if returned is not None and len(returned):
        r = returned.assign(action_id=returned["action_id"].astype(str)).drop_duplicates("action_id")
        r = r.set_index("action_id")
        out["status"] = out[id_col].map(r["status"]).fillna(NOT_REPORTED)
        out["status_date"] = pd.to_datetime(out[id_col].map(r["status_date"]))
        out["comment"] = out[id_col].map(r["comment"]).fillna("")
        out["source"] = out[id_col].map(r["source"]).fillna("")
    else:
        out["status"], out["status_date"], out["comment"], out["source"] = NOT_REPORTED, pd.NaT, "", ""
    due = pd.to_datetime(out["due_date"]) if "due_date" in out else pd.Series(pd.NaT, index=out.index)
    # overdue needs a reported status: an unreported action may well be done (its status is unknown)
    out["overdue"] = (due < pd.Timestamp(as_of)) & out["status"].isin(["in progress", "not started"])
    return out


def compute_plan_actions(actions: pd.DataFrame, returned: pd.DataFrame | None, *, as_of: dt.date,
                         names: pd.Series | None = None) -> pd.DataFrame:
    """Each committed account-plan action with its returned status and whether it is overdue.

    ``status`` from the returned file (``not reported`` when it does not mention the action),
    ``status_date``, ``comment``, ``source`` (file and row); ``overdue`` = due before ``as_of``
    and reported in progress or not started (an unreported action's status is unknown). ``account_name`` from ``names`` (the display names, which
    honour pseudonymisation) when given.
    """
    acts = actions if "action_id" in actions else actions.assign(action_id=action_ids(actions).to_numpy())
    out = _with_status(acts, "action_id", returned, as_of)
    if names is not None:
        out["account_name"] = out["account_id"].astype(str).map(names).where(lambda s: s.notna(),
                                                                             out.get("account_name"))
    cols = ["action_id", "account_id", "account_name", "action", "owner", "due_date", "kpi", "target", "status",
            "status_date", "comment", "overdue", "source"]
    return out[[c for c in cols if c in out]].reset_index(drop=True)


def compute_plan_recommendations(recs: pd.DataFrame, returned: pd.DataFrame | None, *,
                                 as_of: dt.date) -> pd.DataFrame:
    """Each recommendation of the plan run (``recommendation_id``, its text as ``title``) with its returned status.

    As :func:`compute_plan_actions`; ``overdue`` needs the recommendation's ``due_date``.
    """
    r = recs if "recommendation_id" in recs else recs.assign(recommendation_id=recommendation_ids(recs).to_numpy())
    r = r.rename(columns={"recommendation": "title"})
    out = _with_status(r, "recommendation_id", returned, as_of)
    if "due_date" not in r:
        out["overdue"] = False
    cols = ["recommendation_id", "title", "rank", "owner", "due_date", "value", "value_basis", "status",
            "status_date", "comment", "overdue", "source"]
    return out[[c for c in cols if c in out]].reset_index(drop=True)


# --------------------------------------------------------------------------- summary
def compute_plan_summary(plan: Plan, *, as_of: dt.date, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The follow-up in figures (``metric, label, value, unit, note, text``): one row per figure.

    Dates and names are in ``text`` (``value`` NaN); every count comes from the ``plan_*``
    tables, so a deliverable citing a figure cites the same number as the table. One
    ``left_out_<table>`` row per missing commitment table says what is left out.
    """
    rows = []

    def add(metric, label, value=np.nan, unit="count", note="", text=""):
        rows.append({"metric": metric, "label": label, "value": float(value) if value is not None else np.nan,
                     "unit": unit, "note": note, "text": text})

    add("plan_run", "Plan reviewed", unit="text", text=plan.run_id, note="the run whose commitments are measured")
    add("plan_as_of", "Data of the plan up to", unit="date", text=plan.as_of.isoformat())
    add("as_of", "Data of this review up to", unit="date", text=as_of.isoformat())
    add("months_since", "Months since the plan", months_between(plan.as_of, as_of), unit="months")
    ka = tables.get("plan_key_accounts")
    if ka is not None:
        add("key_accounts", "Key accounts in the plan", len(ka))
        for o in OUTCOMES:
            add(f"key_accounts_{o}", f"Key accounts {o}", int((ka["outcome"] == o).sum()),
                note="lost: no longer active; grown / declined: trailing-12-month revenue beyond the thresholds")
        add("key_accounts_still_key", "Key accounts still key today", int(ka["still_key"].sum()))
        add("revenue_key_plan", "Revenue of the plan's key accounts at the plan", ka["revenue_plan"].sum(),
            unit="currency", note="trailing 12 months")
        add("revenue_key_now", "Revenue of the plan's key accounts now", ka["revenue_now"].sum(), unit="currency",
            note="trailing 12 months")
    kp = tables.get("plan_kpis")
    if kp is not None:
        with_t = kp[kp["status"] != "no target"]
        add("kpis_with_target", "KPIs with a committed target", len(with_t))
        for s in ("met", "on track", "off track"):
            add(f"kpis_{s.replace(' ', '_')}", f"KPIs {s}", int((kp["status"] == s).sum()))
    for name, noun in (("plan_actions", "actions"), ("plan_recommendations", "recommendations")):
        t = tables.get(name)
        if t is None:
            continue
        add(noun, f"{noun.capitalize()} in the plan", len(t))
        for s in ("done", "in progress", "not started", "dropped", NOT_REPORTED):
            add(f"{noun}_{s.replace(' ', '_')}", f"{noun.capitalize()} {s}", int((t["status"] == s).sum()))
        add(f"{noun}_overdue", f"{noun.capitalize()} overdue", int(t["overdue"].sum()),
            note="due before the as-of date and reported in progress or not started")
    if plan.actions_file is not None:
        add("actions_file", "Returned actions file", unit="text", text=plan.actions_file.name)
    for name, what in plan.missing.items():
        add(f"left_out_{name}", "Left out: the plan run has no record of it", unit="text", text=what,
            note=f"the plan run has no {name} table")
    return pd.DataFrame(rows, columns=["metric", "label", "value", "unit", "note", "text"])


# --------------------------------------------------------------------------- the run
def compute_followup(run, plan: Plan) -> dict[str, pd.DataFrame]:
    """Every ``plan_*`` table the plan run's commitments support, against this run's tables.

    A table whose commitment is missing from the plan run is not computed (``plan.missing``
    says what is left out); ``plan_summary`` is always computed.
    """
    p = run.params
    rv, as_of = p.review, p.analysis.as_of_date
    have = set(plan.tables)
    names = run.account_display_names() if run.has_data("accounts") else None
    order = p.segmentation.quadrant_names.ordered()
    out: dict[str, pd.DataFrame] = {}

    def can(name):
        return all(t in have for t in _NEEDS[name])

    if can("plan_kpis"):
        mid = trajectory_date(plan.as_of, as_of)
        out["plan_kpis"] = compute_plan_kpis(plan.tables["kpi_headline"], run.read_table("kpi_headline"),
                                             plan.targets, months_since=months_between(plan.as_of, as_of),
                                             target_months=rv.followup_target_months,
                                             unmeasured=unmeasured_kpis(run, plan.as_of),
                                             midpoint=midpoint_headline(run, mid) if mid else None, midpoint_date=mid)
    if can("plan_key_accounts"):
        segs_p, kpis_p = plan.tables["segments"], plan.tables["account_kpis"]
        segs_n, kpis_n = run.read_table("segments"), run.read_table("account_kpis")
        col = plan.segment_column
        out["plan_key_accounts"] = compute_plan_key_accounts(
            segs_p, kpis_p, segs_n, kpis_n, segment_col=col, names=names, grown=rv.followup_grown,
            declined=rv.followup_declined, plan_whitespace=plan.tables.get("whitespace"),
            plan_categories=plan.tables.get("account_category"),
            now_categories=run.read_table("account_category"))
        out["plan_segments"] = compute_plan_segments(segs_p, kpis_p, kpis_n, segment_col=col, order=order)
        out["plan_migration"] = compute_plan_migration(segs_p, kpis_p, segs_n, kpis_n, segment_col=col, order=order)
    if can("plan_coverage"):
        out["plan_coverage"] = compute_plan_coverage(plan.tables["coverage_plan"], run.read_table("account_kpis"),
                                                     no_coverage=rv.no_coverage_labels)
    if can("plan_actions"):
        out["plan_actions"] = compute_plan_actions(plan.tables["account_plan_actions"], plan.returned, as_of=as_of,
                                                   names=names)
    if can("plan_recommendations"):
        out["plan_recommendations"] = compute_plan_recommendations(plan.tables["recommendations"], plan.returned,
                                                                   as_of=as_of)
    out = {"plan_summary": compute_plan_summary(plan, as_of=as_of, tables=out), **out}
    return out


def write_followup(run) -> tuple[Plan, dict[str, pd.DataFrame]] | None:
    """The review notebook's one call: with ``review.plan_run`` set, load the plan, compute and write the
    ``plan_*`` tables and return ``(plan, tables)``; without it, write nothing and return None."""
    spec = run.params.review.plan_run
    if not spec:
        return None
    plan = load_plan(spec, run.params)
    tables = compute_followup(run, plan)
    for name, df in tables.items():
        run.write_table(name, df)
    return plan, tables
