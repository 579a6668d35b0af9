"""Recommendations: rules that turn the review's evidence into ranked, valued actions.

Each rule reads one kind of evidence (the segment scorecard, churn risk and coverage, the
whitespace opportunities, the playbook cohorts) and returns candidate actions with the
evidence they rest on, a value and what that value measures (``value_basis``).
:func:`compute_recommendations` ranks them all by value; the ``recommendations`` table
keeps every one, so the count of recommendations is its number of rows and a list that
shows fewer says "top N of M".
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..metrics import format_kpi, kpi_prose
from .coverage import accounts_with_manager_time
from .review import ALL_ACCOUNTS
from ..present.formats import fmt_count, fmt_money, is_num
from .whitespace import summarise_whitespace

__all__ = [
    "VALUE_BASIS",
    "RULE_OWNERS",
    "LOYALTY_KPIS",
    "rule_segment_target_gaps",
    "rule_uncovered_risk",
    "rule_whitespace",
    "rule_stalled_playbooks",
    "compute_recommendations",
    "rule_owner",
    "digital_segment_owners",
    "RULE_OWNERS_NO_KEY",
    "compute_run_recommendations",
    "recommendation_id",
    "recommendation_ids",
    "KPI",
    "touched_accounts",
    "with_costs",
    "ACCOUNT_IDS",
]


_REC_COLUMNS = ["rank", "rule", "recommendation", "evidence", "value", "value_basis", "segment"]
#: the accounts a rule's recommendation touches, where the rule names them ("; "-joined ids): what
#: its cost is counted on (:func:`kam_analysis.phases.business_case.recommendation_costs`)
ACCOUNT_IDS = "account_ids"
#: The KPI a recommendation is about (segment target gaps, stalled playbooks); part of its id.
KPI = "kpi"

#: who owns each kind of recommendation and how many days from the plan date it is due: the
#: consultant's proposal, shown beside each recommendation for the client to confirm
RULE_OWNERS: dict[str, tuple[str, int]] = {
    "uncovered_high_risk": ("Head of sales", 30),
    "stalled_playbook": ("KAM programme lead", 60),
    "segment_target_gap": ("Key-account lead of the segment", 90),
    "whitespace": ("Key-account managers, with marketing", 90),
}

#: the owners when the client has no key account: no key-account manager or KAM programme to
#: own anything, so the sales organisation does
RULE_OWNERS_NO_KEY: dict[str, tuple[str, int]] = {
    "uncovered_high_risk": ("Head of sales", 30),
    "stalled_playbook": ("Head of sales", 60),
    "segment_target_gap": ("Sales lead of the segment", 90),
    "whitespace": ("Sales team, with marketing", 90),
}


def rule_owner(rule: str, *, has_key_accounts: bool = True) -> tuple[str, int]:
    """(owner, days to due) of a recommendation rule; without key accounts no owner is a key-account role."""
    table = RULE_OWNERS if has_key_accounts else RULE_OWNERS_NO_KEY
    return table.get(rule, ("KAM programme lead", 90) if has_key_accounts else ("Head of sales", 90))


#: what a recommendation's ``value`` measures (the ``value_basis`` column); values of different
#: bases are never added up
VALUE_BASIS = {
    "risk": "revenue at risk of churn",
    "uplift": "revenue uplift if the KPI reached target",
    "expected": "expected cross-sell value",
    "shortfall": "revenue short of the expected improvement",
}


#: relationship KPIs: missing their target puts the segment's revenue at risk of churn
LOYALTY_KPIS = frozenset({"nps", "nps_revenue_weighted", "csat_top2", "csat_mean", "retention_rate", "churn_rate",
                          "repeat_purchase_rate"})


def _segment_risk(churn_risk: pd.DataFrame | None, segments: pd.DataFrame | None, segment: str, *,
                  segment_col: str, account_col: str) -> float | None:
    """Summed ``revenue_at_risk`` of the segment's accounts, or None when the tables are missing."""
    if (churn_risk is None or segments is None or segment_col not in segments
            or not {account_col, "revenue_at_risk"} <= set(churn_risk.columns)):
        return None
    ids = set(segments.loc[segments[segment_col].astype(str) == segment, account_col].astype(str))
    r = churn_risk[churn_risk[account_col].astype(str).isin(ids)]["revenue_at_risk"].astype(float)
    return float(r[np.isfinite(r)].sum())


