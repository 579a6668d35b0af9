"""The deck's storyline: one builder per slide type, each reading run-folder tables.

A builder takes :class:`DeckData` and returns a list of :class:`SlideSpec` (empty when
its table or a needed column is absent — the slide is skipped and the reason recorded,
never drawn empty, never filled with a made-up number). To add a slide for a new table,
write one builder and list it in :data:`STORY` under its section.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import RunError
from ..safety import clean_text
from ._pptx import EMU_PER_IN, Box, SlideCanvas, tint
from .deck_format import (KPI_UNITS, chart_format, fmt_count, fmt_money, fmt_share, fmt_value, is_num, kpi_label,
                          period_label)

__all__ = ["DeckData", "SlideSpec", "SECTIONS", "STORY", "plan_deck"]

IN = EMU_PER_IN

SECTIONS: dict[str, tuple[str, str]] = {
    "summary": ("Executive summary", ""),
    "framework": ("The KAM framework", "Five phases from diagnosis to review, and where this engagement stands"),
    "context": ("Market and organisational context", "The consultant's qualitative assessment: market forces, "
                "external factors, programme goals, gaps and strengths"),
    "assessment": ("Assessment & benchmarking", "Where the business stands today: KPIs against benchmark and "
                   "target, concentration, retention, capability and data readiness"),
    "segmentation": ("Segmentation", "Which accounts are key, and how robust that choice is"),
    "strategy": ("Strategy & operating model", "What each segment gets, who covers it, and what it is worth"),
    "review": ("Review & optimisation", "Is the programme on track, and what should change"),
    "next": ("Next steps", "What happens next"),
    "appendix": ("Appendix", "Method notes and data sources"),
}


@dataclass
class SlideSpec:
    """One slide to draw: layout, action title, what to draw, and its source/notes."""

    section: str
    layout: str
    title: str
    draw: Callable[[SlideCanvas], None]
    source: str = ""
    footnote: str = ""
    notes: str = ""
    topic: str = ""


@dataclass
class Finding:
    """An executive-summary finding: the number and the sentence around it."""

    number: str
    text: str
    short: str = ""  # a clause for the slide's action title


class DeckData:
    """Read access to the run's tables for the slide builders, recording what was skipped."""

    def __init__(self, run, *, strict: bool = False):
        self.run = run
        self.strict = strict  # re-raise a builder's error instead of skipping its slide (tests)
        self.params = run.params
        self.cur = run.params.client.currency
        self.client = clean_text(run.params.client.name, max_len=120)
        self.skipped: list[tuple[str, str]] = []
        self.limits: list[tuple[str, str]] = []  # (analysis, why the data could not support it)
        self._cache: dict[str, pd.DataFrame] = {}
        self._names: pd.Series | None = None

    # ------------------------------------------------------------------ tables
    def table(self, name: str, cols: tuple[str, ...] = (), *, topic: str) -> pd.DataFrame | None:
        """The table if it exists with ``cols`` and at least one row; else None (and the skip is recorded)."""
        if name not in self._cache:
            if not self.run.has_table(name):
                self.skipped.append((topic, f"not produced in this run (table {name})"))
                return None
            self._cache[name] = self.run.read_table(name)
        df = self._cache[name]
        missing = [c for c in cols if c not in df.columns]
        if missing:
            self.skipped.append((topic, f"table {name} lacks column(s) {', '.join(missing)}"))
            return None
        if df.empty:
            self.skipped.append((topic, f"table {name} has no rows"))
            return None
        return df

    def peek(self, name: str) -> pd.DataFrame | None:
        """The table, or None, without recording a skip (for optional enrichments)."""
        if name in self._cache:
            return self._cache[name]
        if not self.run.has_table(name):
            return None
        self._cache[name] = self.run.read_table(name)
        return self._cache[name]

    def names(self) -> pd.Series:
        """account_id -> display name (pseudonymised when the params say so)."""
        if self._names is None:
            try:
                self._names = self.run.account_display_names()
            except RunError:  # no accounts data: show the ids
                summ = self.peek("account_summary")
                ids = summ["account_id"].astype(str) if summ is not None else pd.Series([], dtype=str)
                self._names = pd.Series(ids.to_numpy(), index=ids.to_numpy())
        return self._names

    def name_of(self, account_id) -> str:
        n = self.names()
        return clean_text(str(n.get(str(account_id), account_id)), max_len=40)

    # ------------------------------------------------------------------ text helpers
    @property
    def run_id(self) -> str:
        """The run's id (the runner builds in '.<id>.partial' and renames it when done)."""
        return self.run.dir.name.lstrip(".").removesuffix(".partial")

    @property
    def as_of(self) -> dt.date:
        return self.params.analysis.as_of_date

    def source(self, *tables: str, data: str = "order data") -> str:
        when = self.as_of.strftime("%d %b %Y")
        return f"{self.client} {data} to {when}; KAM analysis (run tables: {', '.join(tables)})"

    def money(self, v) -> str:
        return fmt_money(v, self.cur)

    def unit_of(self, kpi: str) -> str | None:
        for name in ("kpi_headline", "benchmark_gaps"):
            t = self.peek(name)
            if t is not None and "unit" in t.columns and "kpi" in t.columns:
                hit = t.loc[t["kpi"] == kpi, "unit"]
                if len(hit) and isinstance(hit.iloc[0], str):
                    return hit.iloc[0]
        return KPI_UNITS.get(kpi)

    def label_of(self, kpi: str) -> str:
        for name in ("kpi_headline", "benchmark_gaps"):
            t = self.peek(name)
            if t is not None and "label" in t.columns and "kpi" in t.columns:
                hit = t.loc[t["kpi"] == kpi, "label"]
                if len(hit):
                    return kpi_label(kpi, hit.iloc[0])
        return kpi_label(kpi)

    def headline(self, kpi: str) -> float | None:
        t = self.peek("kpi_headline")
        if t is None or "kpi" not in t.columns or "value" not in t.columns:
            return None
        hit = t.loc[t["kpi"] == kpi, "value"]
        return float(hit.iloc[0]) if len(hit) and is_num(hit.iloc[0]) else None


def _text(v, n: int = 120) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    return clean_text(str(v), max_len=n)


def _lc_first(text: str) -> str:
    """Lower-case a label for use mid-sentence, keeping acronyms (NPS, YoY) and names inside it.

    The first word is lower-cased unless it is an acronym; a Title Case label
    ("Net Promoter Score") is lower-cased word by word, acronyms kept.
    """
    def acronym(w: str) -> bool:
        return sum(ch.isupper() for ch in w) > 1

    words = text.split(" ")
    caps = [w for w in words if w[:1].isalpha()]
    title_case = len(caps) > 1 and all(w[:1].isupper() for w in caps)
    out = []
    for i, w in enumerate(words):
        if (i == 0 or title_case) and w[:1].isupper() and not acronym(w):
            w = w[:1].lower() + w[1:]
        out.append(w)
    return " ".join(out)


def _q(d: DeckData) -> list[str]:
    return d.params.segmentation.quadrant_names.ordered()


def _rows_per_page(n: int, per: int) -> list[slice]:
    pages = max(1, int(np.ceil(n / per)))
    size = int(np.ceil(n / pages))
    return [slice(i * size, min((i + 1) * size, n)) for i in range(pages)]


def _bullets(c: SlideCanvas, box: Box, items: list, *, size: float = 16, color: str | None = None,
             marker: str = "•"):
    """Bulleted paragraphs (str or runs) drawn as a text box with a coloured marker run."""
    paras = []
    for it in items:
        runs = it if isinstance(it, list) else [(str(it), False)]
        paras.append([(marker + "  ", True, c.style.accent), *runs])
    return c.text_box(box, paras, size=size, color=color or c.style.text)


def _takeaway(c: SlideCanvas, items: list, *, heading: str = "Key takeaways") -> None:
    box = c.region("Takeaway", remove=False)
    ph = c.placeholder("Takeaway")
    paras = [[(heading, True, c.style.primary)], *[it if isinstance(it, list) else [(str(it), False)] for it in items]]
    if ph is not None:
        c.region("Takeaway")  # draw our own box in its place, with bullets and fitted text
    fill = None if ph is None else c.style.light
    c.text_box(box, paras, size=14, fill=fill, inset=0.18, color=c.style.text, min_pt=9)


# =============================================================================== section 1
def s_title(d: DeckData) -> list[SlideSpec]:
    e = d.params.engagement
    when = (e.date or d.as_of).strftime("%d %B %Y").lstrip("0")
    mark = d.params.branding.confidentiality

    def draw(c: SlideCanvas):
        c.set_text("Title", _text(e.title, 120), max_pt=40, min_pt=24)
        c.set_text("Subtitle", d.client, max_pt=22, min_pt=14)
        c.set_text("Date", " · ".join(x for x in [when, _text(e.consultant, 80), _text(mark, 60)] if x),
                   max_pt=14, min_pt=10)
        logo = d.params.branding.logo
        if logo is not None and logo.is_file():
            w = c.deck.width
            c.picture(logo, Box(w - int(2.6 * IN), int(0.4 * IN), int(2.0 * IN), int(0.8 * IN)))

    return [SlideSpec("summary", "Title", _text(e.title, 120), draw, topic="title",
                      notes=f"Framework deck built from run {d.run_id}; every number comes from the run's tables.")]


def s_exec_summary(d: DeckData) -> list[SlideSpec]:
    findings, seen = [], set()
    for f in (fn(d) for fn in FINDINGS):
        if f is not None and f.number not in seen and not any(f.number in g.text for g in findings):
            findings.append(f)
            seen.add(f.number)
    findings = findings[:5]
    if not findings:
        d.skipped.append(("Executive summary", "no headline tables in this run"))
        return []

    def draw(c: SlideCanvas):
        box = c.region("Body")
        n = len(findings)
        rows = box.split_v([1] * n, gap=int(0.12 * IN))
        for i, (f, r) in enumerate(zip(findings, rows)):
            num_w = int(2.6 * IN)
            c.text_box(Box(r.x, r.y, int(0.5 * IN), r.h), [str(i + 1)], size=22, bold=True, color=c.style.accent,
                       anchor="m", fit=False)
            c.text_box(Box(r.x + int(0.55 * IN), r.y, num_w, r.h), [f.number], size=24, bold=True,
                       color=c.style.primary, anchor="m", min_pt=14)
            c.text_box(Box(r.x + int(0.6 * IN) + num_w, r.y, r.w - num_w - int(0.6 * IN), r.h), [f.text], size=16,
                       color=c.style.text, anchor="m", min_pt=10)
            if i < n - 1:
                c.rule(r.x, r.y + r.h + int(0.06 * IN), r.w, c.style.grid, 0.75)

    shorts = [f.short for f in findings if f.short][:2]
    title = "; ".join(shorts) if shorts else "Executive summary"
    title = title[0].upper() + title[1:]
    return [SlideSpec("summary", "Title and Content", title, draw, topic="Executive summary",
                      source=d.source("kpi_headline", "segments", "kpi_vs_target"),
                      notes="Headline findings, each generated from a run table: " +
                            "; ".join(f"{f.number} — {f.text}" for f in findings))]


def _f_revenue(d: DeckData) -> Finding | None:
    rev, g = d.headline("revenue_12m"), d.headline("revenue_growth_yoy")
    if rev is None:
        return None
    tail = f", {'up' if g >= 0 else 'down'} {fmt_share(abs(g))} on the previous year" if g is not None else ""
    short = (f"revenue {'up' if g >= 0 else 'down'} {fmt_share(abs(g))} to {d.money(rev)}" if g is not None
             else f"revenue of {d.money(rev)} in the last 12 months")
    return Finding(d.money(rev), f"Net revenue in the last 12 months{tail}.", short)


def _f_concentration(d: DeckData) -> Finding | None:
    cs = d.peek("concentration_summary")
    if cs is not None and {"metric", "value"} <= set(cs.columns):
        v = cs.loc[cs["metric"] == "top20_share", "value"]
        if len(v) and is_num(v.iloc[0]):
            return Finding(fmt_share(v.iloc[0]), "of revenue comes from the top 20% of accounts.",
                           f"the top 20% of accounts bring {fmt_share(v.iloc[0])} of it")
    ts = d.peek("tier_summary")
    if ts is not None and {"tier", "accounts", "revenue_share"} <= set(ts.columns) and len(ts):
        top = ts.iloc[0]
        share_acc = top["accounts"] / ts["accounts"].sum()
        return Finding(fmt_share(top["revenue_share"]),
                       f"of revenue comes from the {_text(top['tier'], 30)} tier, {fmt_share(share_acc, decimals=0)} "
                       "of accounts.",
                       f"{fmt_share(share_acc, decimals=0)} of accounts bring {fmt_share(top['revenue_share'])} of it")
    return None


