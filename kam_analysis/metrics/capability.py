"""The data-capability profile of a run: what the client gave, and what each analysis it supports.

Computed once per run, right after the data is prepared (the runner calls
:func:`write_capability_tables`), and written as two tables every phase and deliverable
reads through the run:

* ``data_profile`` — one row per fact about the inputs: which inputs are present
  (account attributes, surveys, margin or cost, managers and their capacity, programme
  membership and start, capability self-assessment, targets, benchmarks — sourced or
  illustrative, and in which currency), how much history there is, and the shape of the
  customer base (accounts, live / dormant / lapsed, concentration, typical order value);
* ``analysis_support`` — one row per analysis: ``supported``, ``supported_with_caveat``
  (the caveat in client words) or ``not_supported`` (with the input that would unlock it,
  and what to send).

The rules are here, once: a phase asks :class:`Capability` whether to compute an
analysis, a deliverable whether to show it, and the deck's data-request page lists what
to send for each analysis that is not supported. :func:`lifecycle_status` is the one
definition of live, dormant and lapsed accounts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import MinimumSizes
from ..present.formats import fmt_money
from .concentration import compute_concentration_summary

__all__ = ["NOT_BY_QUADRANT", "SUPPORT_WORDS", "MinimumSizes", "MIN_SIZES", "ANALYSIS_TABLES", "ANALYSIS_KPIS", "unreliable_kpis", "kpi_unlock", "needs_data_text", "SUPPORTED", "CAVEAT", "NOT_SUPPORTED", "STATUSES", "ANALYSES", "LIFECYCLE", "lifecycle_status",
           "compute_data_profile", "compute_analysis_support", "write_capability_tables", "Capability",
           "data_requests", "with_refusal"]

SUPPORTED, CAVEAT, NOT_SUPPORTED = "supported", "supported_with_caveat", "not_supported"
#: what a client page says in place of a split by portfolio quadrant when the matrix is refused
#: (its figures then stand for all accounts): ``Capability.refusal("portfolio_matrix", NOT_BY_QUADRANT)``
NOT_BY_QUADRANT = "Not split by portfolio quadrant"
STATUSES = (SUPPORTED, CAVEAT, NOT_SUPPORTED)
#: each status as a client page says it
SUPPORT_WORDS = {SUPPORTED: "Supported", CAVEAT: "Supported, with a caveat", NOT_SUPPORTED: "Not supported"}

#: the analyses whose support the profile decides: key -> client-facing name
ANALYSES: dict[str, str] = {
    "kpi_baseline": "KPI baseline (revenue, orders, order value, accounts)",
    "yoy_growth": "Year-on-year growth",
    "retention": "Retention and churn",
    "segment_breakdowns": "KPIs by account attribute (region, segment, manager)",
    "kpi_vs_target": "KPIs against the client's targets",
    "benchmark_rag": "Rating KPIs against industry benchmarks",
    "customer_experience": "Customer experience (NPS, satisfaction)",
    "profitability": "Account profitability and whale curve",
    "capability_maturity": "KAM capability maturity",
    "predictive_clv": "Predictive customer lifetime value",
    "churn_model": "Churn-risk model and revenue at risk",
    "churn_backtest": "Back-test of the churn-risk model",
    "coverage_capacity": "Coverage plan against the team's capacity",
    "portfolio_matrix": "Portfolio matrix and segment profiles",
    "key_account_selection": "Key-account selection",
    "cohorts": "Acquisition cohorts",
    "whitespace": "Cross-sell whitespace",
    "scenarios": "Impact scenarios and business case",
    "programme_impact": "Programme impact (programme vs comparable accounts)",
    "playbook_gap": "Playbook results since the programme start",
    "migration": "Segment migration since the programme start",
}



#: the defaults (a client's own: ``analysis.min_sizes`` in its parameter file)
MIN_SIZES = MinimumSizes()

#: the run tables that show an analysis gated by a minimum size: a deliverable that reads one of
#: them for a client page asks the analysis's support first (DeckData reads them through it)
ANALYSIS_TABLES: dict[str, tuple[str, ...]] = {
    # a playbook per quadrant: no quadrant, no playbook page (the phase-status slide counts it refused)
    "portfolio_matrix": ("segment_profiles", "weight_stability", "segment_stability", "segment_playbook"),
    "cohorts": ("cohort_retention",),
    "whitespace": ("whitespace", "category_penetration"),
    "scenarios": ("impact_scenarios", "impact_by_lever", "sensitivity", "business_case", "programme_cost"),
}

#: the headline KPIs each analysis carries (the KPI keys of ``metrics.definitions``): a KPI of an analysis
#: that is not supported is never stated as a finding
ANALYSIS_KPIS: dict[str, str] = {
    "kpi_baseline": "revenue_12m, orders_12m, average_order_value, orders_per_account, repeat_purchase_rate",
    "yoy_growth": "revenue_growth_yoy",
    "retention": "retention_rate, churn_rate",
    "segment_breakdowns": "",
    "kpi_vs_target": "",
    "benchmark_rag": "",
    "customer_experience": "nps, csat_top2, survey_coverage",
    "profitability": "profit_12m, unprofitable_account_share",
    "capability_maturity": "kam_maturity_score",
    "predictive_clv": "",
    "churn_model": "",
    "programme_impact": "",
}

#: the lifecycle statuses of an account at the as-of date, in order
LIFECYCLE = ("live", "dormant", "lapsed", "no orders")


def lifecycle_status(summary: pd.DataFrame) -> pd.Series:
    """Each account's lifecycle status at the as-of date, from the account summary.

    * ``live``: active (:func:`kam_analysis.metrics.activity.is_active`: a counted order
      within the churn window, column ``active``);
    * ``dormant``: not active, but ordered in the last 12 months (``orders_12m > 0``) —
      only possible when the churn window is shorter than a year;
    * ``lapsed``: no counted order in the last 12 months, but earlier ones;
    * ``no orders``: an account with no counted order on or before the as-of date.

    The accounts whose revenue is *already lost* (:mod:`kam_analysis.metrics.lost`) are the
    dormant ones and the lapsed ones that churned within the last 12 months.
    """
    active = summary["active"].fillna(False).astype(bool)
    o12 = pd.to_numeric(summary["orders_12m"], errors="coerce").fillna(0) > 0
    ever = pd.to_numeric(summary["n_orders"], errors="coerce").fillna(0) > 0
    out = np.select([active, o12, ever], ["live", "dormant", "lapsed"], "no orders")
    return pd.Series(out, index=summary.index, name="lifecycle")


# --------------------------------------------------------------------------- the profile
def _row(item: str, group: str, label: str, present, value=np.nan, unit: str = "", detail: str = "") -> dict:
    v = float(value) if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        else np.nan
    return {"item": item, "group": group, "label": label, "present": bool(present), "value": v, "unit": unit,
            "detail": detail}


def _managers(params, accounts: pd.DataFrame | None) -> tuple[int, str]:
    """How many account managers the run can plan with, and from where — the order of
    :func:`kam_analysis.phases.coverage.resolve_capacity` (params, named managers, headcount)."""
    st = params.strategy
    if st.managers:
        return len(st.managers), "named in the parameters with their hours"
    skip = {s.strip().lower() for s in st.non_manager_labels}
    if accounts is not None and "account_manager" in accounts:
        names = {n for n in accounts["account_manager"].dropna().astype(str).str.strip() if n and n.lower() not in skip}
        if names:
            return len(names), f"named in the accounts file, {st.hours_per_manager:,.0f} hours a year each"
    if st.headcount:
        return int(st.headcount), f"headcount from the parameters, {st.hours_per_manager:,.0f} hours a year each"
    return 0, ""


def _benchmarks(params) -> pd.DataFrame | None:
    from ..exceptions import ParameterError
    from .benchmarks import load_benchmarks

    try:
        return load_benchmarks(params.benchmarks.file, industry=params.client.industry,
                               overrides=params.benchmarks.overrides, client_currency=params.client.currency)
    except ParameterError:
        return None


def compute_data_profile(run) -> pd.DataFrame:
    """The run's data-capability profile (table ``data_profile``).

    Reads the run's prepared data (``account_summary``, the clean accounts, surveys and
    capability files, ``validation.json``) and its parameters. One row per item:
    ``item`` (key), ``group`` (inputs, history, customer base), ``label`` (client words),
    ``present`` (bool), ``value`` (a number where there is one), ``unit`` and ``detail``.
    """
    p = run.params
    a = p.analysis
    present_cols = run.validation().get("present_columns", {})
    tx_cols = set(present_cols.get("transactions", []))
    acc_cols = [c for c in present_cols.get("accounts", []) if c != "account_id"] if p.data.accounts else []
    accounts = run.read_data("accounts") if run.has_data("accounts") else None
    summary = run.read_table("account_summary")
    rows = []
    attrs = [c for c in acc_cols if c not in ("key_account",)]
    rows.append(_row("account_attributes", "inputs", "Account attributes", bool(attrs), len(attrs), "count",
                     ", ".join(c.replace("_", " ") for c in attrs) if attrs else "no accounts file: account ids only"))
    has_surveys = run.has_data("surveys")
    n_resp = 0
    if has_surveys:
        n_resp = int(len(run.read_data("surveys")))
    rows.append(_row("surveys", "inputs", "Customer surveys (NPS, satisfaction)", has_surveys and n_resp > 0, n_resp,
                     "count", f"{n_resp:,} responses" if has_surveys else "no survey file"))
    has_margin = bool({"gross_margin", "cost"} & tx_cols)
    rows.append(_row("margin", "inputs", "Gross margin or cost of goods", has_margin, detail=(
        "margin on the order lines" if "gross_margin" in tx_cols else "cost on the order lines" if has_margin
        else "the order lines carry revenue only")))
    has_cts = "cost_to_serve" in acc_cols
    rows.append(_row("cost_to_serve", "inputs", "Cost to serve per account", has_cts,
                     detail="in the accounts file" if has_cts else "not given"))
    n_mgr, mgr_src = _managers(p, accounts)
    rows.append(_row("managers", "inputs", "Account managers and their capacity", n_mgr > 0, n_mgr, "count",
                     mgr_src or "no managers named in the accounts file or the parameters"))
    n_prog = 0
    if accounts is not None and "key_account" in accounts:
        n_prog = int(accounts["key_account"].fillna(False).astype(bool).sum())
    rows.append(_row("programme_members", "inputs", "Key-account programme membership", n_prog > 0, n_prog, "count",
                     f"{n_prog:,} accounts flagged in the programme" if n_prog else "no account is flagged as a "
                     "member of a key-account programme"))
    start = a.programme_start
    rows.append(_row("programme_start", "inputs", "Key-account programme start date", start is not None,
                     detail=f"{start:%d %b %Y}" if start else "not given"))
    has_cap = run.has_data("capability")
    rows.append(_row("capability", "inputs", "KAM capability self-assessment", has_cap,
                     detail="scores by dimension" if has_cap else "not given"))
    rows.append(_row("targets", "inputs", "The client's KPI targets", bool(p.targets), len(p.targets), "count",
                     ", ".join(p.targets) if p.targets else "none set"))
    rows.append(_row("segment_targets", "inputs", "Targets per segment and lever", bool(p.strategy.segment_targets),
                     len(p.strategy.segment_targets), "count",
                     ", ".join(p.strategy.segment_targets) if p.strategy.segment_targets else "none set"))
    bm = _benchmarks(p)
    if bm is None or bm.empty:
        rows.append(_row("benchmarks_sourced", "inputs", "Sourced industry benchmarks", False, 0, "count",
                         f"no benchmarks for industry '{p.client.industry}'"))
        rows.append(_row("benchmarks_illustrative", "inputs", "Illustrative benchmarks", False, 0, "count", ""))
    else:
        from .benchmarks import benchmark_comparable

        ill = bm["illustrative"].astype(bool)
        comp = pd.Series([benchmark_comparable(k, c, p.client.currency) for k, c in zip(bm["kpi"], bm["currency"])],
                         index=bm.index)
        foreign = bm.loc[~comp, "currency"].dropna().unique().tolist()
        rows.append(_row("benchmarks_sourced", "inputs", "Sourced industry benchmarks", bool((~ill & comp).any()),
                         int((~ill & comp).sum()), "count",
                         ", ".join(bm.loc[~ill & comp, "kpi"]) if (~ill & comp).any() else "none"))
        rows.append(_row("benchmarks_illustrative", "inputs", "Illustrative benchmarks", bool(ill.any()),
                         int(ill.sum()), "count", "placeholders, shown for reference only" if ill.any() else ""))
        rows.append(_row("benchmark_currency", "inputs", "Currency of money benchmarks", not foreign, detail=(
            f"in {', '.join(foreign)}, not the client's {p.client.currency}: not compared" if foreign
            else f"in the client's currency ({p.client.currency})")))
    # ---- history
    first = pd.to_datetime(summary["first_order_date"]).min()
    T = pd.Timestamp(a.as_of_date)
    months = (T - first).days / 30.44 if pd.notna(first) else 0.0
    rows.append(_row("history_months", "history", "Months of order history", months > 0, round(months, 1), "months",
                     f"{first:%d %b %Y} to {T:%d %b %Y}" if pd.notna(first) else "no orders"))
    pre = np.nan
    if start is not None and pd.notna(first):
        pre = max((pd.Timestamp(start) - first).days / 30.44, 0.0)
    rows.append(_row("pre_programme_months", "history", "Months of history before the programme start",
                     bool(np.isfinite(pre) and pre > 0), round(pre, 1) if np.isfinite(pre) else np.nan, "months",
                     "" if start is not None else "no programme start"))
    # ---- customer base
    life = lifecycle_status(summary)
    rows.append(_row("accounts", "customer base", "Accounts", True, len(summary), "count"))
    rev12 = pd.to_numeric(summary["revenue_12m"], errors="coerce").fillna(0.0)
    prev12 = pd.to_numeric(summary["revenue_prev_12m"], errors="coerce").fillna(0.0)
    for status in LIFECYCLE:
        m = life == status
        extra = ""
        if status == "lapsed":
            extra = f"{fmt_money(prev12[m].sum(), p.client.currency, style='full')} of revenue in the 12 months before"
        elif status in ("live", "dormant"):
            extra = f"{fmt_money(rev12[m].sum(), p.client.currency, style='full')} of revenue in the last 12 months"
        rows.append(_row(f"accounts_{status.replace(' ', '_')}", "customer base", f"{status.capitalize()} accounts",
                         bool(m.any()), int(m.sum()), "count", extra))
    conc = compute_concentration_summary(rev12).set_index("metric")["value"]
    for metric, label in (("top10_share", "Share of 12-month revenue from the top 10% of accounts"),
                          ("top20_share", "Share of 12-month revenue from the top 20% of accounts")):
        v = conc.get(metric, np.nan)
        rows.append(_row(metric, "customer base", label, bool(np.isfinite(v)), v, "share"))
    o12 = pd.to_numeric(summary["orders_12m"], errors="coerce").fillna(0)
    aov = rev12.sum() / o12.sum() if o12.sum() > 0 else np.nan
    rows.append(_row("average_order_value", "customer base", "Average order value, last 12 months",
                     bool(np.isfinite(aov)), aov, "currency"))
    live_rev = rev12[life == "live"]
    med = float(live_rev.median()) if len(live_rev) else np.nan
    rows.append(_row("median_live_account_revenue", "customer base", "Median 12-month revenue of a live account",
                     bool(np.isfinite(med)), med, "currency"))
    return pd.DataFrame(rows, columns=["item", "group", "label", "present", "value", "unit", "detail"])


# --------------------------------------------------------------------------- what each analysis needs
@dataclass(frozen=True)
class _Need:
    """An input that would unlock an analysis, as the data request says it."""

    send: str      # what to send, in client words
    key: str       # the profile item it fills


_SEND = {
    "targets": _Need("Your KPI targets for the next 12 months (retention, order value, growth, satisfaction)",
                     "targets"),
    "benchmarks": _Need("Sourced industry benchmarks (publisher, year) for the KPIs you want rated, in your currency",
                        "benchmarks_sourced"),
    "surveys": _Need("Customer survey responses (account, date, likelihood to recommend 0-10, satisfaction 1-5)",
                     "surveys"),
    "margin": _Need("Gross margin or cost of goods on each order line", "margin"),
    "cost_to_serve": _Need("The annual cost to serve each account (sales, service, logistics)", "cost_to_serve"),
    "accounts": _Need("An account list with region, customer type and account manager", "account_attributes"),
    "managers": _Need("The account managers and the hours a year each has for account work", "managers"),
    "programme": _Need("Which accounts are in a key-account programme, and the date it started", "programme_members"),
    "capability": _Need("A KAM capability self-assessment (score 1-5 per dimension, with a target)", "capability"),
    "history": _Need("Order history going back further (at least 24 months in total)", "history_months"),
    "base": _Need("The orders of the whole customer base, if this extract is a part of it", "accounts_live"),
}


def kpi_unlock(kpi: str) -> str:
    """What to send so a KPI with no value can be measured, by the data the KPI registry says it
    needs (surveys, margin, capability ...); a KPI on the orders alone that has no value lacks history."""
    from .definitions import KPI_DEFINITIONS

    k = KPI_DEFINITIONS.get(kpi)
    needs = [n.strip().split(".")[0] for n in (k.needs if k is not None else "transactions").split("+")]
    sends = [_SEND[n].send for n in needs if n in _SEND]
    return " and ".join(sends) if sends else _SEND["history"].send


def needs_data_text(kpis) -> str:
    """One sentence for the KPIs a scorecard cannot measure, grouped by the input that unlocks them:
    ``Needs data: NPS, CSAT (send customer survey responses (...)); ...`` ("" for none). A row of
    n/a values is never shown as a result; this line stands in for it."""
    from .definitions import kpi_label

    groups: dict[str, list[str]] = {}
    for k in dict.fromkeys(map(str, kpis)):
        groups.setdefault(kpi_unlock(k), []).append(kpi_label(k, short=True))
    if not groups:
        return ""
    parts = [f"{', '.join(labels)} (send: {send[:1].lower()}{send[1:]})" for send, labels in groups.items()]
    return "Needs data: " + "; ".join(parts) + "."


def _s(analysis: str, status: str, caveat: str = "", need: str = "", minimum: str = "") -> dict:
    n = _SEND.get(need)
    return {"analysis": analysis, "label": ANALYSES[analysis], "status": status, "caveat": caveat,
            "unlock": n.send if n else "", "unlock_item": n.key if n else "", "minimum": minimum,
            "kpis": ANALYSIS_KPIS.get(analysis, "")}


def _too_few(n: float, need: int, what: str) -> str:
    """The client-words reason of a minimum-size refusal."""
    return (f"only {n:.0f} live account{'s' if n != 1 else ''}: too few to {what} (at least {need} are needed; "
            "it runs when the base grows or the whole customer base is sent)")


def _live(need: int) -> str:
    return f"at least {need} live accounts"


def compute_analysis_support(profile: pd.DataFrame, params, sizes: MinimumSizes | None = None) -> pd.DataFrame:
    """Each analysis of :data:`ANALYSES`: supported, supported with a caveat, or not supported.

    Returns ``analysis, label, status, caveat, unlock, unlock_item, minimum, kpis``: ``caveat`` says in
    client words what limits a supported analysis or why one is not supported; ``unlock``
    is what to send to unlock (or firm up) it, ``unlock_item`` the profile item it fills.
    An analysis run on fewer live accounts than its :class:`MinimumSizes` is not supported,
    whatever inputs the client gave; ``minimum`` then says the size it needs, in client words.
    ``kpis`` lists the headline KPIs the analysis carries (:data:`ANALYSIS_KPIS`). This is the one
    table that says what the data supports: the assessment's findings, the workbook's data-quality
    sheet and the deck's data-request page read it.
    """
    sizes = sizes or getattr(getattr(params, "analysis", None), "min_sizes", None) or MIN_SIZES
    pr = profile.set_index("item")

    def has(item: str) -> bool:
        return item in pr.index and bool(pr.at[item, "present"])

    def val(item: str) -> float:
        return float(pr.at[item, "value"]) if item in pr.index and pd.notna(pr.at[item, "value"]) else 0.0

    months = val("history_months")
    live = val("accounts_live")
    st = params.strategy
    rows = [_s("kpi_baseline", SUPPORTED if months > 0 else NOT_SUPPORTED,
               "" if months > 0 else "there are no orders on or before the as-of date", "" if months > 0 else "history")]
    rows.append(_s("yoy_growth", SUPPORTED, "") if months >= 24 else
                _s("yoy_growth", NOT_SUPPORTED, f"{months:.0f} months of history; 24 are needed to compare a year "
                   "with the year before", "history"))
    rows.append(_s("retention", SUPPORTED) if months >= 12 else
                _s("retention", CAVEAT, f"only {months:.0f} months of history: retention over a full year cannot "
                   "be measured yet", "history"))
    rows.append(_s("segment_breakdowns", SUPPORTED) if has("account_attributes") else
                _s("segment_breakdowns", NOT_SUPPORTED, "the data has no account attributes", "accounts"))
    rows.append(_s("kpi_vs_target", SUPPORTED) if has("targets") else
                _s("kpi_vs_target", NOT_SUPPORTED, "no KPI targets were given: KPIs are reported as a baseline, "
                   "not rated", "targets"))
    if has("benchmarks_sourced"):
        cav = "" if has("benchmark_currency") else pr.at["benchmark_currency", "detail"]
        rows.append(_s("benchmark_rag", CAVEAT if cav else SUPPORTED, cav, "benchmarks" if cav else ""))
    else:
        rows.append(_s("benchmark_rag", NOT_SUPPORTED, "the industry benchmarks available are illustrative "
                       "placeholders: shown for reference, they rate no KPI", "benchmarks"))
    rows.append(_s("customer_experience", SUPPORTED) if has("surveys") else
                _s("customer_experience", NOT_SUPPORTED, "no customer survey was given", "surveys"))
    if has("margin") and has("cost_to_serve"):
        rows.append(_s("profitability", SUPPORTED))
    else:
        rows.append(_s("profitability", NOT_SUPPORTED, "no gross margin on the orders" if not has("margin") else
                       "no cost to serve per account", "margin" if not has("margin") else "cost_to_serve"))
    rows.append(_s("capability_maturity", SUPPORTED) if has("capability") else
                _s("capability_maturity", NOT_SUPPORTED, "no capability self-assessment was given", "capability"))
    if months < 6:
        rows.append(_s("predictive_clv", NOT_SUPPORTED, f"{months:.0f} months of history are too few to model "
                       "repeat purchasing", "history"))
    elif has("margin"):
        rows.append(_s("predictive_clv", SUPPORTED))
    else:
        rows.append(_s("predictive_clv", CAVEAT, "in revenue, not margin: the orders carry no margin, so lifetime "
                       "value overstates what low-margin accounts are worth", "margin"))
    # the churn model's own rule (models.churn.run_churn_analysis): accounts active before its cut-offs, one
    # horizon back for the model, two for the back-test on a later period (and at least a month of orders
    # before the cut-off to learn from)
    horizon_m = st.churn_horizon_days / 30.44
    if live < sizes.churn_accounts:
        rows.append(_s("churn_model", NOT_SUPPORTED, _too_few(live, sizes.churn_accounts, "learn which accounts "
                       "are about to stop buying"), "base", _live(sizes.churn_accounts)))
    elif months < horizon_m + 1:
        rows.append(_s("churn_model", NOT_SUPPORTED, f"{months:.0f} months of history are too few for a "
                       f"{horizon_m:.0f}-month churn horizon", "history"))
    else:
        rows.append(_s("churn_model", SUPPORTED) if has("surveys") else
                    _s("churn_model", CAVEAT, "without survey scores the model rests on buying behaviour only",
                       "surveys"))
    if live < sizes.churn_accounts:
        rows.append(_s("churn_backtest", NOT_SUPPORTED, "there is no churn-risk model to back-test on a base "
                       "this small", "base", _live(sizes.churn_accounts)))
    elif months < 2 * horizon_m + 1:
        rows.append(_s("churn_backtest", NOT_SUPPORTED, f"a back-test on a later period needs more than "
                       f"{2 * horizon_m:.0f} months of history; the data has {months:.0f}", "history"))
    else:
        rows.append(_s("churn_backtest", SUPPORTED))
    rows.append(_s("coverage_capacity", SUPPORTED) if has("managers") else
                _s("coverage_capacity", CAVEAT, "the team's capacity is not known: the plan shows the hours and "
                   "headcount full coverage would need, not who covers whom", "managers"))
    rows.append(_s("portfolio_matrix", SUPPORTED) if live >= sizes.portfolio_matrix_accounts else
                _s("portfolio_matrix", NOT_SUPPORTED, _too_few(live, sizes.portfolio_matrix_accounts, "sort into "
                   "four quadrants that each describe more than an account or two"), "base",
                   _live(sizes.portfolio_matrix_accounts)))
    rows.append(_s("key_account_selection", SUPPORTED) if live >= sizes.key_account_accounts else
                _s("key_account_selection", NOT_SUPPORTED, _too_few(live, sizes.key_account_accounts, "choose "
                   "the few that deserve a key-account manager"), "base",
                   _live(sizes.key_account_accounts)))
    n_acc = val("accounts")
    if months < sizes.cohort_months:
        rows.append(_s("cohorts", NOT_SUPPORTED, f"{months:.0f} months of history: too short to compare "
                       f"acquisition cohorts (at least {sizes.cohort_months:.0f} are needed)", "history",
                       f"at least {sizes.cohort_months:.0f} months of orders"))
    elif n_acc < sizes.cohort_accounts:
        rows.append(_s("cohorts", NOT_SUPPORTED, f"only {n_acc:.0f} accounts: too few to follow cohorts of new "
                       f"accounts (at least {sizes.cohort_accounts} are needed)", "base",
                       f"at least {sizes.cohort_accounts} accounts"))
    else:
        rows.append(_s("cohorts", SUPPORTED))
    if live <= 0:
        rows.append(_s("whitespace", NOT_SUPPORTED, "no live accounts to sell to", "history"))
    elif live < sizes.whitespace_accounts:
        rows.append(_s("whitespace", NOT_SUPPORTED, _too_few(live, sizes.whitespace_accounts, "learn what "
                       "similar accounts buy"), "base",
                       _live(sizes.whitespace_accounts)))
    else:
        rows.append(_s("whitespace", SUPPORTED))
    if live < sizes.scenario_accounts:
        rows.append(_s("scenarios", NOT_SUPPORTED, _too_few(live, sizes.scenario_accounts, "put a value on "
                       "targets or a business case: a few accounts give figures that are noise"),
                       "base", _live(sizes.scenario_accounts)))
    elif has("targets") or has("segment_targets"):
        rows.append(_s("scenarios", SUPPORTED))
    else:
        rows.append(_s("scenarios", CAVEAT, f"no targets were given: the scenarios close part of the gap to the "
                       f"client's own best segments, capped at {st.impact_cap_share:.0%} of revenue", "targets"))
    prog = has("programme_members") and has("programme_start")
    why = ("no key-account programme is recorded (which accounts are in it, and since when)" if not
           (has("programme_members") or has("programme_start")) else
           "the programme start date is not given" if not has("programme_start") else
           "no account is flagged as a programme member")
    pre = val("pre_programme_months")
    if not prog:
        last_review = params.review.baseline_date  # a previous review to compare with: segments can migrate
        for k in ("programme_impact", "playbook_gap", "migration"):
            if k == "migration" and last_review is not None:
                rows.append(_s(k, SUPPORTED))
                continue
            rows.append(_s(k, NOT_SUPPORTED, why + ": this review sets the baseline the next one compares against",
                           "programme"))
    else:
        rows.append(_s("programme_impact", SUPPORTED) if pre >= 9 else
                    _s("programme_impact", NOT_SUPPORTED, f"only {pre:.0f} months of orders before the programme "
                       "started: too few to compare programme and other accounts", "history"))
        rows.append(_s("playbook_gap", SUPPORTED))
        rows.append(_s("migration", SUPPORTED))
    out = pd.DataFrame(rows, columns=["analysis", "label", "status", "caveat", "unlock", "unlock_item", "minimum",
                                      "kpis"])
    assert set(out["analysis"]) == set(ANALYSES), "every analysis gets one status"
    return out


def unreliable_kpis(headline: pd.DataFrame) -> dict[str, str]:
    """The headline KPIs whose value rests on too little data to state as a finding: ``kpi -> why``.

    The rule is the headline's own (``metrics.group.compute_headline_kpis`` notes a survey KPI
    ``unreliable`` below ``thresholds.survey_coverage_min`` and a ``small base`` below
    ``thresholds.min_denominator``): only the survey KPIs, whose respondents choose themselves.
    """
    out = {}
    if headline is None or not {"kpi", "note", "n"} <= set(headline.columns):
        return out
    h = headline.set_index("kpi")
    for k in ("nps", "csat_top2"):
        if k not in h.index or not isinstance(h.at[k, "note"], str):
            continue
        note, n = h.at[k, "note"], h.at[k, "n"]
        if "unreliable: " in note:  # "unreliable: survey coverage 12% < 30%"
            cov = note.split("unreliable: ")[1].split(";")[0].replace(" < ", " is below ")
            out[k] = f"{cov}: the accounts that answered may not represent the others"
        elif "small base" in note and pd.notna(n):
            out[k] = f"{int(n)} respondents in the last 12 months are too few to state a score"
    return out


def write_capability_tables(run) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compute and write ``data_profile`` and ``analysis_support`` for the run (prepare step)."""
    profile = compute_data_profile(run)
    support = compute_analysis_support(profile, run.params)
    run.write_table("data_profile", profile)
    run.write_table("analysis_support", support)
    return profile, support