def _lever_channel(segment: str, digital: set, managed: dict | None) -> str:
    """Where a segment's levers go: the business-review agenda of the accounts with manager time,
    the digital journeys of the others."""
    if segment in digital:
        return "into the segment's digital journeys"
    m, n = (managed or {}).get(segment, (None, None))
    if m is not None and 0 < m < n:
        return (f"on the next business-review agenda of its {m:,} account{'s' if m != 1 else ''} with manager "
                "time and into the digital journeys of the rest")
    return "on the next business-review agenda"


def rule_segment_target_gaps(scorecard: pd.DataFrame, segment_revenue: pd.Series, *,
                             churn_risk: pd.DataFrame | None = None, segments: pd.DataFrame | None = None,
                             statuses: Iterable[str] = ("red",), currency: str = "EUR",
                             all_label: str = ALL_ACCOUNTS, segment_col: str = "quadrant",
                             account_col: str = "account_id", skip: Iterable[str] = (),
                             digital: Iterable[str] = (), managed: dict | None = None) -> pd.DataFrame:
    """Segments missing a KPI target, each valued at the money at stake for closing that gap.

    ``digital``: the segments none of whose accounts gets manager time in the plan: their levers go
    into the segment's digital journeys, not onto a business-review agenda they do not have.
    ``managed``: segment -> (accounts with manager time, accounts)
    (:func:`kam_analysis.phases.coverage.accounts_with_manager_time`):
    in a segment where only some have it, the business review is for those and the digital
    journeys for the rest.

    ``skip`` names segments that get no such recommendation: the inactive accounts (no order
    in the churn window), whose order value or growth no business review can lift.

    Fires for every segment x KPI of the scorecard with ``status_basis == "target"`` and a
    status in ``statuses``. ``value`` and ``value_basis`` (``R`` = the segment's
    trailing-12-month revenue, ``segment_revenue``):

    * relationship KPIs (:data:`LOYALTY_KPIS`: NPS, CSAT, retention, churn, repeat purchase)
      — "revenue at risk of churn": with ``churn_risk`` and ``segments``, the summed
      ``revenue_at_risk`` (churn probability x revenue) of the segment's accounts; else
      ``R x max(r* - r, 0)``, the segment's retention ``r`` short of the retention target
      ``r*`` (of the all-accounts retention without a target) in points — what the segment
      loses in a year beyond the retention it should have;
    * growth KPIs (already relative) — "revenue uplift": ``R x (target - current)``;
    * other KPIs (average order value, revenue, counts) — "revenue uplift":
      ``R x |target - current| / |current|``, the revenue gained if the KPI reached target
      at today's volume (e.g. the same orders at the target order value).

    A value is never the whole segment revenue by construction, and values of different
    bases are not comparable sums: the deliverables show each with its basis.
    """
    statuses = set(statuses)
    digital_set = set(map(str, digital))
    rows = []
    sc = scorecard[(scorecard["status_basis"] == "target") & scorecard["status"].isin(statuses)
                   & (scorecard["segment"] != all_label) & ~scorecard["segment"].isin(set(skip))]
    ret = scorecard[scorecard["kpi"] == "retention_rate"]
    ret_all = ret.loc[ret["segment"] == all_label, "value"]
    for r in sc.itertuples(index=False):
        rev = float(segment_revenue.get(r.segment, np.nan))
        if not np.isfinite(rev):
            continue
        label = kpi_prose(r.kpi)
        extra = ""
        if r.kpi in LOYALTY_KPIS:
            basis = VALUE_BASIS["risk"]
            risk = _segment_risk(churn_risk, segments, r.segment, segment_col=segment_col, account_col=account_col)
            if risk is not None:
                value = risk
                extra = f"; churn-risk model: revenue at risk in the segment {fmt_money(value, currency, style='full')}"
            else:
                seg_ret = ret[ret["segment"] == r.segment]
                if seg_ret.empty or not np.isfinite(seg_ret["value"].iloc[0]):
                    continue
                cur_ret = float(seg_ret["value"].iloc[0])
                tgt = float(seg_ret["target"].iloc[0]) if np.isfinite(seg_ret["target"].iloc[0]) else (
                    float(ret_all.iloc[0]) if len(ret_all) else np.nan)
                if not np.isfinite(tgt):
                    continue
                value = rev * max(tgt - cur_ret, 0.0)
                extra = (f"; retention {cur_ret:.1%} vs {tgt:.1%}: revenue at risk {fmt_money(value, currency, style='full')}")
        elif "growth" in r.kpi:
            basis, value = VALUE_BASIS["uplift"], rev * abs(r.target - r.value)
            extra = f"; revenue at target growth {fmt_money(value, currency, style='full')} higher"
        else:
            if not r.value:
                continue
            basis, value = VALUE_BASIS["uplift"], rev * abs(r.target - r.value) / abs(r.value)
            extra = f"; at today's volume, {fmt_money(value, currency, style='full')} more revenue at target"
        if not np.isfinite(value):
            continue
        rows.append({"rule": "segment_target_gap", "segment": r.segment, KPI: r.kpi,
                     "recommendation": f"Lift {label} in the {r.segment} segment to target: put the playbook's "
                                       f"{label} levers " + _lever_channel(str(r.segment), digital_set, managed),
                     "evidence": f"KPI scorecard: {r.segment} {label} = {format_kpi(r.value, r.kpi, currency, money='full')} vs target "
                                 f"{format_kpi(r.target, r.kpi, currency, money='full')} (status {r.status}); segment revenue (12m) "
                                 f"{fmt_money(rev, currency, style='full')}{extra}",
                     "value": float(value), "value_basis": basis})
    return pd.DataFrame(rows, columns=[*(c for c in _REC_COLUMNS if c != "rank"), KPI])