def _f_targets(d: DeckData) -> Finding | None:
    t = d.peek("kpi_vs_target")
    if t is None or not {"kpi", "status"} <= set(t.columns):
        return None
    rated = t[t["status"].isin(["green", "amber", "red"])]
    if rated.empty:
        return None
    off = rated[rated["status"] != "green"]
    text = f"of {len(rated)} KPIs with a target are on target"
    if len(off):
        worst = off.sort_values("status", key=lambda s: s.map({"red": 0, "amber": 1})).iloc[0]
        text += f"; {_lc_first(d.label_of(worst['kpi']))} is {worst['status']}"
        if is_num(worst.get("current")) and is_num(worst.get("target")):
            u = d.unit_of(worst["kpi"])
            text += f" at {fmt_value(worst['current'], u, d.cur)} vs {fmt_value(worst['target'], u, d.cur)}"
    return Finding(f"{len(rated) - len(off)} of {len(rated)}", text + ".",
                   f"{len(rated) - len(off)} of {len(rated)} KPIs on target")


def _f_key_accounts(d: DeckData) -> Finding | None:
    s = d.peek("segments")
    if s is None or not {"is_key", "revenue_12m"} <= set(s.columns):
        return None
    tot = s["revenue_12m"].sum()
    if not tot:
        return None
    key = s[s["is_key"].astype(bool)]
    share = fmt_share(key['revenue_12m'].sum() / tot)
    return Finding(fmt_count(len(key)), f"key accounts selected, holding {share} of last-12-month revenue.",
                   f"{fmt_count(len(key))} key accounts hold {share} of revenue")


def _first_clause(text, n: int = 90) -> str:
    """The leading clause of a sentence (up to the first ": " or "; "), never cut mid-word with an
    ellipsis: when even the clause is longer than ``n``, the clause before the first ", "."""
    t = _text(text, 10_000).strip()
    for sep in (": ", "; "):
        t = t.split(sep)[0]
    if len(t) > n and ", " in t:
        t = t.split(", ")[0]
    return t.rstrip(".")


def _f_impact(d: DeckData) -> Finding | None:
    """The programme effect, composed from the table's numbers (not the long ``sentence``, which
    does not fit a summary line): "more revenue growth in programme accounts than in comparable
    accounts (95% CI +14.8% to +37.9%)"."""
    p = d.peek("programme_impact")
    if p is None or not {"supported", "estimate"} <= set(p.columns) or p.empty:
        return None
    r = p.iloc[0]
    if not bool(r["supported"]) or not is_num(r["estimate"]):
        return None
    val, lo, hi, unit = _impact_values(r)
    level = r.get("confidence") if is_num(r.get("confidence")) else d.params.thresholds.confidence
    ci = (f" ({fmt_share(level, decimals=0)} CI {fmt_value(lo, unit, signed=True)} to "
          f"{fmt_value(hi, unit, signed=True)})") if is_num(lo) and is_num(hi) else ""
    if unit == "share":
        text = f"more revenue growth in programme accounts than in comparable accounts{ci}."
    else:
        text = f"estimated programme effect on revenue, programme vs comparable accounts{ci}."
    return Finding(_impact_text(r), text)


def _churn_unsupported(d: DeckData) -> str | None:
    """Why the data could not support the churn model (table churn_model_status), or None."""
    st = d.peek("churn_model_status")
    if st is None or not {"supported", "reason"} <= set(st.columns) or st.empty or bool(st["supported"].iloc[0]):
        return None
    why = st["reason"].iloc[0]
    why = why if isinstance(why, str) and why.strip() else "the data could not support the churn model"
    return why.removeprefix("churn model not supported: ")


def _f_risk(d: DeckData) -> Finding | None:
    r = d.peek("churn_risk")
    if r is None or "revenue_at_risk" not in r.columns or r.empty or _churn_unsupported(d):
        return None
    v = r["revenue_at_risk"].sum()
    return Finding(d.money(v), "of revenue is at risk of churn (churn-risk model).") if is_num(v) else None


def _f_recommendation(d: DeckData) -> Finding | None:
    r = d.peek("recommendations")
    if r is None or not {"rank", "recommendation", "value"} <= set(r.columns) or r.empty:
        return None
    top = r.sort_values("rank").iloc[0]
    if not is_num(top["value"]):
        return None
    basis = _text(top.get("value_basis"), 60) if "value_basis" in r.columns else ""
    return Finding(d.money(top["value"]), f"{basis or 'at stake'} behind the top recommendation: "
                   f"{_lc_first(_first_clause(top['recommendation']))}.")


FINDINGS = [_f_revenue, _f_concentration, _f_key_accounts, _f_targets, _f_impact, _f_risk, _f_recommendation]


def s_key_numbers(d: DeckData) -> list[SlideSpec]:
    t = d.table("kpi_headline", ("kpi", "value", "unit"), topic="Headline KPIs")
    if t is None:
        return []
    t = t[t["value"].map(is_num)]
    order = ["revenue_12m", "revenue_growth_yoy", "active_accounts", "retention_rate", "average_order_value",
             "repeat_purchase_rate", "nps"]
    t = t.assign(_o=t["kpi"].map(lambda k: order.index(k) if k in order else 99)).sort_values("_o", kind="stable")
    tiles = t.head(5)
    if tiles.empty:
        return []
    notes_col = "note" in t.columns
    tv = d.peek("kpi_vs_target")
    body = []
    if tv is not None and {"kpi", "current", "target", "status"} <= set(tv.columns):
        for _, r in tv[tv["status"].isin(["green", "amber", "red"])].iterrows():
            u = d.unit_of(r["kpi"])
            body.append([(f"{d.label_of(r['kpi'])}: ", True),
                         (f"{fmt_value(r['current'], u, d.cur)} against a target of {fmt_value(r['target'], u, d.cur)}"
                          f" ({r['status']})", False)])
    if notes_col:
        for _, r in tiles.iterrows():
            if isinstance(r["note"], str) and r["note"].strip():
                body.append([(f"{d.label_of(r['kpi'])}: ", True), (_text(r["note"], 160), False)])
    rev, g = d.headline("revenue_12m"), d.headline("revenue_growth_yoy")
    if rev is not None and g is not None:
        title = f"Net revenue of {d.money(rev)} over the last 12 months, {'up' if g >= 0 else 'down'} {fmt_share(abs(g))} year on year"
    else:
        first = tiles.iloc[0]
        title = f"{d.label_of(first['kpi'])} stands at {fmt_value(first['value'], first['unit'], d.cur)}"

    def draw(c: SlideCanvas):
        _tiles(c, c.region("Numbers"), [(fmt_value(r["value"], r["unit"], d.cur),
                                         d.label_of(r["kpi"]), None) for _, r in tiles.iterrows()])
        if body:
            _bullets(c, c.region("Body"), body[:5], size=15)
        else:
            c.region("Body")

    return [SlideSpec("summary", "Key Numbers", title, draw, topic="Headline KPIs",
                      source=d.source("kpi_headline", "kpi_vs_target"),
                      notes="Headline KPIs over the trailing twelve months to the as-of date. Revenue is net of "
                            "returns; retention = accounts ordering in both the previous and the last 12 months / "
                            "accounts ordering in the previous 12 months; growth = revenue_12m / revenue_prev_12m - 1.")]


def _tiles(c: SlideCanvas, box: Box, tiles: list[tuple[str, str, str | None]], *, sub: list[str] | None = None):
    """KPI tiles: big number, label, optional coloured status bar."""
    n = len(tiles)
    boxes = box.split_h([1] * n, gap=int(0.25 * IN))
    for k, ((value, label, status), b) in enumerate(zip(tiles, boxes)):
        bar = c.style.rag(status) if status else c.style.accent
        c.text_box(Box(b.x, b.y, b.w, int(0.07 * IN)), [""], fill=bar, fit=False)
        c.text_box(Box(b.x, b.y + int(0.07 * IN), b.w, b.h - int(0.07 * IN)), [""], fill=c.style.light, fit=False)
        c.text_box(Box(b.x + int(0.1 * IN), b.y + int(0.25 * IN), b.w - int(0.2 * IN), int(0.9 * IN)), [value],
                   size=32, bold=True, color=c.style.primary, align="c", anchor="m", min_pt=16)
        lines = [label] + ([sub[k]] if sub and sub[k] else [])
        paras = [[(lines[0], True, c.style.text)]] + [[(x, False, c.style.muted)] for x in lines[1:]]
        c.text_box(Box(b.x + int(0.1 * IN), b.y + int(1.2 * IN), b.w - int(0.2 * IN), b.h - int(1.3 * IN)), paras,
                   size=13, align="c", min_pt=9)


# =============================================================================== section 2
PHASES = [
    ("1", "Assessment & benchmarking", ["kpi_headline", "benchmark_gaps", "cohort_retention", "capability_maturity"]),
    ("2", "Segmentation", ["segments", "segment_profiles", "clv_params"]),
    ("3", "Strategy", ["segment_playbook", "churn_drivers", "whitespace", "impact_scenarios"]),
    ("4", "Operational planning", ["coverage_by_segment", "account_plans"]),
    ("5", "Monitoring, review & optimisation", ["kpi_vs_target", "programme_impact", "segment_migration",
                                               "recommendations"]),
]
_PHASE_OUTPUTS = {"kpi_headline": "KPI baseline", "benchmark_gaps": "Benchmark gaps", "cohort_retention": "Cohorts",
                  "capability_maturity": "Capability maturity", "segments": "Account segments",
                  "segment_profiles": "Segment profiles", "clv_params": "Predictive CLV",
                  "segment_playbook": "Playbooks", "churn_drivers": "Churn drivers", "whitespace": "Whitespace",
                  "impact_scenarios": "Impact scenarios", "coverage_by_segment": "Coverage plan",
                  "account_plans": "Account plans", "kpi_vs_target": "KPIs vs target",
                  "programme_impact": "Programme impact", "segment_migration": "Migration",
                  "recommendations": "Recommendations"}


def s_framework(d: DeckData) -> list[SlideSpec]:
    status = []
    for num, name, tables in PHASES:
        have = [t for t in tables if d.run.has_table(t) and not (t == "churn_drivers" and _churn_unsupported(d))]
        state = "Complete" if len(have) == len(tables) else "In progress" if have else "Not started"
        status.append((num, name, tables, have, state))
    done = sum(s[4] == "Complete" for s in status)
    started = sum(s[4] != "Not started" for s in status)
    nxt = next((s for s in status if s[4] != "Complete"), None)
    stands = (f"Results as of {d.as_of:%d %B %Y}. " +
              (f"Next: phase {nxt[0]}, {nxt[1].lower()} ({nxt[4].lower()})." if nxt else
               "All phases have results; the next step is the periodic review against target."))
    if done == 5:
        title = "All five KAM phases have run; this deck reports each of them"
    elif done == 0:
        title = f"{started} of 5 KAM phases have first results; none is complete yet"
    else:
        title = f"{started} of 5 KAM phases have results so far, {done} of them complete"

    def draw(c: SlideCanvas):
        from pptx.enum.shapes import MSO_SHAPE

        box = c.region("Body")
        cols = box.split_h([1] * 5, gap=int(0.08 * IN))
        for k, ((num, name, tables, have, state), b) in enumerate(zip(status, cols)):
            fill = c.style.primary if state == "Complete" else c.style.accent if state == "In progress" else "BFC5CD"
            c.text_box(Box(b.x, b.y, b.w + (int(0.05 * IN) if k < 4 else 0), int(0.75 * IN)), [f"Phase {num}"], size=16, bold=True,
                       color="FFFFFF", fill=fill, align="c", anchor="m", fit=False,
                       shape=MSO_SHAPE.CHEVRON if k else MSO_SHAPE.PENTAGON, inset=0.3)
            c.text_box(Box(b.x, b.y + int(0.9 * IN), b.w - int(0.1 * IN), int(0.75 * IN)), [name], size=16, bold=True,
                       color=c.style.primary, min_pt=11)
            c.text_box(Box(b.x, b.y + int(1.65 * IN), b.w - int(0.1 * IN), int(0.4 * IN)), [state], size=13,
                       bold=True, color=fill if state != "Not started" else c.style.muted, fit=False)
            items = [[("✓ " if t in have else "–  ", True, c.style.accent if t in have else c.style.muted),
                      (_PHASE_OUTPUTS.get(t, t), False, c.style.text if t in have else c.style.muted)]
                     for t in tables]
            c.text_box(Box(b.x, b.y + int(2.15 * IN), b.w - int(0.1 * IN), int(1.6 * IN)),
                       items, size=14, min_pt=9)
        band = Box(box.x, box.y + box.h - int(1.0 * IN), box.w, int(1.0 * IN))
        c.text_box(band, [[("Where the engagement stands  ", True, c.style.primary), (stands, False, c.style.text)]],
                   size=15, fill=c.style.light, anchor="m", inset=0.2, min_pt=10)

    return [SlideSpec("framework", "Title and Content", title, draw, topic="KAM framework",
                      source=f"KAM engagement run {d.run_id}",
                      notes="The five-phase KAM framework (assessment, segmentation, strategy, operational planning, "
                            "review). A phase is complete when all its result tables are in the run folder.")]


# =============================================================================== section 3
_FORCE_NAMES = {"rivalry": "Competitive rivalry", "new_entrants": "Threat of new entrants",
                "substitutes": "Threat of substitutes", "buyer_power": "Buyer power",
                "supplier_power": "Supplier power"}


