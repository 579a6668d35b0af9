"""Phase 1 diagnosis beyond the KPIs: benchmark and target gaps, KAM maturity, findings.

* :func:`load_benchmarks` / :func:`compute_benchmark_gaps` set the headline KPIs against
  the industry benchmarks of ``templates/benchmarks.yaml`` and the client's targets
  (params ``targets``), with a red/amber/green status from ``thresholds.rag``.
* :func:`compute_capability_maturity` / :func:`compute_maturity_stage` read the optional
  KAM capability self-assessment and place the client on the relationship ladder
  (exploratory, basic, cooperative, interdependent, integrated).
* What the data supports is the run's capability profile (``metrics.capability``, table
  ``analysis_support``), decided once at prepare; the findings read it.
* :func:`compute_key_findings` turns the tables into the sentences a consultant says.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import TEMPLATES_DIR
from ..exceptions import ParameterError
from ..metrics import format_kpi, higher_is_better, kpi_label, too_small_to_rate
from ..metrics.benchmarks import benchmark_comparable, benchmark_label, benchmark_usable, load_benchmarks
from ..present.formats import fmt_change, fmt_count, fmt_period, fmt_value, is_num
from ..present.theme import active_theme, hex_css
from ..safety import escape_styler

__all__ = [
    "load_benchmarks",
    "load_maturity_ladder",
    "rag_status",
    "compute_benchmark_gaps",
    "compute_capability_maturity",
    "compute_maturity_stage",
    "compute_key_findings",
    "load_inputs",
    "format_kpi_values",
    "pivot_segment_kpis",
    "style_display",
    "period_table",
]

_DEFAULT_FILE = TEMPLATES_DIR / "benchmarks.yaml"  # also holds the maturity ladder


def _read_yaml(path: str | Path) -> dict:
    from ..config import read_yaml_mapping

    return read_yaml_mapping(path, what="Benchmark file", setting="benchmarks.file")


def load_maturity_ladder(path: str | Path | None = None) -> pd.DataFrame:
    """The relationship ladder: ``stage, min_score, description``, lowest stage first.

    Read from ``maturity_ladder:`` in the benchmark file; a file without one falls back
    to the template's ladder.
    """
    raw = _read_yaml(path) if path else {}
    ladder = raw.get("maturity_ladder") or _read_yaml(_DEFAULT_FILE).get("maturity_ladder")
    df = pd.DataFrame(ladder)
    if not {"stage", "min_score"} <= set(df.columns):
        raise ParameterError(f"maturity_ladder in {path} needs 'stage' and 'min_score' for every step")
    if "description" not in df:
        df["description"] = ""
    return df.sort_values("min_score", kind="stable").reset_index(drop=True)[["stage", "min_score", "description"]]


# --------------------------------------------------------------------------- gaps
def rag_status(current: float, reference: float, *, amber: float, red: float,
               higher_is_better: bool = True) -> str:
    """Red/amber/green from the relative shortfall against a reference (target or benchmark).

    ``shortfall = (reference - current) / |reference|`` (sign reversed when lower is
    better); green if ``shortfall <= amber``, amber if ``<= red``, red above; ``n/a``
    when either value is missing or the reference is 0.
    """
    if current is None or reference is None:
        return "n/a"
    current, reference = float(current), float(reference)
    if not np.isfinite(current) or not np.isfinite(reference) or reference == 0:
        return "n/a"
    shortfall = (reference - current) / abs(reference)
    if not higher_is_better:
        shortfall = -shortfall
    if shortfall <= amber + 1e-12:
        return "green"
    if shortfall <= red + 1e-12:
        return "amber"
    return "red"


def compute_benchmark_gaps(headline: pd.DataFrame, *, benchmarks: pd.DataFrame, targets: dict[str, float],
                           amber: float, red: float, currency: str = "EUR") -> pd.DataFrame:
    """KPI x (current, benchmark, target, gaps, red/amber/green).

    One row per KPI that has a benchmark or a target, in the headline's order.
    ``gap_to_benchmark = current - benchmark``, ``gap_to_target = current - target``
    (positive = above). ``status`` is the RAG of current against the target
    (``status_basis = 'target'``), or against the benchmark when the client set no
    target and the benchmark may drive a status
    (:func:`kam_analysis.metrics.benchmarks.benchmark_usable`: sourced, and in the
    client's ``currency`` for a money KPI; ``'benchmark'``). Otherwise the KPI is not
    rated: ``status = 'not rated'``, ``status_basis = 'none'``, and ``note`` says why (an
    illustrative benchmark is a labelled reference only). A money benchmark in another
    currency is not compared at all: ``benchmark`` and its gap are NaN and the note names
    both currencies. ``status`` is ``n/a`` when the KPI could not be computed, and ``not rated``
    when its base is below the minimum (:func:`kam_analysis.metrics.too_small_to_rate`: a
    handful of accounts or responses decides no colour); the note says so. A KPI whose headline
    note says it is unreliable (survey coverage) keeps its status, and the note says so.

    Raises
    ------
    ParameterError
        A target names a KPI the assessment does not compute.
    """
    known = list(headline["kpi"])
    unknown = sorted(set(targets) - set(known))
    if unknown:
        raise ParameterError(
            f"targets names KPIs the assessment does not compute: {', '.join(unknown)}; known KPIs: "
            f"{', '.join(known)}; fix: rename the target keys in the params file")
    h = headline.set_index("kpi")
    bm = benchmarks.set_index("kpi")
    rows = []
    for kpi in known:
        if kpi not in targets and kpi not in bm.index:
            continue
        hib = higher_is_better(kpi)
        cur = float(h.at[kpi, "value"])
        has_bm = kpi in bm.index
        illus = bool(bm.at[kpi, "illustrative"]) if has_bm else None
        src = str(bm.at[kpi, "source"]) if has_bm else ""
        bcur = bm.at[kpi, "currency"] if has_bm and "currency" in bm.columns else None
        bcur = bcur if isinstance(bcur, str) and bcur else None
        comparable = has_bm and benchmark_comparable(kpi, bcur, currency)
        b = float(bm.at[kpi, "benchmark"]) if comparable else np.nan
        t = float(targets[kpi]) if kpi in targets else np.nan
        notes = []
        if has_bm and not comparable:
            notes.append(f"benchmark in {bcur or 'an unstated currency'}, not compared with {currency} data")
        if kpi in targets:
            basis, status = "target", rag_status(cur, t, amber=amber, red=red, higher_is_better=hib)
        elif comparable and benchmark_usable(kpi, illustrative=illus, benchmark_currency=bcur, client_currency=currency):
            basis, status = "benchmark", rag_status(cur, b, amber=amber, red=red, higher_is_better=hib)
        else:
            basis, status = "none", "not rated"
            if comparable:
                notes.append(f"no target; the benchmark is {benchmark_label(illustrative=illus, source=src)}: "
                             "shown for reference, not rated")
        if status in ("green", "amber", "red") and too_small_to_rate(h.at[kpi, "note"]):
            status = "not rated"  # a handful of accounts or responses decides no colour
            m = re.search(r"n=(\d+) < (\d+)", str(h.at[kpi, "note"]))
            notes.append(f"not rated: {m.group(1)} accounts or responses (fewer than {m.group(2)}) are too few to rate"
                         if m else "not rated: too few accounts or responses to rate")
        if not np.isfinite(cur):
            status = "n/a"
        if not np.isfinite(cur) or "unreliable" in str(h.at[kpi, "note"]):
            notes.insert(0, str(h.at[kpi, "note"]))
        rows.append({"kpi": kpi, "label": kpi_label(kpi), "unit": h.at[kpi, "unit"], "current": cur,
                     "benchmark": b, "target": t, "gap_to_benchmark": cur - b, "gap_to_target": cur - t,
                     "status": status, "status_basis": basis, "higher_is_better": hib,
                     "benchmark_illustrative": illus, "benchmark_source": src,
                     "note": "; ".join(n for n in notes if n)})
    cols = ["kpi", "label", "unit", "current", "benchmark", "target", "gap_to_benchmark", "gap_to_target", "status",
            "status_basis", "higher_is_better", "benchmark_illustrative", "benchmark_source", "note"]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- maturity
def _stage_of(score: float, ladder: pd.DataFrame) -> str:
    if not np.isfinite(score):
        return "n/a"
    ok = ladder[ladder["min_score"] <= score + 1e-12]
    return str(ok["stage"].iloc[-1]) if len(ok) else str(ladder["stage"].iloc[0])


def compute_capability_maturity(capability: pd.DataFrame, *, ladder: pd.DataFrame) -> pd.DataFrame:
    """Score against target by capability dimension.

    ``gap = score - target`` (negative = below target); ``stage`` = the ladder stage the
    dimension's score reaches; ``below_target`` = score < target. Dimensions keep the
    order of the self-assessment.

    Returns ``dimension, score, target, gap, stage, below_target``.
    """
    c = capability.copy()
    if "target" not in c:
        c["target"] = np.nan
    c["score"] = pd.to_numeric(c["score"], errors="coerce")
    c["target"] = pd.to_numeric(c["target"], errors="coerce")
    c["gap"] = c["score"] - c["target"]
    c["stage"] = [_stage_of(s, ladder) for s in c["score"]]
    c["below_target"] = c["gap"] < 0
    return c[["dimension", "score", "target", "gap", "stage", "below_target"]].reset_index(drop=True)


def compute_maturity_stage(maturity: pd.DataFrame, *, ladder: pd.DataFrame) -> pd.DataFrame:
    """Overall stage on the relationship ladder.

    ``overall_score`` = mean of the dimension scores; ``stage`` = highest ladder stage
    whose ``min_score`` it reaches; ``target_stage`` likewise for the mean target;
    ``weakest_dimension`` = the dimension with the most negative gap (lowest score
    without targets).

    Returns one row: ``overall_score, overall_target, stage, stage_number, stages,
    target_stage, description, next_stage, weakest_dimension, largest_gap``.
    """
    score = float(maturity["score"].mean())
    target = float(maturity["target"].mean()) if maturity["target"].notna().any() else np.nan
    stage = _stage_of(score, ladder)
    names = list(ladder["stage"])
    i = names.index(stage) if stage in names else -1
    by = maturity.dropna(subset=["gap"]).sort_values("gap", kind="stable")
    if by.empty:
        by = maturity.sort_values("score", kind="stable")
    weakest = by.iloc[0]
    return pd.DataFrame([{
        "overall_score": score, "overall_target": target, "stage": stage, "stage_number": i + 1,
        "stages": len(names), "target_stage": _stage_of(target, ladder),
        "description": str(ladder["description"].iloc[i]) if i >= 0 else "",
        "next_stage": names[i + 1] if 0 <= i < len(names) - 1 else "",
        "weakest_dimension": str(weakest["dimension"]),
        "largest_gap": float(weakest["gap"]) if np.isfinite(weakest["gap"]) else np.nan}])


# --------------------------------------------------------------------------- findings
def compute_key_findings(headline: pd.DataFrame, *, gaps: pd.DataFrame | None = None,
                         comparisons: pd.DataFrame | None = None, maturity_stage: pd.DataFrame | None = None,
                         support: pd.DataFrame | None = None, currency: str = "EUR",
                         confidence: float = 0.95) -> pd.DataFrame:
    """The assessment's headline messages, one sentence each, built only from the tables.

    Topics: scale and growth, retention, concentration, key-account dependence,
    profitability, customer experience (only when the data supports it), the largest
    red gaps, maturity, and the analyses the data cannot support (``support``: the run's
    ``analysis_support``; a KPI of an analysis it does not support, or a survey KPI the
    headline notes as unreliable, is never stated as a finding).

    Returns ``rank, topic, finding``.
    """
    h = headline.set_index("kpi")

    def v(k):
        return float(h.at[k, "value"]) if k in h.index else np.nan

    def f(k):
        return fmt_value(v(k), str(h.at[k, "unit"]) if k in h.index else "", currency)

    from ..metrics.capability import NOT_SUPPORTED, unreliable_kpis

    unsupported = set(unreliable_kpis(headline))
    refused = support[support["status"] == NOT_SUPPORTED] if support is not None else None
    if refused is not None and "kpis" in refused:
        for kpis in refused["kpis"]:
            unsupported.update(x.strip() for x in str(kpis).split(",") if x.strip())
    out = []
    growth = v("revenue_growth_yoy")
    out.append(("Scale and growth",
                f"{f('revenue_12m')} net revenue in the last 12 months from {f('ordering_accounts_12m')} ordering "
                f"accounts" + (f", {growth:+.0%} on the previous 12 months." if np.isfinite(growth) else ".")))
    if np.isfinite(v("retention_rate")):
        s = (f"{f('retention_rate')} of the accounts active a year ago are still active "
             f"({confidence:.0%} interval {h.at['retention_rate', 'ci_low']:.0%}-{h.at['retention_rate', 'ci_high']:.0%}); "
             f"{f('churn_rate')} have churned.")
        if comparisons is not None and "retention_rate" in set(comparisons["kpi"]):
            c = comparisons.set_index("kpi").loc["retention_rate"]
            if np.isfinite(c["previous"]):
                s += (f" The change on the previous year ({c['difference'] * 100:+.1f} points) is "
                      + ("statistically distinguishable from noise." if c["distinguishable"]
                         else "within the noise."))
        out.append(("Retention", s))
    if np.isfinite(v("top20_share")):
        out.append(("Concentration", f"The top 20% of accounts generate {f('top20_share')} of revenue (top 10%: "
                    f"{f('top10_share')}; Gini {v('gini'):.2f})."))
    if np.isfinite(v("key_account_revenue_share")):
        out.append(("Key accounts", f"The {f('key_accounts')} accounts in the key-account programme carry "
                    f"{f('key_account_revenue_share')} of revenue."))
    if np.isfinite(v("profit_12m")):
        out.append(("Profitability", f"Accounts earned {f('profit_12m')} after cost to serve; "
                    f"{f('unprofitable_account_share')} of accounts lose money once served."))
    if np.isfinite(v("nps")) and "nps" not in unsupported:
        out.append(("Customer experience", f"NPS is {v('nps'):+.0f} (interval {h.at['nps', 'ci_low']:+.0f} to "
                    f"{h.at['nps', 'ci_high']:+.0f}, {int(h.at['nps', 'n'])} respondents); CSAT top-two-box "
                    f"{f('csat_top2')}."))
    elif np.isfinite(v("nps")):
        out.append(("Customer experience", f"NPS ({v('nps'):+.0f}) rests on too little survey data to present "
                    "as a finding (see what the data supports)."))
    if gaps is not None and len(gaps):
        red = gaps[gaps["status"] == "red"]
        vs_t = red[red["status_basis"] == "target"]
        vs_b = red[red["status_basis"] == "benchmark"]
        parts = []
        if len(vs_t):
            parts.append(f"{len(vs_t)} KPI(s) are red against the client's target: "
                         + ", ".join(vs_t["label"].str.lower()))
        if len(vs_b):
            # only a sourced benchmark in the client's currency rates a KPI (compute_benchmark_gaps)
            parts.append(f"{len(vs_b)} red against the industry benchmark: " + ", ".join(vs_b["label"].str.lower()))
        if parts:
            out.append(("Gaps", "; ".join(parts) + "."))
    if maturity_stage is not None and len(maturity_stage):
        m = maturity_stage.iloc[0]
        out.append(("KAM maturity", f"KAM capability scores {m['overall_score']:.1f} of 5 (target "
                    f"{m['overall_target']:.1f}): the '{m['stage']}' stage of the relationship ladder; the widest "
                    f"gap is {m['weakest_dimension'].lower()} ({m['largest_gap']:+.1f})."))
    if refused is not None and len(refused):
        out.append(("Data readiness", f"{len(refused)} of {len(support)} analyses are not supported on this data: "
                    + "; ".join(x if x[1:2].isupper() else x[:1].lower() + x[1:] for x in refused["label"]) + "."))
    return pd.DataFrame([{"rank": i + 1, "topic": t, "finding": s} for i, (t, s) in enumerate(out)])


# --------------------------------------------------------------------------- notebook helpers
def load_inputs(run) -> dict:
    """What the assessment reads from the run folder.

    Returns a dict with ``orders`` (the run's orders left in DuckDB, an
    :class:`kam_analysis.metrics.engine.OrderSource`: the KPI functions aggregate them there
    and only account, period and cohort rows reach pandas), ``accounts`` (always present:
    derived from the transactions when the client gave no accounts file), ``surveys`` and
    ``capability`` (None when the client gave none).
    """
    from ..metrics.engine import OrderSource

    return {"orders": OrderSource.from_run(run), "accounts": run.read_data("accounts"),
            "surveys": run.read_data("surveys") if run.has_data("surveys") else None,
            "capability": run.read_data("capability") if run.has_data("capability") else None}


def format_kpi_values(table: pd.DataFrame, *, currency: str = "EUR", value_cols: tuple[str, ...] = ("value",),
                      unit_col: str = "unit", interval: bool = True,
                      points_cols: tuple[str, ...] = ()) -> pd.DataFrame:
    """A display copy of a KPI table: values formatted by their unit, interval as text.

    Every value is written as the deliverables write it (:mod:`kam_analysis.present.formats`).
    Columns in ``points_cols`` are differences: shares and scores in points (``+1.2 pts``),
    others signed.
    """
    out = table.copy()
    for c in value_cols:
        fmt = fmt_change if c in points_cols else fmt_value
        out[c] = [fmt(v, u, currency) for v, u in zip(table[c], table[unit_col])]
    if interval and {"ci_low", "ci_high"} <= set(table.columns):
        fmt = fmt_change if "difference" in points_cols else fmt_value
        out["interval"] = [f"{fmt(lo, u, currency)} to {fmt(hi, u, currency)}" if is_num(lo) and is_num(hi) else ""
                           for lo, hi, u in zip(table["ci_low"], table["ci_high"], table[unit_col])]
        out = out.drop(columns=["ci_low", "ci_high"])
    if "n" in out:
        out["n"] = [fmt_count(v) if is_num(v) else "" for v in table["n"]]
    return out


def pivot_segment_kpis(kpi_by_segment: pd.DataFrame, *, dimension: str, kpis: list[str],
                       currency: str = "EUR") -> pd.DataFrame:
    """One dimension's groups as rows and the chosen KPIs as columns, formatted for reading.

    A value whose group differs from the rest beyond noise gets ``*``; one on a small
    base gets ``†``.
    """
    d = kpi_by_segment[(kpi_by_segment["dimension"] == dimension) & kpi_by_segment["kpi"].isin(kpis)]
    d = format_kpi_values(d, currency=currency, interval=False)
    raw = kpi_by_segment.loc[d.index]
    d["cell"] = (d["value"] + np.where(raw["distinguishable"].fillna(False).astype(bool), " *", "")
                 + np.where(raw["small_n"].fillna(False).astype(bool), " †", ""))
    wide = d.pivot_table(index="group", columns="kpi", values="cell", aggfunc="first")
    labels = {k: kpi_label(k) for k in kpis}
    wide = wide.reindex(columns=[k for k in kpis if k in wide.columns]).rename(columns=labels)
    wide.index.name = dimension.replace("_", " ").capitalize()
    return wide.reset_index()


def _status_style(status) -> str:
    """CSS for a RAG or readiness status cell, in the theme's status colours."""
    th = active_theme()
    tone = {"supported": "green", "caution": "amber", "unreliable": "red", "not supported": "red"}.get(status)
    if tone:
        return f"color: {hex_css(th.rag(tone))}" + ("; font-weight: bold" if status == "not supported" else "")
    if status in ("green", "amber", "red"):
        return f"color: {hex_css(th.text)}; background-color: {hex_css(th.rag_fill(status))}"
    return f"color: {hex_css(th.muted)}" if status == "n/a" else ""


def style_display(frame: pd.DataFrame, *, status_col: str | None = None, caption: str = ""):
    """A Styler for reading in the notebook: no index, text left-aligned, numbers right,
    RAG / readiness status coloured, missing values as an en dash."""
    text = [c for c in frame.columns if frame[c].dtype == object or str(frame[c].dtype) in ("str", "string")]
    st = escape_styler(frame, caption=caption).hide(axis="index")  # client text stays text
    st = st.set_properties(subset=text, **{"text-align": "left"})
    st = st.set_table_styles([{"selector": "th", "props": [("text-align", "left")]}])
    if status_col and status_col in frame:
        st = st.map(_status_style, subset=[status_col])
    return st


def period_table(kpi_by_period: pd.DataFrame, *, currency: str = "EUR", period: str = "quarter") -> pd.DataFrame:
    """``kpi_by_period`` as a readable table: period label and the KPIs a committee reads, formatted."""
    d = kpi_by_period
    kpis = ("revenue", "revenue_growth", "revenue_growth_yoy", "orders", "ordering_accounts", "average_order_value",
            "period_retention_rate", "period_churn_rate")
    out = {"Period": [fmt_period(p, period) + ("" if c else " (partial)") for p, c in zip(d["period_start"], d["complete"])]}
    for k in kpis:  # labels and formats from the KPI registry
        out[kpi_label(k, short=True)] = [format_kpi(v, k, currency, signed=k.startswith("revenue_growth"))
                                         for v in d[k]]
    return pd.DataFrame(out)