def _blank_or_label(values: pd.Series, labels: set[str]) -> pd.Series:
    """True where a manager field is empty or one of ``labels`` (case-insensitive)."""
    v = values.astype(object).where(values.notna(), "").astype(str).str.strip().str.lower()
    return (v == "") | v.isin(labels)


def rule_uncovered_risk(churn_risk: pd.DataFrame, accounts: pd.DataFrame | None, *,
                        high_bands: Iterable[str] = ("high",), no_coverage: Iterable[str] = (),
                        coverage_plan: pd.DataFrame | None = None, names: pd.Series | None = None,
                        currency: str = "EUR", manager_col: str = "account_manager",
                        plan_manager_col: str = "assigned_manager", covered_col: str = "covered",
                        account_col: str = "account_id", max_named: int = 3) -> pd.DataFrame:
    """High-risk accounts without a dedicated account manager.

    Coverage comes from the strategy phase's ``coverage_plan`` when given: an account in
    the plan is uncovered when the plan leaves it uncovered (``covered_col`` False; without
    that column, when its ``plan_manager_col`` is empty or one of ``no_coverage``) —
    accounts the plan serves digitally count as covered, as in the plan. Accounts not in
    the plan (or without a plan) fall back to today's ``manager_col`` of ``accounts``:
    uncovered when empty or one of ``no_coverage`` (case-insensitive, e.g. "Digital desk").
    Fires once when at least one account in a ``high_bands`` risk band is uncovered;
    value = their summed ``revenue_at_risk`` (churn probability x trailing revenue);
    ``value_basis`` "revenue at risk of churn".
    """
    cols = [c for c in _REC_COLUMNS if c != "rank"]
    has_plan = coverage_plan is not None and ({covered_col, plan_manager_col} & set(coverage_plan.columns))
    has_mgr = accounts is not None and manager_col in accounts
    if not has_plan and not has_mgr:
        return pd.DataFrame(columns=cols)
    bands = {b.lower() for b in high_bands}
    labels = {s.strip().lower() for s in no_coverage}
    m = churn_risk[churn_risk["risk_band"].astype(str).str.lower().isin(bands)].copy()
    m["_id"] = m[account_col].astype(str)
    uncovered = pd.Series(pd.NA, index=m.index, dtype="boolean")
    if has_plan:
        plan = coverage_plan.assign(_id=coverage_plan[account_col].astype(str)).drop_duplicates("_id")
        plan = plan.set_index("_id")
        if covered_col in plan:
            by_plan = ~plan[covered_col].astype("boolean").fillna(False)
        else:
            by_plan = _blank_or_label(plan[plan_manager_col], labels)
        uncovered = m["_id"].map(by_plan).astype("boolean")
    if has_mgr:
        acc = accounts.assign(_id=accounts[account_col].astype(str)).drop_duplicates("_id").set_index("_id")
        by_mgr = m["_id"].map(_blank_or_label(acc[manager_col], labels)).astype("boolean").fillna(True)
        uncovered = uncovered.fillna(by_mgr)
    m = m[uncovered.fillna(False).astype(bool)]
    m = m[m["revenue_at_risk"].fillna(0) > 0]
    if m.empty:
        return pd.DataFrame(columns=cols)
    m = m.sort_values(["revenue_at_risk", account_col], ascending=[False, True])
    total = float(m["revenue_at_risk"].sum())
    top = m.head(max_named)[account_col].astype(str)
    shown = [str(names.get(a, a)) if names is not None else a for a in top]
    more = f" and {len(m) - len(shown)} more" if len(m) > len(shown) else ""
    source = "churn-risk model and coverage plan" if has_plan else "churn-risk model"
    why = "the coverage plan leaves without a manager" if has_plan else "with no dedicated manager"
    return pd.DataFrame([{
        "rule": "uncovered_high_risk", "segment": "",
        "recommendation": f"Assign an account manager to the {len(m)} high-churn-risk account(s) without one, "
                          f"starting with {', '.join(shown)}{more}",
        "evidence": f"{source.capitalize()}: {len(m)} account(s) in risk band {'/'.join(sorted(bands))} {why}; "
                    f"revenue at risk {fmt_money(total, currency, style='full')}",
        "value": total, "value_basis": VALUE_BASIS["risk"],
        ACCOUNT_IDS: "; ".join(m[account_col].astype(str))}], columns=[*cols, ACCOUNT_IDS])


