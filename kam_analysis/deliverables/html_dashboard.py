"""The HTML dashboard: one self-contained file that works offline from a ``file://`` URL.

Everything the page needs is inside it: the CSS, a small hand-written SVG charting
script and the data (as JSON in a ``<script type="application/json">`` block). It makes no
network request — a Content-Security-Policy meta tag forbids any — so it can be e-mailed
and opened on a locked-down laptop.

Safety: the template is rendered by Jinja2 with autoescaping, so client strings in the
markup are text; the JSON block is escaped so that ``</script>``, ``<!--`` and HTML
entities inside client strings cannot end the block; the script writes client strings
with ``textContent`` only, never ``innerHTML``.

Every number comes from a run-folder table (see :func:`collect_dashboard_data`), read with
``run.read_table``: a table the catalogue says is always written and is missing fails the
run, naming the table and its phase; a section with nothing to show (no churn-risk score
when the data did not support the model) says so in a note.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import TEMPLATES_DIR
from ..present.formats import compact_money, currency_symbol, fmt_date, fmt_money, fmt_period, fmt_share, money_style
from ..present.theme import hex_css, theme_for
from ..metrics import (ALL_ACCOUNTS_ONLY_KPIS, programme_by_tier, SEGMENT_RETENTION_NOTE, change_vs_baseline, describe_lost_split, describe_revenue_lost,
                       kpi_label, kpi_unit)
from ..metrics.capability import Capability, needs_data_text
from ..models.churn import risk_band_label
from ..phases.business_case import recommendation_cost_text
from ..phases.review import ALL_ACCOUNTS
from ._kpi_history import history_data
from ._computed_views import control_chart_views, tornado_view
from ._kpi_tiles import NO_TARGET_NOTE, baseline_tiles, programme_sentence

__all__ = ["build_html_dashboard", "collect_dashboard_data", "json_for_script", "matrix_points", "render_dashboard",
           "baseline_change_text"]

TEMPLATE = "dashboard.html.j2"
#: the churn-risk bands the at-risk list shows (a low band is not "at risk")
#: accounts drawn one by one on the portfolio matrix; beyond, the rest are counted on a grid
MATRIX_POINTS = 1_500
#: squares per side of the portfolio matrix's grid of counts
MATRIX_GRID = 25
TREND_KPIS = ["revenue", "ordering_accounts", "average_order_value", "period_retention_rate"]
SCORECARD_KPIS = ["revenue_12m", "retention_rate", "revenue_growth_yoy", "average_order_value",
                  "repeat_purchase_rate", "nps"]


def _clean(v: Any) -> Any:
    """JSON-safe scalar: NaN/inf -> None, numpy -> Python, timestamps -> ISO dates."""
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, (pd.Timestamp, dt.datetime, dt.date)):
        return pd.Timestamp(v).strftime("%Y-%m-%d")
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def _records(df: pd.DataFrame, cols: list[str]) -> list[dict]:
    cols = [c for c in cols if c in df.columns]
    return [{c: _clean(v) for c, v in zip(cols, row)} for row in df[cols].itertuples(index=False, name=None)]


def json_for_script(data: Any) -> str:
    """JSON that is safe inside an HTML ``<script>`` element.

    ``<``, ``>`` and ``&`` are written as ``\\u003c``/``\\u003e``/``\\u0026`` (so neither
    ``</script>`` nor ``<!--`` can appear), and U+2028/U+2029 are escaped; ``JSON.parse``
    reads the same strings back.
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def programme_size_data(run, *, money: str = "compact") -> dict | None:
    """Title, takeaways and tier rows of the key-account sizing, as the deck words them (None without
    it, or when the base is too small for key-account selection: the deck leaves its page out too),
    money in the deliverable's style (``money``: compact or full)."""
    from .deck_story._base import default_floor_rule
    from .deck_story.segmentation import programme_size_text, sizing_figures

    if Capability.of(run).refusal("key_account_selection"):
        return None
    z = sizing_figures(run.read_table("key_account_sizing"))
    tiers = run.read_table("coverage_tiers")
    if z is None or tiers.empty:
        return None
    cur = run.params.client.currency
    text = programme_size_text(z, tiers, money=lambda v: fmt_money(v, cur, style=money),
                               churn_days=run.params.analysis.churn_days,
                               default_rule=default_floor_rule(run.params, run.read_table("key_account_sizing")),
                               lost=run.read_table("revenue_lost") if run.has_table("revenue_lost") else None,
                               programme=programme_by_tier(run.read_table("segments"))
                               if run.has_table("segments") else None)
    text["rows"] = [{**r, "accounts": int(r["accounts"]), "revenue_share": _clean(r["revenue_share"]),
                     "revenue_share_text": fmt_share(r["revenue_share"]),  # as every deliverable writes it
                     "hours": _clean(r["hours"])} for r in text["rows"]]
    text["share_label"] = kpi_label("revenue_share", short=True)
    return text