def with_refusal(support: pd.DataFrame, analysis: str, caveat: str, need: str) -> pd.DataFrame:
    """``support`` with ``analysis`` not supported for a reason found only when it ran (the churn
    model's own checks: too few accounts stopped buying to learn from), so every deliverable gives
    that one reason: ``caveat`` in client words, ``need`` the input that unlocks it (a key of the
    data request, e.g. ``history``). A refusal the profile already made is kept."""
    out = support.copy()
    hit = out["analysis"] == analysis
    if not hit.any() or (out.loc[hit, "status"] == NOT_SUPPORTED).all():
        return out
    n = _SEND.get(need)
    out.loc[hit, ["status", "caveat", "unlock", "unlock_item", "minimum"]] = \
        [NOT_SUPPORTED, caveat, n.send if n else "", n.key if n else "", ""]
    return out


def data_requests(support: pd.DataFrame) -> pd.DataFrame:
    """The data request a consultant sends: one row per input to send, with the analyses it unlocks.

    From the analyses that are not supported or carry a caveat and name an input; an
    input needed by several is asked for once. Returns ``send, unlocks, firms_up``
    (client-facing names of the analyses it unlocks, and of those it makes firmer).
    """
    s = support[(support["status"] != SUPPORTED) & support["unlock"].astype(str).str.len().gt(0)]
    rows = []
    for send, g in s.groupby("unlock", sort=False):
        mins = g["minimum"].fillna("").astype(str) if "minimum" in g else pd.Series("", index=g.index)
        sized = g["unlock_item"].eq("accounts_live") & mins.str.strip().ne("")
        if sized.any():  # a minimum-size refusal: say the size the data has
            why = g.loc[sized, "caveat"].iloc[0].split(":")[0]
            send = f"{send} ({why[:1].lower()}{why[1:]} are too few for these analyses)"

        def labels(mask) -> str:  # the analyses, those with one minimum size together: "a, b (at least 20 ...)"
            parts = []
            for m, h in g[mask].groupby(mins[mask], sort=False):
                parts.append(", ".join(h["label"]) + f" ({m})" if m else "; ".join(h["label"]))
            return "; ".join(parts)

        rows.append({"send": send, "unlocks": labels(g["status"] == NOT_SUPPORTED),
                     "firms_up": labels(g["status"] == CAVEAT)})
    return pd.DataFrame(rows, columns=["send", "unlocks", "firms_up"])