def rule_whitespace(whitespace: pd.DataFrame, *, top_n: int = 20, currency: str = "EUR",
                    account_col: str = "account_id") -> pd.DataFrame:
    """The largest cross-sell whitespace.

    ``whitespace`` is the opportunity set (:func:`kam_analysis.phases.whitespace.compute_whitespace`,
    every row a positive expected value). Fires when it is not empty; value = the summed
    expected value (probability x potential) of the ``top_n`` largest, ``value_basis``
    "expected cross-sell value"; the evidence says "top N of M", M the set's size
    (:func:`kam_analysis.phases.whitespace.summarise_whitespace`), and the text names the
    category with the most of the top opportunities' value.
    """
    cols = [c for c in _REC_COLUMNS if c != "rank"]
    if whitespace.empty:
        return pd.DataFrame(columns=cols)
    ws = summarise_whitespace(whitespace)
    top = whitespace.sort_values(["expected_value", account_col], ascending=[False, True]).head(top_n)
    total = float(top["expected_value"].sum())
    by_cat = top.groupby("category")["expected_value"].sum().sort_values(ascending=False)
    cat = str(by_cat.index[0])
    return pd.DataFrame([{
        "rule": "whitespace", "segment": "",
        "recommendation": f"Run a cross-sell push on the {len(top)} largest whitespace opportunities, led by "
                          f"{cat} ({fmt_money(float(by_cat.iloc[0]), currency, style='full')} of their {fmt_money(total, currency, style='full')})",
        "evidence": f"Cross-sell whitespace: top {len(top)} of {ws['opportunities']:,} opportunities, expected value "
                    f"{fmt_money(total, currency, style='full')} of {fmt_money(ws['expected_value'], currency, style='full')}",
        "value": total, "value_basis": VALUE_BASIS["expected"],
        ACCOUNT_IDS: "; ".join(dict.fromkeys(top[account_col].astype(str)))}], columns=[*cols, ACCOUNT_IDS])