def s_five_forces(d: DeckData) -> list[SlideSpec]:
    ff = d.params.context.five_forces
    if ff is None or not any(getattr(ff, k) for k in _FORCE_NAMES):
        d.skipped.append(("Five Forces", "no ratings given in the parameters (context.five_forces)"))
        return []
    forces = {k: getattr(ff, k) for k in _FORCE_NAMES if getattr(ff, k) is not None}
    high = [_FORCE_NAMES[k].lower() for k, f in forces.items() if f.level == "high"]
    title = (f"{high[0][0].upper() + high[0][1:]}" + (f" and {high[1]}" if len(high) > 1 else "") +
             (" are" if len(high) > 1 else " is") + " the strongest force" + ("s" if len(high) > 1 else "") +
             " on the market" if high else "No market force is rated high; competition is moderate")

    def draw(c: SlideCanvas):
        box = c.region("Body")
        w, h = int(box.w * 0.31), int(box.h * 0.31)
        cx, cy = box.x + (box.w - w) // 2, box.y + (box.h - h) // 2
        pos = {"rivalry": (cx, cy), "new_entrants": (cx, box.y), "substitutes": (cx, box.y + box.h - h),
               "supplier_power": (box.x, cy), "buyer_power": (box.x + box.w - w, cy)}
        for k, f in forces.items():
            x, y = pos[k]
            lvl = f.level
            fill = {"high": c.style.primary, "medium": tint(c.style.primary, 0.45), "low": tint(c.style.primary, 0.85)}[lvl]
            fg = "FFFFFF" if lvl != "low" else c.style.text
            rating = lvl.capitalize() + (f" ({f.rating}/5)" if isinstance(f.rating, int) else "")
            paras = [[(_FORCE_NAMES[k], True, fg)], [(rating, False, fg)]]
            if f.note:
                paras.append([(_text(f.note, 200), False, fg)])
            c.text_box(Box(x, y, w, h), paras, size=13, fill=fill, align="c", anchor="m", inset=0.12, min_pt=8)

    return [SlideSpec("context", "Title and Content", title, draw, topic="Five Forces",
                      source=f"Consultant assessment ({d.params.engagement.consultant}), engagement parameters",
                      footnote="Force strength as rated by the engagement team; darker = stronger force.",
                      notes="Porter's Five Forces, rated by the consultant in params (context.five_forces).")]


def s_pest(d: DeckData) -> list[SlideSpec]:
    p = d.params.context.pest
    parts = {k: getattr(p, k) for k in ("political", "economic", "social", "technological")} if p else {}
    if not any(parts.values()):
        d.skipped.append(("PEST analysis", "no factors given in the parameters (context.pest)"))
        return []
    most = max(parts, key=lambda k: len(parts[k]))
    title = f"External environment: {most} factors weigh most on the KAM agenda"

    def draw(c: SlideCanvas):
        box = c.region("Body")
        rows = box.split_v([1, 1], gap=int(0.2 * IN))
        quads = [b for r in rows for b in r.split_h([1, 1], gap=int(0.25 * IN))]
        for (k, items), b in zip(parts.items(), quads):
            c.text_box(Box(b.x, b.y, int(0.45 * IN), b.h), [k[0].upper()], size=28, bold=True, fill=c.style.primary,
                       color="FFFFFF", align="c", anchor="m", fit=False)
            paras = [[(k.capitalize(), True, c.style.primary)]] + [[("•  ", True, c.style.accent),
                                                                   (_text(x, 160), False)] for x in items]
            if not items:
                paras.append([("No factor noted", False, c.style.muted)])
            c.text_box(Box(b.x + int(0.55 * IN), b.y, b.w - int(0.55 * IN), b.h), paras, size=14,
                       color=c.style.text, fill=c.style.light, inset=0.12, min_pt=8)

    return [SlideSpec("context", "Title and Content", title, draw, topic="PEST",
                      source="Consultant assessment, engagement parameters (context.pest)",
                      notes="PEST: political, economic, social and technological factors noted by the consultant.")]


def s_most(d: DeckData) -> list[SlideSpec]:
    m = d.params.context.most
    if m is None or not (m.mission or m.objectives or m.strategies or m.tactics):
        d.skipped.append(("MOST analysis", "no mission/objectives given in the parameters (context.most)"))
        return []
    rows = [("Mission", [m.mission] if m.mission else []), ("Objectives", m.objectives),
            ("Strategies", m.strategies), ("Tactics", m.tactics)]
    rows = [r for r in rows if r[1]]
    title = (f"The KAM programme cascades from its mission to {len(m.tactics)} concrete tactics" if m.tactics
             else "The KAM programme's mission and objectives set the direction")

    def draw(c: SlideCanvas):
        box = c.region("Body")
        bands = box.split_v([1] * len(rows), gap=int(0.12 * IN))
        for (label, items), b in zip(rows, bands):
            c.text_box(Box(b.x, b.y, int(2.2 * IN), b.h), [label], size=16, bold=True, fill=c.style.primary,
                       color="FFFFFF", anchor="m", inset=0.15, fit=False)
            paras = [[("•  ", True, c.style.accent), (_text(x, 200), False)] for x in items]
            c.text_box(Box(b.x + int(2.3 * IN), b.y, b.w - int(2.3 * IN), b.h), paras, size=14, color=c.style.text,
                       anchor="m", fill=c.style.light, inset=0.12, min_pt=8)

    return [SlideSpec("context", "Title and Content", title, draw, topic="MOST",
                      source="Consultant assessment, engagement parameters (context.most)",
                      notes="MOST: mission, objectives, strategies and tactics of the KAM programme.")]


def s_gaps(d: DeckData) -> list[SlideSpec]:
    g = d.params.context.gaps
    if not g:
        d.skipped.append(("Gap analysis", "no gaps given in the parameters (context.gaps)"))
        return []
    rows = [[_text(x.area, 60), _text(x.current, 160), _text(x.desired, 160), _text(x.action, 160)] for x in g]
    specs = []
    pages = _rows_per_page(len(rows), 6)
    for k, sl in enumerate(pages):
        def draw(c: SlideCanvas, sl=sl):
            c.table(c.region("Table"), ["Area", "Today", "Target state", "How to close the gap"], rows[sl],
                    widths=[1.3, 2, 2, 2.2], bold_cols=[0], max_pt=13)
        title = f"{len(g)} gaps separate today's account management from the target state" + (
            f" ({k + 1}/{len(pages)})" if len(pages) > 1 else "")
        specs.append(SlideSpec("context", "Table", title, draw, topic="Gap analysis",
                               source="Consultant assessment, engagement parameters (context.gaps)",
                               notes="Gap analysis: current state, desired state and closing action per area."))
    return specs


def s_strengths(d: DeckData) -> list[SlideSpec]:
    s = d.params.context.strengths
    if not s:
        d.skipped.append(("Strengths", "no strengths given in the parameters (context.strengths)"))
        return []

    def draw(c: SlideCanvas):
        _bullets(c, c.region("Body"), [_text(x, 220) for x in s], size=18)

    return [SlideSpec("context", "Title and Content", f"The programme can build on {len(s)} existing strengths", draw,
                      topic="Strengths", source="Consultant assessment, engagement parameters (context.strengths)",
                      notes="Strengths recorded by the engagement team.")]


# =============================================================================== section 4
def s_revenue_trend(d: DeckData) -> list[SlideSpec]:
    t = d.table("kpi_by_period", ("period_start", "revenue"), topic="Revenue trend")
    if t is None:
        return []
    t = t.sort_values("period_start")
    t = t[t["revenue"].map(is_num)].tail(16)
    if t.empty:
        return []
    period = d.params.analysis.period
    cats = [period_label(p, period) for p in t["period_start"]]
    vals = t["revenue"].astype(float).tolist()
    first, last = vals[0], vals[-1]
    change = last / first - 1 if first else None
    rev, g = d.headline("revenue_12m"), d.headline("revenue_growth_yoy")
    if rev is not None and g is not None:
        title = f"Revenue {'grew' if g >= 0 else 'fell'} {fmt_share(abs(g))} year on year to {d.money(rev)} in the last 12 months"
    else:
        title = f"Revenue per {period} moved from {d.money(first)} to {d.money(last)} over the period shown"
    take = [f"{cats[-1]}: {d.money(last)} net revenue" + (f", {fmt_share(change, signed=True)} vs {cats[0]}" if change is not None else "")]
    best = int(np.argmax(vals))
    take.append(f"Highest {period}: {cats[best]} at {d.money(vals[best])}")
    if "active_accounts" in t.columns and is_num(t["active_accounts"].iloc[-1]):
        take.append(f"{fmt_count(t['active_accounts'].iloc[-1])} accounts ordered in {cats[-1]}")
    if "average_order_value" in t.columns and is_num(t["average_order_value"].iloc[-1]):
        take.append(f"Average order value {d.money(t['average_order_value'].iloc[-1])} in {cats[-1]}")

    def draw(c: SlideCanvas):
        c.bar_chart(c.region("Chart"), cats, {"Net revenue": vals},
                    number_format=chart_format("currency", d.cur, max_abs=max(abs(v) for v in vals)),
                    labels=len(cats) <= 12, axis_title=f"Net revenue per {period} ({d.cur})",
                    colors=[c.style.primary], gap_width=50)
        _takeaway(c, take)

    return [SlideSpec("assessment", "Chart", title, draw, topic="Revenue trend", source=d.source("kpi_by_period"),
                      footnote="Net revenue after returns." + (" Last 16 periods shown." if len(t) == 16 else ""),
                      notes="Revenue by period = sum of net revenue of orders in the period (returns netted). "
                            "Period length: analysis.period in the params.")]


def s_activity(d: DeckData) -> list[SlideSpec]:
    """Ordering accounts and average order value by period, side by side (Two Content)."""
    t = d.table("kpi_by_period", ("period_start", "active_accounts", "average_order_value"),
                topic="Accounts and order value")
    if t is None:
        return []
    t = t.sort_values("period_start").tail(16)
    t = t[t["active_accounts"].map(is_num) & t["average_order_value"].map(is_num)]
    if len(t) < 2:
        return []
    period = d.params.analysis.period
    cats = [period_label(p, period) for p in t["period_start"]]
    acc, aov = t["active_accounts"].astype(float).tolist(), t["average_order_value"].astype(float).tolist()
    d_acc = acc[-1] / acc[0] - 1 if acc[0] else None
    d_aov = aov[-1] / aov[0] - 1 if aov[0] else None
    if d_acc is None or d_aov is None:
        return []
    title = (f"Ordering accounts {'rose' if d_acc >= 0 else 'fell'} {fmt_share(abs(d_acc), decimals=0)} and order value "
             f"{'rose' if d_aov >= 0 else 'fell'} {fmt_share(abs(d_aov), decimals=0)} between {cats[0]} and {cats[-1]}")

    def draw(c: SlideCanvas):
        for name, vals, fmt, color, label in (
                ("Left", acc, chart_format("count"), c.style.primary, f"Accounts ordering per {period}"),
                ("Right", aov, chart_format("currency", d.cur, max_abs=max(aov)), c.style.accent,
                 f"Average order value ({d.cur})")):
            box = c.region(name)
            c.text_box(Box(box.x, box.y, box.w, int(0.4 * IN)), [label], size=14, bold=True, color=c.style.primary,
                       fit=False)
            c.line_chart(Box(box.x, box.y + int(0.45 * IN), box.w, box.h - int(0.45 * IN)), cats, {label: vals},
                         number_format=fmt, colors=[color], minimum=0)

    return [SlideSpec("assessment", "Two Content", title, draw, topic="Accounts and order value",
                      source=d.source("kpi_by_period"),
                      footnote=f"Accounts with at least one order in the {period}; order value = revenue / orders.",
                      notes="Active accounts = accounts with at least one positive order in the period; average order "
                            "value = net revenue / orders in the period.")]