class Capability:
    """The run's analysis support, read from its ``analysis_support`` table.

    ``Capability.of(run)`` in every phase; ``status(analysis)``, ``supported(analysis)``
    (supported, with or without a caveat), ``caveat(analysis)``, ``unlock(analysis)``.
    A run prepared before the profile existed has no table: every analysis then counts
    as supported (the phases' own checks still apply).
    """

    def __init__(self, support: pd.DataFrame | None):
        self.table = support
        self._by = support.set_index("analysis") if support is not None else None

    @classmethod
    def of(cls, run) -> "Capability":
        return cls(run.read_table("analysis_support") if run.has_table("analysis_support") else None)

    def status(self, analysis: str) -> str:
        if analysis not in ANALYSES:
            raise KeyError(f"unknown analysis {analysis!r}; known: {', '.join(ANALYSES)}")
        if self._by is None or analysis not in self._by.index:
            return SUPPORTED
        return str(self._by.at[analysis, "status"])

    def supported(self, analysis: str) -> bool:
        return self.status(analysis) != NOT_SUPPORTED

    def keep(self, analysis: str, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` when the run supports ``analysis``, else the same columns with no row: a phase
        passes a refused analysis's result through this, so nothing downstream (plans,
        recommendations, headlines, deliverables) counts a figure the data cannot carry."""
        return frame if self.supported(analysis) else frame.iloc[0:0].copy()

    def refusal(self, analysis: str, what: str = "Not shown") -> str:
        """``"Not shown: <why in client words>."`` when the run does not support ``analysis`` (a page or
        block a deliverable leaves out says this in its place), else "". ``what`` names what is left
        out when it is less than the whole page ("Not split by quadrant": the figures stand for all
        accounts, the split the refused analysis would give is left out)."""
        if self.table is None or self.supported(analysis):
            return ""
        why = self.caveat(analysis).strip() or "the data cannot support it yet"
        return f"{what}: {why}."

    def statement(self, analysis: str) -> str:
        """A refused analysis said plainly where its page or sheet would be: why, and what to send
        ("No KPI targets were given: ... . To unlock it, send: your KPI targets ..."); "" when supported."""
        if self.table is None or self.supported(analysis):
            return ""
        why = self.caveat(analysis).strip() or "the data cannot support it yet"
        send = self.unlock(analysis).strip()
        return f"{why[:1].upper()}{why[1:]}." + (f" To unlock it, send: {send[:1].lower()}{send[1:]}." if send else "")

    def brief(self, analysis: str) -> str:
        """The refusal in a few words, for a takeaway or a subtitle: the reason up to its colon, with
        the minimum size when the base is too small ("only 8 live accounts; at least 20 live accounts
        are needed"); "" when the run supports ``analysis``. :meth:`refusal` gives the whole sentence."""
        if self.table is None or self.supported(analysis):
            return ""
        why = (self.caveat(analysis).strip() or "the data cannot support it yet").split(":")[0]
        return f"{why}; {self._by.at[analysis, 'minimum']} are needed" if self.too_small(analysis) else why

    def refuses_table(self, table: str) -> str | None:
        """The analysis a run table shows (:data:`ANALYSIS_TABLES`) when the run does not support
        it, else None: a deliverable leaves such a table off its client pages."""
        for analysis, tables in ANALYSIS_TABLES.items():
            if table in tables and not self.supported(analysis):
                return analysis
        return None

    def too_small(self, analysis: str) -> bool:
        """Whether ``analysis`` is refused for the size of the base (below its :class:`MinimumSizes`),
        not for an input the client has not sent."""
        if self.supported(analysis) or self._by is None or "minimum" not in self._by.columns:
            return False
        m = self._by.at[analysis, "minimum"]
        return isinstance(m, str) and bool(m.strip())

    def caveat(self, analysis: str) -> str:
        return "" if self._by is None or analysis not in self._by.index else str(self._by.at[analysis, "caveat"])

    def unlock(self, analysis: str) -> str:
        return "" if self._by is None or analysis not in self._by.index else str(self._by.at[analysis, "unlock"])