def rule_stalled_playbooks(scorecard: pd.DataFrame, playbook_segments: Iterable[str], *,
                           kpi: str = "revenue_12m", min_improvement: float = 0.0, currency: str = "EUR",
                           source: str = "Same accounts since the baseline", min_accounts: int = 1) -> pd.DataFrame:
    """Playbooks whose segment did not improve since the baseline.

    Fires for each playbook segment whose ``kpi`` (default trailing-12-month revenue) changed
    by no more than ``min_improvement`` (relative) between baseline and now; value = the
    revenue lost (baseline - current, at least 0) plus the improvement that was expected
    (``min_improvement`` x baseline); ``value_basis`` "revenue short of the expected
    improvement". A cohort of fewer than ``min_accounts`` accounts (the scorecard's ``n``) is
    not judged: one or two accounts' revenue says nothing about a playbook.
    """
    cols = [c for c in _REC_COLUMNS if c != "rank"]
    sc = scorecard[(scorecard["kpi"] == kpi) & scorecard["segment"].isin(set(map(str, playbook_segments)))]
    rows = []
    for r in sc.itertuples(index=False):
        if not (np.isfinite(r.baseline) and np.isfinite(r.value)) or r.baseline <= 0:
            continue
        change = r.value / r.baseline - 1
        if change > min_improvement:
            continue
        if is_num(getattr(r, "n", None)) and r.n < min_accounts:
            continue
        value = max(r.baseline - r.value, 0.0) + min_improvement * r.baseline
        # the cohort is the segment's members at the baseline, not today's (whose growth the segment
        # scorecard shows, and which accounts moving in can flatter): the words say which
        n = getattr(r, "n", None)
        who = (f"the account that was {r.segment} at the baseline has" if is_num(n) and n == 1 else
               f"the {fmt_count(n)} accounts that were {r.segment} at the baseline have" if is_num(n) and n > 0
               else f"the accounts that were {r.segment} at the baseline have")
        rows.append({"rule": "stalled_playbook", "segment": r.segment, KPI: kpi,
                     "recommendation": f"Revisit the {r.segment} playbook: {who} not grown; check cadence, "
                                       "offer and coverage",
                     "evidence": f"{source}: {kpi_prose(kpi)} {fmt_money(r.value, currency, style='full')} "
                                 f"now vs {fmt_money(r.baseline, currency, style='full')} then ({change:+.1%}); "
                                 "the segment's scorecard follows today's members; part of a fall may be "
                                 "drift toward the average",
                     "value": float(value), "value_basis": VALUE_BASIS["shortfall"]})
    return pd.DataFrame(rows, columns=[*cols, KPI])


#: The short word of each rule in a recommendation's id (a rule not listed uses its own name).
_RULE_WORDS = {"segment_target_gap": "target-gap", "stalled_playbook": "playbook", "uncovered_high_risk": "uncovered-risk",
               "whitespace": "whitespace"}
_KPI_WORDS = {"retention_rate": "retention", "churn_rate": "churn", "repeat_purchase_rate": "repeat-purchase",
              "average_order_value": "order-value", "revenue_growth_yoy": "growth", "revenue_12m": "revenue"}


def _slug(text, limit: int = 24) -> str:
    s = "".join(c if c.isalnum() else "-" for c in str(text).strip().lower())
    s = "-".join(p for p in s.split("-") if p)
    return s[:limit].rstrip("-")