def collect_dashboard_data(run) -> dict:
    """Everything the dashboards show, read from the run's tables (a missing table is a RunError)."""
    p = run.params
    notes: list[str] = []
    seg_col = p.review.segment_column
    data: dict[str, Any] = {
        "client": p.client.name, "title": p.engagement.title, "consultant": p.engagement.consultant,
        "as_of": str(p.analysis.as_of_date), "currency": p.client.currency, "period": p.analysis.period,
        "programme_start": str(p.analysis.programme_start) if p.analysis.programme_start else None,
        "as_of_text": fmt_date(p.analysis.as_of_date),
        "programme_start_text": fmt_date(p.analysis.programme_start) if p.analysis.programme_start else None,
        "all_label": ALL_ACCOUNTS, "quadrant_names": p.segmentation.quadrant_names.ordered(),
        "currency_symbol": currency_symbol(p.client.currency), "theme": _theme_data(p),
    }
    # KPI tiles
    kvt = run.read_table("kpi_vs_target")
    tiles = []
    if len(kvt):
        for r in kvt.itertuples(index=False):
            unit = getattr(r, "unit", None)
            tiles.append({"kpi": r.kpi, "label": kpi_label(r.kpi, short=True),
                          "unit": _clean(unit) or kpi_unit(r.kpi), "current": _clean(r.current),
                          "target": _clean(r.target), "status": str(r.status),
                          "vs_baseline": _clean(getattr(r, "vs_baseline", None)),
                          "vs_baseline_text": baseline_change_text(r.kpi, r.current, getattr(r, "baseline", None))})
    else:  # no targets: today's values are the baseline, not rated
        tiles = [{**t, "vs_baseline": None, "vs_baseline_text": ""} for t in baseline_tiles(run)]
        data["tiles_note"] = NO_TARGET_NOTE if tiles else "The headline KPIs could not be computed from the data provided."
    data["tiles"] = tiles
    # the heading and colours speak of targets only when the client set one
    data["has_targets"] = any(t.get("target") is not None for t in tiles)
    # where key-account management fits (the capacity gap is its headline when it binds)
    data["programme"] = programme_size_data(run)
    # trends
    tr = run.read_table("kpi_tracking")
    t = tr[tr["kpi"].isin(TREND_KPIS)]
    data["trend_kpis"] = [{"kpi": k, "label": kpi_label(k, short=True), "unit": kpi_unit(k)} for k in TREND_KPIS]
    t = t.sort_values(["kpi", "segment", "period_start"])
    t = t.assign(period_label=[fmt_period(x, p.analysis.period) if pd.notna(x) else "" for x in t["period_start"]])
    data["trends"] = _records(t, ["period_start", "period_label", "segment", "kpi", "value", "target"])
    # retention is never split by today's segments (100% by construction): under a segment filter the
    # page shows the all-accounts figure, labelled so, and says why once
    data["all_accounts_only_kpis"] = sorted(ALL_ACCOUNTS_ONLY_KPIS)
    data["segment_retention_note"] = SEGMENT_RETENTION_NOTE
    # each headline KPI across the client's reviews (one review: says it is the first)
    data["kpi_history"] = history_data(run)
    # segments and portfolio matrix
    segs = run.read_table("segments")
    names = run.account_display_names() if run.has_data("accounts") else pd.Series(dtype=object)
    summary = run.read_table("account_summary")
    segment_names: list[str] = []
    matrix = []
    # the quadrants of too small a base describe an account or two: no matrix, no filter by them
    refused = Capability.of(run).refusal("portfolio_matrix") if seg_col == "quadrant" else ""
    if refused:
        data["matrix_note"] = refused
    elif seg_col in segs:
        segment_names = [str(s) for s in pd.unique(segs[seg_col].dropna().astype(str))]
        order = [q for q in p.segmentation.quadrant_names.ordered() if q in segment_names]
        segment_names = order + sorted(s for s in segment_names if s not in order)
        if {"attractiveness", "relative_strength"} <= set(segs.columns):
            m = segs[["account_id", "attractiveness", "relative_strength", seg_col]
                     + (["is_key"] if "is_key" in segs else [])].rename(columns={seg_col: "segment"})
            m = m.merge(summary[["account_id", "revenue_12m"]], on="account_id", how="left")
            m["name"] = m["account_id"].astype(str).map(names).fillna(m["account_id"].astype(str))
            m = m.dropna(subset=["attractiveness", "relative_strength"])
            matrix, data["matrix_density"], data["matrix_counts"] = matrix_points(m)
        else:
            notes.append("Portfolio matrix: the segmentation has no attractiveness and relative-strength scores.")
    else:
        notes.append("Segment filter and portfolio matrix: the accounts have no segment in this review.")
    data["segments"] = segment_names
    data["matrix"] = matrix
    data.setdefault("matrix_density", [])
    data.setdefault("matrix_counts", {})
    data["matrix_grid"] = MATRIX_GRID
    # at-risk list
    risk = run.read_table("churn_risk", columns=("account_id", "risk_score", "revenue_at_risk"))
    at_risk, at_risk_counts = [], {}
    data["at_risk_empty"] = None
    if risk.empty:
        data["at_risk_empty"] = churn_unsupported_text(run)
    else:
        # the strategy's churn_risk carries its own `segment` (the quadrant); the dashboard's
        # segment is the tracked column (review.segment_column), so it replaces it
        r = risk.drop(columns=["segment", "account_manager"], errors="ignore")
        if seg_col in segs:
            r = r.merge(segs[["account_id", seg_col]].rename(columns={seg_col: "segment"}), on="account_id",
                        how="left")
        else:
            r["segment"] = None
        if "account_manager" in summary:
            r = r.merge(summary[["account_id", "account_manager"]], on="account_id", how="left")
        r["name"] = r["account_id"].astype(str).map(names).fillna(r["account_id"].astype(str))
        r = r[r["revenue_at_risk"].fillna(0) > 0]
        r = r.sort_values(["revenue_at_risk", "account_id"],
                                                              ascending=[False, True])
        # how many accounts are at risk in all and per segment, so a shortened list says "top N of M"
        at_risk_counts = {ALL_ACCOUNTS: len(r), **{str(k): int(v) for k, v in r["segment"].value_counts().items()}}
        # the top N overall plus the top N of each segment, so the filter always has rows
        keep = [r.head(p.review.dashboard_at_risk_rows)]
        keep += [g.head(p.review.dashboard_at_risk_rows) for _, g in r.groupby("segment", dropna=True)]
        r = pd.concat(keep).drop_duplicates("account_id").sort_values(["revenue_at_risk", "account_id"],
                                                                       ascending=[False, True])
        r = r.assign(risk_band=r["risk_band"].map(lambda b: risk_band_label(b, p.strategy.risk_band_shares) or None))
        at_risk = _records(r, ["name", "segment", "risk_score", "risk_band", "revenue_at_risk", "account_manager"])
    data["at_risk"] = at_risk
    data["at_risk_counts"] = at_risk_counts
    data["at_risk_rows"] = p.review.dashboard_at_risk_rows
    # revenue already lost: its own figure beside the at-risk list, never added to it
    lost = run.read_table("revenue_lost", columns=("accounts_lost_12m", "revenue_lost_12m", "dormant_accounts",
                                                   "lapsed_accounts", "history_complete", "note"))
    r = lost.iloc[0]
    data["revenue_lost"] = {**_records(lost, ["accounts_lost_12m", "revenue_lost_12m", "dormant_accounts",
                                              "lapsed_accounts", "history_complete", "note"])[0],
                            "sentence": _sentence(describe_revenue_lost(r, p.client.currency)),
                            "split": _sentence("Accounts lost: " + describe_lost_split(
                                r, churn_days=p.analysis.churn_days))}
    # scorecard
    sc = run.read_table("kpi_scorecard")
    if refused and "segment" in sc:
        sc = sc[sc["segment"].astype(str) == ALL_ACCOUNTS]
    shown_kpis = set(SCORECARD_KPIS) | {t["kpi"] for t in data["tiles"]}  # the tiles follow the segment filter too
    data["scorecard"] = _records(sc[sc["kpi"].isin(shown_kpis)], ["segment", "kpi", "value", "target",
                                                                   "status", "status_basis"])
    # a KPI with no value in any segment is no column of results: the "needs data" line names it
    measured = set(sc.loc[pd.to_numeric(sc["value"], errors="coerce").notna(), "kpi"])
    data["scorecard_kpis"] = [{"kpi": k, "label": kpi_label(k, short=True), "unit": kpi_unit(k)} for k in SCORECARD_KPIS
                              if k in measured]
    data["scorecard_needs"] = needs_data_text([k for k in SCORECARD_KPIS if k in set(sc["kpi"]) and k not in measured])
    # impact and recommendations
    imp = run.read_table("programme_impact")
    data["impact"] = _records(imp, ["supported", "uplift", "uplift_ci_low", "uplift_ci_high", "sentence",
                                    "accounts_note", "reason"])[0] if len(imp) else None
    if (no_programme := programme_sentence(run)) is not None:  # no programme recorded: no estimate to report
        data["impact"] = {"supported": False, "sentence": no_programme, "accounts_note": None}
    recs = run.read_table("recommendations")
    if "value_basis" not in recs:
        recs = recs.assign(value_basis="at stake")
    # every recommendation of the table (the deck shows the largest and says how many there are)
    if "due_date" in recs:
        recs = recs.assign(due=[fmt_date(x) if pd.notna(x) else "" for x in recs["due_date"]])
    if "cost" in recs:  # each recommendation's own cost a year; its manager hours when a cost is not the client's
        no = pd.Series(None, index=recs.index, dtype=object)
        recs = recs.assign(cost_text=[recommendation_cost_text(c, h, a, p.client.currency) for c, h, a in zip(
            recs["cost"], recs.get("cost_hours", no), recs.get("cost_assumed", no))])
    # each carries its segment ("" for one on the whole portfolio), so the segment filter filters the list
    data["recommendations"] = _records(recs.sort_values("rank"), [c for c in (
        "rank", "recommendation", "evidence", "value", "value_basis", "owner", "due", "segment", "cost_text")
        if c in recs])
    data["recommendations_total"] = len(recs)
    data["followup"] = followup_data(run)
    # the control charts of the tracked KPIs and the scenario sensitivity, as the deck shows them
    data["control_charts"] = control_chart_views(run)
    data["tornado"] = tornado_view(run)
    data["notes"] = notes
    return data