def s_scorecard(d: DeckData) -> list[SlideSpec]:
    bg = d.peek("benchmark_gaps")
    rag_note = (f"Status: green = within {fmt_share(d.params.thresholds.rag.amber, decimals=0)} of target, red = more "
                f"than {fmt_share(d.params.thresholds.rag.red, decimals=0)} short.")
    if bg is not None and {"kpi", "current", "benchmark", "target", "status"} <= set(bg.columns) and len(bg):
        src, tab = "benchmark_gaps", bg
        header = ["KPI", "Current", "Benchmark", "Gap to benchmark", "Target", "Gap to target", "Status"]

        def row(r):
            u = r["unit"] if "unit" in r and isinstance(r["unit"], str) else d.unit_of(r["kpi"])
            both = is_num(r["current"]) and is_num(r["target"])
            gap = r.get("gap_to_target", r["current"] - r["target"] if both else None)
            gb = r.get("gap_to_benchmark", r["current"] - r["benchmark"] if is_num(r["current"]) and
                       is_num(r["benchmark"]) else None)
            return [kpi_label(r["kpi"], r.get("label")), fmt_value(r["current"], u, d.cur),
                    fmt_value(r["benchmark"], u, d.cur), fmt_value(gb, u, d.cur, signed=True),
                    fmt_value(r["target"], u, d.cur), fmt_value(gap, u, d.cur, signed=True),
                    str(r["status"]).upper()]
    else:
        tab = d.table("kpi_vs_target", ("kpi", "current", "target", "gap", "status"), topic="KPI scorecard")
        if tab is None:
            return []
        src = "kpi_vs_target"
        header = ["KPI", "Current", "Target", "Gap to target", "Status"]

        def row(r):
            u = d.unit_of(r["kpi"])
            return [d.label_of(r["kpi"]), fmt_value(r["current"], u, d.cur), fmt_value(r["target"], u, d.cur),
                    fmt_value(r["gap"], u, d.cur, signed=True), str(r["status"]).upper()]
    rows = [row(r) for _, r in tab.iterrows()]
    status = tab["status"].astype(str).str.lower()
    n_red, n_amber = int((status == "red").sum()), int((status == "amber").sum())
    rated = int(status.isin(["green", "amber", "red"]).sum())
    na = tab.loc[status == "n/a", "kpi"].tolist()
    if rated == 0:
        title = "No KPI with a target can be measured from the data provided"
    elif n_red + n_amber == 0:
        title = f"All {rated} measurable KPIs meet their targets"
    else:
        worst = tab[status.isin(["red", "amber"])].iloc[0]
        against = "target or benchmark" if src == "benchmark_gaps" else "target"
        title = (f"{n_red + n_amber} of {rated} measurable KPIs fall short of their {against}; "
                 f"{_lc_first(d.label_of(worst['kpi']))} is {str(worst['status']).lower()}")
    fills, colors = {}, {}
    for i, s in enumerate(status):
        if s in ("green", "amber", "red"):
            fills[(i, len(header) - 1)] = tint(d_style_rag(s), 0.8)
            colors[(i, len(header) - 1)] = d_style_rag(s)
    if src == "benchmark_gaps":
        rag_note = "Status against the target, or against the benchmark where no target is set. " + rag_note
    foot = rag_note + (f" n/a: {', '.join(d.label_of(k) for k in na)} cannot be measured from the data." if na else "")

    def draw(c: SlideCanvas):
        c.table(c.region("Table"), header, rows, widths=[2.4] + [1.2] * (len(header) - 2) + [0.9],
                align=["l"] + ["r"] * (len(header) - 2) + ["c"], fills=fills, font_colors=colors, bold_cols=[0],
                max_pt=14)

    return [SlideSpec("assessment", "Table", title, draw, topic="KPI scorecard", source=d.source(src),
                      footnote=foot, notes=f"KPI scorecard from table {src}: current value (trailing 12 months), "
                                           "target from params, gap = current - target, RAG by relative shortfall.")]


def d_style_rag(s: str) -> str:
    from ._pptx import Style

    return Style().rag(s)


def s_concentration(d: DeckData) -> list[SlideSpec]:
    cc = d.peek("concentration_curve")
    cs = d.peek("concentration_summary")
    if cc is not None and {"account_share", "revenue_share"} <= set(cc.columns) and len(cc):
        summ = {}
        if cs is not None and {"metric", "value"} <= set(cs.columns):
            summ = {r["metric"]: r["value"] for _, r in cs.iterrows() if is_num(r["value"])}
        cc = cc.sort_values("account_share")
        if len(cc) > 200:  # thin the curve for the chart; the shape is unchanged
            idx = np.unique(np.linspace(0, len(cc) - 1, 200).round().astype(int))
            cc = cc.iloc[idx]
        xs = [0.0, *cc["account_share"].astype(float)]
        ys = [0.0, *cc["revenue_share"].astype(float)]
        top20 = summ.get("top20_share")
        title = (f"The top 20% of accounts generate {fmt_share(top20)} of revenue" if top20 is not None
                 else "Revenue is concentrated in a minority of accounts")
        take = [f"Top {k}% of accounts: {fmt_share(summ[m])} of revenue" for k, m in ((10, "top10_share"),
                                                                                     (20, "top20_share")) if m in summ]
        if "gini" in summ:
            take.append(f"Gini coefficient {summ['gini']:.2f} (0 = equal, 1 = one account)")
        if "hhi" in summ:
            take.append(f"HHI {summ['hhi']:.3f}")

        def draw(c: SlideCanvas):
            c.xy_chart(c.region("Chart"), {"Cumulative revenue": (xs, ys), "Equal distribution": ([0, 1], [0, 1])},
                       x_format="0%", y_format="0%", x_title="Share of accounts (largest first)",
                       y_title="Share of revenue", colors=[c.style.primary, "BFC5CD"], x_min=0, x_max=1, y_min=0,
                       y_max=1)
            _takeaway(c, take or ["Curve from the concentration table"])

        return [SlideSpec("assessment", "Chart", title, draw, topic="Revenue concentration",
                          source=d.source("concentration_curve", "concentration_summary"),
                          notes="Pareto curve: accounts ranked by revenue, cumulative share of revenue against "
                                "cumulative share of accounts. Gini and HHI from the same ranking.")]
    ts = d.table("tier_summary", ("tier", "accounts", "revenue_share"), topic="Revenue concentration")
    if ts is None:
        return []
    ts = ts[ts["revenue_share"].map(is_num)]
    acc_share = (ts["accounts"] / ts["accounts"].sum()).tolist()
    tiers = [_text(x, 30) for x in ts["tier"]]
    top = ts.iloc[0]
    title = (f"The {tiers[0]} tier — {fmt_share(acc_share[0], decimals=0)} of accounts — generates "
             f"{fmt_share(top['revenue_share'])} of revenue")
    take = [f"{t}: {fmt_count(a)} accounts, {fmt_share(s)} of revenue" for t, a, s in
            zip(tiers, ts["accounts"], ts["revenue_share"])]

    def draw(c: SlideCanvas):
        c.bar_chart(c.region("Chart"), tiers, {"Share of accounts": acc_share,
                                              "Share of revenue (12 months)": ts["revenue_share"].tolist()},
                    number_format="0%", colors=[tint(c.style.primary, 0.55), c.style.primary])
        _takeaway(c, take)

    return [SlideSpec("assessment", "Chart", title, draw, topic="Revenue concentration",
                      source=d.source("tier_summary"),
                      footnote="Tiers cut by share of accounts ranked by last-12-month revenue (segmentation.tiers).",
                      notes="Value tiers: accounts ranked by last-12-month revenue and cut by share of accounts.")]


def s_whale(d: DeckData) -> list[SlideSpec]:
    w = d.peek("whale_curve")
    if w is None or not {"account_share", "cumulative_profit"} <= set(w.columns) or w.empty:
        return []
    w = w[w["account_share"].map(is_num) & w["cumulative_profit"].map(is_num)].sort_values("account_share")
    if w.empty:
        return []
    peak_i = int(np.nanargmax(w["cumulative_profit"].to_numpy(dtype=float)))
    peak, final = float(w["cumulative_profit"].iloc[peak_i]), float(w["cumulative_profit"].iloc[-1])
    at = float(w["account_share"].iloc[peak_i])
    if len(w) > 200:
        w = w.iloc[np.unique(np.linspace(0, len(w) - 1, 200).round().astype(int))]
    title = (f"Profit peaks at {d.money(peak)} with the most profitable {fmt_share(at, decimals=0)} of accounts; "
             f"the rest erode it to {d.money(final)}")

    def draw(c: SlideCanvas):
        c.xy_chart(c.region("Chart"), {"Cumulative profit": (w["account_share"].tolist(), w["cumulative_profit"].tolist())},
                   x_format="0%", y_format=chart_format("currency", d.cur, max_abs=abs(peak)),
                   x_title="Share of accounts (most profitable first)", y_title=f"Cumulative profit ({d.cur})",
                   colors=[c.style.primary], x_min=0, x_max=1)
        _takeaway(c, [f"Peak profit {d.money(peak)} at {fmt_share(at, decimals=0)} of accounts",
                      f"Total profit {d.money(final)}", f"Profit given back by the tail: {d.money(peak - final)}"])

    return [SlideSpec("assessment", "Chart", title, draw, topic="Whale curve", source=d.source("whale_curve"),
                      notes="Whale curve: accounts ranked from most to least profitable (gross margin minus cost to "
                            "serve); cumulative profit against share of accounts.")]


def s_cohorts(d: DeckData) -> list[SlideSpec]:
    t = d.table("cohort_retention", ("cohort", "period_index", "retention"), topic="Cohort retention")
    if t is None:
        return []
    piv = t.pivot_table(index="cohort", columns="period_index", values="retention", aggfunc="first").sort_index()
    piv = piv.iloc[-10:, :9]
    cols = [c for c in piv.columns]
    k = 4 if 4 in piv.columns else cols[min(len(cols) - 1, 4)]
    col = piv[k].dropna()
    title = (f"On average {fmt_share(col.mean(), decimals=0)} of an acquisition cohort still orders {k} periods later"
             if len(col) else "Cohort retention by acquisition period")
    rows, fills, colors = [], {}, {}
    for i, (cohort, r) in enumerate(piv.iterrows()):
        label = period_label(cohort, d.params.analysis.period) if not isinstance(cohort, str) else _text(cohort, 20)
        rows.append([label] + [fmt_share(v, decimals=0) if is_num(v) else "" for v in r])
        for j, v in enumerate(r, start=1):
            if is_num(v):
                fills[(i, j)] = tint(d.params.branding.primary_color, 1 - 0.85 * max(0.0, min(1.0, float(v))))
                colors[(i, j)] = "FFFFFF" if v > 0.5 else "1F2933"

    def draw(c: SlideCanvas):
        c.table(c.region("Table"), ["Cohort"] + [f"+{p}" for p in cols], rows, widths=[1.6] + [1] * len(cols),
                align=["l"] + ["c"] * len(cols), fills=fills, font_colors=colors, max_pt=13)

    return [SlideSpec("assessment", "Table", title, draw, topic="Cohort retention", source=d.source("cohort_retention"),
                      footnote="Share of each acquisition cohort's accounts ordering n periods after their first order; "
                               "last 10 cohorts, first 9 periods.",
                      notes="Cohort retention matrix: cohort = period of first order; retention = accounts of the "
                            "cohort active in period n / cohort size.")]


def s_capability(d: DeckData) -> list[SlideSpec]:
    t = d.table("capability_maturity", ("dimension", "score", "target"), topic="Capability maturity")
    if t is None:
        return []
    t = t[t["score"].map(is_num) & t["target"].map(is_num)]
    if t.empty:
        return []
    t = t.assign(_gap=t["target"].astype(float) - t["score"].astype(float))
    worst = t.sort_values("_gap", ascending=False).head(3)
    w0 = worst.iloc[0]
    title = (f"Largest capability gap: {_text(w0['dimension'], 50).lower()} scores {w0['score']:.1f} "
             f"against a target of {w0['target']:.1f}")
    dims = [_text(x, 34) for x in t["dimension"]]
    mx = float(np.nanmax([t["score"].max(), t["target"].max(), 5]))

    def draw(c: SlideCanvas):
        c.radar_chart(c.region("Chart"), dims, {"Current score": t["score"].tolist(), "Target": t["target"].tolist()},
                      number_format="0", maximum=mx, colors=[c.style.primary, c.style.accent])
        _takeaway(c, [f"{_text(r['dimension'], 50)}: {r['score']:.1f} vs {r['target']:.1f}" for _, r in worst.iterrows()],
                  heading="Widest gaps")

    return [SlideSpec("assessment", "Chart", title, draw, topic="Capability maturity",
                      source=d.source("capability_maturity", data="KAM self-assessment"),
                      notes="KAM capability self-assessment: score per dimension (1-5) against the target score.")]


def s_data_limits(d: DeckData) -> list[SlideSpec]:
    """What the data could and could not support; always present so nobody over-reads a number."""
    rows = []
    dr = d.peek("data_readiness")
    if dr is not None and {"analysis", "supported", "reason"} <= set(dr.columns):
        for _, r in dr.iterrows():
            if not bool(r["supported"]):
                rows.append((_text(r["analysis"], 60), _text(r["reason"], 180)))
    p = d.params.data
    have_rows = {r[0].lower() for r in rows}
    inputs = [("surveys", "NPS and satisfaction", "no survey file was provided"),
              ("capability", "KAM capability maturity", "no capability self-assessment was provided"),
              ("accounts", "Account attributes (region, segment, manager)", "no account master file was provided")]
    for attr, analysis, why in inputs:
        if getattr(p, attr) is None and analysis.lower() not in have_rows:
            rows.append((analysis, why))
    v = d.run.validation()
    present = v.get("present_columns", {}).get("transactions")
    if present is not None and "gross_margin" not in present and not any("profit" in r[0].lower() for r in rows):
        rows.append(("Profitability and whale curve", "the transactions carry no gross margin"))
    pi = d.peek("programme_impact")
    if pi is not None and {"supported", "sentence"} <= set(pi.columns) and len(pi) and not bool(pi["supported"].iloc[0]):
        why = pi["reason"].iloc[0] if "reason" in pi.columns and isinstance(pi["reason"].iloc[0], str) \
            and pi["reason"].iloc[0].strip() else pi["sentence"].iloc[0]
        rows.append(("Programme impact", _text(why, 180)))
    kt = d.peek("kpi_vs_target")
    if kt is not None and {"kpi", "status"} <= set(kt.columns):
        for k in kt.loc[kt["status"].astype(str) == "n/a", "kpi"]:
            if not any(d.label_of(k).lower() in r[0].lower() for r in rows):
                rows.append((d.label_of(k), "a target is set, but the data provided does not measure this KPI"))
    churn_why = _churn_unsupported(d)
    if churn_why and not any("churn-risk" in r[0].lower() for r in rows):
        # first: a whole model left out matters more than a missing breakdown, and the list is capped
        rows.insert(0, ("Churn-risk model and revenue at risk", _text(churn_why, 180)))
    for topic, why in d.limits:
        rows.append((topic, why))
    if not rows:
        return []
    rows = rows[:14]
    title = (f"{len(rows)} analyses could not be supported by the data and inputs provided"
             if len(rows) > 1 else f"One analysis could not be supported: {rows[0][0].lower()}")
    pages = _rows_per_page(len(rows), 7)
    out = []
    for k, sl in enumerate(pages):
        def draw(c: SlideCanvas, sl=sl):
            c.table(c.region("Table"), ["Analysis", "Why it is not shown"], [list(r) for r in rows[sl]],
                    widths=[1.3, 2.7], bold_cols=[0], max_pt=14)
        out.append(SlideSpec("assessment", "Table", title + (f" ({k + 1}/{len(pages)})" if len(pages) > 1 else ""),
                             draw, topic="Data readiness", source=d.source("data_readiness") if dr is not None else
                             f"Engagement parameters and data validation, {d.client}",
                             footnote="Numbers the data cannot support are left out of this deck, not estimated.",
                             notes="Data readiness: analyses the data or the consultant's inputs could not support, "
                                   "with the reason. Provide the missing input to add them in the next run."))
    return out