def recommendation_id(rule: str = "", segment: str = "", kpi: str = "") -> str:
    """The content id of one recommendation: ``REC-<what>-<segment>``, from what it is about.

    ``what`` is the KPI for a segment target gap (``REC-retention-strategic``; ``target-gap``
    when the KPI is not recorded, as in plan runs made before the ``kpi`` column), else the
    rule's word (:data:`_RULE_WORDS`: ``REC-playbook-develop``, ``REC-uncovered-risk``,
    ``REC-whitespace``); lowercase, words joined by ``-``. The same finding gets the same id
    in every run, whatever its rank, so a status the client returns stays on the
    recommendation it was given for when the plan is measured a quarter later.
    """
    rule = "" if rule is None or (isinstance(rule, float) and np.isnan(rule)) else str(rule)
    what = _RULE_WORDS.get(rule, _slug(rule))
    kpi_word = _KPI_WORDS.get(str(kpi), _slug(kpi)) if kpi and isinstance(kpi, str) else ""
    if rule == "segment_target_gap" and kpi_word:
        what = kpi_word
    elif not what:
        what = kpi_word or "rule"
    elif kpi_word and rule not in _RULE_WORDS:
        what = f"{what}-{kpi_word}"
    seg = _slug(segment) if isinstance(segment, str) else ""
    return "-".join(p for p in ("REC", what, seg) if p)


def recommendation_ids(recs: pd.DataFrame) -> pd.Series:
    """The id of each recommendation of a run (:func:`recommendation_id`), in the table's order.

    Two recommendations about the same thing (the same rule, segment and KPI) get ``-2``,
    ``-3`` ... in rank order, so ids are unique within a run. The form (``REC-`` and words)
    differs from an account-plan action's ``<account_id>-<n>``, so one returned file can
    report on both; the follow-up review matches the returned status on it.
    """
    col = lambda c: recs[c] if c in recs else pd.Series([""] * len(recs), index=recs.index)  # noqa: E731
    base = [recommendation_id(r, s, k) for r, s, k in zip(col("rule"), col("segment"), col(KPI).fillna(""))]
    seen: dict[str, int] = {}
    out = []
    for b in base:
        seen[b] = seen.get(b, 0) + 1
        out.append(b if seen[b] == 1 else f"{b}-{seen[b]}")
    return pd.Series(out, index=recs.index, dtype=object, name="recommendation_id")


def compute_recommendations(*rule_outputs: pd.DataFrame, plan_date=None, has_key_accounts: bool = True) -> pd.DataFrame:
    """All rules' recommendations ranked by value (largest first): ``rank, rule, recommendation,
    evidence, value, value_basis, segment`` (``kpi`` when a rule names one), ``recommendation_id`` (:func:`recommendation_ids`), and with ``plan_date`` each one's ``owner`` and
    ``due_date`` (:data:`RULE_OWNERS`: days after the plan date; :data:`RULE_OWNERS_NO_KEY`
    when ``has_key_accounts`` is False, so no owner is a role the client does not have).

    Every recommendation is kept: the table's number of rows is *the* number of
    recommendations, ``rank`` runs 1..M without gaps, and a view that shows the first N
    says "top N of M". Ranking by value orders the actions by money at stake; the values
    are of different bases (``value_basis``) and are never summed."""
    frames = [f for f in rule_outputs if f is not None and len(f)]
    if not frames:
        return pd.DataFrame(columns=[*_REC_COLUMNS, "recommendation_id"])
    df = pd.concat(frames, ignore_index=True)
    if "value_basis" not in df:
        df["value_basis"] = ""
    df["value_basis"] = df["value_basis"].fillna("")
    df = df[np.isfinite(df["value"].astype(float))]
    df = df.sort_values(["value", "rule", "segment"], ascending=[False, True, True], kind="stable")
    df.insert(0, "rank", range(1, len(df) + 1))
    df = df[_REC_COLUMNS + [c for c in (KPI, ACCOUNT_IDS) if c in df]].reset_index(drop=True)
    if KPI in df:
        df[KPI] = df[KPI].fillna("")
    df["recommendation_id"] = recommendation_ids(df)
    if plan_date is not None:
        df["owner"] = df["rule"].map(lambda r: rule_owner(r, has_key_accounts=has_key_accounts)[0])
        days = df["rule"].map(lambda r: rule_owner(r, has_key_accounts=has_key_accounts)[1])
        df["due_date"] = pd.Timestamp(plan_date) + pd.to_timedelta(days.astype(int), unit="D")
    return df