def followup_data(run) -> dict | None:
    """The "Since the last review" block on a follow-up review (None on a first review): the same
    story as the deck's section, worded once by :mod:`.followup_story`."""
    from .followup_story import load_followup

    def read(name, cols):
        return run.read_table(name, columns=cols) if run.has_table(name) else None

    names = run.account_display_names().to_dict() if run.has_data("accounts") else {}
    f = load_followup(read, run.params, names)
    return None if f is None else f.as_dict()


def matrix_points(m: pd.DataFrame) -> tuple[list[dict], list[dict], dict]:
    """The portfolio matrix as the page draws it: bubbles, shaded squares and counts.

    Up to :data:`MATRIX_POINTS` accounts every account is a bubble. Beyond, a bubble is drawn
    for the key accounts (at most ``MATRIX_POINTS``, the largest) and for the largest accounts
    by revenue (the largest overall and the largest of each segment, so the segment filter
    always has bubbles); every other
    account is counted in a square of a :data:`MATRIX_GRID` x :data:`MATRIX_GRID` grid of its
    segment (the page shades it by the count). So 200,000 accounts cost a few hundred
    kilobytes, not 30 MB, and the page stays responsive.

    Returns (bubbles, squares ``{segment, i, j, n}`` with i across (strength) and j up
    (attractiveness), accounts per segment and in all).
    """
    m = m.sort_values(["revenue_12m", "account_id"], ascending=[False, True], na_position="last")
    counts = {ALL_ACCOUNTS: int(len(m)), **{str(k): int(v) for k, v in m["segment"].value_counts().items()}}
    cols = ["name", "segment", "attractiveness", "relative_strength", "is_key", "revenue_12m"]
    if len(m) <= MATRIX_POINTS:
        return _records(m, cols), [], counts
    per_segment = max(MATRIX_POINTS // max(m["segment"].nunique(), 1) // 2, 1)
    pick = m.head(MATRIX_POINTS // 2).index.union(m.groupby("segment", sort=False).head(per_segment).index)
    if "is_key" in m:  # the key accounts (bounded by the managers' capacity; the largest if ever more)
        pick = pick.union(m.index[m["is_key"].fillna(False).astype(bool)][:MATRIX_POINTS])
    bubbles, rest = m.loc[m.index.isin(pick)], m.loc[~m.index.isin(pick)]
    g = MATRIX_GRID
    cells = pd.DataFrame({"segment": rest["segment"].astype(str),
                          "i": np.clip((rest["relative_strength"].to_numpy(float) * g).astype(int), 0, g - 1),
                          "j": np.clip((rest["attractiveness"].to_numpy(float) * g).astype(int), 0, g - 1)})
    squares = cells.groupby(["segment", "i", "j"], sort=True).size().rename("n").reset_index()
    return _records(bubbles, cols), _records(squares, ["segment", "i", "j", "n"]), counts


def churn_unsupported_text(run) -> str:
    """Why there is no at-risk list, in client words: the churn model's caveat from the run's
    analysis support (e.g. too little order history) and the input that would unlock it."""
    from ..metrics.capability import Capability

    cap = Capability.of(run)
    why, unlock = cap.caveat("churn_model").strip(), cap.unlock("churn_model").strip()
    if not why or why == "nan":
        return "No account has a churn-risk score: the data could not support the churn-risk model."
    text = "No at-risk list: the churn-risk model needs more than the data gives (" + why.rstrip(".") + ")."
    if unlock and unlock != "nan":
        text += " To unlock it: " + unlock[:1].lower() + unlock[1:].rstrip(".") + "."
    return text


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def baseline_change_text(kpi: str, current, baseline) -> str | None:
    """The change of a KPI against its baseline as a reader sees it, by
    :func:`kam_analysis.metrics.change_vs_baseline`: share KPIs in points x 100 ("+0.7 pts"),
    score KPIs in points ("+3.7 pts"), currency/count KPIs relative ("+5.0%"); None when either
    value is missing."""
    try:
        cur, base = float(current), float(baseline)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(cur) and math.isfinite(base)):
        return None
    change, kind = change_vs_baseline(cur, base, kpi)
    if not math.isfinite(change):
        return None
    if kind == "points":
        pts = change * 100 if kpi_unit(kpi) == "share" else change
        return f"{pts:+.1f} pts vs baseline"
    return f"{change:+.1%} vs baseline"


def _theme_data(params) -> dict:
    """The client's theme as the page uses it: CSS colours, series colours, quadrant colours."""
    th = theme_for(params)
    names = params.segmentation.quadrant_names.ordered()
    return {"css": th.css(), "series": [hex_css(c) for c in th.series],
            "quadrant_colors": {q: hex_css(c) for q, c in th.quadrant_colors(names).items()}}


def _compact_strings(v: Any, currency: str) -> Any:
    """Every string of the page's data with its money compact (the HTML's money style)."""
    if isinstance(v, str):
        return compact_money(v, currency)
    if isinstance(v, dict):
        return {k: _compact_strings(x, currency) for k, x in v.items()}
    if isinstance(v, list):
        return [_compact_strings(x, currency) for x in v]
    return v


def render_dashboard(data: dict) -> str:
    """Render the dashboard HTML from :func:`collect_dashboard_data` output (Jinja2, autoescaped)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
    from markupsafe import Markup

    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined)
    template = env.get_template(TEMPLATE)
    return template.render(d=data, data_json=Markup(json_for_script(data)))


def build_html_dashboard(run) -> Path:
    """Write ``deliverables/dashboard.html`` and return its path."""
    data = collect_dashboard_data(run)
    if money_style("html_dashboard") == "compact":  # the phases' sentences carry full figures
        data = _compact_strings(data, run.params.client.currency)
    html = render_dashboard(data)
    path = run.deliverable_path("dashboard.html")
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