# =============================================================================== section 5
def _quadrant_colors(d: DeckData, c: SlideCanvas) -> list[str]:
    return [c.style.primary, c.style.accent, tint(c.style.primary, 0.5), "BFC5CD"]


def s_portfolio_matrix(d: DeckData) -> list[SlideSpec]:
    s = d.table("segments", ("account_id", "attractiveness", "relative_strength", "quadrant"), topic="Portfolio matrix")
    if s is None:
        return []
    if "revenue_12m" not in s.columns:
        summ = d.peek("account_summary")
        if summ is None or "revenue_12m" not in summ.columns:
            d.skipped.append(("Portfolio matrix", "no revenue_12m to size the bubbles"))
            return []
        s = s.merge(summ[["account_id", "revenue_12m"]], on="account_id", how="left")
    s = s[s["attractiveness"].map(is_num) & s["relative_strength"].map(is_num)]
    quads = _q(d)
    order = [q for q in quads if q in set(s["quadrant"])] + sorted(set(s["quadrant"].astype(str)) - set(quads))
    tot = s["revenue_12m"].clip(lower=0).sum()
    by = s.groupby("quadrant").agg(n=("account_id", "size"), rev=("revenue_12m", "sum"))
    pos = s[s["revenue_12m"] > 0].sort_values(["revenue_12m", "account_id"], ascending=[False, True])
    shown = pos.groupby("quadrant", sort=False).head(40)  # the 40 largest of each quadrant
    floor = 0.03 * float(shown["revenue_12m"].max()) if len(shown) else 0.0
    shown = shown.assign(_size=shown["revenue_12m"].clip(lower=floor))
    q0 = order[0]
    title = (f"{q0} accounts are {fmt_share(by.loc[q0, 'n'] / len(s), decimals=0)} of the portfolio but "
             f"{fmt_share(by.loc[q0, 'rev'] / tot, decimals=0)} of revenue") if tot else "KAM portfolio matrix"
    take = [f"{q}: {fmt_count(by.loc[q, 'n'])} accounts, {fmt_share(by.loc[q, 'rev'] / tot)} of revenue"
            for q in order if q in by.index and tot]
    if "is_key" in s.columns:
        take.append(f"{fmt_count(s['is_key'].astype(bool).sum())} accounts selected as key")

    def draw(c: SlideCanvas):
        series = {}
        for q in order:
            g = shown[shown["quadrant"] == q]
            if len(g):
                series[q] = (g["attractiveness"].tolist(), g["relative_strength"].tolist(), g["_size"].tolist())
        c.bubble_chart(c.region("Chart"), series, x_format="0%", y_format="0%",
                       x_title="Account attractiveness (percentile)", y_title="Relative strength (percentile)",
                       colors=_quadrant_colors(d, c), cross=(0.5, 0.5), bounds=(0, 1, 0, 1), scale=40)
        _takeaway(c, take)

    return [SlideSpec("segmentation", "Chart", title, draw, topic="Portfolio matrix",
                      source=d.source("segments"),
                      footnote=f"Bubble area = last-12-month revenue (floor at 3% of the largest so small accounts "
                               f"stay visible); the 40 largest accounts of each quadrant shown ({len(shown)} of "
                               f"{len(s)}); axes cross at the quadrant boundaries.",
                      notes="KAM portfolio matrix (McDonald & Rogers): attractiveness x relative strength, quadrants "
                            "at the thresholds from params; consultant overrides applied in the segments table.")]


def s_segment_profiles(d: DeckData) -> list[SlideSpec]:
    sp = d.peek("segment_profiles")
    if sp is not None and {"segment", "accounts", "revenue_share"} <= set(sp.columns) and len(sp):
        cols = [("segment", "Segment", "l", lambda v: _text(v, 30)),
                ("accounts", "Accounts", "r", fmt_count),
                ("revenue_12m", "Revenue (12m)", "r", d.money),
                ("revenue_share", "Revenue share", "r", fmt_share),
                ("profit_share", "Profit share", "r", fmt_share),
                ("intent", "Engagement intent", "l", lambda v: _text(v, 120))]
        cols = [c for c in cols if c[0] in sp.columns]
        qo = {q: i for i, q in enumerate(_q(d))}
        sp = sp.assign(_o=sp["segment"].map(qo).fillna(len(qo))).sort_values("_o", kind="stable")
        rows = [[f(r[c]) for c, _, _, f in cols] for _, r in sp.iterrows()]
        top = sp.sort_values("revenue_share", ascending=False).iloc[0]
        title = (f"{_text(top['segment'], 30)} accounts hold {fmt_share(top['revenue_share'])} of revenue; "
                 "each segment gets its own engagement intent")

        def draw(c: SlideCanvas):
            c.table(c.region("Table"), [h for _, h, _, _ in cols], rows,
                    widths=[3 if c_[0] == "intent" else 1.2 for c_ in cols], align=[a for _, _, a, _ in cols],
                    bold_cols=[0], max_pt=14)

        return [SlideSpec("segmentation", "Table", title, draw, topic="Segment profiles",
                          source=d.source("segment_profiles"),
                          notes="Segment profiles: accounts, revenue and profit share per quadrant, and the intent "
                                "carried into the strategy.")]
    s = d.table("segments", ("account_id", "quadrant", "revenue_12m"), topic="Segment profiles")
    if s is None:
        return []
    g = s.groupby("quadrant").agg(accounts=("account_id", "size"), revenue=("revenue_12m", "sum"))
    order = [q for q in _q(d) if q in g.index] + [q for q in g.index if q not in _q(d)]
    g = g.loc[order]
    tot = g["revenue"].sum()
    extra = [c for c in ("is_key",) if c in s.columns]
    rows = []
    for q, r in g.iterrows():
        row = [_text(q, 30), fmt_count(r["accounts"]), fmt_share(r["accounts"] / g["accounts"].sum()),
               d.money(r["revenue"]), fmt_share(r["revenue"] / tot) if tot else "n/a"]
        if extra:
            row.append(fmt_count(s.loc[s["quadrant"] == q, "is_key"].astype(bool).sum()))
        rows.append(row)
    top = g["revenue"].idxmax()
    title = f"The {top} quadrant holds {fmt_share(g.loc[top, 'revenue'] / tot)} of revenue with {fmt_count(g.loc[top, 'accounts'])} accounts"

    def draw(c: SlideCanvas):
        header = ["Quadrant", "Accounts", "Share of accounts", "Revenue (12m)", "Share of revenue"] + (
            ["Key accounts"] if extra else [])
        c.table(c.region("Table"), header, rows, widths=[1.6] + [1] * (len(header) - 1),
                align=["l"] + ["r"] * (len(header) - 1), bold_cols=[0], max_pt=15)

    return [SlideSpec("segmentation", "Table", title, draw, topic="Segment profiles", source=d.source("segments"),
                      notes="Accounts and last-12-month revenue per portfolio quadrant (segments table).")]


def s_key_accounts(d: DeckData) -> list[SlideSpec]:
    s = d.table("segments", ("account_id", "is_key", "revenue_12m"), topic="Key account list")
    if s is None:
        return []
    key = s[s["is_key"].astype(bool)].sort_values(["revenue_12m", "account_id"], ascending=[False, True])
    if key.empty:
        return []
    tot = s["revenue_12m"].sum()
    top = key.head(12)
    opt = [("quadrant", "Quadrant", "l", lambda v: _text(v, 20)), ("tier", "Tier", "l", lambda v: _text(v, 20)),
           ("rfm_segment", "RFM segment", "l", lambda v: _text(v, 24)), ("clv", "CLV", "r", d.money),
           ("p_alive", "P(alive)", "r", lambda v: fmt_share(v, decimals=0)),
           ("stability", "Stability", "r", lambda v: fmt_share(v, decimals=0))]
    opt = [o for o in opt if o[0] in s.columns][:4]
    rows = [[d.name_of(r["account_id"]), d.money(r["revenue_12m"]),
             fmt_share(r["revenue_12m"] / tot) if tot else "n/a"] + [f(r[c]) for c, _, _, f in opt]
            for _, r in top.iterrows()]
    title = (f"The top {len(top)} key accounts generate {fmt_share(top['revenue_12m'].sum() / tot)} of revenue"
             if tot else f"The top {len(top)} key accounts")

    def draw(c: SlideCanvas):
        header = ["Account", "Revenue (12m)", "Share"] + [h for _, h, _, _ in opt]
        c.table(c.region("Table"), header, rows, widths=[2.2, 1.1, 0.8] + [1] * len(opt),
                align=["l", "r", "r"] + [a for _, _, a, _ in opt], max_pt=12, bold_cols=[0])

    return [SlideSpec("segmentation", "Table", title, draw, topic="Key account list", source=d.source("segments"),
                      footnote=f"{fmt_count(len(key))} key accounts in total; the {len(top)} largest by last-12-month "
                               "revenue shown.",
                      notes="Key accounts = accounts flagged is_key by the selection scoring (segments table).")]


def s_rfm(d: DeckData) -> list[SlideSpec]:
    s = d.table("segments", ("account_id", "rfm_segment", "revenue_12m"), topic="RFM segments")
    if s is None:
        return []
    g = s.groupby("rfm_segment").agg(n=("account_id", "size"), rev=("revenue_12m", "sum")).sort_values(
        "rev", ascending=False).head(10)
    tot_n, tot_r = len(s), s["revenue_12m"].sum()
    if not tot_r:
        return []
    top = g.index[0]
    title = (f"'{_text(top, 30)}' accounts are {fmt_share(g.loc[top, 'n'] / tot_n, decimals=0)} of accounts and "
             f"{fmt_share(g.loc[top, 'rev'] / tot_r, decimals=0)} of revenue")
    cats = [_text(x, 24) for x in g.index]

    def draw(c: SlideCanvas):
        c.bar_chart(c.region("Chart"), cats, {"Share of accounts": (g["n"] / tot_n).tolist(),
                                             "Share of revenue": (g["rev"] / tot_r).tolist()},
                    number_format="0%", horizontal=True, colors=[tint(c.style.primary, 0.55), c.style.primary])
        _takeaway(c, [f"{cat}: {fmt_count(n)} accounts" for cat, n in zip(cats[:5], g["n"][:5])])

    return [SlideSpec("segmentation", "Chart", title, draw, topic="RFM segments", source=d.source("segments"),
                      notes="RFM: recency, frequency and monetary scores by quantile, mapped to named segments.")]


def s_clv(d: DeckData) -> list[SlideSpec]:
    s = d.table("segments", ("account_id", "clv", "quadrant"), topic="Predictive CLV")
    if s is None:
        return []
    s = s[s["clv"].map(is_num)]
    if s.empty:
        return []
    g = s.groupby("quadrant")["clv"].sum()
    order = [q for q in _q(d) if q in g.index] + [q for q in g.index if q not in _q(d)]
    g = g.loc[order]
    tot = g.sum()
    top = g.idxmax()
    title = f"Predicted customer lifetime value totals {d.money(tot)}; {fmt_share(g[top] / tot, decimals=0)} sits with {top} accounts"
    take = [f"{q}: {d.money(v)}" for q, v in g.items()]
    if "p_alive" in s.columns and s["p_alive"].map(is_num).any():
        take.append(f"Median P(alive): {fmt_share(s['p_alive'].median(), decimals=0)}")
    cp = d.peek("clv_params")
    notes = "Predictive CLV: BG/NBD for purchases and survival, Gamma-Gamma for spend, discounted over the horizon."
    if cp is not None and {"model", "parameter", "value"} <= set(cp.columns):
        notes += " Fitted parameters: " + "; ".join(f"{r['model']} {r['parameter']} = {r['value']:.3g}"
                                                    for _, r in cp.iterrows() if is_num(r["value"]))

    def draw(c: SlideCanvas):
        c.bar_chart(c.region("Chart"), order, {"Predicted CLV": g.tolist()},
                    number_format=chart_format("currency", d.cur, max_abs=float(g.abs().max())),
                    colors=[c.style.primary])
        _takeaway(c, take)

    return [SlideSpec("segmentation", "Chart", title, draw, topic="Predictive CLV", source=d.source("segments", "clv_params"),
                      notes=notes)]