def digital_segment_owners(coverage_plan: pd.DataFrame | None, segment_playbook: pd.DataFrame | None) -> dict[str, str]:
    """segment -> its playbook's accountable role, for the segments none of whose accounts gets
    manager time in the coverage plan (:func:`~kam_analysis.phases.coverage.accounts_with_manager_time`:
    served digitally): a recommendation on such a segment is owned by that role, not by a
    key-account lead it does not have. {} without the tables."""
    counts, _ = accounts_with_manager_time(coverage_plan)
    if not counts or segment_playbook is None or not {"segment", "accountable"} <= set(segment_playbook.columns):
        return {}
    role = segment_playbook.assign(segment=segment_playbook["segment"].astype(str)).set_index("segment")["accountable"]
    return {s: str(role[s]).strip() for s, (m, _n) in counts.items()
            if m == 0 and s in role.index and isinstance(role[s], str) and role[s].strip()}


def compute_run_recommendations(run, *, scorecard: pd.DataFrame, cohorts: pd.DataFrame | None,
                                accounts: pd.DataFrame | None) -> tuple[pd.DataFrame, list[str]]:
    """Apply every recommendation rule to the run's tables; return (ranked table, notes on skipped rules).

    Rules read their inputs with ``run.read_table`` (``churn_risk``, ``whitespace`` and
    ``coverage_plan`` come from the strategy phase, which always writes them: a missing one
    fails the run, naming it); a rule whose input has no rows or lacks a column is skipped and
    named in the notes, never guessed. ``accounts`` carries today's ``account_manager`` (the ``account_kpis``
    table does), the fallback where the run has no coverage plan.
    """
    p = run.params
    rv, cur = p.review, p.client.currency
    notes: list[str] = []
    seg_rev = scorecard[scorecard["kpi"] == "revenue_12m"].set_index("segment")["value"]
    risk = run.read_table("churn_risk")
    segs = run.read_table("segments")
    seg_col = rv.segment_column if segs is not None and rv.segment_column in segs else "quadrant"
    if risk is not None and not {"account_id", "revenue_at_risk"} <= set(risk.columns):
        risk = None
    no_scores = risk is not None and risk.empty
    if no_scores:  # the churn model was not supported by the data: no revenue at risk to cite, not zero
        risk = None
        notes.append("churn-risk evidence and the uncovered-risk rule skipped: the churn_risk table has no scored "
                     "account (the data did not support the churn model; see churn_model_status)")
    full_plan = run.read_table("coverage_plan")
    owners = digital_segment_owners(full_plan, run.read_table("segment_playbook")
                                    if run.has_table("segment_playbook") else None)
    outputs = [rule_segment_target_gaps(scorecard, seg_rev, churn_risk=risk, segments=segs, segment_col=seg_col,
                                        statuses=rv.recommend_on_status, currency=cur,
                                        skip=[p.segmentation.key_accounts.tier_names.inactive], digital=owners,
                                        managed=accounts_with_manager_time(full_plan)[0])]
    plan = full_plan
    if plan is not None and not {"covered", "assigned_manager"} & set(plan.columns):
        plan = None
    if no_scores:
        pass
    elif risk is None or not {"risk_band", "revenue_at_risk"} <= set(risk.columns):
        notes.append("uncovered-risk rule skipped: the run has no churn_risk table with risk_band and "
                     "revenue_at_risk")
    elif plan is None and (accounts is None or "account_manager" not in accounts):
        notes.append("uncovered-risk rule skipped: no coverage_plan table and the accounts data has no "
                     "account_manager column")
    else:
        if plan is None:
            notes.append("uncovered-risk rule: no coverage_plan table, coverage read from today's account_manager")
        outputs.append(rule_uncovered_risk(risk, accounts, high_bands=rv.high_risk_bands, coverage_plan=plan,
                                           no_coverage=rv.no_coverage_labels, names=run.account_display_names(),
                                           currency=cur))
    ws = run.read_table("whitespace")
    if ws is None or not {"category", "expected_value"} <= set(ws.columns):
        notes.append("whitespace rule skipped: the run has no whitespace table with category and expected_value")
    else:
        outputs.append(rule_whitespace(ws, top_n=rv.whitespace_top_n, currency=cur))
    if cohorts is None:
        notes.append("stalled-playbook rule skipped: no playbook cohorts (see above)")
    else:
        inactive = p.segmentation.key_accounts.tier_names.inactive  # stopped buying: a win-back list, not a cohort
        outputs.append(rule_stalled_playbooks(cohorts, [s for s in cohorts["segment"].unique() if s != inactive],
                                              min_improvement=rv.playbook_min_improvement, currency=cur,
                                              min_accounts=p.thresholds.min_denominator))
    has_key = segs is None or "is_key" not in segs or bool(segs["is_key"].fillna(False).astype(bool).any())
    recs = compute_recommendations(*outputs, plan_date=p.strategy.plan_date or p.analysis.as_of_date,
                                   has_key_accounts=has_key)
    if owners and len(recs) and {"owner", "segment", "rule"} <= set(recs.columns):
        # a segment without manager time has no key-account lead: its playbook's accountable role owns it
        mapped = recs["segment"].astype(str).map(owners)
        mine = recs["rule"].isin(["segment_target_gap", "stalled_playbook"]) & mapped.notna()
        recs.loc[mine, "owner"] = mapped[mine]
    return with_costs(recs, segments=segs, segment_col=seg_col, coverage_plan=run.read_table("coverage_plan"),
                      params=p), notes


def touched_accounts(recs: pd.DataFrame, *, segments: pd.DataFrame | None, segment_col: str) -> list[list[str]]:
    """Per recommendation, the accounts it touches: those its rule names (``account_ids``), else
    every account of its segment (a segment's target gap or playbook), else none."""
    by_seg: dict[str, list[str]] = {}
    if segments is not None and segment_col in segments:
        for s, g in segments.groupby(segments[segment_col].astype(str)):
            by_seg[str(s)] = g["account_id"].astype(str).tolist()
    out = []
    for _, r in recs.iterrows():
        ids = str(r.get(ACCOUNT_IDS) or "") if ACCOUNT_IDS in recs else ""
        if ids and ids != "nan":
            out.append([a for a in ids.split("; ") if a])
        else:
            out.append(by_seg.get(str(r.get("segment") or ""), []))
    return out


def with_costs(recs: pd.DataFrame, *, segments: pd.DataFrame | None, segment_col: str,
               coverage_plan: pd.DataFrame | None, params) -> pd.DataFrame:
    """The recommendations with what each costs a year (:func:`~kam_analysis.phases.business_case.
    recommendation_costs`: manager hours of the accounts it touches x the cost of an hour, plus their
    share of the tools), ``cost_overlap`` (the part a higher-ranked one touching the same accounts already
    counts) and ``cost_assumed`` when a cost parameter is the documented assumption."""
    from .business_case import recommendation_costs

    cost = recommendation_costs(touched_accounts(recs, segments=segments, segment_col=segment_col), coverage_plan,
                                cost_per_hour=params.strategy.cost_per_hour,
                                tools_cost_per_year=params.strategy.tools_cost_per_year)
    out = recs.drop(columns=[ACCOUNT_IDS], errors="ignore").reset_index(drop=True)
    return pd.concat([out, cost[["accounts_touched", "cost_hours", "cost", "cost_overlap", "cost_assumed"]]], axis=1)