def s_stability(d: DeckData) -> list[SlideSpec]:
    s = d.table("segments", ("account_id", "quadrant", "stability"), topic="Robustness of assignments")
    if s is None:
        return []
    s = s[s["stability"].map(is_num)]
    if s.empty:
        return []
    g = s.groupby("quadrant")["stability"].agg(["mean", "size", lambda x: (x >= 0.999).mean()])
    g.columns = ["mean", "n", "always"]
    order = [q for q in _q(d) if q in g.index] + [q for q in g.index if q not in _q(d)]
    g = g.loc[order]
    always = (s["stability"] >= 0.999).mean()
    title = f"{fmt_share(always, decimals=0)} of accounts keep their quadrant under every weight perturbation"
    take = [f"{q}: mean stability {fmt_share(r['mean'], decimals=0)}" for q, r in g.iterrows()]
    if "is_key" in s.columns:
        k = s[s["is_key"].astype(bool)]
        if len(k):
            take.append(f"Key accounts always in the same quadrant: {fmt_count((k['stability'] >= 0.999).sum())} of "
                        f"{fmt_count(len(k))}")

    def draw(c: SlideCanvas):
        c.bar_chart(c.region("Chart"), order, {"Always same quadrant": g["always"].tolist(),
                                              "Mean stability": g["mean"].tolist()},
                    number_format="0%", colors=[c.style.primary, c.style.accent], minimum=0, maximum=1)
        _takeaway(c, take)

    return [SlideSpec("segmentation", "Chart", title, draw, topic="Robustness of assignments",
                      source=d.source("segments"),
                      notes="Stability: share of seeded Monte Carlo perturbations of the selection weights in which "
                            "the account stays in its quadrant.")]


# =============================================================================== section 6
def s_playbooks(d: DeckData) -> list[SlideSpec]:
    t = d.table("segment_playbook", ("segment", "objective", "engagement_model"), topic="Segment playbooks")
    if t is None:
        return []
    if "engagement_label" in t.columns:  # a readable label for the model's code
        t = t.assign(engagement_model=t["engagement_label"].where(t["engagement_label"].notna(), t["engagement_model"]))
    cols = [("segment", "Segment", 1.0), ("accounts", "Accounts", 0.8), ("revenue_share", "Revenue share", 0.9),
            ("objective", "Objective", 2.6), ("engagement_model", "Engagement model", 1.8),
            ("contact_cadence", "Contact cadence", 1.9), ("investment_level", "Investment", 0.9)]
    cols = [c for c in cols if c[0] in t.columns]
    fmt = {"accounts": fmt_count, "revenue_share": fmt_share}
    rows = [[fmt.get(c, lambda v: _text(v, 110))(r[c]) for c, _, _ in cols] for _, r in t.iterrows()]
    first = t.iloc[0]
    title = f"{_text(first['segment'], 30)} accounts get a {_text(first['engagement_model'], 60).lower()}"
    if "revenue_share" in t.columns and is_num(first["revenue_share"]):
        title += f", in line with their {fmt_share(first['revenue_share'], decimals=0)} share of revenue"
    specs = []
    pages = _rows_per_page(len(rows), 6)
    for k, sl in enumerate(pages):
        def draw(c: SlideCanvas, sl=sl):
            c.table(c.region("Table"), [h for _, h, _ in cols], rows[sl], widths=[w for _, _, w in cols],
                    align=["r" if c_ in fmt else "l" for c_, _, _ in cols], bold_cols=[0], max_pt=13)
        specs.append(SlideSpec("strategy", "Table", title + (f" ({k + 1}/{len(pages)})" if len(pages) > 1 else ""),
                               draw, topic="Segment playbooks", source=d.source("segment_playbook"),
                               footnote="Playbooks from templates/playbooks.yaml or the client's own file "
                                        "(strategy.playbooks).",
                               notes="Segment playbooks: objective, engagement model, cadence and investment per "
                                     "segment, joined to the segment's accounts and revenue."))
    return specs


def s_coverage(d: DeckData) -> list[SlideSpec]:
    t = d.table("coverage_by_segment", ("segment", "accounts", "covered", "hours_needed", "hours_allocated"),
                topic="Coverage and capacity")
    if t is None:
        return []
    cov = t["covered"].sum() / t["accounts"].sum() if t["accounts"].sum() else None
    stake = t["value_at_stake"].sum() if "value_at_stake" in t.columns else None
    title = f"The plan covers {fmt_count(t['covered'].sum())} of {fmt_count(t['accounts'].sum())} accounts" + (
        f"; {d.money(stake)} of value is at stake" if is_num(stake) else "")
    take = [f"{_text(r['segment'], 30)}: {fmt_count(r['covered'])}/{fmt_count(r['accounts'])} covered, "
            f"{fmt_count(r['hours_allocated'])} of {fmt_count(r['hours_needed'])} hours" for _, r in t.iterrows()]
    if cov is not None:
        take.insert(0, f"Coverage {fmt_share(cov, decimals=0)} of accounts")

    def draw(c: SlideCanvas):
        c.bar_chart(c.region("Chart"), [_text(x, 30) for x in t["segment"]],
                    {"Hours needed": t["hours_needed"].tolist(), "Hours allocated": t["hours_allocated"].tolist()},
                    number_format="#,##0", colors=[tint(c.style.primary, 0.55), c.style.primary])
        _takeaway(c, take[:6])

    return [SlideSpec("strategy", "Chart", title, draw, topic="Coverage and capacity",
                      source=d.source("coverage_by_segment"),
                      notes="Coverage plan: account-manager hours allocated to maximise expected value subject to "
                            "capacity (linear programme); hours needed from each engagement model.")]


def s_churn_drivers(d: DeckData) -> list[SlideSpec]:
    if why := _churn_unsupported(d):
        d.skipped.append(("Churn-risk drivers", f"churn model not supported by the data: {_text(why, 160)}"))
        return []
    t = d.table("churn_drivers", ("feature", "odds_ratio"), topic="Churn-risk drivers")
    if t is None:
        return []
    t = t[t["odds_ratio"].map(is_num)].copy()
    if t.empty:
        return []
    t["_eff"] = np.abs(np.log(t["odds_ratio"].astype(float).clip(lower=1e-6)))
    t = t.sort_values("_eff", ascending=False).head(8)
    top = t.iloc[0]
    top_name = top["label"] if "label" in t.columns and isinstance(top.get("label"), str) else top["feature"]
    title = (f"{_text(top_name, 40).replace('_', ' ')[:1].upper() + _text(top_name, 40).replace('_', ' ')[1:]} is the strongest churn driver "
             f"(odds ratio {top['odds_ratio']:.2f})")
    sig = (t["p_value"].astype(float) < 0.05) if "p_value" in t.columns else pd.Series(True, index=t.index)
    take = []
    for _, r in pd.concat([t[sig], t[~sig]]).head(4).iterrows():
        if "interpretation" in t.columns and isinstance(r.get("interpretation"), str) and r["interpretation"].strip():
            txt = _text(r["interpretation"], 170)
        else:
            txt = f"{_text(r['feature'], 40)}: odds ratio {r['odds_ratio']:.2f}"
        if "CI" not in txt and "ci_low" in t.columns and is_num(r.get("ci_low")) and is_num(r.get("ci_high")):
            txt += f" (95% CI {r['ci_low']:.2f}–{r['ci_high']:.2f})"
        take.append(txt)

    def draw(c: SlideCanvas):
        names = t["label"] if "label" in t.columns else t["feature"]
        cats = [_text(x, 30).replace("_", " ") for x in names]
        cols = [("BFC5CD" if not ok else c.style.red if v > 1 else c.style.accent)
                for v, ok in zip(t["odds_ratio"], sig)]
        c.bar_chart(c.region("Chart"), cats, {"Odds ratio": t["odds_ratio"].tolist()}, number_format="0.00",
                    horizontal=True, point_colors=cols, colors=[c.style.primary])
        _takeaway(c, take, heading="What drives churn")

    return [SlideSpec("strategy", "Chart", title, draw, topic="Churn-risk drivers", source=d.source("churn_drivers"),
                      footnote="Odds ratio > 1 raises the odds of churning in the next period (red); < 1 lowers them "
                               "(teal); grey = not distinguishable from no effect (p >= 0.05).",
                      notes="Churn-risk model: logistic regression of churn in the next period on account features; "
                            "odds ratios with confidence intervals; back-tested on a time split.")]


def s_churn_risk(d: DeckData) -> list[SlideSpec]:
    if why := _churn_unsupported(d):
        d.skipped.append(("Revenue at risk", f"churn model not supported by the data: {_text(why, 160)}"))
        return []
    t = d.table("churn_risk", ("account_id", "risk_band", "revenue_at_risk"), topic="Revenue at risk")
    if t is None:
        return []
    g = t.groupby("risk_band")["revenue_at_risk"].sum()
    order = [b for b in ("high", "medium", "low", "High", "Medium", "Low") if b in g.index] + \
        [b for b in g.index if b not in ("high", "medium", "low", "High", "Medium", "Low")]
    g = g.loc[order]
    empty = [str(b).lower() for b in g.index if not (is_num(g[b]) and g[b] > 0)]
    g = g[[b for b in g.index if is_num(g[b]) and g[b] > 0]]  # a band with nothing at risk is not a bar
    if g.empty:
        d.skipped.append(("Revenue at risk", "the churn-risk model puts no revenue at risk"))
        return []
    left_out = (f" Band{'s' if len(empty) > 1 else ''} with no revenue at risk left out: {', '.join(empty)}"
                + (" (accounts already lapsed)." if "lapsed" in empty else ".")) if empty else ""
    tot = g.sum()
    hi = g.iloc[0]
    title = f"{d.money(tot)} of revenue is at risk; {fmt_share(hi / tot, decimals=0) if tot else 'n/a'} of it in the {str(g.index[0]).lower()}-risk band"
    top = t.sort_values("revenue_at_risk", ascending=False).head(5)
    take = [f"{d.name_of(r['account_id'])}: {d.money(r['revenue_at_risk'])}" for _, r in top.iterrows()]

    def draw(c: SlideCanvas):
        c.bar_chart(c.region("Chart"), [str(x).capitalize() for x in g.index], {"Revenue at risk": g.tolist()},
                    number_format=chart_format("currency", d.cur, max_abs=float(g.abs().max())),
                    colors=[c.style.red])
        _takeaway(c, take, heading="Largest revenue at risk")

    return [SlideSpec("strategy", "Chart", title, draw, topic="Revenue at risk", source=d.source("churn_risk"),
                      footnote=("Revenue at risk = churn probability x last-12-month revenue." + left_out).strip(),
                      notes="Revenue at risk = churn probability x last-12-month revenue, by risk band." + left_out)]


def s_whitespace(d: DeckData) -> list[SlideSpec]:
    t = d.table("whitespace", ("account_id", "category", "expected_value"), topic="Cross-sell whitespace")
    if t is None:
        return []
    t = t[t["expected_value"].map(is_num)].sort_values(["expected_value", "account_id"], ascending=[False, True])
    if t.empty:
        return []
    top = t.head(10)
    title = (f"{fmt_count(len(t))} cross-sell opportunities worth {d.money(t['expected_value'].sum())}; the top 10 are "
             f"worth {d.money(top['expected_value'].sum())}")
    rows = [[d.name_of(r["account_id"]), _text(r["category"], 40), d.money(r["expected_value"])]
            for _, r in top.iterrows()]

    def draw(c: SlideCanvas):
        c.table(c.region("Table"), ["Account", "Category not yet bought", "Expected value"], rows,
                widths=[2, 2, 1], align=["l", "l", "r"], bold_cols=[0], max_pt=14)

    return [SlideSpec("strategy", "Table", title, draw, topic="Cross-sell whitespace", source=d.source("whitespace"),
                      notes="Whitespace: categories a key account does not buy that similar accounts do; expected "
                            "value from co-purchase lift and segment penetration.")]


def _figure(d: DeckData, *names: str):
    """The first of the phase's saved figures (``figures/<name>.png``) that exists, or None."""
    for name in names:
        path = d.run.figures_dir / f"{name}.png"
        if path.is_file():
            return path
    return None


def s_whitespace_map(d: DeckData) -> list[SlideSpec]:
    """The phase's whitespace heat map (no native chart type fits an account x category matrix)."""
    fig = _figure(d, "whitespace_heatmap")
    if fig is None:
        return []
    if d.params.output.pseudonymise:  # a picture may carry real account names the deck cannot replace
        d.skipped.append(("Whitespace heat map", "left out: the figure may show real names (output.pseudonymise)"))
        return []
    t = d.table("whitespace", ("account_id", "category", "expected_value"), topic="Whitespace heat map")
    if t is None:
        return []
    t = t[t["expected_value"].map(is_num)]
    g = t.groupby("category")["expected_value"].agg(["sum", "size"]).sort_values("sum", ascending=False)
    if g.empty:
        return []
    top = g.index[0]
    title = (f"{_text(top, 30)} is the largest whitespace: {d.money(g.loc[top, 'sum'])} of expected value across "
             f"{fmt_count(g.loc[top, 'size'])} opportunities")
    take = [f"{_text(cat, 30)}: {d.money(r['sum'])} ({fmt_count(r['size'])} opportunities)" for cat, r in g.head(5).iterrows()]

    def draw(c: SlideCanvas):
        c.picture(fig, c.region("Chart"))
        _takeaway(c, take, heading="Expected value by category")

    return [SlideSpec("strategy", "Chart", title, draw, topic="Whitespace heat map",
                      source=d.source("whitespace") + "; figure whitespace_heatmap",
                      footnote="Heat map drawn by the strategy phase (print resolution); category totals from the "
                               "whitespace table.",
                      notes="Whitespace heat map: penetration of each category among similar accounts against the "
                            "key accounts that do not buy it; expected value per opportunity from the whitespace table.")]


def s_impact(d: DeckData) -> list[SlideSpec]:
    t = d.table("impact_scenarios", ("scenario", "revenue_impact"), topic="Impact scenarios")
    if t is None:
        return []
    order = {"low": 0, "base": 1, "high": 2}
    t = t.assign(_o=t["scenario"].astype(str).str.lower().map(order).fillna(9)).sort_values("_o")
    series = {"Revenue impact": t["revenue_impact"].tolist()}
    if "profit_impact" in t.columns:
        series["Profit impact"] = t["profit_impact"].tolist()
    base = t[t["scenario"].astype(str).str.lower() == "base"]
    if len(base):
        title = (f"Reaching the targets adds {d.money(base['revenue_impact'].iloc[0])} of revenue in the base case "
                 f"(range {d.money(t['revenue_impact'].min())} to {d.money(t['revenue_impact'].max())})")
    else:
        title = f"Reaching the targets adds {d.money(t['revenue_impact'].min())} to {d.money(t['revenue_impact'].max())} of revenue"
    mx = float(np.nanmax(np.abs(t[list({"revenue_impact", "profit_impact"} & set(t.columns))].to_numpy(dtype=float))))

    def draw(c: SlideCanvas):
        c.bar_chart(c.region("Chart"), [str(x).capitalize() for x in t["scenario"]], series,
                    number_format=chart_format("currency", d.cur, max_abs=mx), colors=[c.style.primary, c.style.accent])
        _takeaway(c, [f"{str(r['scenario']).capitalize()}: {d.money(r['revenue_impact'])} revenue" +
                      (f", {d.money(r['profit_impact'])} profit" if "profit_impact" in t.columns else "")
                      for _, r in t.iterrows()])

    return [SlideSpec("strategy", "Chart", title, draw, topic="Impact scenarios", source=d.source("impact_scenarios"),
                      notes="Impact scenarios: revenue and profit if the KPI targets are reached, low/base/high "
                            "assumptions.")]


def s_account_plans(d: DeckData) -> list[SlideSpec]:
    t = d.table("account_plans", ("account_id",), topic="Account plans")
    if t is None:
        return []
    pref = ["revenue_12m", "objective", "objectives", "whitespace", "opportunities", "next_action", "actions",
            "next_action_owner", "owner", "kpis_to_watch", "kpis", "risk_band"]
    cols = [c for c in pref if c in t.columns][:5]
    if "rank" in t.columns:
        t = t.sort_values("rank")
    rows = [[d.name_of(r["account_id"])] + [d.money(r[c]) if c == "revenue_12m" else _text(r[c], 140) for c in cols]
            for _, r in t.head(12).iterrows()]
    pages = _rows_per_page(len(rows), 8)
    out = []
    for k, sl in enumerate(pages):
        def draw(c: SlideCanvas, sl=sl):
            c.table(c.region("Table"), ["Account"] + [x.replace("_", " ").capitalize() for x in cols], rows[sl],
                    widths=[1.4] + [0.9 if x == "revenue_12m" else 1.3 if "owner" in x else 2 for x in cols],
                    align=["l"] + ["r" if x == "revenue_12m" else "l" for x in cols], bold_cols=[0], max_pt=12)
        out.append(SlideSpec("strategy", "Table",
                             f"Account plans are ready for the top {len(rows)} key accounts" +
                             (f" ({k + 1}/{len(pages)})" if len(pages) > 1 else ""), draw, topic="Account plans",
                             source=d.source("account_plans"),
                             notes="Account plans for the top key accounts: current state, objectives, "
                                   "opportunities and actions."))
    return out


# =============================================================================== section 7
def s_kpi_dashboard(d: DeckData) -> list[SlideSpec]:
    t = d.table("kpi_vs_target", ("kpi", "current", "target", "status"), topic="KPI dashboard")
    if t is None:
        return []
    t = t[t["current"].map(is_num)]
    if t.empty:
        return []
    rank = {"red": 0, "amber": 1, "green": 2}
    t = t.assign(_o=t["status"].map(rank).fillna(3)).sort_values("_o", kind="stable").head(5)
    n_on = int((t["status"] == "green").sum())
    title = f"{n_on} of {len(t)} tracked KPIs are on target" + (
        f"; {_lc_first(d.label_of(t.iloc[0]['kpi']))} needs attention" if t.iloc[0]["status"] in ("red", "amber") else "")
    tiles, subs = [], []
    for _, r in t.iterrows():
        u = d.unit_of(r["kpi"])
        tiles.append((fmt_value(r["current"], u, d.cur), d.label_of(r["kpi"]), r["status"]))
        subs.append(f"Target {fmt_value(r['target'], u, d.cur)} · {str(r['status']).upper()}")
    body = []
    for _, r in t.iterrows():
        if r["status"] in ("red", "amber") and "gap" in t.columns:
            u = d.unit_of(r["kpi"])
            body.append([(f"{d.label_of(r['kpi'])}: ", True),
                         (f"{fmt_value(r['gap'], u, d.cur, signed=True)} against target", False)])

    def draw(c: SlideCanvas):
        _tiles(c, c.region("Numbers"), tiles, sub=subs)
        if body:
            _bullets(c, c.region("Body"), body[:4], size=15)
        else:
            c.region("Body")

    return [SlideSpec("review", "Key Numbers", title, draw, topic="KPI dashboard", source=d.source("kpi_vs_target"),
                      footnote="Bar colour = status against target (green / amber / red).",
                      notes="KPI tracking against the targets in params; status from the relative shortfall "
                            "(thresholds.rag).")]


def _impact_values(r) -> tuple[float | None, float | None, float | None, str]:
    """(effect, low, high, unit): the uplift as a share when the table gives it, else the raw estimate.

    The review phase estimates on log revenue and reports ``uplift = exp(beta) - 1``;
    a table with only ``estimate`` and no ``unit`` is shown as a plain number, never
    re-interpreted as a percentage.
    """
    if is_num(r.get("uplift")):
        return (float(r["uplift"]), r.get("uplift_ci_low"), r.get("uplift_ci_high"), "share")
    unit = r.get("unit") if isinstance(r.get("unit"), str) else "ratio"
    return (float(r["estimate"]) if is_num(r.get("estimate")) else None, r.get("ci_low"), r.get("ci_high"), unit)


def _impact_text(r) -> str:
    val, _, _, unit = _impact_values(r)
    return fmt_value(val, unit, signed=True)


def s_programme_impact(d: DeckData) -> list[SlideSpec]:
    t = d.table("programme_impact", ("supported", "estimate", "ci_low", "ci_high", "sentence"),
                topic="Programme impact")
    if t is None:
        return []
    r = t.iloc[0]
    val, lo, hi, unit = _impact_values(r)
    if not bool(r["supported"]) or val is None:
        return []  # reported on the data-readiness slide with its reason
    ci = f"{fmt_value(lo, unit, signed=True)} to {fmt_value(hi, unit, signed=True)}"
    p = ""
    if "p_value" in t.columns and is_num(r.get("p_value")):
        p = "p < 0.001" if r["p_value"] < 0.001 else f"p = {r['p_value']:.3f}"
    level = r.get("confidence") if is_num(r.get("confidence")) else d.params.thresholds.confidence
    conf = fmt_share(level, decimals=0)
    if unit == "share":
        title = (f"Key accounts grew revenue an estimated {_impact_text(r)} more than comparable accounts "
                 f"({conf} interval {ci})")
    else:
        title = f"The programme effect is estimated at {_impact_text(r)} ({conf} interval {ci})"
    body = [[("In plain words: ", True), (_text(r["sentence"], 400), False)],
            [("Estimate: ", True), (f"{_impact_text(r)} ({conf} interval {ci}" + (f"; {p})" if p else ")"), False)]]
    if is_num(lo) and is_num(hi):
        clear = float(lo) > 0 or float(hi) < 0
        body.append([("Reading: ", True), ("the interval excludes zero, so the effect is distinguishable from noise"
                                            if clear else "the interval includes zero, so the data cannot rule out no "
                                                          "effect", False)])
    if "parallel_trends" in t.columns and r.get("parallel_trends") is not None and not pd.isna(r.get("parallel_trends")):
        pt = bool(r["parallel_trends"])
        body.append([("Pre-programme check: ", True),
                     ("key and comparison accounts moved in parallel before the start, which supports the comparison"
                      if pt else "the groups were already diverging before the start; read the estimate with caution",
                      False)])
    body.append([("Comparison: ", True), ("key accounts against comparable non-key accounts, before and after the "
                                          "programme start", False)])

    def draw(c: SlideCanvas):
        _tiles(c, c.region("Numbers"), [(_impact_text(r), "Programme effect (estimate)", None),
                                        (ci, f"{conf} confidence interval", None)] +
               ([(p.removeprefix("p = "), "p-value", None)] if p else []))
        _bullets(c, c.region("Body"), body, size=16)

    return [SlideSpec("review", "Key Numbers", title, draw, topic="Programme impact", source=d.source("programme_impact"),
                      footnote="Difference-in-differences: key accounts vs comparable non-key accounts, before vs "
                               "after the programme start; cluster-robust standard errors.",
                      notes="Programme impact by difference-in-differences with account and period effects; the "
                            "effect is shown as the revenue uplift exp(beta) - 1 when the table gives it.")]


def s_migration(d: DeckData) -> list[SlideSpec]:
    t = d.table("segment_migration", ("from_segment", "to_segment", "accounts"), topic="Segment migration")
    if t is None:
        return []
    piv = t.pivot_table(index="from_segment", columns="to_segment", values="accounts", aggfunc="sum", fill_value=0)

    def ordered(names) -> list:
        first = [q for q in _q(d) if q in set(names)]
        return first + sorted(set(names) - set(first), key=str)

    row_labels, col_labels = ordered(piv.index), ordered(piv.columns)
    piv = piv.reindex(index=row_labels, columns=col_labels, fill_value=0)
    common = [x for x in row_labels if x in set(col_labels)]  # segments present at both dates
    core = piv.loc[common, common].to_numpy()
    base, stay = core.sum(), np.trace(core)
    moved = base - stay
    new = piv.loc[[x for x in row_labels if x not in set(common)]].to_numpy().sum()
    title = (f"{fmt_count(moved)} of {fmt_count(base)} accounts ({fmt_share(moved / base, decimals=0) if base else 'n/a'})"
             " changed segment since the baseline" + (f"; {fmt_count(new)} accounts are new or re-entered" if new else ""))
    rows, fills, colors = [], {}, {}
    labels = col_labels
    mx = piv.to_numpy().max() or 1
    for i, a in enumerate(row_labels):
        rows.append([_text(a, 24)] + [fmt_count(v) for v in piv.loc[a]])
        for j, b in enumerate(col_labels, start=1):
            v = piv.loc[a, b]
            fills[(i, j)] = tint(d.params.branding.primary_color, 1 - 0.8 * v / mx) if a == b else tint(
                d.params.branding.accent_color, 1 - 0.7 * v / mx)
            colors[(i, j)] = "FFFFFF" if v / mx > 0.55 else "1F2933"

    def draw(c: SlideCanvas):
        c.table(c.region("Table"), ["From \\ to"] + [_text(x, 24) for x in labels], rows,
                widths=[1.4] + [1] * len(labels), align=["l"] + ["c"] * len(labels), fills=fills, font_colors=colors,
                bold_cols=[0], max_pt=14)

    return [SlideSpec("review", "Table", title, draw, topic="Segment migration", source=d.source("segment_migration"),
                      footnote="Rows: segment at the baseline; columns: segment now; diagonal = accounts that stayed.",
                      notes="Segment migration: transition matrix of accounts between the baseline and the current "
                            "segmentation.")]


def s_recommendations(d: DeckData) -> list[SlideSpec]:
    """Ranked recommendations. Each value is shown with its basis (revenue at risk, uplift,
    expected value): values of different kinds are never added up, so the title names the count
    and the largest, not a total."""
    t = d.table("recommendations", ("rank", "recommendation", "evidence"), topic="Recommendations")
    if t is None:
        return []
    t = t.sort_values("rank").head(8)
    has_v = "value" in t.columns
    has_b = has_v and "value_basis" in t.columns

    rows = [[fmt_count(r["rank"]), _text(r["recommendation"], 200), _text(r["evidence"], 260)] +
            ([d.money(r["value"])] if has_v else []) + ([_text(r["value_basis"], 60)] if has_b else [])
            for _, r in t.iterrows()]
    first = t.iloc[0]
    lead = _lc_first(_first_clause(first["recommendation"], 70))
    title = f"{len(t)} recommendation{'s' if len(t) != 1 else ''}; the largest: {lead}"
    if has_v and is_num(first["value"]):
        basis = _text(first["value_basis"], 60) if has_b and _text(first["value_basis"], 60) else "at stake"
        title += f" ({d.money(first['value'])} {basis})"
    pages = _rows_per_page(len(rows), 5)
    out = []
    for k, sl in enumerate(pages):
        def draw(c: SlideCanvas, sl=sl):
            c.table(c.region("Table"), ["#", "Recommendation", "Evidence"] + (["Value at stake"] if has_v else [])
                    + (["What the value is"] if has_b else []), rows[sl],
                    widths=[0.4, 3, 3] + ([0.9] if has_v else []) + ([1.3] if has_b else []),
                    align=["c", "l", "l"] + (["r"] if has_v else []) + (["l"] if has_b else []), max_pt=13)
        out.append(SlideSpec("review", "Table", title + (f" ({k + 1}/{len(pages)})" if len(pages) > 1 else ""), draw,
                             topic="Recommendations", source=d.source("recommendations"),
                             footnote="Each value is the money at stake for that action, of the kind named beside it; "
                                      "values of different kinds are not added up." if has_v else "",
                             notes="Rule-based recommendations ranked by value at stake; each names its evidence. "
                                   "Values are of different kinds (revenue at risk of churn, revenue uplift, expected "
                                   "cross-sell value) and are not summed."))
    return out


def s_next_steps(d: DeckData) -> list[SlideSpec]:
    items = [[(_text(x, 200), False)] for x in d.params.engagement.next_steps]
    rec = d.peek("recommendations")
    if rec is not None and {"rank", "recommendation"} <= set(rec.columns):
        for _, r in rec.sort_values("rank").head(3).iterrows():
            items.append([("Recommendation: ", True), (_lc_first(_text(r["recommendation"], 160)), False)])
    for num, name, tables, *_ in PHASES:
        if not any(d.run.has_table(t) for t in tables):
            items.append([(f"Phase {num}: ", True), (f"complete {name.lower()} and add it to the next run", False)])
    missing = [(a, "survey file (NPS/CSAT)") for a in ("surveys",) if getattr(d.params.data, a) is None] + \
        [(a, "KAM capability self-assessment") for a in ("capability",) if getattr(d.params.data, a) is None] + \
        [(a, "account master file (region, segment, manager)") for a in ("accounts",) if getattr(d.params.data, a) is None]
    for _, what in missing:
        items.append([("Data: ", True), (f"provide the {what} to unlock the analyses it supports", False)])
    if d.params.analysis.programme_start is None:
        items.append([("Data: ", True), ("record the KAM programme start date so its impact can be measured", False)])
    kt = d.peek("kpi_vs_target")
    if kt is not None and {"kpi", "current", "target", "status"} <= set(kt.columns):
        for _, r in kt[kt["status"].isin(["red", "amber"])].iterrows():
            u = d.unit_of(r["kpi"])
            items.insert(len(d.params.engagement.next_steps),
                         [("KPI: ", True), (f"close the gap on {_lc_first(d.label_of(r['kpi']))} "
                                            f"({fmt_value(r['current'], u, d.cur)} against a target of "
                                            f"{fmt_value(r['target'], u, d.cur)})", False)])
    if not items:
        items.append([("Review: ", True), ("agree the targets and re-run the engagement at the next review date", False)])
    items = items[:7]

    def draw(c: SlideCanvas):
        box = c.region("Body")
        rows = box.split_v([1] * max(len(items), 5), gap=int(0.12 * IN))
        for i, (it, r) in enumerate(zip(items, rows)):
            c.text_box(Box(r.x, r.y, int(0.55 * IN), r.h), [f"{i + 1}"], size=18, bold=True, fill=c.style.primary,
                       color="FFFFFF", align="c", anchor="m", fit=False, max_len=4)
            c.text_box(Box(r.x + int(0.7 * IN), r.y, r.w - int(0.7 * IN), r.h), [it], size=16, anchor="m",
                       color=c.style.text, min_pt=10)

    first = _lc_first(items[0][-1][0].rstrip("."))
    title = (f"{len(items)} next steps, starting with: {first}" if len(items) > 1 else f"Next step: {first}")
    return [SlideSpec("next", "Title and Content", title[:150],
                      draw, topic="Next steps", source=f"KAM engagement run {d.run_id}",
                      notes="Next steps: the consultant's agreed steps, the top recommendations, phases still to "
                            "complete and the data that would unlock more analysis.")]


def s_method_notes(d: DeckData, specs: list[SlideSpec]) -> list[SlideSpec]:
    seen, items = set(), []
    for s in specs:
        if s.section in ("summary", "next", "appendix") or not s.notes or s.topic in seen:
            continue
        seen.add(s.topic)
        first = s.notes.split(". ")[0].rstrip(".")
        head, _, rest = first.partition(": ")
        if rest and head.split()[0].lower() == s.topic.split()[0].lower():
            first = rest[0].upper() + rest[1:]
        items.append([(f"{s.topic}: ", True), (first + ".", False)])
    if not items:
        return []
    pages = _rows_per_page(len(items), 13)
    out = []
    for k, sl in enumerate(pages):
        def draw(c: SlideCanvas, sl=sl):
            _bullets(c, c.region("Body"), items[sl], size=13)
        out.append(SlideSpec("appendix", "Title and Content",
                             "Method notes" + (f" ({k + 1}/{len(pages)})" if len(pages) > 1 else ""), draw,
                             topic="Method notes", notes="One line of method per analysis; full detail in each "
                                                         "slide's speaker notes and the executed notebooks."))
    return out


def s_data_sources(d: DeckData) -> list[SlideSpec]:
    v = d.run.validation()
    rows = []
    for table, st in v.get("stats", {}).items():
        spec = getattr(d.params.data, table, None)
        fname = _text(spec.path.name, 50) if spec is not None and getattr(spec, "path", None) else "—"
        kept = st.get("rows_kept", st.get("rows_read"))
        rows.append([table.capitalize(), fname, fmt_count(st.get("rows_read")), fmt_count(kept)])
    a = d.params.analysis
    facts = [f"As-of date: {a.as_of_date:%d %b %Y}", f"Period: {a.period}", f"Churn definition: no order for {a.churn_days} days",
             f"Run: {d.run_id}"]
    if a.programme_start:
        facts.insert(1, f"Programme start: {a.programme_start:%d %b %Y}")

    def draw(c: SlideCanvas):
        box = c.region("Table")
        left, right = box.split_h([2.2, 1], gap=int(0.4 * IN))
        if rows:
            c.table(Box(left.x, left.y, left.w, min(left.h, int(0.45 * IN) * (len(rows) + 1))),
                    ["Input", "File", "Rows read", "Rows used"], rows, widths=[1, 2, 1, 1],
                    align=["l", "l", "r", "r"], max_pt=13)
        c.text_box(right, [[("Analysis settings", True, c.style.primary)], *[[(f, False)] for f in facts]], size=13,
                   fill=c.style.light, inset=0.15, color=c.style.text)

    return [SlideSpec("appendix", "Table", "Data sources and analysis settings", draw, topic="Data sources",
                      source="Data validation report of this run (data/validation.json)",
                      notes="Client files as validated: rows read and rows kept after removing duplicates, rows "
                            "after the as-of date and unparseable rows.")]


def s_not_included(d: DeckData) -> list[SlideSpec]:
    seen, rows = set(), []
    for topic, why in d.skipped:
        if topic not in seen:
            seen.add(topic)
            rows.append([topic, why])
    if not rows:
        return []
    rows = rows[:20]
    pages = _rows_per_page(len(rows), 14)
    out = []
    for k, sl in enumerate(pages):
        def draw(c: SlideCanvas, sl=sl):
            c.table(c.region("Table"), ["Analysis", "Status"], rows[sl], widths=[1.2, 2.5], max_pt=12, bold_cols=[0])
        out.append(SlideSpec("appendix", "Table", "Analyses not included in this deck" +
                             (f" ({k + 1}/{len(pages)})" if len(pages) > 1 else ""), draw, topic="Not included",
                             notes="Slides the deck leaves out because their results are not in this run."))
    return out


# =============================================================================== the storyline
STORY: list[tuple[str, Callable[[DeckData], list[SlideSpec]]]] = [
    ("summary", s_key_numbers),
    ("framework", s_framework),
    ("context", s_five_forces), ("context", s_pest), ("context", s_most), ("context", s_gaps),
    ("context", s_strengths),
    ("assessment", s_revenue_trend), ("assessment", s_activity), ("assessment", s_scorecard), ("assessment", s_concentration),
    ("assessment", s_whale), ("assessment", s_cohorts), ("assessment", s_capability),
    ("segmentation", s_portfolio_matrix), ("segmentation", s_segment_profiles), ("segmentation", s_key_accounts),
    ("segmentation", s_rfm), ("segmentation", s_clv), ("segmentation", s_stability),
    ("strategy", s_playbooks), ("strategy", s_coverage), ("strategy", s_churn_drivers), ("strategy", s_churn_risk),
    ("strategy", s_whitespace), ("strategy", s_whitespace_map), ("strategy", s_impact), ("strategy", s_account_plans),
    ("review", s_kpi_dashboard), ("review", s_programme_impact), ("review", s_migration),
    ("review", s_recommendations),
]


def _section_slide(key: str, number: int) -> SlideSpec:
    name, blurb = SECTIONS[key]

    def draw(c: SlideCanvas):
        c.set_text("Kicker", f"{number:02d}" if key != "appendix" else "A", max_pt=66, min_pt=30)
        c.set_text("Body", blurb, max_pt=16, min_pt=11)

    return SlideSpec(key, "Section", name, draw, topic=f"section:{key}")


def _agenda(sections: list[str]) -> SlideSpec:
    def draw(c: SlideCanvas):
        box = c.region("Body")
        rows = box.split_v([1] * len(sections), gap=int(0.06 * IN))
        for i, (key, r) in enumerate(zip(sections, rows)):
            name, blurb = SECTIONS[key]
            num = f"{i + 1:02d}" if key != "appendix" else "A"
            c.text_box(Box(r.x, r.y, int(0.9 * IN), r.h), [num], size=22, bold=True, color=c.style.accent,
                       anchor="m", fit=False)
            c.text_box(Box(r.x + int(0.95 * IN), r.y, int(4.2 * IN), r.h), [name], size=18, bold=True,
                       color=c.style.primary, anchor="m", min_pt=11)
            c.text_box(Box(r.x + int(5.3 * IN), r.y, r.w - int(5.3 * IN), r.h), [blurb], size=14,
                       color=c.style.muted, anchor="m", min_pt=9)
            c.rule(r.x, r.y + r.h + int(0.03 * IN), r.w, c.style.grid, 0.5)

    return SlideSpec("summary", "Title and Content", "Agenda", draw, topic="Agenda")


def _safe(d: DeckData, builder) -> list[SlideSpec]:
    """Run one slide builder; a table shaped unlike the contract skips its slide, not the whole deck."""
    try:
        return builder(d)
    except Exception as exc:  # noqa: BLE001 - recorded on the appendix slide; strict mode re-raises
        if d.strict:
            raise
        topic = builder.__name__.removeprefix("s_").replace("_", " ").capitalize()
        d.skipped.append((topic, f"could not be drawn from this run's tables ({type(exc).__name__}: {exc})"[:200]))
        return []


def plan_deck(d: DeckData) -> list[SlideSpec]:
    """Every slide of the deck in order, with section dividers and an agenda for the sections present."""
    body: list[SlideSpec] = []
    for _section, builder in STORY:
        body.extend(_safe(d, builder))
    body.extend(_safe(d, s_data_limits))
    nxt = _safe(d, s_next_steps)
    appendix = s_method_notes(d, body) + _safe(d, s_data_sources) + s_not_included(d)
    order = ["framework", "context", "assessment", "segmentation", "strategy", "review"]
    # the data-limits slide closes the assessment section even though it is planned last
    by_sec: dict[str, list[SlideSpec]] = {k: [s for s in body if s.section == k] for k in ["summary", *order]}
    sections = [k for k in order if by_sec[k]] + ["next"] + (["appendix"] if appendix else [])
    slides = s_title(d)
    exec_sum = _safe(d, s_exec_summary)
    slides += [_agenda(sections)] + exec_sum + by_sec["summary"]
    for i, key in enumerate(sections, start=1):
        slides.append(_section_slide(key, i))
        slides.extend(nxt if key == "next" else appendix if key == "appendix" else by_sec[key])
    return slides
